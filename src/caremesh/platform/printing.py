"""One-page A4 documents (invoices, receipts) drawn with fpdf2: the clinic's letterhead, label/value blocks,
tables whose cells never overflow, a totals block and a footer. It knows no context: callers pass text.

Text is set in DejaVu Sans (regular and bold), which covers Latin, Greek, Cyrillic and more of what a patient's
name may hold; the TTF files are the ones matplotlib ships (read from its package data, matplotlib is never
imported). Pages never break: a caller that may have more rows than fit shows the first and sums up the rest
(`fitting`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TypeVar

from fpdf import FPDF

from caremesh.platform.settings import ClinicSettings

FONT = "DejaVuSans"
MARGIN = 15.0  # mm
ROW = 5.2  # mm: one table row at BODY size
BODY = 8.5  # pt
SMALL = 7.5
GREY = (90, 90, 90)
RULE = (190, 190, 190)
SHADE = (236, 239, 243)
ELLIPSIS = "…"

T = TypeVar("T")


@cache
def font_files() -> tuple[Path, Path]:
    """DejaVu Sans regular and bold, from matplotlib's package data."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        raise RuntimeError("matplotlib (which ships the DejaVu Sans fonts the PDFs use) is not installed")
    folder = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"
    return folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"


def amount(value: Decimal) -> str:
    """Money exactly as the API writes it: two decimals, no grouping, no rounding beyond what is stored."""
    return f"{value:.2f}"


def percent(value: Decimal) -> str:
    """12.00 → "12", 12.50 → "12.5"."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True)
class Letterhead:
    name: str
    lines: tuple[str, ...]


def letterhead(clinic: ClinicSettings) -> Letterhead:
    """Who issues the document: the clinic as it bills payers (CAREMESH_CLINIC_*)."""
    postal = clinic.postal_code
    zip_code = f"{postal[:5]}-{postal[5:]}" if len(postal) == 9 and clinic.country == "US" else postal
    phone = clinic.phone
    if len(phone) == 10 and phone.isdigit():
        phone = f"({phone[:3]}) {phone[3:6]}-{phone[6:]}"
    return Letterhead(
        name=clinic.name,
        lines=(
            clinic.address_line,
            f"{clinic.city}, {clinic.state} {zip_code}, {clinic.country}",
            f"Phone {phone}",
            f"NPI {clinic.npi} · Tax ID {clinic.tax_id}",
        ),
    )


@dataclass(frozen=True)
class Column:
    title: str
    width: float  # mm
    align: str = "L"


@dataclass(frozen=True)
class Total:
    label: str
    value: str
    strong: bool = False


def fitting(rows: Sequence[T], limit: int) -> tuple[Sequence[T], Sequence[T]]:
    """(shown, hidden): all of `rows` when they fit in `limit` table rows, else the first `limit - 1`, leaving a
    row for the caller to summarise the hidden ones in, so the page never overflows."""
    if len(rows) <= limit:
        return rows, ()
    return rows[: limit - 1], rows[limit - 1 :]


class A4Document:
    """A portrait A4 page drawn top to bottom; `bytes()` is the finished PDF."""

    def __init__(self, *, title: str, created_at: datetime) -> None:
        pdf = FPDF(orientation="P", unit="mm", format="A4")
        regular, bold = font_files()
        pdf.add_font(FONT, "", regular)
        pdf.add_font(FONT, "B", bold)
        pdf.set_auto_page_break(False)
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        pdf.set_title(title)
        pdf.set_creator("caremesh")
        pdf.set_creation_date(created_at)
        pdf.add_page()
        self.pdf = pdf

    @property
    def width(self) -> float:
        return self.pdf.w - 2 * MARGIN

    def _font(self, size: float, bold: bool = False, color: tuple[int, int, int] = (0, 0, 0)) -> None:
        self.pdf.set_font(FONT, "B" if bold else "", size)
        self.pdf.set_text_color(*color)

    def fit(self, text: str, width: float) -> str:
        """`text` cut (with an ellipsis) to what fits in a cell `width` wide at the current font."""
        room = width - 2 * self.pdf.c_margin
        if self.pdf.get_string_width(text) <= room:
            return text
        while text and self.pdf.get_string_width(text + ELLIPSIS) > room:
            text = text[:-1]
        return text.rstrip() + ELLIPSIS

    def _cell(self, width: float, height: float, text: str, align: str = "L", **options: object) -> None:
        self.pdf.cell(width, height, self.fit(text, width), align=align, **options)  # type: ignore[arg-type]

    def _line(self, text: str, width: float, height: float, align: str = "L") -> None:
        x = self.pdf.get_x()
        self._cell(width, height, text, align)
        self.pdf.set_xy(x, self.pdf.get_y() + height)

    def heading(self, issuer: Letterhead, title: str, facts: Sequence[tuple[str, str]]) -> None:
        """The letterhead on the left, the document's title and its facts (number, dates) on the right."""
        pdf = self.pdf
        top = pdf.get_y()
        left = self.width * 0.55
        self._font(14, bold=True)
        self._line(issuer.name, left, 7)
        self._font(BODY, color=GREY)
        for line in issuer.lines:
            self._line(line, left, 4.3)
        bottom = pdf.get_y()

        right_x = MARGIN + left
        right = self.width - left
        pdf.set_xy(right_x, top)
        self._font(15, bold=True)
        self._line(title, right, 7.5, "R")
        label_width = right * 0.45
        for label, value in facts:
            pdf.set_x(right_x)
            self._font(BODY, color=GREY)
            self._cell(label_width, 4.6, label, "R")
            self._font(BODY, bold=True)
            self._cell(right - label_width, 4.6, value, "R")
            pdf.set_xy(right_x, pdf.get_y() + 4.6)
        pdf.set_y(max(bottom, pdf.get_y()) + 3)
        self.rule()

    def rule(self, gap: float = 3) -> None:
        pdf = self.pdf
        pdf.set_draw_color(*RULE)
        pdf.set_line_width(0.3)
        pdf.line(MARGIN, pdf.get_y(), MARGIN + self.width, pdf.get_y())
        pdf.set_y(pdf.get_y() + gap)

    def block(self, title: str, rows: Sequence[tuple[str, str]]) -> None:
        """A titled block of label: value lines (the patient, the payment)."""
        self.section(title)
        label_width = 38.0
        for label, value in rows:
            self.pdf.set_x(MARGIN)
            self._font(BODY, color=GREY)
            self._cell(label_width, 4.8, label)
            self._font(BODY)
            self._cell(self.width - label_width, 4.8, value)
            self.pdf.set_xy(MARGIN, self.pdf.get_y() + 4.8)
        self.pdf.set_y(self.pdf.get_y() + 2.5)

    def section(self, title: str) -> None:
        self.pdf.set_x(MARGIN)
        self._font(9.5, bold=True)
        self._line(title, self.width, 6)

    def table(self, columns: Sequence[Column], rows: Sequence[Sequence[str]], *, empty: str = "None") -> None:
        """A table with a shaded header; a row shorter than the columns (a summary) spans the whole width."""
        pdf = self.pdf
        total_width = sum(column.width for column in columns)
        pdf.set_x(MARGIN)
        pdf.set_fill_color(*SHADE)
        self._font(SMALL, bold=True)
        for column in columns:
            self._cell(column.width, ROW + 0.6, column.title, column.align, fill=True)
        pdf.set_xy(MARGIN, pdf.get_y() + ROW + 0.6)
        pdf.set_draw_color(*RULE)
        pdf.set_line_width(0.15)
        for row in rows or [[empty]]:
            pdf.set_x(MARGIN)
            if len(row) < len(columns):
                self._font(BODY, color=GREY)
                self._cell(total_width, ROW, row[0])
            else:
                self._font(BODY)
                for column, text in zip(columns, row, strict=True):
                    self._cell(column.width, ROW, text, column.align)
            pdf.set_xy(MARGIN, pdf.get_y() + ROW)
            pdf.line(MARGIN, pdf.get_y(), MARGIN + total_width, pdf.get_y())
        pdf.set_y(pdf.get_y() + 3)

    def totals(self, rows: Sequence[Total], *, width: float = 92.0) -> None:
        """Label and amount pairs aligned right; strong ones bold on a shaded band."""
        pdf = self.pdf
        x = MARGIN + self.width - width
        value_width = 30.0
        pdf.set_fill_color(*SHADE)
        for row in rows:
            pdf.set_x(x)
            self._font(BODY + (1 if row.strong else 0), bold=row.strong)
            height = ROW + (1.4 if row.strong else 0)
            self._cell(width - value_width, height, row.label, "R", fill=row.strong)
            self._cell(value_width, height, row.value, "R", fill=row.strong)
            pdf.set_xy(x, pdf.get_y() + height)
        pdf.set_y(pdf.get_y() + 3)

    def note(self, text: str) -> None:
        self.pdf.set_x(MARGIN)
        self._font(SMALL, color=GREY)
        self.pdf.multi_cell(self.width, 3.6, text)
        self.pdf.set_y(self.pdf.get_y() + 1.5)

    def footer(self, text: str) -> None:
        """A line at the foot of the page."""
        pdf = self.pdf
        top = pdf.h - MARGIN - 5
        if pdf.page_no() != 1 or pdf.get_y() > top:
            raise RuntimeError("the document ran past its one page: summarise more of its rows")
        pdf.set_y(top)
        self.rule(gap=1.5)
        pdf.set_x(MARGIN)
        self._font(SMALL, color=GREY)
        self._cell(self.width, 4, text, "C")

    def bytes(self) -> bytes:
        return bytes(self.pdf.output())
