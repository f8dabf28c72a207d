"""Object storage: the port (`ObjectStorage`), a local directory (the default) and S3-compatible adapters, the
store the settings name (`storage_for`). `storage.route` holds the route class that removes the objects a failed
request wrote (imported apart: it depends on the HTTP plumbing)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from caremesh.platform.settings import DatabaseSettings, StorageSettings
from caremesh.platform.storage.local import LocalDirectoryStorage
from caremesh.platform.storage.port import (
    CHUNK_SIZE,
    InvalidKey,
    ObjectNotFound,
    ObjectStorage,
    StorageError,
    checked_key,
)

__all__ = [
    "CHUNK_SIZE",
    "InvalidKey",
    "LocalDirectoryStorage",
    "ObjectNotFound",
    "ObjectStorage",
    "StorageError",
    "checked_key",
    "default_directory",
    "storage_for",
]

DIRECTORY_NAME = "caremesh-files"


def default_directory(storage: StorageSettings, db: DatabaseSettings) -> Path:
    """CAREMESH_STORAGE_DIR; unset, `caremesh-files` beside the SQLite database file (the embedded mode's data
    directory), else in the working directory, where the default database file also lives."""
    if storage.storage_dir is not None:
        return storage.storage_dir
    prefix = "sqlite+aiosqlite:///"
    if db.database_url.startswith(prefix) and db.database_url != prefix + ":memory:":
        return Path(db.database_url.removeprefix(prefix)).parent / DIRECTORY_NAME
    return Path(DIRECTORY_NAME)


def storage_for(storage: StorageSettings, db: DatabaseSettings) -> ObjectStorage:
    """The store the settings name: S3-compatible when CAREMESH_STORAGE_URL is set, else a local directory."""
    if storage.storage_url:
        return _s3(
            storage.storage_url,
            storage.storage_s3_endpoint_url,
            storage.storage_s3_region,
            storage.storage_s3_access_key_id,
            None
            if storage.storage_s3_secret_access_key is None
            else storage.storage_s3_secret_access_key.get_secret_value(),
        )
    return LocalDirectoryStorage(default_directory(storage, db))


@lru_cache(maxsize=8)
def _s3(
    url: str, endpoint_url: str | None, region: str | None, key_id: str | None, secret: str | None
) -> ObjectStorage:
    """One client per configuration: building a boto3 client takes tens of milliseconds."""
    from caremesh.platform.storage.s3 import S3Location, S3Storage

    return S3Storage(
        S3Location.parse(url),
        endpoint_url=endpoint_url,
        region=region,
        access_key_id=key_id,
        secret_access_key=secret,
    )
