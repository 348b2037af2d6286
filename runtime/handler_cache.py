"""One wrapped handler per method for an interceptor, instead of one per call.

grpc.aio calls every interceptor's ``intercept_service`` on every RPC, and ours rebuilt the
method's handler each time (closures, label lookups, a new ``RpcMethodHandler``): five layers of
that on every Check. The handler an interceptor receives from the layer below is the same object
for every call of a method (the servicer's, or the layer below's cached one), so the wrapped
handler is built once per method and reused for as long as that object is the one handed down.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc


class HandlerCache:
    __slots__ = ("_wrapped",)

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def get(
        self,
        method: str,
        handler: grpc.RpcMethodHandler,
        wrap: Callable[[grpc.RpcMethodHandler], grpc.RpcMethodHandler],
    ) -> grpc.RpcMethodHandler:
        """``wrap(handler)``, built on the first call of ``method`` with this ``handler``."""
        hit = self._wrapped.get(method)
        if hit is not None and hit[0] is handler:
            return hit[1]
        wrapped = wrap(handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped
