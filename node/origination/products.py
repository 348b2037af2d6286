"""Loan products as configuration: loaded from TOML and validated once at start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.config import ConfigError
from runtime.contract_limits import product_category_problem
from runtime.toml_file import file_error, read_toml_file

DEFAULT_PRODUCTS = Path(__file__).resolve().parent.parent / "products.toml"
KINDS = ("person", "individual_business", "company")
METHODS = ("equal_instalments", "interest_first")
GRADES = ("A", "B", "C", "D", "E")
FEN = 100


@dataclass(frozen=True)
class Product:
    """One loan product (amounts in fen, so arithmetic is exact)."""

    code: str
    name: str
    applicant_kinds: tuple[str, ...]
    min_amount_fen: int
    max_amount_fen: int
    min_term_months: int
    max_term_months: int
    repayment_methods: tuple[str, ...]
    entrusted_payment_threshold_fen: int
    disbursement_review_at_fen: int
    revenue_factor: float
    flow_factor: float
    grey_zone: tuple[float, float]
    min_credit_score: float
    min_anti_fraud_score: float
    price_grid: dict[str, float]
    collateral_ratio: float = 0.0
    min_drawdown_fen: int = 1_000 * FEN
    """The smallest drawdown (a 1-fen drawdown made a loan of zero instalments)."""
    approval_valid_days: int = 30
    """An approval not signed within this many days expires: the applicant applies again."""
    availability_months: int = 12
    """Drawdowns are possible for this many months from signing (the facility's 用款期)."""

    def rate_for(self, grade: str) -> float | None:
        """The annual rate of a grade, or None when the grade is not lent to."""
        return self.price_grid.get(grade)


def _need(table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in table:
        raise ConfigError(f"{where}.{key}: missing")
    value = table[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ConfigError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def _optional(table: dict[str, Any], key: str, default: int, where: str) -> int:
    """A positive whole number the product may leave out."""
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{where}.{key}: expected a positive whole number, got {value!r}")
    return value


def _product(code: str, t: dict[str, Any]) -> Product:
    where = f"products.{code}"
    if problem := product_category_problem(code):  # sent with every Check: the hub would refuse them all
        raise ConfigError(f"{where}: a product code goes to the hub as the product category: {problem}")
    known = set(Product.__dataclass_fields__) | {
        "min_amount",
        "max_amount",
        "entrusted_payment_threshold",
        "disbursement_review_at",
        "min_drawdown",
    }
    for key in t:
        if key not in known:
            raise ConfigError(f"{where}.{key}: unknown key")
    kinds = tuple(_need(t, "applicant_kinds", list, where))
    methods = tuple(_need(t, "repayment_methods", list, where))
    grid = _need(t, "price_grid", dict, where)
    for key, values in (("applicant_kinds", kinds), ("repayment_methods", methods), ("price_grid", grid)):
        if not values:  # a product nobody may take, or one priced for no grade
            raise ConfigError(f"{where}.{key}: must name at least one")
    for k in kinds:
        if k not in KINDS:
            raise ConfigError(f"{where}.applicant_kinds: unknown kind {k!r}")
    for m in methods:
        if m not in METHODS:
            raise ConfigError(f"{where}.repayment_methods: unknown method {m!r}")
    for grade, rate in grid.items():
        if grade not in GRADES or not isinstance(rate, int | float) or not 0 < rate < 0.36:
            raise ConfigError(f"{where}.price_grid.{grade}: a grade A-E with a rate in (0, 0.36)")
    grey = _need(t, "grey_zone", list, where)
    if len(grey) != 2 or not grey[0] < grey[1]:
        raise ConfigError(f"{where}.grey_zone: expected [low, high] with low < high")
    product = Product(
        code=code,
        name=_need(t, "name", str, where),
        applicant_kinds=kinds,
        min_amount_fen=_need(t, "min_amount", int, where) * FEN,
        max_amount_fen=_need(t, "max_amount", int, where) * FEN,
        min_term_months=_need(t, "min_term_months", int, where),
        max_term_months=_need(t, "max_term_months", int, where),
        repayment_methods=methods,
        entrusted_payment_threshold_fen=_need(t, "entrusted_payment_threshold", int, where) * FEN,
        disbursement_review_at_fen=_need(t, "disbursement_review_at", int, where) * FEN,
        revenue_factor=float(_need(t, "revenue_factor", (int, float), where)),
        flow_factor=float(_need(t, "flow_factor", (int, float), where)),
        grey_zone=(float(grey[0]), float(grey[1])),
        min_credit_score=float(_need(t, "min_credit_score", (int, float), where)),
        min_anti_fraud_score=float(_need(t, "min_anti_fraud_score", (int, float), where)),
        price_grid={g: float(r) for g, r in grid.items()},
        collateral_ratio=float(t.get("collateral_ratio", 0.0)),
        min_drawdown_fen=_optional(t, "min_drawdown", 1_000, where) * FEN,
        approval_valid_days=_optional(t, "approval_valid_days", 30, where),
        availability_months=_optional(t, "availability_months", 12, where),
    )
    if not 0 < product.min_amount_fen <= product.max_amount_fen:
        raise ConfigError(f"{where}.max_amount: must be ≥ min_amount > 0")
    if not 0 < product.min_term_months <= product.max_term_months:
        raise ConfigError(f"{where}.max_term_months: must be ≥ min_term_months > 0")
    return product


def load_products(path: str | Path = DEFAULT_PRODUCTS) -> dict[str, Product]:
    data = read_toml_file(Path(path), file_error("products file"))
    table = data.get("products")
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"products file {path}: no [products.<code>] tables")
    return {code: _product(code, t) for code, t in table.items()}
