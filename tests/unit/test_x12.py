"""X12: the 837P we render, checked by pyx12 as an independent validator, and the 835s we read."""

from __future__ import annotations

import io
import logging
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import pyx12.params
import pyx12.x12n_document

from caremesh.claims.x12 import (
    Address,
    Claim837,
    Payer,
    Remittance,
    RemittanceItem,
    ServiceLine,
    Subscriber,
    X12Error,
    parse_835,
    render_837p,
)
from caremesh.platform.settings import ClinicSettings
from tests.builders.claims import x12_835

CREATED = datetime(2026, 1, 6, 9, 30, tzinfo=UTC)
DOS = date(2026, 1, 5)
US_ADDRESS = Address("12 Elm St", "Apt 4", "Springfield", "IL", "62704", "USA")
PAYER = Payer("Acme Health", "acme01")


@pytest.fixture(autouse=True)
def _quiet_pyx12(caplog):
    caplog.set_level(logging.CRITICAL, logger="pyx12")


def line(code="99213", charge="150.00", units=1, on=DOS) -> ServiceLine:
    return ServiceLine(code, "visit", Decimal(charge), units, on)


def claim(*lines: ServiceLine, dx=("J069",), number="CLM-2026-000001", total=None) -> Claim837:
    lines = lines or (line(),)
    total = sum((item.charge for item in lines), Decimal(0)) if total is None else Decimal(total)
    return Claim837(number, total, tuple(dx), tuple(lines))


def subscriber(first="Ada", last="Lovelace", address=US_ADDRESS, gender="female", member="MBR123456") -> Subscriber:
    return Subscriber(member, first, last, date(1980, 4, 1), gender, address)


def render(the_claim=None, the_subscriber=None, payer=PAYER, clinic=None, **options) -> str:
    options = {"control_number": 42, "created_at": CREATED} | options
    return render_837p(
        the_claim or claim(), the_subscriber or subscriber(), payer, clinic or ClinicSettings(), **options
    )


def pyx12_validate(text: str, *, with_999: bool = True) -> tuple[bool, str]:
    """pyx12's verdict and its 999 acknowledgement."""
    ack = io.StringIO() if with_999 else None
    valid = pyx12.x12n_document.x12n_document(
        param=pyx12.params.params(),
        src_file=io.StringIO(text),
        fd_997=ack,
        fd_html=None,
        fd_xmldoc=None,
        map_path=None,
    )
    return valid, ack.getvalue() if ack else ""


def assert_accepted(text: str) -> None:
    valid, ack = pyx12_validate(text)
    assert "AK9*A*" in ack, ack
    assert valid, ack


def segments(text: str, prefix: str = "") -> list[str]:
    found = (segment.strip() for segment in text.split("~"))
    return [segment for segment in found if segment and segment.startswith(prefix)]


def loop_2010ba(text: str) -> list[str]:
    """The subscriber's segments, NM1*IL up to the payer's NM1*PR."""
    all_segments = segments(text)
    start = next(n for n, segment in enumerate(all_segments) if segment.startswith("NM1*IL*"))
    end = next(n for n, segment in enumerate(all_segments) if segment.startswith("NM1*PR*"))
    return all_segments[start:end]


# --- 837P: valid for pyx12 ---------------------------------------------------------------------------


def test_single_line_claim():
    text = render()

    assert_accepted(text)
    assert all(row.endswith("~") for row in text.splitlines())
    assert text.endswith("~\n")
    isa = segments(text)[0]
    assert len(isa) == 105
    assert isa[103:] == "*:"
    assert isa.split("*")[13:16] == ["000000042", "0", "T"]
    assert segments(text, "CLM*") == ["CLM*CLM-2026-000001*150***11:B:1*Y*A*Y*Y"]
    assert segments(text, "HI*") == ["HI*ABK:J069"]
    assert segments(text, "SV1*") == ["SV1*HC:99213*150*UN*1***1"]
    assert segments(text, "DTP*") == ["DTP*472*D8*20260105"]
    assert segments(text, "IEA*") == ["IEA*1*000000042"]
    assert segments(text, "GE*") == ["GE*1*42"]


def test_three_lines_two_diagnoses_with_pointers():
    lines = (line("99213", "150.00"), line("87880", "100.50", 2), line("93000", "1246.38", on=date(2026, 1, 4)))
    text = render(claim(*lines, dx=("J06.9", "r05")))

    assert_accepted(text)
    assert segments(text, "CLM*")[0].split("*")[2] == "1496.88"
    assert segments(text, "HI*") == ["HI*ABK:J069*ABF:R05"]
    assert segments(text, "LX*") == ["LX*1", "LX*2", "LX*3"]
    assert segments(text, "SV1*") == [
        "SV1*HC:99213*150*UN*1***1:2",
        "SV1*HC:87880*100.5*UN*2***1:2",
        "SV1*HC:93000*1246.38*UN*1***1:2",
    ]
    assert segments(text, "DTP*472*") == ["DTP*472*D8*20260105", "DTP*472*D8*20260105", "DTP*472*D8*20260104"]
    body = segments(text)[2:-2]
    assert body[-1] == f"SE*{len(body)}*0001"


def test_adult_with_a_us_address():
    address = Address("12 Elm St.", None, "Springfield", "il", "62704-1234", "US")
    text = render(the_subscriber=subscriber(address=address))

    assert_accepted(text)
    assert loop_2010ba(text) == [
        "NM1*IL*1*LOVELACE*ADA****MI*MBR123456",
        "N3*12 ELM ST.",
        "N4*SPRINGFIELD*IL*627041234",
        "DMG*D8*19800401*F",
    ]


def test_patient_without_an_address():
    text = render(the_subscriber=subscriber(address=None, gender="male"))

    assert_accepted(text)
    assert loop_2010ba(text) == ["NM1*IL*1*LOVELACE*ADA****MI*MBR123456", "DMG*D8*19800401*M"]


def test_every_default_clinic_setting():
    clinic = ClinicSettings()
    text = render(clinic=clinic)

    assert_accepted(text)
    isa = segments(text)[0].split("*")
    assert isa[6] == f"{clinic.tax_id:<15}"
    assert isa[8] == f"{'ACME01':<15}"
    assert segments(text, "GS*")[0].startswith(f"GS*HC*{clinic.tax_id}*ACME01*20260106*0930*42*X*005010X222A1")
    assert f"NM1*41*2*{clinic.name}*****46*{clinic.tax_id}" in segments(text)
    assert f"PER*IC*{clinic.contact_name}*TE*{clinic.phone}" in segments(text)
    assert f"PRV*BI*PXC*{clinic.taxonomy_code}" in segments(text)
    billing = segments(text)[segments(text).index(f"NM1*85*2*{clinic.name}*****XX*{clinic.npi}") :][:4]
    assert billing[1:] == [
        f"N3*{clinic.address_line}",
        f"N4*{clinic.city}*{clinic.state}*{clinic.postal_code}",
        f"REF*EI*{clinic.tax_id}",
    ]


def test_names_addresses_and_ids_are_cleaned_and_truncated():
    address = Address(
        "1 Rue de l'Église*Bât~B", "c/o Zoë: Ünal^2", "Saint-Jérôme de la Côte du Nord Est", "il", "62704", ""
    )
    text = render(
        the_subscriber=subscriber("José", "O'Brien-Smith", address, member="mbr~123*45"),
        payer=Payer("Acme: Health^Plan~", "acme*01"),
    )

    assert_accepted(text)
    assert loop_2010ba(text) == [
        "NM1*IL*1*O'BRIEN-SMITH*JOSE****MI*MBR12345",
        "N3*1 RUE DE L'EGLISE BAT B*C/O ZOE UNAL 2",
        "N4*SAINT-JEROME DE LA COTE DU NOR*IL*62704",
        "DMG*D8*19800401*F",
    ]
    assert "NM1*PR*2*ACME HEALTH PLAN*****PI*ACME01" in segments(text)

    long = render(the_subscriber=subscriber("F" * 50, "L" * 80, replace(US_ADDRESS, line1="A" * 70, line2=None)))
    assert_accepted(long)
    assert loop_2010ba(long)[:2] == [f"NM1*IL*1*{'L' * 60}*{'F' * 35}****MI*MBR123456", f"N3*{'A' * 55}"]


@pytest.mark.parametrize(
    ("address", "n4"),
    [
        (Address("4 MG Road", None, "Chennai", "TN", "600 001", "India"), "N4*CHENNAI**600001*IN***TN"),
        (Address("4 King St", None, "Toronto", "ON", "M5V 2T6", "CA"), "N4*TORONTO*ON*M5V2T6*CA"),
        (Address("10 Downing St", None, "London", "Greater London", "SW1A 2AA", "gb"), "N4*LONDON**SW1A2AA*GB"),
    ],
)
def test_non_us_addresses_carry_the_country(address, n4):
    text = render(the_subscriber=subscriber(address=address))

    assert_accepted(text)
    assert loop_2010ba(text)[2] == n4


def test_fifty_lines_and_twelve_diagnoses():
    dx = ("J069", "R05", "R509", "R0981", "J029", "R51", "M545", "E119", "I10", "Z0000", "K219", "F419")
    lines = [line(charge=f"{n}.25", on=DOS - timedelta(days=n % 3)) for n in range(1, 51)]
    text = render(claim(*lines, dx=dx))

    assert_accepted(text)
    assert len(segments(text, "HI*")[0].split("*")) == 13
    assert {segment.split("*")[-1] for segment in segments(text, "SV1*")} == {"1:2:3:4"}
    assert segments(text, "CLM*")[0].split("*")[2] == "1287.5"


def test_production_flag_and_created_at_in_utc():
    ist = timezone(timedelta(hours=5, minutes=30))
    text = render(production=True, control_number=999_999_999, created_at=datetime(2026, 1, 6, 3, 15, tzinfo=ist))

    assert_accepted(text)
    isa = segments(text)[0].split("*")
    assert isa[9:16] == ["260105", "2145", "^", "00501", "999999999", "0", "P"]
    assert segments(text, "BHT*") == ["BHT*0019*00*CLM-2026-000001*20260105*2145*CH"]


@pytest.mark.parametrize(("gender", "code"), [("male", "M"), ("Female", "F"), ("other", "U"), ("unknown", "U")])
def test_gender_codes(gender, code):
    assert loop_2010ba(render(the_subscriber=subscriber(gender=gender)))[-1] == f"DMG*D8*19800401*{code}"


# --- the validator is real ---------------------------------------------------------------------------


def _wrong_se_count(text: str) -> str:
    se = segments(text, "SE*")[0]
    count = int(se.split("*")[1])
    return text.replace(f"{se}~", f"SE*{count - 1}*0001~")


def _without_billing_provider_name(text: str) -> str:
    nm1 = segments(text, "NM1*85*")[0]
    return _wrong_se_count(text.replace(f"{nm1}~\n", ""))  # the SE count stays right


@pytest.mark.parametrize("breaks", [_wrong_se_count, _without_billing_provider_name])
def test_pyx12_rejects_a_broken_837p(breaks):
    valid, ack = pyx12_validate(breaks(render()))

    assert not valid
    assert "AK9*A*" not in ack
    assert "AK9*R*" in ack or "AK9*E*" in ack


# --- 837P: inputs that would make an invalid file ----------------------------------------------------


@pytest.mark.parametrize(
    ("the_claim", "message"),
    [
        (Claim837("CLM-1", Decimal(0), ("J069",), ()), "at least one service line"),
        (claim(*[line()] * 51), "at most 50 service lines"),
        (claim(line(), total="150.01"), "not the sum of the line charges"),
        (claim(dx=()), "at least one diagnosis code"),
        (claim(dx=[f"J0{n:02d}" for n in range(13)]), "at most 12 diagnosis codes"),
        (claim(dx=("12345",)), "not an ICD-10-CM code"),
        (claim(dx=("J069", "J06.9")), "diagnosis codes repeat"),
        (claim(line("9921")), "procedure code"),
        (claim(line(units=0)), "units must be at least 1"),
        (claim(line(charge="10.005")), "at most two decimals"),
        (claim(line(charge="-1.00")), "non-negative"),
        (claim(number="CLM*1"), "claim number"),
        (claim(number="C" * 39), "claim number"),
        (replace(claim(), place_of_service="1"), "place_of_service"),
    ],
)
def test_render_refuses_an_invalid_claim(the_claim, message):
    with pytest.raises(ValueError, match=message):
        render(the_claim)


@pytest.mark.parametrize("control_number", [0, -1, 1_000_000_000])
def test_render_refuses_a_control_number_out_of_range(control_number):
    with pytest.raises(ValueError, match="control_number"):
        render(control_number=control_number)


@pytest.mark.parametrize(
    ("the_subscriber", "message"),
    [
        (subscriber(address=replace(US_ADDRESS, state="XX")), "not a US state code"),
        (subscriber(address=replace(US_ADDRESS, postal_code="6270")), "ZIP code"),
        (subscriber(address=replace(US_ADDRESS, country="Narnia")), "ISO 3166"),
        (subscriber(address=replace(US_ADDRESS, city="-")), "city"),
        (subscriber(member="*"), "member id"),
        (subscriber(last="~~"), "last name"),
    ],
)
def test_render_refuses_an_invalid_subscriber(the_subscriber, message):
    with pytest.raises(ValueError, match=message):
        render(the_subscriber=the_subscriber)


# --- 835 ---------------------------------------------------------------------------------------------

REMIT = """\
ISA*00*          *00*          *ZZ*ACME01         *ZZ*123456789      *260120*1200*^*00501*000000901*0*P*:~
GS*HP*ACME01*123456789*20260120*1200*901*X*005010X221A1~
ST*835*0001~
BPR*I*235.5*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*20260120~
TRN*1*EFT-778899*1512345678~
DTM*405*20260119~
N1*PR*ACME HEALTH*XV*ACME01~
N3*1 INSURANCE WAY~
N4*HARTFORD*CT*061560001~
REF*2U*ACME-ALT~
PER*BL*PROVIDER SERVICES*TE*8005551212~
N1*PE*CAREMESH DEMO CLINIC*XX*1234567893~
REF*TJ*123456789~
LX*1~
CLP*CLM-2026-000001*1*250*180.5*20*12*PAYERCLAIM1*11*1~
NM1*QC*1*OBRIEN-SMITH*JOSE****MI*MBR123456~
DTM*232*20260105~
SVC*HC:99213*150*120**1~
DTM*472*20260105~
CAS*CO*45*30~
AMT*B6*120~
SVC*HC:87880*100*60.5**2~
DTM*472*20260105~
CAS*CO*45*19**253*0.5~
CAS*PR*1*20~
CLP*CLM-2026-000002*1*75*55*10*12*PAYERCLAIM2*11*1~
CAS*PR*3*10~
NM1*QC*1*RAMAN*PRIYA****MI*MBR-99~
SVC*HC:99212*75*65**1~
DTM*472*20260105~
CAS*CO*45*10~
SE*30*0001~
GE*1*901~
IEA*1*000000901~
"""

EXPECTED = Remittance(
    remittance_id="EFT-778899",
    payer_code="ACME01",
    paid_total=Decimal("235.50"),
    items=(
        RemittanceItem("CLM-2026-000001", Decimal("180.50"), ("CO-45", "CO-253", "PR-1")),
        RemittanceItem("CLM-2026-000002", Decimal("55.00"), ("PR-3", "CO-45")),
    ),
)


def without(text: str, *prefixes: str) -> str:
    return "".join(row for row in text.splitlines(keepends=True) if not row.startswith(prefixes))


def test_the_835_fixture_is_valid_for_pyx12():
    # pyx12 cannot write a 999 for an 835 (it wants ST03, which the 835 does not use); its verdict is enough.
    assert pyx12_validate(REMIT, with_999=False)[0]


@pytest.mark.parametrize("text", [REMIT, REMIT.replace("\n", ""), REMIT.replace("\n", "\r\n"), "\n  " + REMIT])
def test_parse_835_with_and_without_line_breaks(text):
    assert parse_835(text) == EXPECTED


@pytest.mark.parametrize(
    ("element", "component", "terminator"),
    [("|", ">", "~"), ("|", ">", "\n"), ("^", ">", "'"), ("*", ":", "\n")],
)
def test_parse_835_with_the_separators_the_isa_declares(element, component, terminator):
    text = REMIT.replace("~\n", terminator).translate(str.maketrans({"*": element, ":": component}))
    if element == "^":
        text = text.replace("^^^00501", "^U^00501")  # the repetition separator cannot be the element separator
    assert text[3] == element
    assert text[104:106] == component + terminator

    assert parse_835(text) == EXPECTED


def test_payer_code_falls_back_to_ref_2u_then_to_the_name():
    no_n104 = REMIT.replace("N1*PR*ACME HEALTH*XV*ACME01~", "N1*PR*ACME HEALTH~")
    assert parse_835(no_n104).payer_code == "ACME-ALT"
    assert parse_835(without(no_n104, "REF*2U")).payer_code == "ACME HEALTH"
    # a REF*2U outside the payer loop is not the payer's
    assert parse_835(without(no_n104, "REF*2U").replace("REF*TJ", "REF*2U")).payer_code == "ACME HEALTH"


def test_cas_with_six_reasons_and_negative_paid_amount():
    text = REMIT.replace("CAS*PR*3*10~", "CAS*CO*45*1*1*253*1**59*1**94*1**97*1**B7*1~").replace(
        "*75*55*10*12*", "*75*-55*10*12*"
    )

    second = parse_835(text).items[1]
    assert second.paid_amount == Decimal("-55.00")
    assert second.adjustment_codes == ("CO-45", "CO-253", "CO-59", "CO-94", "CO-97", "CO-B7")


def test_amounts_are_quantized_to_cents():
    remittance = parse_835(REMIT.replace("BPR*I*235.5*", "BPR*I*235.499*").replace("*180.5*", "*.5*"))

    assert str(remittance.paid_total) == "235.50"
    assert str(remittance.items[0].paid_amount) == "0.50"
    assert str(remittance.items[1].paid_amount) == "55.00"


def _two_transactions(text: str) -> str:
    start, end = text.index("ST*835"), text.index("GE*")
    return text[:end] + text[start:end] + text[end:].replace("GE*1*", "GE*2*")


def _no_claims(text: str) -> str:
    header = text[: text.index("LX*1~")]
    return header + "SE*13*0001~\n" + text[text.index("GE*") :]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "does not start with an ISA"),
        ("GS*HP*ACME01*123456789*20260120*1200*901*X*005010X221A1~", "does not start with an ISA"),
        ("ISA*00*          *00*   ", "truncated"),
        (render(), "no 835 transaction set"),
        (REMIT.replace("ST*835*", "ST*999*"), "no 835 transaction set"),
        (without(REMIT, "TRN*"), "missing TRN"),
        (without(REMIT, "BPR*"), "missing BPR"),
        (REMIT.replace("TRN*1*EFT-778899*", "TRN*1**"), "TRN02"),
        (REMIT.replace("BPR*I*235.5*", "BPR*I*23A.5*"), "BPR02"),
        (REMIT.replace("BPR*I*235.5*", "BPR*I**"), "BPR02"),
        (REMIT.replace("*180.5*", "*1,80.5*"), "CLP04 .* CLM-2026-000001"),
        (REMIT.replace("CLP*CLM-2026-000002*", "CLP**"), "CLP01"),
        (_no_claims(REMIT), "no claim payment"),
        (_two_transactions(REMIT), "only one remittance per request is supported"),
        (without(REMIT, "N1*PR"), "N1\\*PR"),
    ],
)
def test_parse_835_refuses(text, message):
    with pytest.raises(X12Error, match=message):
        parse_835(text)


# --- round trip: an 835 paying the claims of our 837s ------------------------------------------------


@pytest.mark.slow
def test_an_835_for_our_837_claims_reads_back_the_same_numbers_and_amounts():
    claims = [
        claim(line("99213", "150.00"), number="CLM-2026-000001"),
        claim(line("99214", "220.40"), line("87880", "35.10"), number="CLM-2026-000002", dx=("J069", "R05")),
        claim(line("99212", "75.00", units=3), number="CLM-2026-000003"),
    ]
    billed = []
    for n, the_claim in enumerate(claims, start=1):
        text = render(the_claim, control_number=n)
        assert_accepted(text)
        clm = segments(text, "CLM*")[0].split("*")
        billed.append((clm[1], clm[2]))
    payments = [
        (number, amount, str((Decimal(amount) * Decimal("0.8")).quantize(Decimal("0.01")))) for number, amount in billed
    ]
    remittance_text = x12_835("ACME01", payments)
    assert pyx12_validate(remittance_text, with_999=False)[0]

    remittance = parse_835(remittance_text)

    assert [(item.claim_number, item.paid_amount) for item in remittance.items] == [
        ("CLM-2026-000001", Decimal("120.00")),
        ("CLM-2026-000002", Decimal("204.40")),
        ("CLM-2026-000003", Decimal("60.00")),
    ]
    assert [number for number, _ in billed] == [c.claim_number for c in claims]
    assert [Decimal(amount) for _, amount in billed] == [c.total_charge for c in claims]
    assert remittance.paid_total == Decimal("384.40")
    assert all(item.adjustment_codes == ("CO-45",) for item in remittance.items)
