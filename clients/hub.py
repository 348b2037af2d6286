"""Typed clients of the hub: ``HubClient`` for members, ``AdminClient`` for admins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import grpc
from lianfang.v1 import common_pb2, consortium_pb2, consortium_pb2_grpc

from clients.credentials import JwtSigner
from clients.errors import LianfangRpcError
from clients.rpc import Metadata, RpcClient, check_metadata


class HubClient(RpcClient):
    """A member's view of the consortium. Every call is signed with the member's key: Checks
    with a reusable ``query`` token, contributions with single-use ``contribute`` tokens."""

    def __init__(self, channel: grpc.aio.Channel, signer: JwtSigner, *, default_timeout: float = 2.0) -> None:
        super().__init__(channel, signer.scoped("query"), default_timeout=default_timeout)
        self._contribute = signer.scoped("contribute")
        self._stub = consortium_pb2_grpc.ConsortiumServiceStub(channel)

    async def check(
        self,
        *,
        application_ref: str,
        consent_ref: str,
        tokens: Sequence[common_pb2.Token],
        applicant_kind: int,
        product_category: str,
        consent_expires_at: float,
        purpose: int = common_pb2.PURPOSE_CREDIT_APPLICATION,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> consortium_pb2.CheckResponse:
        """``consent_expires_at``: when the borrower's authorisation ends (Unix seconds)."""
        request = consortium_pb2.CheckRequest(
            application_ref=application_ref,
            consent_ref=consent_ref,
            tokens=tokens,
            applicant_kind=applicant_kind,
            product_category=product_category,
            purpose=purpose,
        )
        request.consent_expires_at.FromNanoseconds(int(consent_expires_at * 1e9))
        return await self._call(self._stub.Check, request, timeout=timeout, metadata=metadata, idempotent=True)

    async def check_request(
        self, request: consortium_pb2.CheckRequest, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> consortium_pb2.CheckResponse:
        return await self._call(self._stub.Check, request, timeout=timeout, metadata=metadata, idempotent=True)

    async def batch_check(
        self,
        checks: Sequence[consortium_pb2.CheckRequest],
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> consortium_pb2.BatchCheckResponse:
        request = consortium_pb2.BatchCheckRequest(checks=checks)
        return await self._call(self._stub.BatchCheck, request, timeout=timeout, metadata=metadata, idempotent=True)

    async def report_outcome(
        self,
        application_ref: str,
        outcome: int,
        *,
        occurred_at: float | None = None,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> None:
        """``occurred_at``: when it happened (Unix seconds; default: when the hub receives it)."""
        request = consortium_pb2.ReportOutcomeRequest(application_ref=application_ref, outcome=outcome)
        if occurred_at is not None:
            request.occurred_at.FromNanoseconds(int(occurred_at * 1e9))
        await self._call(
            self._stub.ReportOutcome,
            request,
            timeout=timeout,
            metadata=metadata,
            signer=self._contribute,
            idempotent=True,
        )

    async def file_marker(
        self,
        token: common_pb2.Token,
        marker_type: int,
        reason_code: str,
        *,
        evidence_level: int = 0,
        case_ref: str = "",
        application_ref: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> consortium_pb2.Marker:
        """``application_ref``: this member's application that carried ``token`` (its Check's
        reference); a filing naming one counts as a contribution (give-to-get)."""
        request = consortium_pb2.FileMarkerRequest(
            token=token,
            marker_type=marker_type,
            reason_code=reason_code,
            evidence_level=evidence_level,
            case_ref=case_ref,
            application_ref=application_ref,
        )
        response = await self._call(
            self._stub.FileMarker, request, timeout=timeout, metadata=metadata, signer=self._contribute
        )
        return response.marker

    async def withdraw_marker(
        self, marker_id: str, reason: str = "", *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> consortium_pb2.Marker:
        request = consortium_pb2.WithdrawMarkerRequest(marker_id=marker_id, reason=reason)
        response = await self._call(
            self._stub.WithdrawMarker, request, timeout=timeout, metadata=metadata, signer=self._contribute
        )
        return response.marker

    async def list_my_markers(
        self, *, include_inactive: bool = False, timeout: float | None = None, metadata: Metadata | None = None
    ) -> list[consortium_pb2.Marker]:
        request = consortium_pb2.ListMyMarkersRequest(include_inactive=include_inactive)
        response = await self._call(
            self._stub.ListMyMarkers,
            request,
            timeout=timeout,
            metadata=metadata,
            signer=self._contribute,
            idempotent=True,
        )
        return list(response.markers)

    async def raise_dispute(
        self, marker_id: str, subject_statement: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> common_pb2.Dispute:
        """A data subject disputes a marker, through this member."""
        request = consortium_pb2.RaiseDisputeRequest(marker_id=marker_id, subject_statement=subject_statement)
        response = await self._call(
            self._stub.RaiseDispute, request, timeout=timeout, metadata=metadata, signer=self._contribute
        )
        return response.dispute

    async def my_disputes(
        self, *, include_resolved: bool = False, timeout: float | None = None, metadata: Metadata | None = None
    ) -> list[common_pb2.Dispute]:
        """Disputes this member raised and those of its markers, oldest first."""
        request = consortium_pb2.ListDisputesRequest(include_resolved=include_resolved)
        response = await self._call(
            self._stub.ListMyDisputes,
            request,
            timeout=timeout,
            metadata=metadata,
            signer=self._contribute,
            idempotent=True,
        )
        return list(response.disputes)

    async def my_key_epochs(
        self, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> list[consortium_pb2.WrappedKeyEpoch]:
        """This member's wrapped consortium keys, oldest epoch first (``clients.key_epochs`` unwraps)."""
        request = consortium_pb2.GetMyKeyEpochsRequest()
        return list(
            (
                await self._call(
                    self._stub.GetMyKeyEpochs, request, timeout=timeout, metadata=metadata, idempotent=True
                )
            ).epochs
        )

    async def link_tokens(
        self,
        pairs: Sequence[tuple[common_pb2.Token, common_pb2.Token]],
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> int:
        """During a key rotation: (older, newer) tokens of the same identifiers; how many were new."""
        request = consortium_pb2.LinkTokensRequest(pairs=[consortium_pb2.TokenPair(older=o, newer=n) for o, n in pairs])
        response = await self._call(
            self._stub.LinkTokens, request, timeout=timeout, metadata=metadata, signer=self._contribute, idempotent=True
        )
        return response.linked

    # -- post-loan watches ------------------------------------------------------------------------
    async def register_watch(
        self, application_ref: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> list[int]:
        """Watches the borrower of one's own application; the token types now watched."""
        request = consortium_pb2.RegisterWatchRequest(application_ref=application_ref)
        response = await self._call(
            self._stub.RegisterWatch,
            request,
            timeout=timeout,
            metadata=metadata,
            signer=self._contribute,
            idempotent=True,
        )
        return list(response.token_types)

    async def unregister_watch(
        self, application_ref: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> bool:
        request = consortium_pb2.UnregisterWatchRequest(application_ref=application_ref)
        response = await self._call(
            self._stub.UnregisterWatch,
            request,
            timeout=timeout,
            metadata=metadata,
            signer=self._contribute,
            idempotent=True,
        )
        return response.was_watching

    async def watch(
        self, after: str = "", *, metadata: Metadata | None = None
    ) -> AsyncIterator[consortium_pb2.WatchResponse]:
        """The alert stream, resumed after the cursor ``after``. It has no deadline, but it
        does not live for ever: the hub ends it with ``LianfangRpcError`` UNAVAILABLE when the
        call's token expires (``runtime.contract_limits.STREAM_TOKEN_EXPIRED``, within a few
        minutes) or the hub shuts down, and the connection may drop. Callers loop: call
        ``watch(after=<the last alert's cursor>)`` again (``node.monitoring.hub_alerts`` does).
        Closing the client ends an iteration with ``LianfangRpcError`` CANCELLED."""
        if self._closed:
            raise LianfangRpcError(grpc.StatusCode.CANCELLED, "the client is closed")
        if metadata:
            check_metadata(metadata)
        md: list[tuple[str, str]] = list(metadata or ())
        if self.signer is not None:
            md.extend(self.signer.metadata())
        try:
            call = self._stub.Watch(consortium_pb2.WatchRequest(after=after), metadata=md)
        except grpc.aio.UsageError:
            raise LianfangRpcError(grpc.StatusCode.CANCELLED, "the client's channel is closed") from None
        try:
            async for response in call:
                yield response
        except grpc.aio.AioRpcError as error:
            raise LianfangRpcError.from_rpc_error(error) from None
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not self._closed or (task is not None and task.cancelling()):
                raise  # the caller's own task is being cancelled: that goes on
            raise LianfangRpcError(grpc.StatusCode.CANCELLED, "the client is closed") from None
        finally:
            call.cancel()

    async def ack_alerts(self, up_to: str, *, timeout: float | None = None, metadata: Metadata | None = None) -> str:
        """Acknowledges every alert up to the cursor ``up_to``; the acknowledgement cursor."""
        request = consortium_pb2.AckAlertsRequest(up_to=up_to)
        return (
            await self._call(self._stub.AckAlerts, request, timeout=timeout, metadata=metadata, idempotent=True)
        ).acknowledged


class AdminClient(RpcClient):
    """Membership administration; signed by an admin key (subject ``admin/<name>``)."""

    def __init__(self, channel: grpc.aio.Channel, signer: JwtSigner, *, default_timeout: float = 5.0) -> None:
        super().__init__(channel, signer, default_timeout=default_timeout)
        self._stub = consortium_pb2_grpc.AdminServiceStub(channel)

    async def register_member(
        self,
        member_id: str,
        display_name: str,
        category: str,
        public_key: bytes,
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> consortium_pb2.Member:
        request = consortium_pb2.RegisterMemberRequest(
            member_id=member_id, display_name=display_name, category=category, public_key=public_key
        )
        return (await self._call(self._stub.RegisterMember, request, timeout=timeout, metadata=metadata)).member

    async def change_member(
        self,
        action: str,
        member_id: str,
        reason: str = "",
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> consortium_pb2.Member:
        """``action`` is one of approve, suspend, reinstate, revoke."""
        method = {
            "approve": self._stub.ApproveMember,
            "suspend": self._stub.SuspendMember,
            "reinstate": self._stub.ReinstateMember,
            "revoke": self._stub.RevokeMember,
        }[action]
        request = consortium_pb2.ChangeMemberRequest(member_id=member_id, reason=reason)
        return (await self._call(method, request, timeout=timeout, metadata=metadata)).member

    async def rotate_member_key(
        self,
        member_id: str,
        public_key: bytes,
        reason: str = "",
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> consortium_pb2.Member:
        """Replaces the member's Ed25519 signing key (raw 32 bytes): the old one stops working."""
        request = consortium_pb2.RotateMemberKeyRequest(member_id=member_id, public_key=public_key, reason=reason)
        return (await self._call(self._stub.RotateMemberKey, request, timeout=timeout, metadata=metadata)).member

    async def list_members(
        self, *, status: int = 0, timeout: float | None = None, metadata: Metadata | None = None
    ) -> list[consortium_pb2.Member]:
        request = consortium_pb2.ListMembersRequest(status=status)
        return list(
            (
                await self._call(self._stub.ListMembers, request, timeout=timeout, metadata=metadata, idempotent=True)
            ).members
        )

    async def list_usage(
        self, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> list[consortium_pb2.MemberUsage]:
        request = consortium_pb2.ListUsageRequest()
        return list(
            (
                await self._call(self._stub.ListUsage, request, timeout=timeout, metadata=metadata, idempotent=True)
            ).members
        )

    async def set_member_quota(
        self,
        member_id: str,
        daily_check_quota: int | None,
        reason: str = "",
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> consortium_pb2.MemberUsage:
        """The member's own daily Check quota (0: unlimited); ``None``: the hub's default again."""
        request = consortium_pb2.SetMemberQuotaRequest(member_id=member_id, reason=reason)
        if daily_check_quota is not None:
            request.daily_check_quota = daily_check_quota
        return await self._call(self._stub.SetMemberQuota, request, timeout=timeout, metadata=metadata, idempotent=True)

    async def open_dispute(
        self, marker_id: str, subject_statement: str, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> common_pb2.Dispute:
        request = consortium_pb2.RaiseDisputeRequest(marker_id=marker_id, subject_statement=subject_statement)
        return (await self._call(self._stub.OpenDispute, request, timeout=timeout, metadata=metadata)).dispute

    async def list_disputes(
        self, *, include_resolved: bool = False, timeout: float | None = None, metadata: Metadata | None = None
    ) -> list[common_pb2.Dispute]:
        request = consortium_pb2.ListDisputesRequest(include_resolved=include_resolved)
        return list(
            (
                await self._call(self._stub.ListDisputes, request, timeout=timeout, metadata=metadata, idempotent=True)
            ).disputes
        )

    async def resolve_dispute(
        self,
        dispute_id: str,
        resolution: int,
        note: str,
        *,
        corrected_marker_type: int = 0,
        corrected_reason_code: str = "",
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> common_pb2.Dispute:
        request = consortium_pb2.ResolveDisputeRequest(
            dispute_id=dispute_id,
            resolution=resolution,
            note=note,
            corrected_marker_type=corrected_marker_type,
            corrected_reason_code=corrected_reason_code,
        )
        return (await self._call(self._stub.ResolveDispute, request, timeout=timeout, metadata=metadata)).dispute

    async def set_encryption_key(
        self, member_id: str, public_key: bytes, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> None:
        request = consortium_pb2.SetEncryptionKeyRequest(member_id=member_id, public_key=public_key)
        await self._call(self._stub.SetEncryptionKey, request, timeout=timeout, metadata=metadata)

    async def list_key_epochs(
        self, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> consortium_pb2.ListKeyEpochsResponse:
        request = consortium_pb2.ListKeyEpochsRequest()
        return await self._call(self._stub.ListKeyEpochs, request, timeout=timeout, metadata=metadata, idempotent=True)

    async def create_key_epoch(
        self, epoch: int, key: bytes, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> consortium_pb2.KeyEpochInfo:
        """Wraps ``key`` here, on the admin's side, to every member with an encryption key; the
        hub receives only the wrapped blobs, and the key's check (``key_check``)."""
        from clients.key_epochs import key_check, wrap_key

        deadline = self.deadline(timeout)
        known = await self.list_key_epochs(timeout=self.time_left(deadline), metadata=metadata)
        check = key_check(key)
        reused = [e.epoch for e in known.epochs if e.key_check == check]
        if reused:
            raise ValueError(f"that is key epoch {reused[0]}'s key: a new epoch needs a new key")
        wrapped = {k.member_id: wrap_key(key, epoch, k.member_id, k.public_key) for k in known.encryption_keys}
        request = consortium_pb2.CreateKeyEpochRequest(epoch=epoch, wrapped_keys=wrapped, key_check=check)
        return await self._call(self._stub.CreateKeyEpoch, request, timeout=self.time_left(deadline), metadata=metadata)

    async def grant_key_epoch(
        self,
        epoch: int,
        key: bytes,
        members: Sequence[str] = (),
        *,
        timeout: float | None = None,
        metadata: Metadata | None = None,
    ) -> consortium_pb2.KeyEpochInfo:
        """Wraps epoch ``epoch``'s ``key`` to ``members`` (default: every member with an
        encryption key that lacks it). ``WrongEpochKey`` when ``key`` fails the epoch's key check;
        ``NothingToGrant`` when there is nobody to give it to."""
        from clients.key_epochs import NothingToGrant, WrongEpochKey, key_check, wrap_key

        deadline = self.deadline(timeout)
        known = await self.list_key_epochs(timeout=self.time_left(deadline), metadata=metadata)
        info = next((e for e in known.epochs if e.epoch == epoch), None)
        if info is not None and info.key_check and info.key_check != key_check(key):
            raise WrongEpochKey(f"that is not key epoch {epoch}'s key (its key check differs)")
        public = {k.member_id: k.public_key for k in known.encryption_keys}
        to = list(members) or [m for m in public if info is None or m not in info.members]
        if not to:
            raise NothingToGrant(f"every member with an encryption key holds key epoch {epoch} already")
        missing = [m for m in to if m not in public]
        if missing:
            raise ValueError(f"no encryption key registered for an ACTIVE member named {', '.join(missing)}")
        wrapped = {m: wrap_key(key, epoch, m, public[m]) for m in to}
        request = consortium_pb2.GrantKeyEpochRequest(epoch=epoch, wrapped_keys=wrapped)
        return await self._call(self._stub.GrantKeyEpoch, request, timeout=self.time_left(deadline), metadata=metadata)

    async def retire_key_epoch(
        self, epoch: int, *, timeout: float | None = None, metadata: Metadata | None = None
    ) -> consortium_pb2.KeyEpochInfo:
        request = consortium_pb2.RetireKeyEpochRequest(epoch=epoch)
        return await self._call(self._stub.RetireKeyEpoch, request, timeout=timeout, metadata=metadata)
