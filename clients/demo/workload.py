"""A synthetic, deterministic lending workload with planted ground truth.

Innocent applicants apply once (some twice at the same lender, some share a café's public IP);
planted *stackers* apply at several lenders within days; planted *fraudsters* are filed on the
blacklist by one lender and later apply at another; *victims* of impersonation carry a
protective marker and an impostor applies with their ID; a few markers are withdrawn before
their subject applies (must not hit). Everything is generated from one seed.

**Fraud rings** (role ``ring``, one ``group`` each) are planted as the seed describes them: device
farms (many IDs on a few phones' worth of devices), same-IP bursts from a studio, one agent's
phone on many companies, and a ring spanning every lender through shared devices, addresses and
mule accounts. **Look-alikes** (role ``innocent``) are families sharing an address and staff
giving their employer's switchboard number, applying weeks apart, and the café's public IP.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from lianfang.v1 import common_pb2, node_pb2
from stdnum.cn import ric, uscc

from runtime.clock import ManualClock

DAY = 86_400.0
AREAS = ("110101", "310104", "440305", "330106", "510107", "420102", "320106")
MOBILE_PREFIXES = ("138", "139", "158", "159", "186", "187", "136", "150", "177", "199")
STREETS = ("世纪大道", "人民路", "解放路", "中山路", "建设路", "长江路", "和平街")
CAFE_IP = "36.112.45.9"


@dataclass(frozen=True)
class Person:
    """An individual business owner (个体工商户): the person's identifiers plus the business's USCC."""

    uscc: str
    resident_id: str
    phone: str
    device_id: str
    ip: str
    bank_account: str
    address: str

    def identifiers(self) -> node_pb2.Identifiers:
        return node_pb2.Identifiers(
            uscc=self.uscc,
            legal_rep_resident_id=self.resident_id,
            phones=[self.phone],
            device_ids=[self.device_id],
            ips=[self.ip],
            bank_accounts=[self.bank_account],
            addresses=[self.address],
        )


@dataclass(frozen=True)
class Application:
    at: float
    lender: str
    ref: str
    person: Person
    role: str  # innocent | stacker | fraudster | impostor | withdrawn | ring
    amount_yuan: int = 100_000
    group: str = ""  # the planted ring (or innocent look-alike group) it belongs to


@dataclass(frozen=True)
class Filing:
    at: float
    lender: str
    person: Person
    marker_type: int
    reason_code: str
    evidence_level: int
    withdraw_at: float | None = None


@dataclass
class Workload:
    start: float
    applications: list[Application] = field(default_factory=list)
    filings: list[Filing] = field(default_factory=list)


def _person(rng: random.Random, ip: str | None = None) -> Person:
    birth = f"{rng.randint(1960, 2002)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body = rng.choice(AREAS) + birth + f"{rng.randint(0, 999):03d}"
    business = "92" + rng.choice(AREAS) + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
    return Person(
        uscc=business + uscc.calc_check_digit(business),
        resident_id=body + ric.calc_check_digit(body + "0"),  # stdnum wants a placeholder digit
        phone=rng.choice(MOBILE_PREFIXES) + f"{rng.randint(0, 99_999_999):08d}",
        device_id=f"dev-{rng.getrandbits(64):016x}",
        ip=ip or f"{rng.randint(36, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        bank_account="6222" + f"{rng.randint(0, 10**15 - 1):015d}",
        address=f"{rng.choice(('上海市浦东新区', '北京市朝阳区', '深圳市南山区', '杭州市西湖区'))}"
        f"{rng.choice(STREETS)}{rng.randint(1, 999)}号{rng.randint(101, 2505)}室",
    )


def build_workload(applicants: int, lenders: list[str], *, weeks: int = 8, seed: int = 7) -> Workload:
    rng = random.Random(seed)
    clock = ManualClock()
    work = Workload(start=clock.now)
    span = weeks * 7 * DAY
    counter = 0

    def apply(at: float, lender: str, person: Person, role: str, group: str = "") -> None:
        nonlocal counter
        counter += 1
        amount = rng.randrange(20_000, 200_001, 10_000)
        ref = f"app-{counter:06d}"
        work.applications.append(Application(work.start + at, lender, ref, person, role, amount, group))

    n_stackers = max(applicants // 12, 3)
    n_fraud = max(applicants // 20, 3)
    n_victims = max(applicants // 100, 1)
    n_withdrawn = max(applicants // 200, 1)
    n_innocent = applicants - n_stackers - n_fraud - n_victims - n_withdrawn
    for i in range(n_innocent):
        person = _person(rng, CAFE_IP if i % 33 == 0 else None)
        at = rng.uniform(0, span)
        lender = rng.choice(lenders)
        apply(at, lender, person, "innocent")
        if rng.random() < 0.12:  # re-application at the same lender is not stacking
            apply(min(at + rng.uniform(DAY, 10 * DAY), span), lender, person, "innocent")
    for _ in range(n_stackers):
        person = _person(rng)
        at = rng.uniform(0, span - 6 * DAY)
        for lender in rng.sample(lenders, k=rng.randint(2, len(lenders))):
            apply(at, lender, person, "stacker")
            at += rng.uniform(0.1, 2.5) * DAY
    for _ in range(n_fraud):
        person = _person(rng)
        filer, other = rng.sample(lenders, 2)
        filed = rng.uniform(0, span / 2)
        kind = rng.choice(
            [
                (common_pb2.MARKER_TYPE_CONFIRMED_FRAUD, "FORGED_DOCUMENTS", common_pb2.EVIDENCE_LEVEL_POLICE_REPORT),
                (common_pb2.MARKER_TYPE_CONFIRMED_FRAUD, "IDENTITY_FRAUD", common_pb2.EVIDENCE_LEVEL_DOCUMENTARY),
                (common_pb2.MARKER_TYPE_COURT_DISHONEST, "DISHONEST_DEBTOR", common_pb2.EVIDENCE_LEVEL_COURT_JUDGMENT),
            ]
        )
        work.filings.append(Filing(work.start + filed, filer, person, *kind))
        fresh = _person(rng)  # a new shell business, phone and device; the ID and account still hit
        again = replace(person, uscc=fresh.uscc, phone=fresh.phone, device_id=fresh.device_id)
        apply(rng.uniform(filed + DAY, span), other, again, "fraudster")
    for _ in range(n_victims):
        victim = _person(rng)
        filer, other = rng.sample(lenders, 2)
        filed = rng.uniform(0, span / 2)
        work.filings.append(
            Filing(
                work.start + filed,
                filer,
                victim,
                common_pb2.MARKER_TYPE_VICTIM_OF_IMPERSONATION,
                "ID_CARD_STOLEN",
                common_pb2.EVIDENCE_LEVEL_POLICE_REPORT,
            )
        )
        fresh = _person(rng)  # the impostor brings everything but the stolen ID and address
        impostor = replace(fresh, resident_id=victim.resident_id, address=victim.address)
        apply(rng.uniform(filed + DAY, span), other, impostor, "impostor")
    for _ in range(n_withdrawn):
        person = _person(rng)
        filer, other = rng.sample(lenders, 2)
        filed = rng.uniform(0, span / 3)
        work.filings.append(
            Filing(
                work.start + filed,
                filer,
                person,
                common_pb2.MARKER_TYPE_SUSPECT,
                "MISTAKEN_MATCH",
                common_pb2.EVIDENCE_LEVEL_INTERNAL_INVESTIGATION,
                withdraw_at=work.start + filed + DAY,
            )
        )
        apply(rng.uniform(filed + 2 * DAY, span), other, person, "withdrawn")
    _plant_rings(rng, apply, lenders, span, rings=max(applicants // 250, 1))
    work.applications.sort(key=lambda a: a.at)
    work.filings.sort(key=lambda f: f.at)
    return work


def _plant_rings(
    rng: random.Random, apply: Callable[..., None], lenders: list[str], span: float, *, rings: int
) -> None:
    """``rings`` of each planted kind, plus as many innocent families sharing an address."""
    for r in range(rings):
        # Device farm: ten IDs applying from two devices behind one studio IP within two days.
        devices, studio = [f"dev-farm-{r}-{i}" for i in range(2)], _person(rng).ip
        at = rng.uniform(0, span - 3 * DAY)
        for i in range(10):
            person = replace(_person(rng), device_id=devices[i % 2], ip=studio)
            apply(at + rng.uniform(0, 2 * DAY), rng.choice(lenders), person, "ring", f"device-farm-{r}")
        # Same-IP burst: twelve people, one IP, three devices, two hours.
        burst_ip, devices = _person(rng).ip, [f"dev-burst-{r}-{i}" for i in range(3)]
        at = rng.uniform(0, span - DAY)
        for i in range(12):
            person = replace(_person(rng), ip=burst_ip, device_id=devices[i % 3])
            apply(at + rng.uniform(0, 2 * 3600), rng.choice(lenders), person, "ring", f"ip-burst-{r}")
        # One agent's phone (中介) on nine companies within three days.
        agent = _person(rng).phone
        at = rng.uniform(0, span - 4 * DAY)
        for _ in range(9):
            person = replace(_person(rng), phone=agent)
            apply(at + rng.uniform(0, 3 * DAY), rng.choice(lenders), person, "ring", f"agent-phone-{r}")
        # A ring across every lender: ten people on two devices and two addresses, paid out to
        # two mule accounts that cross the device groups; each applies at two lenders in three days.
        base = [_person(rng) for _ in range(2)]
        at = rng.uniform(0, span - 4 * DAY)
        for i in range(10):
            kit, mule = base[i % 2], base[(i // 5) % 2]
            person = replace(_person(rng), device_id=kit.device_id, address=kit.address, bank_account=mule.bank_account)
            for lender in (lenders[i % len(lenders)], lenders[(i + 1) % len(lenders)]):
                apply(at + rng.uniform(0, 3 * DAY), lender, person, "ring", f"cross-lender-{r}")
        # Innocent look-alikes: a family of three at one address, applying weeks apart; and a big
        # employer's switchboard number given by twelve of its staff over the weeks.
        home = _person(rng).address
        for _ in range(3):
            person = replace(_person(rng), address=home)
            apply(rng.uniform(0, span), rng.choice(lenders), person, "innocent", f"family-{r}")
        switchboard = _person(rng).phone
        for _ in range(12):
            person = replace(_person(rng), phone=switchboard)
            apply(rng.uniform(0, span), rng.choice(lenders), person, "innocent", f"switchboard-{r}")
