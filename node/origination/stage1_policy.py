"""How stage 1 waits for its data sources and the hub, and what it makes of a silent hub (node
settings, read by the engine and by the disbursement's hub calls)."""

from __future__ import annotations

from dataclasses import dataclass, field

from node.origination.decision import REFER


@dataclass
class Stage1Policy:
    deadlines: dict[str, float] = field(default_factory=dict)
    """A deadline per data source by name (seconds); a source not named gets ``default_deadline``."""
    default_deadline: float = 2.0
    hub_deadline: float = 0.8
    """Every call the node makes to the hub on a caller's behalf (Check, watch registration)."""
    hub_unavailable: str = REFER
    """What an unreachable hub means: refer (default) or decline."""
    deadline_margin: float = 0.1
    """Kept back from the caller's deadline to decide and answer."""
