"""The OPRF key service (``lianfang keys serve``): a process of its own, apart from the hub.

Why apart: with HMAC tokens, a copy of the hub's store plus one leaked member key reverses every
phone number offline. Here the token key never leaves this service; members send blinded
elements (RFC 9497 VOPRF, ristretto255-SHA512) and get back evaluations with a proof against
the epoch's published key, one metered and audited round trip per application. The hub never
calls Evaluate; it only receives Δ to re-key its stored elements when the key rotates.
"""
