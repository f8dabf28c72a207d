from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from tests.harness import Env, TestDatabase, running_env, test_settings


@pytest.fixture(scope="session")
def test_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabase]:
    database = TestDatabase(tmp_path_factory.mktemp("db"))
    database.prepare()
    yield database
    database.drop()


@pytest.fixture
async def env(test_database: TestDatabase, tmp_path: Path) -> AsyncIterator[Env]:
    settings = test_settings(await test_database.fresh(tmp_path), tmp_path)
    async with running_env(settings) as running:
        yield running


@pytest.fixture
def make_env(test_database: TestDatabase, tmp_path: Path) -> Callable[..., AbstractAsyncContextManager[Env]]:
    """For tests that need their own settings or consumers: `async with make_env(...) as env`."""

    def build(*, subscriptions: Any = None, **security: Any) -> AbstractAsyncContextManager[Env]:
        async def start() -> AsyncIterator[Env]:
            settings = test_settings(await test_database.fresh(tmp_path), tmp_path, **security)
            async with running_env(settings, subscriptions=subscriptions) as running:
                yield running

        from contextlib import asynccontextmanager

        return asynccontextmanager(start)()

    return build
