"""Documents filed with a dispute: the type decided by the bytes, the size limit enforced while the body streams,
the name made safe, the file served only as it was received (sha256), no row or file left by a failed upload;
the billing office only. The S3 store runs against moto's S3-compatible server on the loopback, not AWS."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest

from caremesh.claims import attachments as attachments_module
from caremesh.claims.models import MAX_ATTACHMENTS_PER_DISPUTE
from tests.builders.claims import DISPUTES, dispute, insured_invoice, ok, rejected_claim, resolve
from tests.builders.patients import make_patient
from tests.harness import assert_problem, every_page
from tests.platform.storage.s3server import CREDENTIALS, REGION, new_bucket, s3_client, s3_server

API = "/api/v1"
MIB = 1024 * 1024
LIMIT = 10 * MIB
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(17)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(20)


async def open_dispute(env) -> dict:
    _, bill = await insured_invoice(env)
    claim = await rejected_claim(env, bill)
    return ok(await dispute(env, claim), 201)


async def upload(env, dispute_id, content, filename="evidence.pdf", declared="application/pdf", headers=None):
    return await env.client.post(
        f"{DISPUTES}/{dispute_id}/attachments",
        files={"file": (filename, content, declared)},
        headers=headers or env.admin,
    )


async def upload_raw(env, dispute_id, content, filename, headers=None):
    """The multipart body written out here, byte for byte the same each time (httpx would pick a new boundary and
    percent-encode control characters in the name)."""
    quoted = filename.replace('"', "%22").encode()
    body = (
        b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="' + quoted + b'"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n--b0undary--\r\n"
    )
    return await env.client.post(
        f"{DISPUTES}/{dispute_id}/attachments",
        content=body,
        headers={**(headers or env.admin), "Content-Type": "multipart/form-data; boundary=b0undary"},
    )


def stored_files(env) -> list[Path]:
    root = env.app.state.settings.storage.storage_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def rows(env) -> int:
    return await env.count("claim_dispute_attachments")


# --- filing and reading ---------------------------------------------------------------------------------------


async def test_a_pdf_is_filed_listed_and_served_as_received(env):
    opened = await open_dispute(env)
    content = PDF + os.urandom(300_000)

    response = await upload(env, opened["id"], content, "Operative note.pdf")

    filed = ok(response, 201)
    assert {k: filed[k] for k in ("dispute_id", "filename", "content_type", "size", "sha256")} == {
        "dispute_id": opened["id"],
        "filename": "Operative note.pdf",
        "content_type": "application/pdf",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    assert response.headers["location"] == f"{API}/attachments/{filed['id']}"
    assert await every_page(env, f"{DISPUTES}/{opened['id']}/attachments") == [filed]

    served = await env.client.get(f"{API}/attachments/{filed['id']}", headers=env.admin)

    assert served.status_code == 200
    assert served.content == content
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["content-length"] == str(len(content))
    assert served.headers["content-disposition"] == (
        "attachment; filename=\"Operative note.pdf\"; filename*=UTF-8''Operative%20note.pdf"
    )
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["cache-control"] == "no-store"
    assert await env.count("audit_events", "action = 'dispute_attachment.read'") == 1
    assert await env.count("audit_events", "action = 'dispute_attachment.create'") == 1


@pytest.mark.parametrize(
    ("content", "filename", "declared", "kept_as", "media_type"),
    [
        (PNG, "xray.png", "image/png", "xray.png", "image/png"),
        (JPEG, "photo.JPEG", "image/jpeg", "photo.JPEG", "image/jpeg"),
        (PNG, "invoice.pdf", "application/pdf", "invoice.pdf.png", "image/png"),  # the bytes decide
        (PDF, "setup.exe", "application/x-msdownload", "setup.exe.pdf", "application/pdf"),
        (JPEG, "scan", "application/octet-stream", "scan.jpg", "image/jpeg"),
    ],
)
async def test_the_type_is_decided_by_the_bytes_and_the_name_follows_it(
    env, content, filename, declared, kept_as, media_type
):
    opened = await open_dispute(env)

    filed = ok(await upload(env, opened["id"], content, filename, declared), 201)

    assert (filed["filename"], filed["content_type"]) == (kept_as, media_type)
    served = await env.client.get(f"{API}/attachments/{filed['id']}", headers=env.admin)
    assert (served.headers["content-type"], served.content) == (media_type, content)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\asha\\Desktop\\letter.pdf", "letter.pdf"),
        ("bell\x07\x1b[31mred\x7f.pdf", "bell[31mred.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe.pdf"),  # a right-to-left override would show "exe.pdf"
        ("...", "attachment.pdf"),
        ("  .hidden.pdf ", "hidden.pdf"),
        ("x" * 400 + ".pdf", "x" * 251 + ".pdf"),
        ("résumé – été.pdf", "résumé – été.pdf"),
    ],
)
async def test_a_filename_keeps_no_path_no_control_characters_and_a_bounded_length(env, given, kept):
    opened = await open_dispute(env)

    filed = ok(await upload_raw(env, opened["id"], PDF, given), 201)

    assert filed["filename"] == kept
    served = await env.client.get(f"{API}/attachments/{filed['id']}", headers=env.admin)
    disposition = served.headers["content-disposition"]
    assert disposition.endswith(f"filename*=UTF-8''{quote(kept, safe='')}")
    assert disposition.isascii()


@pytest.mark.parametrize(
    ("content", "filename", "declared"),
    [
        (b"<html><script>alert(1)</script></html>", "report.pdf", "application/pdf"),
        (b"MZ\x90\x00 an executable", "scan.png", "image/png"),
        (b"GIF89a" + bytes(20), "scan.gif", "image/gif"),
        (b"%PD", "short.pdf", "application/pdf"),
        (b"", "empty.pdf", "application/pdf"),
    ],
    ids=["html", "exe", "gif", "truncated-signature", "empty"],
)
async def test_anything_but_pdf_png_or_jpeg_is_refused_whatever_its_name(env, content, filename, declared):
    opened = await open_dispute(env)

    assert_problem(await upload(env, opened["id"], content, filename, declared), 415, "UNSUPPORTED_MEDIA_TYPE")

    assert await rows(env) == 0
    assert stored_files(env) == []


# --- size -----------------------------------------------------------------------------------------------------


async def test_a_file_of_exactly_ten_mib_is_filed_and_one_byte_more_is_not(env):
    opened = await open_dispute(env)
    largest = PDF + os.urandom(LIMIT - len(PDF))

    filed = ok(await upload(env, opened["id"], largest), 201)
    refused = await upload(env, opened["id"], largest + b"!")

    assert filed["size"] == LIMIT
    assert_problem(refused, 413, "PAYLOAD_TOO_LARGE")
    assert await rows(env) == 1
    assert len(stored_files(env)) == 1


class Feed:
    """A multipart body streamed in chunks (no Content-Length), recording how much the server pulled."""

    def __init__(self, total: int, chunk: int = 64 * 1024) -> None:
        self.total, self.chunk, self.sent = total, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        head = b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n\r\n' + PDF
        self.sent += len(head)
        yield head
        while self.sent < self.total:
            piece = b"0" * min(self.chunk, self.total - self.sent)
            self.sent += len(piece)
            yield piece


async def test_a_huge_upload_is_refused_while_it_streams(env):
    opened = await open_dispute(env)
    feed = Feed(40 * MIB)

    response = await env.client.post(
        f"{DISPUTES}/{opened['id']}/attachments",
        content=feed,
        headers={**env.admin, "Content-Type": "multipart/form-data; boundary=x"},
    )

    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
    assert feed.sent <= LIMIT + 64 * 1024 + feed.chunk  # refused once the limit was crossed, not at the end
    assert await rows(env) == 0
    assert stored_files(env) == []


# --- integrity --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["altered", "truncated", "missing"])
async def test_a_file_that_changed_in_storage_is_not_served(env, damage, capsys):
    opened = await open_dispute(env)
    filed = ok(await upload(env, opened["id"], PDF + b"original"), 201)
    [path] = stored_files(env)
    if damage == "altered":
        path.write_bytes(PDF + b"ORIGINAL")  # same size, other bytes
    elif damage == "truncated":
        path.write_bytes(PDF)
    else:
        path.unlink()

    response = await env.client.get(f"{API}/attachments/{filed['id']}", headers=env.admin)

    body = assert_problem(response, 500, "ATTACHMENT_CORRUPTED")
    assert filed["id"] in body["detail"]
    assert b"ORIGINAL" not in response.content
    logged = capsys.readouterr().out
    assert "attachment_corrupted" in logged
    assert filed["sha256"] in logged


async def test_an_upload_whose_transaction_fails_leaves_no_file(env, monkeypatch):
    opened = await open_dispute(env)

    def fail(*_args, **_kwargs):
        raise RuntimeError("the audit trail is unavailable")

    # The object is written and the row flushed when the use case's last step fails: the transaction rolls back.
    monkeypatch.setattr(attachments_module, "audit", SimpleNamespace(record=fail))
    response = await upload(env, opened["id"], PDF + b"lost")

    assert_problem(response, 500, "INTERNAL_ERROR")
    assert await rows(env) == 0
    assert stored_files(env) == []


# --- rules and who may ------------------------------------------------------------------------------------------


async def test_a_resolved_dispute_takes_no_more_files(env):
    opened = await open_dispute(env)
    ok(await upload(env, opened["id"], PDF), 201)
    ok(await resolve(env, opened["id"], "upheld"))

    assert_problem(await upload(env, opened["id"], PNG, "late.png", "image/png"), 409, "DISPUTE_RESOLVED")

    assert await rows(env) == 1
    assert len(stored_files(env)) == 1
    assert len(await every_page(env, f"{DISPUTES}/{opened['id']}/attachments")) == 1


async def test_a_dispute_holds_at_most_twenty_files(env):
    opened = await open_dispute(env)
    for n in range(MAX_ATTACHMENTS_PER_DISPUTE):
        ok(await upload(env, opened["id"], PNG, f"page-{n}.png", "image/png"), 201)

    refused = await upload(env, opened["id"], PDF, "one-more.pdf")

    assert_problem(refused, 409, "DISPUTE_ATTACHMENT_LIMIT")
    assert await rows(env) == MAX_ATTACHMENTS_PER_DISPUTE
    assert len(stored_files(env)) == MAX_ATTACHMENTS_PER_DISPUTE


async def test_concurrent_uploads_never_pass_the_limit(env):
    opened = await open_dispute(env)
    for n in range(MAX_ATTACHMENTS_PER_DISPUTE - 1):
        ok(await upload(env, opened["id"], PNG, f"page-{n}.png", "image/png"), 201)
    await env.warm_pool()

    racing = await asyncio.gather(*(upload(env, opened["id"], PDF, f"last-{n}.pdf") for n in range(4)))

    assert sorted(r.status_code for r in racing) == [201, 409, 409, 409]
    assert await rows(env) == MAX_ATTACHMENTS_PER_DISPUTE
    assert len(stored_files(env)) == MAX_ATTACHMENTS_PER_DISPUTE


async def test_unknown_disputes_and_attachments_are_404(env):
    unknown = "00000000-0000-4000-8000-000000000000"

    assert_problem(await upload(env, unknown, PDF), 404, "DISPUTE_NOT_FOUND")
    assert_problem(
        await env.client.get(f"{DISPUTES}/{unknown}/attachments", headers=env.admin), 404, "DISPUTE_NOT_FOUND"
    )
    assert_problem(await env.client.get(f"{API}/attachments/{unknown}", headers=env.admin), 404, "ATTACHMENT_NOT_FOUND")
    assert stored_files(env) == []


async def test_the_billing_office_files_and_reads_and_nobody_else(env):
    opened = await open_dispute(env)
    clerk, officer = await env.user(["billing_clerk"]), await env.user(["claims_officer"])
    patient = await make_patient(env)
    outsiders = [await env.user(["patient"], patient_id=patient["id"]), await env.user(["doctor"])]

    by_clerk = ok(await upload(env, opened["id"], PDF, headers=clerk), 201)
    ok(await upload(env, opened["id"], PNG, "x.png", "image/png", headers=officer), 201)
    assert len(await every_page(env, f"{DISPUTES}/{opened['id']}/attachments", officer)) == 2
    assert (await env.client.get(f"{API}/attachments/{by_clerk['id']}", headers=officer)).content == PDF

    for headers in outsiders:
        assert_problem(await upload(env, opened["id"], PDF, headers=headers), 403, "FORBIDDEN")
        listed = await env.client.get(f"{DISPUTES}/{opened['id']}/attachments", headers=headers)
        assert_problem(listed, 403, "FORBIDDEN")
        served = await env.client.get(f"{API}/attachments/{by_clerk['id']}", headers=headers)
        assert_problem(served, 403, "FORBIDDEN")
    assert await rows(env) == 2


async def test_a_replayed_upload_files_once(env):
    opened = await open_dispute(env)
    headers = {**env.admin, "Idempotency-Key": "upload-evidence-1"}

    first = await upload_raw(env, opened["id"], PDF, "note.pdf", headers=headers)
    again = await upload_raw(env, opened["id"], PDF, "note.pdf", headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await rows(env) == 1
    assert len(stored_files(env)) == 1


# --- an S3-compatible store ---------------------------------------------------------------------------------------


async def test_with_an_s3_store_files_go_to_the_bucket_and_are_checked_when_served(make_env):
    with s3_server() as endpoint:
        bucket = new_bucket(endpoint)
        storage = {
            "storage_url": f"s3://{bucket}/clinic-a",
            "storage_s3_endpoint_url": endpoint,
            "storage_s3_region": REGION,
            "storage_s3_access_key_id": CREDENTIALS["aws_access_key_id"],
            "storage_s3_secret_access_key": CREDENTIALS["aws_secret_access_key"],
        }
        async with make_env(storage=storage) as env:
            opened = await open_dispute(env)
            content = PDF + os.urandom(200_000)

            filed = ok(await upload(env, opened["id"], content), 201)
            served = await env.client.get(f"{API}/attachments/{filed['id']}", headers=env.admin)
            refused = await upload(env, opened["id"], b"not a document")

            assert served.content == content
            assert_problem(refused, 415, "UNSUPPORTED_MEDIA_TYPE")
            client = s3_client(endpoint)
            [stored] = client.list_objects_v2(Bucket=bucket)["Contents"]
            assert stored["Key"] == f"clinic-a/disputes/{opened['id']}/{filed['id']}"
            assert stored_files(env) == []  # nothing on the local disk

            client.put_object(Bucket=bucket, Key=stored["Key"], Body=content[:-1] + b"?")
            damaged = await env.client.get(f"{API}/attachments/{filed['id']}", headers=env.admin)
            assert_problem(damaged, 500, "ATTACHMENT_CORRUPTED")
