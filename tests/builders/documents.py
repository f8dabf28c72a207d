"""Reading the printable documents (invoices, receipts) the way a person would: the text on the page."""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import httpx
from pypdf import PdfReader

PDF = {"Accept": "application/pdf"}
A4 = (595.28, 841.89)  # points


@dataclass(frozen=True)
class Printed:
    pages: int
    size: tuple[float, float]  # the first page's mediabox, in points
    text: str  # every page's text, whitespace collapsed to single spaces

    def has(self, *phrases: str) -> bool:
        return all(phrase in self.text for phrase in phrases)

    def missing(self, *phrases: str) -> list[str]:
        return [phrase for phrase in phrases if phrase not in self.text]


def printed(response: httpx.Response) -> Printed:
    """The PDF of a 200 response, as its pages, page size and text."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    if keep := os.environ.get("CAREMESH_KEEP_PDFS"):  # a folder to look at them in: pdftoppm -png -r 80 FILE
        name = re.search(r'filename="([^"]+)"', response.headers["content-disposition"])
        Path(keep, name.group(1) if name else "document.pdf").write_bytes(response.content)
    reader = PdfReader(io.BytesIO(response.content))
    box = reader.pages[0].mediabox
    text = " ".join(page.extract_text() for page in reader.pages)
    return Printed(
        pages=len(reader.pages),
        size=(round(float(box.width), 2), round(float(box.height), 2)),
        text=re.sub(r"\s+", " ", text),
    )
