"""``lianfang node monitor run|alerts|dispose|repay|kpis``: seed 002 stage 4 and the KPIs of
seed 000 §8 from a terminal. Output is JSON, except ``kpis``, which prints a table."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from lianfang.v1 import node_pb2

from clients.cli.node_commands import EVIDENCE, connection_options, node_client
from clients.cli.output import print_message
from runtime.timestamps import to_timestamp


def kpi_table(report: node_pb2.KpiReport) -> str:
    rows = [
        ("average ticket (件均金额, yuan)", f"{report.average_ticket_yuan:,.2f}"),
        ("loans", str(report.loans)),
        ("approval rate (审批通过率, 15-35 %)", f"{report.approval_rate:.1%} of {report.decided}"),
        ("fund utilisation (资金利用率, 85-95 %)", f"{report.fund_utilisation:.1%}"),
        (
            "6-month repeat borrowing (复贷率, pass 20 %)",
            f"{report.repeat_borrowing_rate_6m:.1%} of {report.borrowers}",
        ),
        *((f"hours in {s.stage}", f"{s.average_hours:.2f} ({s.applications})") for s in report.stages),
        *(("WARNING", w) for w in report.warnings),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)


async def run(args: argparse.Namespace) -> int:
    client = node_client(args)
    try:
        result: Any
        if args.verb == "monitor":
            result = await client.run_monitoring(timeout=args.timeout)
        elif args.verb == "alerts":
            result = await client.post_loan_alerts(args.application_id or "")
        elif args.verb == "dispose":
            result = await client.record_disposition(
                node_pb2.RecordDispositionRequest(
                    task_id=args.task_id,
                    outcome=args.outcome,
                    note=args.note,
                    unfreeze=args.unfreeze or "",
                    reason_code=args.reason_code or "",
                    evidence_level=EVIDENCE.get(args.evidence or "", 0),
                )
            )
        elif args.verb == "repay":
            amount = 0 if args.amount is None else round(args.amount * 100)
            if args.amount is not None and amount <= 0:  # 0 means "repaid in full": never by accident
                raise ValueError("--amount: a payment of at least 0.01 yuan (leave it out for repaid in full)")
            result = await client.repay_loan(
                args.loan_id, args.comment or "", amount_fen=amount, payment_id=args.payment_id or ""
            )
        else:
            report = await client.kpis(chart=bool(args.chart))
            print(kpi_table(report))
            if args.chart:
                Path(args.chart).write_bytes(report.chart_png)
                print(f"chart written to {args.chart}")
            return 0
        print_message(result, zeros=isinstance(result, node_pb2.LoanView))
        return 0
    finally:
        await client.close()


def add_commands(node: Any) -> None:
    """Adds the post-loan verbs to the ``lianfang node`` sub-parser group."""
    common = connection_options()
    monitor = node.add_parser("monitor", help="post-loan monitoring batch").add_subparsers(dest="what", required=True)
    monitor_run = monitor.add_parser(
        "run", parents=[common], help="run the daily batch now (e.g. from cron; role post_loan_officer)"
    )
    monitor_run.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds to wait for the batch (default 600: bureau pulls take up to source_deadline_seconds "
        "each); a batch the command stops waiting for still runs to its end on the node",
    )
    alerts = node.add_parser("alerts", parents=[common], help="post-loan alerts and their audit trail")
    alerts.add_argument("--application-id", help="only this application's")
    dispose = node.add_parser("dispose", parents=[common], help="record the disposition of a risk-check task")
    dispose.add_argument("task_id")
    dispose.add_argument(
        "--outcome", required=True, choices=("risk_mitigated", "no_risk", "escalated", "fraud_confirmed")
    )
    dispose.add_argument("--note", required=True, help="what was found, e.g. 家人住院, 暂停营业半个月")
    dispose.add_argument("--unfreeze", choices=("when_flows_resume", "now", "keep"), help="default: by outcome")
    dispose.add_argument("--reason-code", help="fraud_confirmed: the marker's reason code")
    dispose.add_argument("--evidence", choices=sorted(EVIDENCE), help="fraud_confirmed: evidence level")
    repay = node.add_parser(
        "repay",
        parents=[common],
        help="record a payment into a loan's ledger, or the loan repaid in full (the hub stops watching)",
    )
    repay.add_argument("loan_id")
    repay.add_argument("--comment")
    repay.add_argument("--amount", type=float, help="yuan: a payment received (without it: repaid in full)")
    repay.add_argument("--payment-id", help="the payment's id in the core banking system (required with --amount)")
    kpis = node.add_parser("kpis", parents=[common], help="KPIs of seed 000 §8 as a table (and a PNG chart)")
    kpis.add_argument("--chart", help="write the PNG chart to this file")
    for parser in (monitor_run, alerts, dispose, repay, kpis):
        parser.set_defaults(run=lambda a: asyncio.run(run(a)))
    sms = node.add_parser(
        "sms",
        help="development: the text messages the node's recording SMS channel 'sent' (signing codes, "
        "reminders), read from its database",
    )
    sms.add_argument("--database", required=True, help="the node's SQLite file (lianfang up: <state>/node-<member>.db)")
    sms.add_argument("--last", type=int, default=10, help="how many of the latest (default 10)")
    sms.set_defaults(run=print_recorded_sms)


def print_recorded_sms(args: argparse.Namespace) -> int:
    from node.monitoring.sms import recorded_messages

    for phone, text, at in recorded_messages(args.database, args.last):
        print(
            json.dumps({"sent_at": to_timestamp(at).ToJsonString(), "phone": phone, "text": text}, ensure_ascii=False)
        )
    return 0
