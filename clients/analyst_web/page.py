"""The graph page's data (JSON shapes of the analyst answers) and its standalone form.

The page reads the same JSON whether it fetched it from ``lianfang analyst serve`` or found it
inlined in a standalone file, so one script serves both.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

STATIC = resources.files("clients.analyst_web") / "static"
ASSETS = ("index.html", "graph.css", "graph.js")


def as_json(message: Message) -> dict[str, Any]:
    """Every field present (false/0 included) with proto names, so the page needs no defaults."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def asset(name: str) -> bytes:
    if name not in ASSETS:
        raise KeyError(name)
    return (STATIC / name).read_bytes()


def standalone_page(data: dict[str, Any], title: str = "Lianfang ring") -> str:
    """One self-contained HTML file: the page with its CSS, script and ``data`` (a ``GetRing``
    answer as JSON) inlined. Clicking a node inspects it and reveals its neighbours present in
    ``data``; there is no hub to ask for more."""
    html = asset("index.html").decode()
    css = asset("graph.css").decode()
    script = asset("graph.js").decode()
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")  # no early </script>
    html = html.replace('<link rel="stylesheet" href="static/graph.css">', f"<style>\n{css}\n</style>")
    html = html.replace(
        '<script src="static/graph.js"></script>',
        f"<script>window.LIANFANG_DATA = {payload};</script>\n<script>\n{script}\n</script>",
    )
    return html.replace("<title>Lianfang graph</title>", f"<title>{_escape(title)}</title>")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
