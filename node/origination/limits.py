"""Pre-credit limit and risk-based price, from flows and tax, capped by the product (seed 002:
tax ≈ revenue estimate, 12-month settlement flows → 预授信额度; grade → 建议利率)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from node.origination.products import Product

STEP_FEN = 10_000 * 100  # limits are granted in steps of 10,000 yuan


def round_down(fen: float) -> int:
    return int(fen // STEP_FEN) * STEP_FEN


def pre_credit_limit(product: Product, features: Mapping[str, Any]) -> int:
    """min(revenue × revenue_factor, monthly flow × flow_factor), in 10k steps, ≤ product max;
    for a product lending against collateral also ≤ the collateral's value × collateral_ratio
    (seed 002: a 500,000 yuan machine secures a 350,000 yuan equipment loan at 70 %).

    Either income figure missing (its source failed) gives 0: no limit without evidence of income.
    """
    revenue = features.get("tax_revenue_estimate")
    flow = features.get("flow_monthly_avg")
    if not isinstance(revenue, int | float) or not isinstance(flow, int | float):
        return 0
    by_revenue = revenue * 100 * product.revenue_factor
    by_flow = flow * 100 * product.flow_factor
    pledged = round(float(features.get("collateral_value") or 0) * 100)
    return min(collateral_cap(product, pledged), round_down(min(by_revenue, by_flow)))


def collateral_cap(product: Product, collateral_value_fen: int) -> int:
    """The most the product lends: its maximum, and for one lending against collateral, the
    pledge × collateral_ratio. Every limit obeys it: the pre-credit limit, and the final one that
    due diligence or a credit approver sets."""
    if not product.collateral_ratio:
        return product.max_amount_fen
    return min(product.max_amount_fen, round_down(collateral_value_fen * product.collateral_ratio))
