"""Dispute attachments: documents filed with an open dispute, kept in the object store (platform/storage) and
described by a row here.

Upload: the request body has been received whole (within its limit) before the transaction; the file's type is
decided by its first bytes; it is streamed to the store under a new key while its size is counted (413 past the
limit) and its sha256 computed; the row follows. If anything fails after the object is written, the route
(`StoringRoute`) deletes it: no row without its object, no object without its row.

Serving: the object is copied to a spooled temporary file while its sha256 and size are checked against the row;
only a copy that matches is served (what is served is exactly what was checked), else 500 ATTACHMENT_CORRUPTED,
logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from typing import IO, NoReturn, Protocol

import structlog
from sqlalchemy import func, select

from caremesh.audit import contract as audit
from caremesh.claims import files
from caremesh.claims.errors import AttachmentCorrupted, AttachmentNotFound, DisputeAttachmentLimit, DisputeResolved
from caremesh.claims.models import MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS_PER_DISPUTE, DisputeAttachment
from caremesh.claims.records import DISPUTES
from caremesh.platform.errors import PayloadTooLarge, UnsupportedMediaType
from caremesh.platform.pagination import PageParams
from caremesh.platform.storage import CHUNK_SIZE, ObjectNotFound, ObjectStorage, storage_for
from caremesh.platform.storage.route import track
from caremesh.platform.uow import UnitOfWork

log = structlog.get_logger("caremesh.claims")

ATTACHMENTS = audit.repository(
    DisputeAttachment,
    AttachmentNotFound,
    entity="dispute_attachment",
    order_by=[DisputeAttachment.created_at, DisputeAttachment.id],
)
SPOOL_IN_MEMORY = 1024 * 1024  # a larger copy being checked goes to a temporary file


class Upload(Protocol):
    """A received file (FastAPI's UploadFile)."""

    filename: str | None

    async def read(self, size: int = -1) -> bytes: ...

    async def seek(self, offset: int) -> None: ...


def storage(uow: UnitOfWork) -> ObjectStorage:
    return storage_for(uow.settings.storage, uow.settings.db)


async def add_attachment(uow: UnitOfWork, dispute_id: uuid.UUID, upload: Upload) -> DisputeAttachment:
    # Locked: a resolution, or another upload that would pass the count, waits for this one.
    dispute = await DISPUTES.load(uow, dispute_id, for_update=True)
    if dispute.status != "open":
        raise DisputeResolved("Documents are filed with a dispute while it is open.")
    filed = await uow.session.scalar(
        select(func.count()).select_from(DisputeAttachment).where(DisputeAttachment.dispute_id == dispute.id)
    )
    if filed >= MAX_ATTACHMENTS_PER_DISPUTE:
        raise DisputeAttachmentLimit(f"A dispute holds at most {MAX_ATTACHMENTS_PER_DISPUTE} files; it has {filed}.")
    media_type = files.sniff(await upload.read(files.SNIFF_BYTES))
    if media_type is None:
        raise UnsupportedMediaType("A dispute takes PDF, PNG or JPEG files; this file's bytes are none of them.")
    await upload.seek(0)
    digest = hashlib.sha256()
    size = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal size
        while chunk := await upload.read(CHUNK_SIZE):
            size += len(chunk)
            if size > MAX_ATTACHMENT_BYTES:
                raise PayloadTooLarge(f"A file may have at most {MAX_ATTACHMENT_BYTES} bytes.")
            digest.update(chunk)
            yield chunk

    attachment_id = uuid.uuid4()
    key = f"disputes/{dispute.id}/{attachment_id}"
    store = storage(uow)
    track(uow, store, key)  # before the write: a write that fails half-way is removed too
    await store.put(key, chunks())
    attachment = DisputeAttachment(
        id=attachment_id,
        dispute_id=dispute.id,
        filename=files.safe_filename(upload.filename, media_type),
        content_type=media_type,
        size=size,
        sha256=digest.hexdigest(),
        storage_key=key,
        uploaded_by=None if uow.actor is None else uow.actor.user_id,
        created_at=uow.now(),
    )
    uow.session.add(attachment)
    await uow.session.flush()
    audit.record(uow, "dispute_attachment.create", "dispute_attachment", attachment.id)
    return attachment


async def list_attachments(
    uow: UnitOfWork, dispute_id: uuid.UUID, page: PageParams
) -> tuple[list[DisputeAttachment], str | None]:
    """The dispute's attachments, oldest first."""
    await DISPUTES.load(uow, dispute_id)
    query = ATTACHMENTS.query(uow).where(DisputeAttachment.dispute_id == dispute_id)
    return await ATTACHMENTS.page(uow, query, order_by=ATTACHMENTS.order_by, params=page)


async def get_attachment(uow: UnitOfWork, attachment_id: uuid.UUID) -> DisputeAttachment:
    return await ATTACHMENTS.get(uow, attachment_id)


@asynccontextmanager
async def verified_copy(store: ObjectStorage, attachment: DisputeAttachment) -> AsyncIterator[IO[bytes]]:
    """The attachment's bytes, copied from the store into a temporary file (rewound) and checked against the
    sha256 and size recorded at upload; AttachmentCorrupted (logged) if they differ or the object is gone."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as copy:
        digest = hashlib.sha256()
        size = 0
        try:
            chunks = await store.open(attachment.storage_key)
        except ObjectNotFound:
            _corrupted(attachment, "missing", None, 0)
        async with aclosing(chunks):
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                await asyncio.to_thread(copy.write, chunk)
        if size != attachment.size or digest.hexdigest() != attachment.sha256:
            _corrupted(attachment, "altered", digest.hexdigest(), size)
        copy.seek(0)
        yield copy


def _corrupted(attachment: DisputeAttachment, problem: str, found_sha256: str | None, found_size: int) -> NoReturn:
    log.error(
        "attachment_corrupted",
        attachment_id=str(attachment.id),
        storage_key=attachment.storage_key,
        problem=problem,
        expected_sha256=attachment.sha256,
        found_sha256=found_sha256,
        expected_size=attachment.size,
        found_size=found_size,
    )
    raise AttachmentCorrupted(f"Attachment {attachment.id} is {problem} in storage; it is not served.")
