"""The KPI chart as a PNG (matplotlib, Agg backend): rates against their bands, and hours per
stage (the seed's progress visualisation). The numbers drawn are also written into the PNG's
text metadata (``lianfang-kpis``), so a reader — or a test — can check the chart says what the
table says."""

from __future__ import annotations

import io
import json
import struct
import zlib
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from node.monitoring.kpis import APPROVAL_BAND, REPEAT_PASS, UTILISATION_BAND, Kpis

METADATA_KEY = "lianfang-kpis"


def chart_numbers(kpis: Kpis) -> dict[str, Any]:
    return {
        "approval_rate": kpis.approval_rate,
        "fund_utilisation": kpis.fund_utilisation,
        "repeat_borrowing_rate_6m": kpis.repeat_borrowing_rate_6m,
        "average_ticket_yuan": kpis.average_ticket_yuan,
        "stage_hours": {s.stage: s.average_hours for s in kpis.stages},
    }


def render_png(kpis: Kpis) -> bytes:
    numbers = chart_numbers(kpis)
    fig, (rates, stages) = plt.subplots(1, 2, figsize=(10, 4), dpi=80)
    try:
        names = ["approval", "utilisation", "repeat 6m"]
        values = [kpis.approval_rate, kpis.fund_utilisation, kpis.repeat_borrowing_rate_6m]
        rates.bar(names, values, color=["#4c72b0", "#55a868", "#c44e52"])
        for i, band in enumerate((APPROVAL_BAND, UTILISATION_BAND, (REPEAT_PASS, 1.0))):
            rates.fill_between([i - 0.4, i + 0.4], band[0], band[1], color="grey", alpha=0.2)
        for i, v in enumerate(values):
            rates.text(i, v + 0.02, f"{v:.1%}", ha="center")
        rates.set_ylim(0, 1.1)
        rates.set_title(f"KPIs (average ticket {kpis.average_ticket_yuan:,.0f} yuan)")
        labels = list(numbers["stage_hours"]) or ["-"]
        hours = list(numbers["stage_hours"].values()) or [0.0]
        stages.barh(labels, hours, color="#8172b2")
        stages.set_xlabel("average hours in stage")
        stages.set_title("time per stage")
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png", metadata={METADATA_KEY: json.dumps(numbers, sort_keys=True)})
        return out.getvalue()
    finally:
        plt.close(fig)


def png_text(png: bytes) -> dict[str, str]:
    """The tEXt/zTXt/iTXt entries of a PNG (raises ValueError if it is not one)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    found, i = {}, 8
    while i + 8 <= len(png):
        (length,) = struct.unpack(">I", png[i : i + 4])
        kind, body = png[i + 4 : i + 8], png[i + 8 : i + 8 + length]
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            found[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            found[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            compressed, rest = rest[0], rest[2:]
            _, _, rest = rest.partition(b"\0")
            _, _, text = rest.partition(b"\0")
            found[key.decode("latin-1")] = (zlib.decompress(text) if compressed else text).decode()
        i += 12 + length
    return found


def numbers_in(png: bytes) -> dict[str, Any]:
    return dict(json.loads(png_text(png)[METADATA_KEY]))
