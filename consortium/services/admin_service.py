"""AdminService: member registration and lifecycle (approve, suspend, reinstate, revoke)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping
from typing import Any

import grpc
from lianfang.v1 import common_pb2, consortium_pb2, consortium_pb2_grpc

from consortium.auth import Authenticator
from consortium.disputes import DisputeBook, dispute_response, resolve_dispute
from consortium.key_book import Epoch, KeyBook, encryption_key_event, epoch_event, grant_event, retire_event
from consortium.markers import MarkerPolicy
from consortium.members import ACTIVE, PENDING, REVOKED, TRANSITIONS
from consortium.records import Member
from consortium.rings import RingTracker, admin_event, quota_event
from consortium.store.base import Store
from consortium.usage import UsageGuard
from consortium.validation import MEMBER_ID
from runtime.clock import Clock
from runtime.contract_limits import KEY_CHECK_BYTES, product_category_problem
from runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from runtime.identifier_text import MAX_REASON_CHARS, check_free_text
from runtime.interceptors import current_call
from runtime.timestamps import to_timestamp

ED25519_PUBLIC_KEY_BYTES = 32
X25519_PUBLIC_KEY_BYTES = 32


def member_message(m: Member) -> consortium_pb2.Member:
    return consortium_pb2.Member(
        member_id=m.member_id,
        display_name=m.display_name,
        category=m.category,
        public_key=m.public_key,
        status=m.status,
        status_reason=m.status_reason,
        created_at=to_timestamp(m.created_at),
        updated_at=to_timestamp(m.updated_at),
    )


class AdminServicer(consortium_pb2_grpc.AdminServiceServicer):
    def __init__(
        self,
        store: Store,
        clock: Clock,
        authenticator: Authenticator,
        log: RingTracker,
        usage: UsageGuard,
        disputes: DisputeBook,
        marker_policy: MarkerPolicy,
        keys: KeyBook,
    ) -> None:
        self.keys = keys
        self.disputes = disputes
        self.marker_policy = marker_policy
        self.store = store
        self.clock = clock
        self.authenticator = authenticator
        self.log = log  # every admin action is an entry of the consortium (audit) log
        self.usage = usage

    def _audit_event(self, action: str, member_id: str, at: float, reason: str = "") -> str:
        """The audit entry of an admin action by the caller."""
        return admin_event(current_call().principal, action, member_id, at, reason)

    async def _claim_key(self, public_key: bytes, member_id: str, *, rotating: bool) -> bool:
        """One key pair per member, for good: a JWT names its member, but a shared key would let
        either member's holder sign as the other, and a key a member gave up (it leaked) must
        not come back. The store's claim is the atomic step across hub replicas; a key held since
        before claims existed is refused through the member list, and claimed for good when its
        member rotates it away. True when this call made the claim (to release if the change
        fails). A retried registration of ``member_id`` passes to the store, which answers
        ALREADY_EXISTS."""
        in_use = FieldViolation("public_key", "is a member's key already (a new key pair is needed)")
        for m in await self.store.list_members():
            if m.public_key == public_key and (rotating or m.member_id != member_id):
                raise InvalidArgument([in_use])
            if rotating and m.member_id == member_id:  # the key it gives up, claimed before claims existed
                await self.store.claim_public_key(m.public_key, m.member_id)
        holder, claimed = await self.store.claim_public_key(public_key, member_id)
        if holder != member_id:
            raise InvalidArgument([in_use])
        if rotating and not claimed:
            raise InvalidArgument.one("public_key", "was this member's key before (a new key pair is needed)")
        return claimed

    async def _release_claim(self, public_key: bytes, member_id: str) -> None:
        """Gives back a claim whose change failed. Best effort: a change that did apply (its reply
        lost) leaves the key the member's, which the member-list check refuses to anyone else and
        its next rotation claims for good."""
        with contextlib.suppress(Exception):
            await self.store.release_public_key(public_key, member_id)

    async def RegisterMember(
        self, request: consortium_pb2.RegisterMemberRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.MemberResponse:
        violations = []
        if not MEMBER_ID.match(request.member_id):
            violations.append(FieldViolation("member_id", "3-32 characters of [a-z0-9-], alphanumeric ends"))
        if not 1 <= len(request.display_name) <= 100:
            violations.append(FieldViolation("display_name", "1-100 characters"))
        else:  # a lender's name, in every member list and log: not a person's phone or ID
            check_free_text(request.display_name, "display_name", violations)
        if problem := product_category_problem(request.category):  # a member's kind (bank…): the same rule
            violations.append(FieldViolation("category", problem))
        if len(request.public_key) != ED25519_PUBLIC_KEY_BYTES:
            violations.append(FieldViolation("public_key", "must be a raw 32-byte Ed25519 public key"))
        if violations:
            raise InvalidArgument(violations)
        claimed = await self._claim_key(request.public_key, request.member_id, rotating=False)
        now = self.clock()
        member = Member(
            member_id=request.member_id,
            display_name=request.display_name,
            category=request.category,
            public_key=request.public_key,
            status=PENDING,
            status_reason="registered",
            created_at=now,
            updated_at=now,
        )
        # The member and its audit entry in one step (``Store.add_member_logged``); whatever
        # happens, no replica-local cache keeps an older view of the member.
        try:
            entries = await self.store.add_member_logged(
                member, [self._audit_event("register", member.member_id, now)], self.log.cursor
            )
        except BaseException:  # the id taken, the store down…: the key stays free for a retry
            if claimed:
                await self._release_claim(request.public_key, request.member_id)
            raise
        finally:
            self.authenticator.forget_member(member.member_id)
        self.log.apply(entries)
        return consortium_pb2.MemberResponse(member=member_message(member))

    async def _transition(
        self, name: str, request: consortium_pb2.ChangeMemberRequest
    ) -> consortium_pb2.MemberResponse:
        violations = []
        if not MEMBER_ID.match(request.member_id):
            violations.append(FieldViolation("member_id", "3-32 characters of [a-z0-9-], alphanumeric ends"))
        check_free_text(request.reason, "reason", violations, max_chars=MAX_REASON_CHARS)  # into the audit log
        if violations:
            raise InvalidArgument(violations)
        t = TRANSITIONS[name]
        now = self.clock()
        try:
            member, entries = await self.store.set_member_status_logged(
                request.member_id,
                t.allowed_from,
                t.to,
                request.reason or name,
                now,
                [self._audit_event(name, request.member_id, now, request.reason)],
                self.log.cursor,
            )
        finally:  # a suspension or revocation takes effect on this replica at once, even if it failed late
            self.authenticator.forget_member(request.member_id)
        self.log.apply(entries)
        return consortium_pb2.MemberResponse(member=member_message(member))

    async def RotateMemberKey(
        self, request: consortium_pb2.RotateMemberKeyRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.MemberResponse:
        """A new signing key for a member (its old one leaked): the status stays as it is; from
        then on this replica refuses tokens signed with the old key, and every other replica
        once its member cache (``member_cache_seconds``) and the old tokens' lifetime (at most
        5 minutes) are over."""
        violations = []
        if not MEMBER_ID.match(request.member_id):
            violations.append(FieldViolation("member_id", "3-32 characters of [a-z0-9-], alphanumeric ends"))
        if len(request.public_key) != ED25519_PUBLIC_KEY_BYTES:
            violations.append(FieldViolation("public_key", "must be a raw 32-byte Ed25519 public key"))
        check_free_text(request.reason, "reason", violations, max_chars=MAX_REASON_CHARS)  # it goes into the audit log
        if violations:
            raise InvalidArgument(violations)
        member = await self.store.get_member(request.member_id)
        if member is None:
            raise NotFound(f"member {request.member_id!r} not found")
        if member.status == REVOKED:
            raise FailedPrecondition(f"member {request.member_id!r} is revoked")
        claimed = await self._claim_key(request.public_key, member.member_id, rotating=True)
        now = self.clock()
        fingerprint = hashlib.sha256(request.public_key).hexdigest()[:16]  # which key, in the audit log
        try:
            changed, entries = await self.store.set_member_status_logged(
                member.member_id,
                frozenset({member.status}),  # changed meanwhile: FAILED_PRECONDITION, look again
                member.status,
                member.status_reason,
                now,
                [self._audit_event("rotate_key", member.member_id, now, f"key {fingerprint}: {request.reason}")],
                self.log.cursor,
                public_key=request.public_key,
            )
        except BaseException:  # the member changed meanwhile, the store down…: the key stays free
            if claimed:
                await self._release_claim(request.public_key, member.member_id)
            raise
        finally:  # the old key stops working on this replica at once, even if the call failed late
            self.authenticator.forget_member(request.member_id, tokens=True)
        self.log.apply(entries)
        return consortium_pb2.MemberResponse(member=member_message(changed))

    async def ApproveMember(
        self, request: consortium_pb2.ChangeMemberRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.MemberResponse:
        return await self._transition("approve", request)

    async def SuspendMember(
        self, request: consortium_pb2.ChangeMemberRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.MemberResponse:
        return await self._transition("suspend", request)

    async def ReinstateMember(
        self, request: consortium_pb2.ChangeMemberRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.MemberResponse:
        return await self._transition("reinstate", request)

    async def RevokeMember(
        self, request: consortium_pb2.ChangeMemberRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.MemberResponse:
        return await self._transition("revoke", request)

    async def ListMembers(
        self, request: consortium_pb2.ListMembersRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.ListMembersResponse:
        if request.status not in common_pb2.MemberStatus.values():
            raise InvalidArgument.one("status", "unknown member status")
        members = await self.store.list_members()
        return consortium_pb2.ListMembersResponse(
            members=[member_message(m) for m in members if not request.status or m.status == request.status]
        )

    async def ListUsage(
        self, request: consortium_pb2.ListUsageRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.ListUsageResponse:
        await self.log.catch_up()  # counts from every replica's Checks
        registered = {m.member_id: m.status for m in await self.store.list_members()}
        return consortium_pb2.ListUsageResponse(
            members=[
                _usage_message(row, registered.get(row["member_id"], 0))
                for row in self.usage.report(self.clock(), registered)
            ]
        )

    async def SetMemberQuota(
        self, request: consortium_pb2.SetMemberQuotaRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.MemberUsage:
        violations = []
        if not MEMBER_ID.match(request.member_id):
            violations.append(FieldViolation("member_id", "3-32 characters of [a-z0-9-], alphanumeric ends"))
        own = request.HasField("daily_check_quota")
        if own and request.daily_check_quota > MAX_DAILY_QUOTA:
            violations.append(FieldViolation("daily_check_quota", f"at most {MAX_DAILY_QUOTA:,} (0: unlimited)"))
        check_free_text(request.reason, "reason", violations, max_chars=MAX_REASON_CHARS)  # into the audit log
        if violations:
            raise InvalidArgument(violations)
        member = await self.store.get_member(request.member_id)
        if member is None:
            raise NotFound(f"member {request.member_id!r} not found")
        now = self.clock()
        quota = request.daily_check_quota if own else None
        await self.log.publish([quota_event(current_call().principal, member.member_id, quota, now, request.reason)])
        [row] = self.usage.report(now, [member.member_id], only=True)
        return _usage_message(row, member.status)

    async def OpenDispute(
        self, request: consortium_pb2.RaiseDisputeRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.DisputeResponse:
        by = current_call().principal
        return await dispute_response(self.store, self.log, self.disputes, request, by, self.clock())

    async def ListDisputes(
        self, request: consortium_pb2.ListDisputesRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.ListDisputesResponse:
        await self.log.catch_up()
        now = self.clock()
        return consortium_pb2.ListDisputesResponse(
            disputes=[d.message(now) for d in self.disputes.listed(request.include_resolved)]
        )

    async def ResolveDispute(
        self, request: consortium_pb2.ResolveDisputeRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.DisputeResponse:
        now = self.clock()
        dispute = await resolve_dispute(
            self.store, self.log, self.disputes, request, current_call().principal, now, self.marker_policy
        )
        return consortium_pb2.DisputeResponse(dispute=dispute.message(now))

    # -- key epochs ------------------------------------------------------------------------
    async def SetEncryptionKey(
        self, request: consortium_pb2.SetEncryptionKeyRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.SetEncryptionKeyResponse:
        if len(request.public_key) != X25519_PUBLIC_KEY_BYTES:
            raise InvalidArgument.one("public_key", "must be a raw 32-byte X25519 public key")
        if await self.store.get_member(request.member_id) is None:
            raise NotFound(f"member {request.member_id!r} not found")
        audit = self._audit_event("set_encryption_key", request.member_id, self.clock())
        await self.log.publish([encryption_key_event(request.member_id, request.public_key), audit])
        return consortium_pb2.SetEncryptionKeyResponse()

    def _epoch_info(self, epoch: int) -> consortium_pb2.KeyEpochInfo:
        e = self.keys.epochs[epoch]
        info = consortium_pb2.KeyEpochInfo(
            epoch=e.epoch, created_at=to_timestamp(e.created_at), members=sorted(e.wrapped), key_check=e.key_check
        )
        if e.retired_at is not None:
            info.retired_at.CopyFrom(to_timestamp(e.retired_at))
        return info

    async def _active_members(self) -> set[str]:
        return {m.member_id for m in await self.store.list_members() if m.status == ACTIVE}

    async def _known_epoch(self, number: int) -> Epoch:
        """A key epoch as this hub knows it after reading the log; NotFound if there is none."""
        await self.log.catch_up()
        epoch = self.keys.epochs.get(number)
        if epoch is None:
            raise NotFound(f"key epoch {number} not found")
        return epoch

    async def _wrapped_key_violations(self, wrapped_keys: Mapping[str, bytes]) -> list[FieldViolation]:
        """Each blob's member has an encryption key and is ACTIVE, and the blob is one key's size."""
        if not wrapped_keys:
            return [FieldViolation("wrapped_keys", "the key wrapped to at least one member")]
        active = await self._active_members()
        violations = []
        for member, blob in wrapped_keys.items():
            if member not in self.keys.encryption_keys:
                violations.append(FieldViolation(f"wrapped_keys[{member}]", "no encryption key registered"))
            elif member not in active:
                violations.append(FieldViolation(f"wrapped_keys[{member}]", "keys go to ACTIVE members only"))
            elif not 60 <= len(blob) <= 200:
                violations.append(FieldViolation(f"wrapped_keys[{member}]", "not a wrapped 32-byte key"))
        return violations

    async def CreateKeyEpoch(
        self, request: consortium_pb2.CreateKeyEpochRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.KeyEpochInfo:
        await self.log.catch_up()
        violations = []
        if request.epoch <= self.keys.latest():
            violations.append(FieldViolation("epoch", f"must be greater than {self.keys.latest()}"))
        if len(request.key_check) not in (0, KEY_CHECK_BYTES):
            violations.append(FieldViolation("key_check", f"{KEY_CHECK_BYTES} bytes (clients.key_epochs.key_check)"))
        reused = [e.epoch for e in self.keys.ordered() if request.key_check and e.key_check == request.key_check]
        if reused:  # a "rotation" that keeps a leaked key live under a new number
            violations.append(FieldViolation("key_check", f"is key epoch {reused[0]}'s: a new epoch needs a new key"))
        violations += await self._wrapped_key_violations(request.wrapped_keys)
        if violations:
            raise InvalidArgument(violations)
        event = epoch_event(request.epoch, self.clock(), dict(request.wrapped_keys), request.key_check)
        await self.log.publish([event])
        return self._epoch_info(request.epoch)

    async def GrantKeyEpoch(
        self, request: consortium_pb2.GrantKeyEpochRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.KeyEpochInfo:
        epoch = await self._known_epoch(request.epoch)
        if epoch.retired_at is not None:
            raise FailedPrecondition(f"key epoch {request.epoch} is retired: grant a live one")
        violations = await self._wrapped_key_violations(request.wrapped_keys)
        if violations:
            raise InvalidArgument(violations)
        await self.log.publish([grant_event(request.epoch, self.clock(), dict(request.wrapped_keys))])
        return self._epoch_info(request.epoch)

    async def RetireKeyEpoch(
        self, request: consortium_pb2.RetireKeyEpochRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.KeyEpochInfo:
        await self._known_epoch(request.epoch)
        if request.epoch == self.keys.latest():
            raise FailedPrecondition("the newest epoch cannot be retired: create its successor first")
        stranded = self.keys.stranded_by_retiring(request.epoch, await self._active_members())
        if stranded:
            raise FailedPrecondition(
                f"{', '.join(stranded)} would hold no live key epoch: grant them a newer one first"
                " (lianfang admin keys grant)"
            )
        await self.log.publish([retire_event(request.epoch, self.clock())])
        return self._epoch_info(request.epoch)

    async def ListKeyEpochs(
        self, request: consortium_pb2.ListKeyEpochsRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.ListKeyEpochsResponse:
        await self.log.catch_up()
        active = await self._active_members()
        return consortium_pb2.ListKeyEpochsResponse(
            epochs=[self._epoch_info(e.epoch) for e in self.keys.ordered()],
            encryption_keys=[  # what the next epoch is wrapped to: suspended members get none
                consortium_pb2.MemberEncryptionKey(member_id=m, public_key=k)
                for m, k in sorted(self.keys.encryption_keys.items())
                if m in active
            ],
        )


MAX_DAILY_QUOTA = 1_000_000_000
"""The largest own daily quota an admin may give a member (a typo's extra zeros are refused)."""


def _usage_message(row: dict[str, Any], status: int) -> consortium_pb2.MemberUsage:
    return consortium_pb2.MemberUsage(
        member_id=row["member_id"],
        checks=row["checks"],
        checks_today=row["checks_today"],
        outcomes_reported=row["outcomes"],
        markers_filed=row["markers"],
        contribution_ratio=row["contribution_ratio"],
        flags=row["flags"],
        status=status,
        daily_check_quota=row["daily_check_quota"],
        own_quota=row["own_quota"],
    )
