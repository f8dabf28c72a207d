"""Which store the settings name: a local directory by default (beside the SQLite file), S3 when
CAREMESH_STORAGE_URL says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from caremesh.platform.settings import DatabaseSettings, StorageSettings
from caremesh.platform.storage import LocalDirectoryStorage, default_directory, storage_for
from caremesh.platform.storage.s3 import S3Location, S3Storage

SQLITE = DatabaseSettings(database_url="sqlite+aiosqlite:////var/lib/caremesh/caremesh.db")
POSTGRES = DatabaseSettings(database_url="postgresql+asyncpg://caremesh@db/caremesh")


def test_files_live_beside_the_sqlite_file_unless_told_otherwise():
    assert default_directory(StorageSettings(), SQLITE) == Path("/var/lib/caremesh/caremesh-files")
    assert default_directory(StorageSettings(), DatabaseSettings()) == Path("caremesh-files")  # caremesh.db's folder
    assert default_directory(StorageSettings(), POSTGRES) == Path("caremesh-files")
    assert default_directory(StorageSettings(storage_dir="/srv/files"), SQLITE) == Path("/srv/files")


def test_the_default_store_is_the_local_directory():
    store = storage_for(StorageSettings(storage_dir="/srv/files"), POSTGRES)
    assert isinstance(store, LocalDirectoryStorage)
    assert store.root == Path("/srv/files")


def test_an_s3_url_makes_an_s3_store_built_once(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-the-environment")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    settings = StorageSettings(storage_url="s3://records/caremesh", storage_s3_region="eu-west-1")

    store = storage_for(settings, SQLITE)

    assert isinstance(store, S3Storage)
    assert store.location == S3Location("records", "caremesh")
    assert store.client.meta.region_name == "eu-west-1"
    assert storage_for(settings, SQLITE) is store


@pytest.mark.parametrize("url", ["https://records.s3.amazonaws.com", "s3://", "s3:// spaced"])
def test_only_s3_urls_are_taken(url):
    with pytest.raises(ValidationError):
        StorageSettings(storage_url=url)


def test_empty_variables_are_unset(monkeypatch):
    monkeypatch.setenv("CAREMESH_STORAGE_URL", "")
    monkeypatch.setenv("CAREMESH_STORAGE_DIR", "")
    assert (StorageSettings().storage_url, StorageSettings().storage_dir) == (None, None)
