"""Objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, ...), through boto3 in worker threads.

boto3 is the SDK AWS itself keeps; its client is thread-safe, so each blocking call runs in
`asyncio.to_thread` and the event loop never waits on the network. Install it with the `s3` extra.

A put of up to `part_size` bytes is one PutObject; a larger one a multipart upload of `part_size` parts
(S3's minimum is 5 MiB), aborted if the stream fails, so no half object is ever visible and memory holds
one part at most.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from caremesh.platform.storage.port import CHUNK_SIZE, ObjectNotFound, StorageError, checked_key

DEFAULT_PART_SIZE = 8 * 1024 * 1024
_MISSING = {"NoSuchKey", "404", "NotFound"}


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # "" or without a trailing slash

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """`s3://bucket` or `s3://bucket/some/prefix`."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"{url!r} is not s3://bucket[/prefix]")
        prefix = parts.path.strip("/")
        if prefix:
            checked_key(prefix)
        return cls(parts.netloc, prefix)


class S3Storage:
    def __init__(
        self,
        location: S3Location,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        client: Any = None,
    ) -> None:
        """Credentials, region and endpoint left None come from boto3's usual chain (AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_S3, ~/.aws, an instance role)."""
        if part_size < 5 * 1024 * 1024:
            raise ValueError("S3 parts are at least 5 MiB")
        self.location = location
        self.part_size = part_size
        if client is None:
            import boto3  # the `s3` extra: imported only when an S3 store is configured
            from botocore.config import Config

            client = boto3.session.Session().client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                # Path-style addressing works with every S3-compatible server; virtual hosts need DNS per bucket.
                config=Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 3}),
            )
        self.client = client

    def __repr__(self) -> str:
        return f"S3Storage(s3://{self.location.bucket}/{self.location.prefix})"

    def _key(self, key: str) -> str:
        checked_key(key)
        return f"{self.location.prefix}/{key}" if self.location.prefix else key

    async def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(getattr(self.client, operation), Bucket=self.location.bucket, **kwargs)
        except Exception as error:
            code = getattr(error, "response", {}).get("Error", {}).get("Code")
            if code in _MISSING:
                raise ObjectNotFound(kwargs.get("Key", "")) from error
            if code is not None:
                raise StorageError(f"S3 {operation}: {code}") from error
            raise

    async def put(self, key: str, stream: AsyncIterable[bytes]) -> int:
        name = self._key(key)
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        size = 0
        try:
            async for chunk in stream:
                buffer += chunk
                size += len(chunk)
                while len(buffer) >= self.part_size:
                    if upload_id is None:
                        upload_id = (await self._call("create_multipart_upload", Key=name))["UploadId"]
                    part, buffer = bytes(buffer[: self.part_size]), buffer[self.part_size :]
                    parts.append(await self._part(name, upload_id, len(parts) + 1, part))
            if upload_id is None:
                await self._call("put_object", Key=name, Body=bytes(buffer))
                return size
            if buffer:
                parts.append(await self._part(name, upload_id, len(parts) + 1, bytes(buffer)))
            await self._call(
                "complete_multipart_upload", Key=name, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
            return size
        except BaseException:
            if upload_id is not None:
                await asyncio.shield(self._call("abort_multipart_upload", Key=name, UploadId=upload_id))
            raise

    async def _part(self, name: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        answer = await self._call("upload_part", Key=name, UploadId=upload_id, PartNumber=number, Body=body)
        return {"PartNumber": number, "ETag": answer["ETag"]}

    async def open(self, key: str) -> AsyncIterator[bytes]:
        answer = await self._call("get_object", Key=self._key(key))
        return _chunks(answer["Body"])

    async def delete(self, key: str) -> None:
        await self._call("delete_object", Key=self._key(key))


async def _chunks(body: Any) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(body.read, CHUNK_SIZE):
            yield chunk
    finally:
        body.close()
