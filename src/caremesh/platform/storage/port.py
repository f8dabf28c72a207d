"""The object storage port: whole objects under keys, written and read as streams of chunks.

A key is a relative path of plain segments (`disputes/<id>/<id>`): letters, digits, `.`, `_` and `-`, each
segment starting with a letter or digit, so no key is absolute, climbs (`..`), hides (`.x`) or names a
temporary file of an adapter. No business rules here: what is stored, and why, is the caller's.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator
from typing import Protocol, runtime_checkable

CHUNK_SIZE = 64 * 1024
MAX_KEY_LENGTH = 512
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class StorageError(Exception):
    """The store failed or refused an operation."""


class ObjectNotFound(StorageError):
    """No object is stored under the key."""


class InvalidKey(StorageError, ValueError):
    """The key is not a relative path of plain segments."""


def checked_key(key: str) -> str:
    """`key` if it is a valid key, else InvalidKey."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"a key has 1 to {MAX_KEY_LENGTH} characters, not {len(key)}")
    for segment in key.split("/"):
        if not _SEGMENT.match(segment):
            raise InvalidKey(f"{key!r}: {segment!r} is not a plain path segment")
    return key


@runtime_checkable
class ObjectStorage(Protocol):
    """Where files live. Every operation is async; bodies move in chunks, never whole in memory."""

    async def put(self, key: str, stream: AsyncIterable[bytes]) -> int:
        """Store what `stream` yields under `key` (replacing an object there), as one object that appears only
        once complete: an error in the stream leaves nothing under `key`. The number of bytes stored."""
        ...

    async def open(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks (ObjectNotFound at once if there is none). Close the iterator
        (`contextlib.aclosing`) if you stop before its end."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; nothing happens if there is none."""
        ...
