"""The storage port's contract, run the same against every adapter: a local directory, and S3 against a real
S3-compatible server on this machine (moto's server, `ThreadedMotoServer`, over HTTP: not AWS)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from pathlib import Path

import pytest

from caremesh.platform.storage import CHUNK_SIZE, InvalidKey, LocalDirectoryStorage, ObjectNotFound, ObjectStorage
from caremesh.platform.storage.s3 import S3Location, S3Storage
from tests.platform.storage.s3server import CREDENTIALS, REGION, new_bucket, s3_client, s3_server

MIB = 1024 * 1024
PART = 5 * MIB  # S3's smallest part: a 12 MiB object goes up in three


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with s3_server() as endpoint:
        yield endpoint


class Adapter:
    """One store under test, and how to look behind it."""

    def __init__(self, storage: ObjectStorage, leftovers, raw_keys, prefix: str = "") -> None:  # type: ignore[no-untyped-def]
        self.storage = storage
        self.prefix = prefix  # where the store keeps a key's object
        self.leftovers = leftovers  # () -> anything a failed write left behind
        self.raw_keys = raw_keys  # () -> every key the backing store holds


@pytest.fixture(params=["local", "s3"])
def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> Adapter:
    if request.param == "local":
        root = tmp_path / "files"
        return Adapter(
            LocalDirectoryStorage(root),
            lambda: sorted(p.name for p in root.rglob(".*")),
            lambda: sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()),
        )
    endpoint = request.getfixturevalue("s3_endpoint")
    client = s3_client(endpoint)
    bucket = new_bucket(endpoint)
    storage = S3Storage(
        S3Location.parse(f"s3://{bucket}/installation"),
        endpoint_url=endpoint,
        region=REGION,
        access_key_id=CREDENTIALS["aws_access_key_id"],
        secret_access_key=CREDENTIALS["aws_secret_access_key"],
        part_size=PART,
    )
    return Adapter(
        storage,
        lambda: client.list_multipart_uploads(Bucket=bucket).get("Uploads", []),
        lambda: sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])),
        prefix="installation/",
    )


async def feed(data: bytes, chunk: int = 100_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), chunk):
        yield data[start : start + chunk]


async def failing(data: bytes, after: int) -> AsyncIterator[bytes]:
    async for chunk in feed(data[:after]):
        yield chunk
    raise ConnectionResetError("the client went away")


async def read(storage: ObjectStorage, key: str) -> bytes:
    async with aclosing(await storage.open(key)) as chunks:
        return b"".join([chunk async for chunk in chunks])


async def test_what_is_put_is_read_back_in_chunks(adapter):
    data = os.urandom(300_000)

    size = await adapter.storage.put("disputes/a1/b2", feed(data))

    assert size == len(data)
    async with aclosing(await adapter.storage.open("disputes/a1/b2")) as chunks:
        pieces = [chunk async for chunk in chunks]
    assert b"".join(pieces) == data
    assert len(pieces) > 1
    assert all(len(piece) <= CHUNK_SIZE for piece in pieces)


async def test_an_object_larger_than_a_part_goes_up_whole(adapter):
    data = os.urandom(12 * MIB + 17)

    assert await adapter.storage.put("big", feed(data, chunk=CHUNK_SIZE)) == len(data)

    assert await read(adapter.storage, "big") == data
    assert adapter.leftovers() == []


async def test_an_empty_object_is_an_object(adapter):
    assert await adapter.storage.put("empty", feed(b"")) == 0
    assert await read(adapter.storage, "empty") == b""


async def test_a_put_replaces_the_object_under_its_key(adapter):
    await adapter.storage.put("k", feed(b"first version"))
    await adapter.storage.put("k", feed(b"second"))

    assert await read(adapter.storage, "k") == b"second"


async def test_opening_a_missing_key_fails_at_once(adapter):
    with pytest.raises(ObjectNotFound):
        await adapter.storage.open("never/written")


async def test_delete_removes_and_deleting_nothing_is_fine(adapter):
    await adapter.storage.put("gone", feed(b"x"))
    await adapter.storage.put("kept", feed(b"y"))

    await adapter.storage.delete("gone")
    await adapter.storage.delete("gone")
    await adapter.storage.delete("never/there")

    with pytest.raises(ObjectNotFound):
        await adapter.storage.open("gone")
    assert await read(adapter.storage, "kept") == b"y"


@pytest.mark.parametrize("size", [200_000, 7 * MIB], ids=["one-part", "multipart"])
async def test_a_stream_that_fails_leaves_nothing(adapter, size):
    data = os.urandom(size)
    await adapter.storage.put("earlier", feed(b"an older object"))

    with pytest.raises(ConnectionResetError):
        await adapter.storage.put("doomed", failing(data, after=size - 1000))
    with pytest.raises(ConnectionResetError):
        await adapter.storage.put("earlier", failing(data, after=size - 1000))

    with pytest.raises(ObjectNotFound):
        await adapter.storage.open("doomed")
    assert await read(adapter.storage, "earlier") == b"an older object"  # a failed replace keeps the old one
    assert adapter.leftovers() == []


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "../outside", "a/../../b", "a/./b", ".hidden", "a//b", "a\\b", "a/b/", "é", "x" * 513],
)
async def test_keys_that_could_escape_or_hide_are_refused(adapter, key):
    with pytest.raises(InvalidKey):
        await adapter.storage.put(key, feed(b"x"))
    with pytest.raises(InvalidKey):
        await adapter.storage.open(key)
    with pytest.raises(InvalidKey):
        await adapter.storage.delete(key)
    assert adapter.raw_keys() == []


async def test_each_key_is_one_object_under_the_stores_root(adapter):
    await adapter.storage.put("a/b", feed(b"1"))
    await adapter.storage.put("a-b", feed(b"2"))

    assert adapter.raw_keys() == sorted([f"{adapter.prefix}a/b", f"{adapter.prefix}a-b"])


async def test_a_symlink_out_of_the_directory_is_not_followed(tmp_path):
    root, outside = tmp_path / "files", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret").write_bytes(b"not yours")
    (root / "link").symlink_to(outside, target_is_directory=True)
    storage = LocalDirectoryStorage(root)

    with pytest.raises(InvalidKey):
        await storage.open("link/secret")
    with pytest.raises(InvalidKey):
        await storage.put("link/planted", feed(b"x"))
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]


@pytest.mark.parametrize("url", ["s3:/bucket", "http://bucket/x", "s3://", "s3://bucket/../x", "s3://b/x?versionId=1"])
def test_an_s3_url_names_a_bucket_and_a_plain_prefix(url):
    with pytest.raises(ValueError):
        S3Location.parse(url)


def test_an_s3_url_parses():
    assert S3Location.parse("s3://records/caremesh/prod/") == S3Location("records", "caremesh/prod")
    assert S3Location.parse("s3://records") == S3Location("records", "")
