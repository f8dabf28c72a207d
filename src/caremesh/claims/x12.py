"""ASC X12 for claims: the 837P (005010X222A1) we send for a claim and the 835 (005010X221A1) payers send back.

Pure: no I/O, no database; the service gathers the facts into these dataclasses.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from caremesh.platform.settings import ClinicSettings

_ELEMENT, _COMPONENT, _REPETITION, _TERMINATOR = "*", ":", "^", "~"
_SEPARATORS = frozenset(_ELEMENT + _COMPONENT + _REPETITION + _TERMINATOR)
# The X12 basic and 5010 extended character sets, upper case only, less our separators.
_BASIC = frozenset(string.ascii_uppercase + string.digits + " !\"&'()+,-./;?=") - _SEPARATORS
_EXTENDED = _BASIC | frozenset("%@[]_{}\\|<>`#$")

_US_STATES = frozenset(
    re.findall(
        r"[A-Z]{2}",
        "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH "
        "OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI FM MH PW AA AE AP",
    )
)
_CA_PROVINCES = frozenset(re.findall(r"[A-Z]{2}", "AB BC MB NB NL NS NT NU ON PE QC SK YT"))
_COUNTRY_ALIASES = {"USA": "US", "UNITED STATES": "US", "UNITED STATES OF AMERICA": "US", "IND": "IN", "INDIA": "IN"}
_GENDERS = {"male": "M", "female": "F"}
_ICD10 = re.compile(r"[A-Z][0-9][0-9A-Z]{1,5}")
_PROCEDURE = re.compile(r"[A-Z0-9]{5}")
_CLAIM_NUMBER = re.compile(r"[A-Z0-9][A-Z0-9./-]{0,37}")  # CLM01 holds 38; the payer echoes it in CLP01
_X12_AMOUNT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_CENT = Decimal("0.01")
_MAX_LINES = 50
_MAX_DIAGNOSES = 12
_MAX_POINTERS = 4


@dataclass(frozen=True)
class Address:
    line1: str
    line2: str | None
    city: str
    state: str  # two-letter US state code when country is US
    postal_code: str
    country: str  # as the patient record holds it ("US", "USA", "IN", ...)


@dataclass(frozen=True)
class Subscriber:
    """The insured patient (837P: the subscriber is the patient, relationship 18 'self')."""

    member_id: str
    first_name: str
    last_name: str
    date_of_birth: date
    gender: str  # male | female | other | unknown
    address: Address | None


@dataclass(frozen=True)
class Payer:
    name: str
    payer_id: str  # the payer's code in caremesh, used as its identifier (NM1*PR ... PI)


@dataclass(frozen=True)
class ServiceLine:
    procedure_code: str  # HCPCS / CPT, e.g. 99213
    description: str
    charge: Decimal  # two decimals
    units: int
    service_date: date


@dataclass(frozen=True)
class Claim837:
    claim_number: str  # CLM-2026-000001; CLM01, echoed back by the payer in 835 CLP01
    total_charge: Decimal  # equals the sum of the lines' charges
    diagnosis_codes: tuple[str, ...]  # ICD-10-CM without the dot, first is principal (1..12)
    lines: tuple[ServiceLine, ...]  # 1..50
    place_of_service: str = "11"  # office


def render_837p(
    claim: Claim837,
    subscriber: Subscriber,
    payer: Payer,
    clinic: ClinicSettings,
    *,
    control_number: int,
    created_at: datetime,
    production: bool = False,
) -> str:
    """One interchange (ISA..IEA) holding one 837P transaction for the claim."""
    if not 1 <= control_number <= 999_999_999:
        raise ValueError(f"control_number must be 1..999999999, got {control_number}")
    claim_number = _claim_number(claim.claim_number)
    diagnoses = _diagnoses(claim.diagnosis_codes)
    if not claim.lines:
        raise ValueError("a claim needs at least one service line")
    if len(claim.lines) > _MAX_LINES:
        raise ValueError(f"an 837P claim holds at most {_MAX_LINES} service lines, got {len(claim.lines)}")
    line_total = sum((line.charge for line in claim.lines), Decimal(0))
    if claim.total_charge != line_total:
        raise ValueError(f"total_charge {claim.total_charge} is not the sum of the line charges {line_total}")
    if not re.fullmatch(r"[0-9]{2}", claim.place_of_service):
        raise ValueError(f"place_of_service must be a two-digit code, got {claim.place_of_service!r}")

    moment = created_at.astimezone(UTC) if created_at.tzinfo else created_at  # naive is taken as UTC
    sender = _identifier(clinic.tax_id or clinic.npi, "clinic tax id", 15, _BASIC)
    receiver = _identifier(payer.payer_id, "payer id", 15, _BASIC)
    payer_id = _identifier(payer.payer_id, "payer id", 80)
    payer_name = _required(_clean(payer.name, 60), "payer name")
    clinic_name = _required(_clean(clinic.name, 60), "clinic name")
    total = _amount(claim.total_charge, "total_charge")
    pointers = _COMPONENT.join(str(n) for n in range(1, min(len(diagnoses), _MAX_POINTERS) + 1))

    body: list[tuple[str, ...]] = [
        ("ST", "837", "0001", "005010X222A1"),
        ("BHT", "0019", "00", claim_number, f"{moment:%Y%m%d}", f"{moment:%H%M}", "CH"),
        ("NM1", "41", "2", clinic_name, "", "", "", "", "46", sender),
        ("PER", "IC", _required(_clean(clinic.contact_name, 60), "clinic contact name"), "TE", _phone(clinic.phone)),
        ("NM1", "40", "2", payer_name, "", "", "", "", "46", payer_id),
        ("HL", "1", "", "20", "1"),
        ("PRV", "BI", "PXC", _identifier(clinic.taxonomy_code, "clinic taxonomy code", 50)),
        ("NM1", "85", "2", clinic_name, "", "", "", "", "XX", _digits(clinic.npi, "clinic NPI", (10,))),
        *_billing_address(clinic),
        ("REF", "EI", _digits(clinic.tax_id, "clinic tax id", (9,))),
        ("HL", "2", "1", "22", "0"),
        ("SBR", "P", "18", "", "", "", "", "", "", "CI"),
        _subscriber_name(subscriber),
        *(_address(subscriber.address) if subscriber.address else ()),
        ("DMG", "D8", f"{subscriber.date_of_birth:%Y%m%d}", _GENDERS.get(subscriber.gender.strip().lower(), "U")),
        ("NM1", "PR", "2", payer_name, "", "", "", "", "PI", payer_id),
        ("CLM", claim_number, total, "", "", f"{claim.place_of_service}:B:1", "Y", "A", "Y", "Y"),
        ("HI", *(f"{'ABF' if n else 'ABK'}{_COMPONENT}{code}" for n, code in enumerate(diagnoses))),
    ]
    for n, line in enumerate(claim.lines, start=1):
        if line.units < 1:
            raise ValueError(f"line {n}: units must be at least 1, got {line.units}")
        procedure, charge = _procedure(line.procedure_code, n), _amount(line.charge, f"line {n} charge")
        body += [
            ("LX", str(n)),
            ("SV1", f"HC{_COMPONENT}{procedure}", charge, "UN", str(line.units), "", "", pointers),
            ("DTP", "472", "D8", f"{line.service_date:%Y%m%d}"),
        ]
    body.append(("SE", str(len(body) + 1), "0001"))

    group = str(control_number)
    interchange = f"{control_number:09d}"
    isa = ["ISA", "00", " " * 10, "00", " " * 10, "ZZ", f"{sender:<15}", "ZZ", f"{receiver:<15}"]
    isa += [f"{moment:%y%m%d}", f"{moment:%H%M}", _REPETITION, "00501", interchange, "0", "P" if production else "T"]
    isa.append(_COMPONENT)
    segments = [
        _ELEMENT.join(isa),
        _segment(("GS", "HC", sender, receiver, f"{moment:%Y%m%d}", f"{moment:%H%M}", group, "X", "005010X222A1")),
        *(_segment(elements) for elements in body),
        _segment(("GE", "1", group)),
        _segment(("IEA", "1", interchange)),
    ]
    return "".join(f"{segment}{_TERMINATOR}\n" for segment in segments)


def _segment(elements: tuple[str, ...]) -> str:
    """Elements joined, trailing empty elements dropped (X12 forbids trailing separators)."""
    values = list(elements)
    while values and not values[-1]:
        values.pop()
    return _ELEMENT.join(values)


def _clean(value: str | None, max_length: int, charset: frozenset[str] = _EXTENDED) -> str:
    """Upper case, accents folded to ASCII, other characters outside the charset dropped (separators and
    whitespace become a space), spaces collapsed, truncated to max_length."""
    folded = unicodedata.normalize("NFKD", value or "").encode("ascii", "ignore").decode("ascii").upper()
    kept = "".join(c if c in charset else " " if c in _SEPARATORS or c.isspace() else "" for c in folded)
    return " ".join(kept.split())[:max_length].rstrip()


def _required(value: str, what: str) -> str:
    if not value:
        raise ValueError(f"{what} is empty once cleaned for X12")
    return value


def _identifier(value: str | None, what: str, max_length: int, charset: frozenset[str] = _EXTENDED) -> str:
    """An id element: cleaned like a name but without spaces; X12 ids are at least two characters."""
    cleaned = _clean(value, 10**6, charset).replace(" ", "")[:max_length]
    if len(cleaned) < 2:
        raise ValueError(f"{what} {value!r} must hold at least two X12 characters")
    return cleaned


def _digits(value: str, what: str, lengths: tuple[int, ...]) -> str:
    digits = re.sub(r"[\s-]", "", value or "")
    if not (digits.isdigit() and digits.isascii() and len(digits) in lengths):
        raise ValueError(f"{what} must be {' or '.join(map(str, lengths))} digits, got {value!r}")
    return digits


def _phone(value: str) -> str:
    digits = "".join(c for c in value or "" if c.isascii() and c.isdigit())
    if not digits:
        raise ValueError(f"clinic phone {value!r} holds no digits")
    return digits[:256]


def _amount(value: Decimal, what: str) -> str:
    """An X12 R amount without needless zeros: 100, 100.5, 1496.88."""
    if not value.is_finite() or value < 0 or value != value.quantize(_CENT):
        raise ValueError(f"{what} must be a non-negative amount with at most two decimals, got {value}")
    if value == 0:
        return "0"
    return format(value.quantize(_CENT).normalize(), "f")


def _claim_number(value: str) -> str:
    # Sent unchanged: the payer echoes it in CLP01 and remittances are matched on it.
    if not _CLAIM_NUMBER.fullmatch(value):
        raise ValueError(f"claim number {value!r} must be 1..38 of A-Z, 0-9, '-', '.', '/'")
    return value


def _diagnoses(codes: tuple[str, ...]) -> list[str]:
    if not codes:
        raise ValueError("a claim needs at least one diagnosis code")
    if len(codes) > _MAX_DIAGNOSES:
        raise ValueError(f"an 837P claim holds at most {_MAX_DIAGNOSES} diagnosis codes, got {len(codes)}")
    cleaned = [re.sub(r"[\s.]", "", code).upper() for code in codes]
    for raw, code in zip(codes, cleaned, strict=True):
        if not _ICD10.fullmatch(code):
            raise ValueError(f"diagnosis code {raw!r} is not an ICD-10-CM code")
    if len(set(cleaned)) != len(cleaned):
        raise ValueError(f"diagnosis codes repeat: {', '.join(codes)}")
    return cleaned


def _procedure(value: str, line: int) -> str:
    code = value.strip().upper()
    if not _PROCEDURE.fullmatch(code):
        raise ValueError(f"line {line}: procedure code {value!r} is not a five-character HCPCS/CPT code")
    return code


def _billing_address(clinic: ClinicSettings) -> list[tuple[str, ...]]:
    """2010AA: a US street address with a nine-digit ZIP, as the 837P asks of a billing provider."""
    state = clinic.state.strip().upper()
    if state not in _US_STATES:
        raise ValueError(f"clinic state {clinic.state!r} is not a US state code")
    return [
        ("N3", _required(_clean(clinic.address_line, 55), "clinic address line")),
        ("N4", _city(clinic.city, "clinic"), state, _digits(clinic.postal_code, "clinic postal code", (9,))),
    ]


def _subscriber_name(subscriber: Subscriber) -> tuple[str, ...]:
    last = _required(_clean(subscriber.last_name, 60), "subscriber last name")
    first = _clean(subscriber.first_name, 35)
    return ("NM1", "IL", "1", last, first, "", "", "", "MI", _identifier(subscriber.member_id, "member id", 80))


def _city(value: str, whose: str) -> str:
    city = _clean(value, 30)
    if len(city) < 2:
        raise ValueError(f"{whose} city {value!r} must hold at least two X12 characters")
    return city


def _address(address: Address) -> list[tuple[str, ...]]:
    """N3/N4. US: state and a 5 or 9 digit ZIP. Elsewhere N404 holds the country; N402 the province for Canada,
    N407 the subdivision (a 1-3 character code) for other countries."""
    n3 = ("N3", _required(_clean(address.line1, 55), "subscriber address line1"), _clean(address.line2, 55))
    city = _city(address.city, "subscriber")
    country = _country(address.country)
    state = _clean(address.state, 100)
    if country == "US":
        if state not in _US_STATES:
            raise ValueError(f"subscriber state {address.state!r} is not a US state code")
        return [n3, ("N4", city, state, _digits(address.postal_code, "subscriber ZIP code", (5, 9)))]
    postal = _clean(address.postal_code, 15).replace(" ", "")
    province = state if country == "CA" and state in _CA_PROVINCES else ""
    subdivision = state if country != "CA" and re.fullmatch(r"[A-Z0-9]{1,3}", state) else ""
    return [n3, ("N4", city, province, postal if len(postal) >= 3 else "", country, "", "", subdivision)]


def _country(value: str) -> str:
    country = _clean(value, 100)
    country = _COUNTRY_ALIASES.get(country, country) or "US"
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise ValueError(f"subscriber country {value!r} is not an ISO 3166 two-letter code")
    return country


@dataclass(frozen=True)
class RemittanceItem:
    claim_number: str  # CLP01
    paid_amount: Decimal  # CLP04
    adjustment_codes: tuple[str, ...]  # "CO-45", "PR-1", ... from the claim's and its lines' CAS segments


@dataclass(frozen=True)
class Remittance:
    remittance_id: str  # TRN02, the check or EFT trace number
    payer_code: str  # N1*PR's identifier (N104), else REF*2U, else the payer's name
    paid_total: Decimal  # BPR02
    items: tuple[RemittanceItem, ...]


class X12Error(ValueError):
    """The text is not an X12 835 we can read; the message says where and why."""


def parse_835(text: str) -> Remittance:
    """Read an 835 interchange (any segment and element separators the ISA declares; line breaks between segments
    are allowed). Raises X12Error when it is not a readable 835."""
    body = _transaction_835(_segments(text))
    bpr = _first(body, "BPR", "missing BPR (financial information)")
    trn = _first(body, "TRN", "missing TRN (reassociation trace number)")
    remittance_id = _value(trn, 2)
    if not remittance_id:
        raise X12Error("TRN02 (check or EFT trace number) is empty")
    return Remittance(
        remittance_id=remittance_id,
        payer_code=_payer_code(body),
        paid_total=_money(_value(bpr, 2), "BPR02 (total paid)"),
        items=_claims(body),
    )


class _Separators(NamedTuple):
    element: str
    component: str
    repetition: str | None
    terminator: str


def _separators(data: str) -> _Separators:
    """From the ISA: element separator at index 3, ISA16 the component separator, then the segment terminator."""
    if not data.startswith("ISA"):
        raise X12Error("not an X12 interchange: the text does not start with an ISA segment")
    element = data[3:4]
    if not element or element.isalnum() or element.isspace():
        raise X12Error(f"ISA: {element!r} cannot be the element separator")
    position = 3
    for _ in range(15):  # to the separator before ISA16
        position = data.find(element, position + 1)
        if position < 0:
            raise X12Error("ISA segment is truncated: it has fewer than 16 elements")
    component, terminator = data[position + 1 : position + 2], data[position + 2 : position + 3]
    if not terminator:
        raise X12Error("ISA segment is truncated: no component separator or segment terminator after ISA15")
    if component.isalnum() or terminator.isalnum() or len({element, component, terminator}) < 3:
        raise X12Error(f"ISA: separators {element!r}, {component!r}, {terminator!r} are not distinct delimiters")
    isa = data[:position].split(element)
    repetition = isa[11] if isa[12] >= "00501" and len(isa[11]) == 1 and not isa[11].isalnum() else None
    return _Separators(element, component, repetition, terminator)


def _segments(text: str) -> list[list[str]]:
    data = text.lstrip("\ufeff \t\r\n")
    separators = _separators(data)
    segments = (segment.strip() for segment in data.split(separators.terminator))
    return [segment.split(separators.element) for segment in segments if segment]


def _transaction_835(segments: list[list[str]]) -> list[list[str]]:
    """The segments of the interchange's one 835 transaction set, ST to SE."""
    starts = [n for n, segment in enumerate(segments) if segment[0] == "ST" and _value(segment, 1) == "835"]
    if not starts:
        raise X12Error("no 835 transaction set (ST*835) in the interchange")
    if len(starts) > 1:
        raise X12Error(
            f"the interchange holds {len(starts)} 835 transaction sets; only one remittance per request is supported"
        )
    body = segments[starts[0] :]
    end = next((n for n, segment in enumerate(body) if segment[0] == "SE"), len(body) - 1)
    return body[: end + 1]


def _value(segment: list[str], position: int) -> str:
    return segment[position].strip() if position < len(segment) else ""


def _first(body: list[list[str]], segment_id: str, missing: str) -> list[str]:
    found = next((segment for segment in body if segment[0] == segment_id), None)
    if found is None:
        raise X12Error(missing)
    return found


def _money(raw: str, where: str) -> Decimal:
    if not _X12_AMOUNT.fullmatch(raw):
        raise X12Error(f"{where}: {raw!r} is not an amount")
    return Decimal(raw).quantize(_CENT, rounding=ROUND_HALF_UP)


def _payer_code(body: list[list[str]]) -> str:
    """Loop 1000A: N1*PR's N104, else its REF*2U, else the payer's name (N102)."""
    payer: list[str] | None = None
    additional_id = ""
    in_payer = False
    for segment in body:
        if segment[0] == "N1":
            in_payer = _value(segment, 1) == "PR"
            if in_payer and payer is None:
                payer = segment
        elif segment[0] in ("LX", "CLP", "PLB", "SE"):
            in_payer = False
        elif in_payer and segment[0] == "REF" and _value(segment, 1) == "2U" and not additional_id:
            additional_id = _value(segment, 2)
    if payer is None:
        raise X12Error("missing N1*PR (payer identification)")
    code = _value(payer, 4) or additional_id or _value(payer, 2)
    if not code:
        raise X12Error("N1*PR names no payer: N102, N104 and REF*2U are empty")
    return code


def _claims(body: list[list[str]]) -> tuple[RemittanceItem, ...]:
    """Each CLP with the CAS group-reason pairs of the claim and its SVC lines (up to six reasons per CAS)."""
    items: list[RemittanceItem] = []
    clp: list[str] | None = None
    codes: list[str] = []

    def close() -> None:
        if clp is not None:
            claim_number = _value(clp, 1)
            if not claim_number:
                raise X12Error("CLP01 (claim number) is empty")
            paid = _money(_value(clp, 4), f"CLP04 (paid amount) of claim {claim_number}")
            items.append(RemittanceItem(claim_number, paid, tuple(dict.fromkeys(codes))))

    for segment in body:
        if segment[0] in ("CLP", "LX", "PLB", "SE"):
            close()
            clp, codes = (segment, []) if segment[0] == "CLP" else (None, [])
        elif segment[0] == "CAS" and clp is not None:
            group = _value(segment, 1)
            codes += [f"{group}-{_value(segment, n)}" for n in range(2, 19, 3) if _value(segment, n)]
    close()
    if not items:
        raise X12Error("the 835 holds no claim payment (CLP)")
    return tuple(items)
