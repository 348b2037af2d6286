"""KeyService: batch VOPRF evaluation with one proof, key epochs, the audit, Δ for the hub."""

from __future__ import annotations

import grpc
from lianfang.v1 import keys_pb2, keys_pb2_grpc

from consortium.key_service.quotas import EvaluationQuota
from consortium.key_service.vault import ACTIVE, PENDING, RETIRED, SUPERSEDED, Epoch, Vault
from runtime import oprf
from runtime.clock import Clock
from runtime.errors import FailedPrecondition, FieldViolation, InvalidArgument, NotFound
from runtime.interceptors import current_call
from runtime.timestamps import to_timestamp


def epoch_message(e: Epoch) -> keys_pb2.KeyEpoch:
    message = keys_pb2.KeyEpoch(
        epoch=e.epoch, public_key=e.public_key, state=e.state, created_at=to_timestamp(e.created_at)
    )
    if e.activated_at is not None:
        message.activated_at.CopyFrom(to_timestamp(e.activated_at))
    if e.retired_at is not None:
        message.retired_at.CopyFrom(to_timestamp(e.retired_at))
    return message


class KeyServicer(keys_pb2_grpc.KeyServiceServicer):
    def __init__(self, vault: Vault, quota: EvaluationQuota, clock: Clock, *, max_batch: int) -> None:
        self.vault, self.quota, self.clock, self.max_batch = vault, quota, clock, max_batch
        self._active: tuple[int, bytes, bytes] | None = None  # (epoch, secret, public), cached

    def _current(self) -> tuple[int, bytes, bytes]:
        if self._active is None:
            active = next((e for e in self.vault.epochs() if e.state == ACTIVE), None)
            secret = None if active is None else self.vault.secret(active.epoch)
            if active is None or secret is None:
                raise FailedPrecondition("the key service has no active key epoch")
            self._active = (active.epoch, secret, active.public_key)
        return self._active

    async def Evaluate(
        self, request: keys_pb2.EvaluateRequest, context: grpc.aio.ServicerContext
    ) -> keys_pb2.EvaluateResponse:
        blinded = list(request.blinded_elements)
        violations: list[FieldViolation] = []
        if not 1 <= len(blinded) <= self.max_batch:
            violations.append(FieldViolation("blinded_elements", f"1..{self.max_batch} elements"))
        for i, element in enumerate(blinded[: self.max_batch]):
            try:
                oprf.check_element(element)
            except oprf.OprfError:
                violations.append(
                    FieldViolation(f"blinded_elements[{i}]", "not a canonical non-identity ristretto255 element")
                )
        if violations:
            raise InvalidArgument(violations)
        member, now = current_call().principal, self.clock()
        epoch, secret, public = self._current()
        self.quota.admit(member, len(blinded), now)
        evaluated = [oprf.blind_evaluate(secret, b) for b in blinded]
        proof = oprf.generate_proof(secret, public, blinded, evaluated)
        self.vault.record(member, "evaluate", epoch, len(blinded), now)
        return keys_pb2.EvaluateResponse(epoch=epoch, evaluated_elements=evaluated, proof=proof)

    async def GetPublicKeys(
        self, request: keys_pb2.GetPublicKeysRequest, context: grpc.aio.ServicerContext
    ) -> keys_pb2.GetPublicKeysResponse:
        return keys_pb2.GetPublicKeysResponse(epochs=[epoch_message(e) for e in self.vault.epochs()])

    def _epoch(self, epoch: int, field: str = "epoch") -> Epoch:
        if epoch <= 0:
            raise InvalidArgument.one(field, "is required")
        found = self.vault.get(epoch)
        if found is None:
            raise NotFound(f"key epoch {epoch} does not exist")
        return found

    def _audited(self, action: str, epoch: int) -> None:
        self.vault.record(current_call().principal, action, epoch, 0, self.clock())

    async def RotateKey(
        self, request: keys_pb2.RotateKeyRequest, context: grpc.aio.ServicerContext
    ) -> keys_pb2.KeyEpochResponse:
        if any(e.state == PENDING for e in self.vault.epochs()):
            raise FailedPrecondition("a rotation is already pending: activate or retire that epoch first")
        created = self.vault.create(oprf.generate_key_pair(), PENDING, self.clock())
        self._audited("rotate", created.epoch)
        return keys_pb2.KeyEpochResponse(epoch=epoch_message(created))

    async def ActivateEpoch(
        self, request: keys_pb2.ChangeEpochRequest, context: grpc.aio.ServicerContext
    ) -> keys_pb2.KeyEpochResponse:
        e = self._epoch(request.epoch)
        if e.state != PENDING:
            raise FailedPrecondition(f"key epoch {e.epoch} is not pending")
        self.vault.activate(e.epoch, self.clock())
        self._active = None
        self._audited("activate", e.epoch)
        return keys_pb2.KeyEpochResponse(epoch=epoch_message(self._epoch(e.epoch)))

    async def RetireEpoch(
        self, request: keys_pb2.ChangeEpochRequest, context: grpc.aio.ServicerContext
    ) -> keys_pb2.KeyEpochResponse:
        e = self._epoch(request.epoch)
        if e.state not in (SUPERSEDED, PENDING):
            raise FailedPrecondition(f"key epoch {e.epoch} is {'active' if e.state == ACTIVE else 'retired'}")
        self.vault.retire(e.epoch, self.clock())
        self._audited("retire", e.epoch)
        return keys_pb2.KeyEpochResponse(epoch=epoch_message(self._epoch(e.epoch)))

    async def ListEvaluationAudit(
        self, request: keys_pb2.ListEvaluationAuditRequest, context: grpc.aio.ServicerContext
    ) -> keys_pb2.ListEvaluationAuditResponse:
        if request.limit > 1000:
            raise InvalidArgument.one("limit", "at most 1000")
        entries = self.vault.audit(request.member_id, request.limit or 100)
        return keys_pb2.ListEvaluationAuditResponse(
            entries=[
                keys_pb2.EvaluationAuditEntry(
                    seq=e.seq,
                    principal=e.principal,
                    action=e.action,
                    epoch=e.epoch,
                    count=e.count,
                    at=to_timestamp(e.at),
                )
                for e in entries
            ],
            evaluated_today=self.quota.used,
            epochs=[epoch_message(e) for e in self.vault.epochs()],
        )

    async def GetRekeyDelta(
        self, request: keys_pb2.GetRekeyDeltaRequest, context: grpc.aio.ServicerContext
    ) -> keys_pb2.GetRekeyDeltaResponse:
        old, new = self._epoch(request.from_epoch, "from_epoch"), self._epoch(request.to_epoch, "to_epoch")
        if new.epoch <= old.epoch:
            raise InvalidArgument.one("to_epoch", "must be later than from_epoch")
        if RETIRED in (old.state, new.state):
            raise FailedPrecondition("a retired epoch's secret is destroyed: no Δ can be derived from it")
        old_secret, new_secret = self.vault.secret(old.epoch), self.vault.secret(new.epoch)
        assert old_secret is not None and new_secret is not None
        self._audited("delta", new.epoch)
        return keys_pb2.GetRekeyDeltaResponse(
            delta=oprf.rotation_delta(old_secret, new_secret),
            from_public_key=old.public_key,
            to_public_key=new.public_key,
            to_state=new.state,
        )
