"""The three applicants of seed 002, with made-up but checksum-valid identifiers.

Tests, the demo and ``scenarios/seed_personas.toml`` share these constants, so the scenario file
is keyed by exactly the identifiers the demo submits. The codes were computed with python-stdnum
(USCC check character, and the GB 11714 check digit of the embedded organisation code; resident
ID check digit); they belong to no real business or person that we know of.
"""

from __future__ import annotations

from dataclasses import dataclass

from node.sources.base import ApplicantKind, SourceRequest


@dataclass(frozen=True)
class Persona:
    """A seed applicant: enough to build a ``SourceRequest`` (or a node application)."""

    name: str
    applicant_kind: ApplicantKind
    uscc: str
    legal_rep_name: str
    legal_rep_resident_id: str
    phone: str
    industry: str
    locality: str
    requested_amount_yuan: int
    term_months: int
    collateral_value_yuan: int = 0
    """The pledged asset's value (an equipment loan's machine); 0: nothing pledged."""

    def request(self, application_ref: str = "demo-0001") -> SourceRequest:
        return SourceRequest(
            application_ref=application_ref,
            applicant_kind=self.applicant_kind,
            name=self.name,
            uscc=self.uscc,
            legal_rep_resident_id=self.legal_rep_resident_id,
            phones=(self.phone,),
            industry=self.industry,
            locality=self.locality,
        )


LAO_WANG = Persona(
    name="老王家常菜",
    applicant_kind="individual_business",
    uscc="92310115MA1FL3Q869",
    legal_rep_name="王建国",
    legal_rep_resident_id="310115197805120312",
    phone="+8613916052718",
    industry="catering",
    locality="shanghai-pudong",
    requested_amount_yuan=150_000,
    term_months=12,
)
"""Individual business, cash-flow turnover loan (seed: 15万, 1 year)."""

SHENDU_VISION = Persona(
    name="深度视觉科技有限公司",
    applicant_kind="company",
    uscc="91440305MA5DRT7C7H",
    legal_rep_name="林晓雯",
    legal_rep_resident_id="440305198809230465",
    phone="+8613723648051",
    industry="software",
    locality="shenzhen-nanshan",
    requested_amount_yuan=800_000,
    term_months=24,
)
"""Light-asset tech company, 20 staff, no collateral (seed: 80万, 2 years)."""

JINGCHENG_PARTS = Persona(
    name="精诚零部件加工厂",
    applicant_kind="company",
    uscc="91320506MA1MXK4D5D",
    legal_rep_name="刘德明",
    legal_rep_resident_id="320506197003080176",
    phone="+8615895472306",
    industry="manufacturing",
    locality="suzhou-wuzhong",
    requested_amount_yuan=350_000,
    term_months=36,
    collateral_value_yuan=500_000,
)
"""Small manufacturer buying a CNC machine (seed: 35万 equipment-secured loan, 3 years, on a
machine costing 50万)."""

PERSONAS: tuple[Persona, ...] = (LAO_WANG, SHENDU_VISION, JINGCHENG_PARTS)
