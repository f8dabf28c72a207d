"""Objects as files under one directory (the default store)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO

from caremesh.platform.storage.port import CHUNK_SIZE, InvalidKey, ObjectNotFound, checked_key


class LocalDirectoryStorage:
    """Each key is a file under `root`; a key that would resolve outside `root` (a symlink placed there) is
    refused. A write goes to a hidden temporary file beside its target, synced, then renamed over it."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).absolute()

    def __repr__(self) -> str:
        return f"LocalDirectoryStorage({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        path = (self.root / checked_key(key)).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise InvalidKey(f"{key!r} leads outside the storage directory")
        return path

    async def put(self, key: str, stream: AsyncIterable[bytes]) -> int:
        target = self._path(key)
        await asyncio.to_thread(target.parent.mkdir, mode=0o700, parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        handle = await asyncio.to_thread(_create, partial)
        size = 0
        try:
            async for chunk in stream:
                await asyncio.to_thread(handle.write, chunk)
                size += len(chunk)
            await asyncio.to_thread(_sync_and_close, handle)
            await asyncio.to_thread(os.replace, partial, target)
        except BaseException:
            await asyncio.shield(asyncio.to_thread(_discard, handle, partial))
            raise
        return size

    async def open(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        return _chunks(handle)

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await asyncio.to_thread(path.unlink, missing_ok=True)


def _create(path: Path) -> BinaryIO:
    return open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _sync_and_close(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()


def _discard(handle: BinaryIO, path: Path) -> None:
    handle.close()
    path.unlink(missing_ok=True)


async def _chunks(handle: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK_SIZE):
            yield chunk
    finally:
        handle.close()
