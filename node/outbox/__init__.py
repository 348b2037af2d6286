"""The node's durable outbox: hub submissions (queued Checks, outcomes) that survive a hub outage
and a node restart, delivered in order per application with exactly-once effect at the hub (or
given up by a person: discarded)."""

from node.outbox.queue import CHECK, DEAD, DISCARDED, OUTCOME, PENDING, SENT, Outbox, OutboxRow

__all__ = ["CHECK", "DEAD", "DISCARDED", "OUTCOME", "PENDING", "SENT", "Outbox", "OutboxRow"]
