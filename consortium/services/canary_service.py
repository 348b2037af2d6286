"""CanaryService (admins): plant canary tokens, list the alerts they raised."""

from __future__ import annotations

import grpc
from lianfang.v1 import canaries_pb2, canaries_pb2_grpc, common_pb2

from consortium.aliases import AliasBook
from consortium.canaries import CanaryBook, canary_event
from consortium.records import token_key
from consortium.rings import RingTracker
from consortium.validation import check_token
from runtime.clock import Clock
from runtime.errors import FieldViolation, InvalidArgument
from runtime.interceptors import current_call
from runtime.timestamps import to_timestamp

MAX_CANARIES = 1000


class CanaryServicer(canaries_pb2_grpc.CanaryServiceServicer):
    def __init__(self, rings: RingTracker, aliases: AliasBook, canaries: CanaryBook, clock: Clock) -> None:
        self.rings, self.aliases, self.canaries, self.clock = rings, aliases, canaries, clock

    async def PlantCanaries(
        self, request: canaries_pb2.PlantCanariesRequest, context: grpc.aio.ServicerContext
    ) -> canaries_pb2.PlantCanariesResponse:
        violations: list[FieldViolation] = []
        if not 1 <= len(request.tokens) <= MAX_CANARIES:
            violations.append(FieldViolation("tokens", f"1..{MAX_CANARIES} tokens"))
        for i, t in enumerate(request.tokens):
            check_token(t, f"tokens[{i}]", violations)
            if t.type == common_pb2.TOKEN_TYPE_IP_SUBNET:
                violations.append(FieldViolation(f"tokens[{i}].type", "IP subnets do not link: not a canary type"))
        if not 1 <= len(request.label) <= 64:
            violations.append(FieldViolation("label", "1-64 characters"))
        if violations:
            raise InvalidArgument(violations)
        await self.rings.catch_up()  # links folded so far decide the canonical keys
        keys = [self.aliases.resolve(token_key(t.scheme, t.type, t.epoch, t.value)) for t in request.tokens]
        fresh = sorted({k for k in keys if k not in self.canaries.labels})
        if fresh:
            await self.rings.publish([canary_event(current_call().principal, request.label, self.clock(), fresh)])
        return canaries_pb2.PlantCanariesResponse(planted=len(fresh))

    async def ListCanaryAlerts(
        self, request: canaries_pb2.ListCanaryAlertsRequest, context: grpc.aio.ServicerContext
    ) -> canaries_pb2.ListCanaryAlertsResponse:
        await self.rings.catch_up()
        return canaries_pb2.ListCanaryAlertsResponse(
            alerts=[
                canaries_pb2.CanaryAlert(
                    member_id=a.member_id,
                    application_ref=a.application_ref,
                    label=a.label,
                    token_type=a.token_type,  # type: ignore[arg-type]
                    received_at=to_timestamp(a.received_at),
                )
                for a in self.canaries.alerts
            ],
            canaries=len(self.canaries.labels),
        )
