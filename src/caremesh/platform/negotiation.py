"""Content negotiation for the few resources that answer in more than one media type (an invoice as JSON or as a
printable PDF): the client's `Accept` (RFC 9110 §12.5.1, q-values respected) picks one of what the route offers;
nothing acceptable → 406 NOT_ACCEPTABLE.

A route offers its media types in order of preference, JSON first: an absent `Accept`, `*/*` or `application/*`
(equal weights) gets the first. Use `negotiated(...)` as a dependency and `alternatives(...)` in `responses=`:

    @router.get("/invoices/{id}", responses={**alternatives(PDF), **problems(...)})
    async def get_invoice(..., media_type: Annotated[str, negotiated(JSON, PDF)]) -> ...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request, Response

from caremesh.platform.errors import NotAcceptable
from caremesh.platform.openapi import problems

JSON = "application/json"
PDF = "application/pdf"

BINARY = {"schema": {"type": "string", "format": "binary"}}


@dataclass(frozen=True)
class MediaRange:
    type: str
    subtype: str
    q: float

    def matches(self, media_type: str) -> int | None:
        """How specifically this range names `media_type` (2 exact, 1 `type/*`, 0 `*/*`), None if it does not."""
        kind, _, sub = media_type.partition("/")
        if self.type == "*":
            return 0
        if self.type != kind:
            return None
        if self.subtype == "*":
            return 1
        return 2 if self.subtype == sub else None


def _quality(raw: str) -> float | None:
    try:
        q = float(raw)
    except ValueError:
        return None
    return q if 0 <= q <= 1 else None


def parse_accept(header: str) -> list[MediaRange]:
    """The media ranges of an `Accept` header; malformed ones (no `/`, a q outside 0–1) are left out."""
    ranges = []
    for item in header.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        kind, slash, sub = media.lower().partition("/")
        if not slash or not kind or not sub or (kind == "*" and sub != "*"):
            continue
        q: float | None = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                q = _quality(value.strip())
        if q is not None:
            ranges.append(MediaRange(kind, sub, q))
    return ranges


def choose(accept: str | None, offered: Sequence[str]) -> str | None:
    """The offered media type the client accepts most (the earliest offered on a tie), None when it accepts none.

    Each offered type takes the q of the most specific range that names it (`application/pdf` before
    `application/*` before `*/*`); q=0 refuses it. An absent or empty header accepts anything."""
    if accept is None or not accept.strip():
        return offered[0]
    ranges = parse_accept(accept)
    if not ranges:  # nothing readable: as if absent (RFC 9110 lets a server ignore a malformed Accept)
        return offered[0]
    best: tuple[float, str] | None = None
    for media_type in offered:
        specific = [(level, r.q) for r in ranges if (level := r.matches(media_type)) is not None]
        if not specific:
            continue
        q = max(specific)[1]
        if q > 0 and (best is None or q > best[0]):
            best = (q, media_type)
    return None if best is None else best[1]


def negotiated(*offered: str) -> Any:
    """A dependency answering the media type to respond with; 406 NOT_ACCEPTABLE before the route runs when the
    client accepts none of `offered`."""

    def negotiate(request: Request, response: Response) -> str:
        response.headers["Vary"] = "Accept"
        chosen = choose(request.headers.get("accept"), offered)
        if chosen is None:
            raise NotAcceptable(f"This resource is available as {', '.join(offered)}; `Accept` names none of them.")
        return chosen

    return Depends(negotiate)


def alternatives(*media_types: str, description: str = "") -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for a route whose 200 may also come as these (binary) media types, and its 406."""
    entry: dict[str, Any] = {"content": {media_type: BINARY for media_type in media_types}}
    if description:
        entry["description"] = description
    return {200: entry, **problems(NotAcceptable)}


def document(content: bytes, media_type: str, filename: str) -> Response:
    """A generated document to show in the browser (`inline`), never cached (it holds patient data)."""
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "no-store",
            "Vary": "Accept",
            "X-Content-Type-Options": "nosniff",
        },
    )
