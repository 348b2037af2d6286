"""MarkerService: the markers this member filed at the hub, withdrawn and disputed by its risk
staff, and a borrower's access request, over gRPC (``node.markers.MarkerDesk`` does the work)."""

from __future__ import annotations

import grpc
from lianfang.v1 import audit_pb2, common_pb2, consortium_pb2, node_pb2, node_pb2_grpc

from node.markers import MarkerDesk
from runtime.interceptors import current_call


class MarkerServicer(node_pb2_grpc.MarkerServiceServicer):
    def __init__(self, desk: MarkerDesk) -> None:
        self.desk = desk

    async def ListMarkers(
        self, request: node_pb2.ListMarkersRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.ListMarkersResponse:
        return node_pb2.ListMarkersResponse(markers=await self.desk.markers(request.include_inactive))

    async def WithdrawMarker(
        self, request: node_pb2.WithdrawFiledMarkerRequest, context: grpc.aio.ServicerContext
    ) -> node_pb2.FiledMarker:
        return await self.desk.withdraw(request.marker_id, request.reason, current_call().principal)

    async def DisputeMarker(
        self, request: node_pb2.DisputeMarkerRequest, context: grpc.aio.ServicerContext
    ) -> common_pb2.Dispute:
        return await self.desk.dispute(request.marker_id, request.subject_statement, current_call().principal)

    async def ListDisputes(
        self, request: consortium_pb2.ListDisputesRequest, context: grpc.aio.ServicerContext
    ) -> consortium_pb2.ListDisputesResponse:
        return consortium_pb2.ListDisputesResponse(disputes=await self.desk.disputes(request.include_resolved))

    async def GetBorrowerRecords(
        self, request: node_pb2.BorrowerRecordsRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.SubjectAccessResponse:
        return await self.desk.borrower_records(request.identifiers, request.request_ref, current_call().principal)
