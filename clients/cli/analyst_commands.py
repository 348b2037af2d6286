"""``lianfang analyst rings|ring|neighbours|path|export|serve``: the fraud analyst's tools.

Entities are applications (``<member_id>/<application_ref>``) or token keys; rings are public ring
ids as Check and ``rings`` report them. Output is JSON; ``export`` writes JSON, GraphML or a
standalone HTML page (the graph page with the ring inlined, viewable offline).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from google.protobuf.message import Message

from clients.analyst import AnalystClient
from clients.analyst_web.page import as_json, standalone_page
from clients.cli.hub_connection import add_analyst_principal, hub_channel, on_every_verb
from clients.credentials import JwtSigner, load_private_key


def _client(args: argparse.Namespace) -> AnalystClient:
    signer = JwtSigner(f"analyst/{args.analyst_name}", load_private_key(args.analyst_key))
    return AnalystClient(hub_channel(args), signer)


def _print(message: Message | dict[str, Any]) -> None:
    payload = message if isinstance(message, dict) else as_json(message)
    print(json.dumps(payload, ensure_ascii=False))


def is_ring_id(subject: str) -> bool:
    """A public ring id (``ring-…``), not an application (``member/ref``: a member id may begin
    ``ring-`` too) nor a token key."""
    return subject.startswith("ring-") and "/" not in subject


def positive_or_zero(text: str) -> int:
    """An ``argparse`` type: a count where 0 means the hub's default."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (the hub's default) or more, got {value}")
    return value


async def ring_page_data(
    client: AnalystClient, *, ring_id: str = "", application: str = "", max_nodes: int = 0
) -> dict[str, Any]:
    """What a standalone page needs: the ring answer, and each application's one-hop
    neighbourhood so that clicking a node in the offline page still expands it."""
    answer = await client.get_ring(ring_id=ring_id, application=application, max_nodes=max_nodes)
    if answer.graph.truncated:
        print("warning: the graph was truncated at the node/edge limits", file=sys.stderr)
    data = as_json(answer)
    data["neighbours"] = {}
    for node in answer.graph.nodes:
        if not node.is_token:
            data["neighbours"][node.id] = as_json(await client.neighbourhood(node.id, hops=1))
    return data


async def run(args: argparse.Namespace) -> int:
    client = _client(args)
    try:
        if args.verb == "rings":
            listed = await client.list_rings(
                min_size=args.min_size, min_lenders=args.min_lenders, min_score=args.min_score, limit=args.limit
            )
            for ring in listed.rings:
                _print(ring)
            print(f"{listed.matched} ring(s) matched", file=sys.stderr)
        elif args.verb == "ring":
            ring_id, application = (args.subject, "") if is_ring_id(args.subject) else ("", args.subject)
            _print(await client.get_ring(ring_id=ring_id, application=application, max_nodes=args.max_nodes))
        elif args.verb == "neighbours":
            _print(
                await client.neighbourhood(
                    args.entity, hops=args.hops, max_nodes=args.max_nodes, expand_hub_tokens=args.expand_hub_tokens
                )
            )
        elif args.verb == "path":
            _print(
                await client.find_path(
                    args.source, args.target, max_hops=args.max_hops, through_hub_tokens=args.through_hub_tokens
                )
            )
        elif args.verb == "export":
            text = await _export(client, args)
            if args.output:
                Path(args.output).write_text(text, encoding="utf-8")
                print(f"wrote {args.output}", file=sys.stderr)
            else:
                sys.stdout.write(text)
        return 0
    finally:
        await client.close()


async def _export(client: AnalystClient, args: argparse.Namespace) -> str:
    is_ring = is_ring_id(args.subject)
    if args.format == "html":
        if not is_ring and "/" not in args.subject:
            raise SystemExit("lianfang: --format html exports a ring: pass a ring id or an application")
        ring_id, application = (args.subject, "") if is_ring else ("", args.subject)
        data = await ring_page_data(client, ring_id=ring_id, application=application, max_nodes=args.max_nodes)
        return standalone_page(data, title=f"Lianfang {data['ring']['ring_id']}")
    exported = await client.export(
        ring_id=args.subject if is_ring else "",
        entity="" if is_ring else args.subject,
        hops=args.hops,
        export_format=args.format,
        max_nodes=args.max_nodes,
    )
    if exported.truncated:
        print("warning: the graph was truncated at the node/edge limits", file=sys.stderr)
    return exported.content


def serve(args: argparse.Namespace) -> int:
    from clients.analyst_web.server import AnalystPageServer

    if args.listen_host in ("0.0.0.0", "::", "*", ""):  # a wildcard: refused here, never bound
        raise SystemExit(
            "lianfang: --listen-host must be one address: the page answers only requests naming the address it "
            "is bound to (a guard against DNS rebinding), and it acts with your analyst key, so bind it to "
            "localhost (the default) or to the one interface its users reach"
        )
    server = AnalystPageServer(lambda: _client(args), host=args.listen_host, port=args.port)
    print(f"graph page on {server.url} (Ctrl-C to stop)", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


def add_commands(nouns: Any) -> None:
    """Adds ``lianfang analyst …`` to the top-level parser's sub-commands."""
    analyst = nouns.add_parser("analyst", help="fraud analyst: rings, neighbourhoods, paths, graph page")
    add_analyst_principal(analyst)
    verbs = analyst.add_subparsers(dest="verb", required=True)

    rings = verbs.add_parser("rings", help="top rings by score (JSON lines)")
    rings.add_argument("--min-size", type=positive_or_zero, default=0)
    rings.add_argument("--min-lenders", type=positive_or_zero, default=0)
    rings.add_argument("--min-score", type=float, default=0.0)
    rings.add_argument("--limit", type=positive_or_zero, default=20)

    ring = verbs.add_parser("ring", help="one ring with its graph, communities, central tokens")
    ring.add_argument("subject", help="a ring id (ring-…) or an application member/ref")
    ring.add_argument("--max-nodes", type=positive_or_zero, default=0)

    neighbours = verbs.add_parser("neighbours", help="k-hop neighbourhood of an entity")
    neighbours.add_argument("entity", help="member/ref or a token key")
    neighbours.add_argument("--hops", type=positive_or_zero, default=2)
    neighbours.add_argument("--max-nodes", type=positive_or_zero, default=0)
    neighbours.add_argument("--expand-hub-tokens", action="store_true")

    path = verbs.add_parser("path", help="shortest path between two entities")
    path.add_argument("source")
    path.add_argument("target")
    path.add_argument("--max-hops", type=positive_or_zero, default=0)
    path.add_argument("--through-hub-tokens", action="store_true")

    export = verbs.add_parser("export", help="a ring or neighbourhood as JSON, GraphML or HTML")
    export.add_argument("subject", help="a ring id (ring-…), or an entity for its neighbourhood")
    export.add_argument("--format", choices=("json", "graphml", "html"), default="json")
    export.add_argument("--hops", type=positive_or_zero, default=0, help="neighbourhood depth (default 2)")
    export.add_argument("--max-nodes", type=positive_or_zero, default=0)
    export.add_argument("-o", "--output", help="file to write (default: stdout)")

    for parser in (rings, ring, neighbours, path, export):
        parser.set_defaults(run=lambda a: asyncio.run(run(a)))

    page = verbs.add_parser("serve", help="serve the interactive graph page on localhost")
    page.add_argument("--listen-host", default="127.0.0.1", help="interface to bind (default: localhost only)")
    page.add_argument("--port", type=int, default=8765)
    page.set_defaults(run=serve, long_running=True)
    on_every_verb(verbs, add_analyst_principal)  # before the verb or after it
