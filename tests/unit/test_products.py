"""Products are configuration: the shipped file loads; a bad one names the product and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.origination.due_diligence import load_field_team
from node.origination.limits import pre_credit_limit
from node.origination.products import DEFAULT_PRODUCTS, load_products
from runtime.config import ConfigError


def test_shipped_products_load() -> None:
    products = load_products()
    assert {"xiaowei_puhui", "keji_liudong", "shebei_diya"} <= set(products)
    lw = products["xiaowei_puhui"]
    assert lw.name == "小微普惠贷" and lw.rate_for("B") == 0.045 and lw.rate_for("E") is None
    assert lw.entrusted_payment_threshold_fen == 300_000 * 100


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("max_amount = 500000", "max_amount = 5000", "products.xiaowei_puhui.max_amount"),
        (
            'repayment_methods = ["equal_instalments", "interest_first"]\nentrusted_payment_threshold = 300000   #',
            'repayment_methods = ["balloon"]\nentrusted_payment_threshold = 300000   #',
            "products.xiaowei_puhui.repayment_methods",
        ),
        ("grey_zone = [70, 80]", "grey_zone = [80, 70]", "products.xiaowei_puhui.grey_zone"),
        ("B = 0.045", "B = 0.9", "products.xiaowei_puhui.price_grid.B"),
        ("flow_factor = 1.7  ", "flow_factr = 1.7  ", "products.xiaowei_puhui.flow_factr: unknown key"),
        ('name = "小微普惠贷"', "name = 7", "products.xiaowei_puhui.name"),
        ("min_amount = 10000", "min_amount = 10000\nmin_drawdown = 0", "products.xiaowei_puhui.min_drawdown"),
        ("min_amount = 10000", "min_amount = 10000\napproval_valid_days = 1.5", "products.xiaowei_puhui.approval"),
        ("min_amount = 10000", "min_amount = 10000\navailability_months = true", "products.xiaowei_puhui.availability"),
        (
            'applicant_kinds = ["individual_business", "company"]\nmin_amount = 10000',
            "applicant_kinds = []\nmin_amount = 10000",
            "products.xiaowei_puhui.applicant_kinds: must name at least one",
        ),
        (
            "[products.xiaowei_puhui.price_grid]\nA = 0.039\nB = 0.045\nC = 0.055\nD = 0.072",
            "[products.xiaowei_puhui.price_grid]",
            "products.xiaowei_puhui.price_grid: must name at least one",
        ),
    ],
)
def test_bad_product_config_names_the_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = DEFAULT_PRODUCTS.read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "products.toml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_products(bad)


def test_missing_products_file_and_managers(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"products file .*none\.toml: cannot read: No such file"):
        load_products(tmp_path / "none.toml")
    (tmp_path / "m.toml").write_text('[[managers]]\nid = "x"\nname = "X"\nlocalities = []\n')
    with pytest.raises(ConfigError, match=r"managers\[0\]: missing industries"):
        load_field_team(tmp_path / "m.toml")
    team = load_field_team()
    assert team.assign("suzhou-wuzhong", "manufacturing", {}).id == "wang-fang"
    assert team.assign("shanghai-pudong", "catering", {"xiao-li": 9}).id == "xiao-li"  # locality + industry first
    assert any("电费单" in item for item in team.checklist("catering"))


def test_a_collateral_product_lends_at_most_the_ratio_of_the_pledge() -> None:
    """The equipment loan (70 %): income evidence alone would carry more; the pledge caps it,
    and no pledge means no limit. A product without a ratio ignores any pledge."""
    products = load_products()
    income = {"tax_revenue_estimate": 20_000_000, "flow_monthly_avg": 2_000_000}  # yuan
    equipment, unsecured = products["shebei_diya"], products["xiaowei_puhui"]
    assert pre_credit_limit(equipment, {**income, "collateral_value": 500_000}) == 350_000 * 100
    assert pre_credit_limit(equipment, {**income, "collateral_value": 0}) == 0
    assert pre_credit_limit(unsecured, {**income, "collateral_value": 1}) == unsecured.max_amount_fen


def test_a_product_code_is_what_the_hub_takes_as_a_product_category(tmp_path: Path) -> None:
    """The node sends its product code as every Check's product_category: a code the hub refuses
    (an identifier in it, or not its shape) would refer every application, so it stops the node;
    a dated code is fine."""
    shipped = DEFAULT_PRODUCTS.read_text(encoding="utf-8")
    dated = tmp_path / "dated.toml"
    dated.write_text(shipped.replace("[products.xiaowei_puhui", "[products.xwd_20250601"), encoding="utf-8")
    assert "xwd_20250601" in load_products(dated)
    for code in ("xwd_13800138000", "loan_138_0013_8000", "Xiaowei"):
        bad = tmp_path / f"{code}.toml"
        bad.write_text(shipped.replace("[products.xiaowei_puhui", f"[products.{code}"), encoding="utf-8")
        with pytest.raises(ConfigError, match=f"products.{code}: a product code goes to the hub"):
            load_products(bad)
