"""Pure rules for the files a dispute carries: what a file is, decided by its first bytes (never by its name or the
type a client declares), and the name it is kept and offered under."""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath
from urllib.parse import quote

# Signature -> (media type, extension). The longest a signature needs is the PNG's eight bytes.
SIGNATURES = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)
SNIFF_BYTES = 8
EXTENSIONS = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg", ".jpe"),
}
MAX_FILENAME = 255
FALLBACK_NAME = "attachment"


def sniff(head: bytes) -> str | None:
    """The media type the bytes begin as (PDF, PNG or JPEG), or None."""
    for signature, media_type, _ in SIGNATURES:
        if head.startswith(signature):
            return media_type
    return None


def safe_filename(given: str | None, media_type: str) -> str:
    """The name to keep: the last path segment of what the client sent (either slash), without control or format
    characters, NFC, trimmed of spaces and dots; its extension made the content's (`scan.exe` of PDF bytes is kept
    as `scan.exe.pdf`); at most 255 characters, the extension kept; `attachment.<ext>` when nothing is left."""
    name = unicodedata.normalize("NFC", given or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C")
    name = name.strip().strip(".").strip()
    allowed = EXTENSIONS[media_type]
    suffix = PurePosixPath(name).suffix if name else ""
    if suffix.lower() in allowed:  # kept as the client spelled it
        stem, extension = name[: -len(suffix)].strip(), suffix
    else:
        stem, extension = name, allowed[0]
    stem = stem or FALLBACK_NAME
    return stem[: MAX_FILENAME - len(extension)].rstrip() + extension


def content_disposition(filename: str) -> str:
    """`attachment`, with an ASCII fallback name and the exact one in RFC 5987 form (RFC 6266)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
