from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.harness import Env, MigratedDatabase, running_env, settings_for_tests

# Every observed status must be in the OpenAPI document; no statement may join tables of two schemas.
pytest_plugins = ["tests.openapi_conformance", "tests.schema_guard"]

# Properties are checked in full; how fast an example runs is the benches' business, not a pass/fail
# condition: the suite shares two cores between its workers and a deadline would fail on a busy machine.
settings.register_profile("caremesh", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("caremesh")


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedDatabase]:
    """One per test worker (pytest-xdist runs each worker in its own process)."""
    database = MigratedDatabase(tmp_path_factory.mktemp("db"))
    database.prepare()
    yield database
    database.drop()


@pytest.fixture
async def env(migrated_database: MigratedDatabase, tmp_path: Path) -> AsyncIterator[Env]:
    settings = settings_for_tests(migrated_database.started(tmp_path), tmp_path)
    restore = migrated_database.restore_started
    async with running_env(settings, admin=migrated_database.admin, restore=restore) as running:
        yield running


@pytest.fixture
def make_env(migrated_database: MigratedDatabase, tmp_path: Path) -> Callable[..., AbstractAsyncContextManager[Env]]:
    """For tests that need their own settings or consumers: `async with make_env(...) as env`."""

    def build(
        *, subscriptions: Any = None, timezone: str = "UTC", **overrides: Any
    ) -> AbstractAsyncContextManager[Env]:
        """`overrides`: security fields, or dicts of one concern's settings (`billing=`, `orders=`, ...)."""

        async def start() -> AsyncIterator[Env]:
            settings = settings_for_tests(
                await migrated_database.fresh(tmp_path), tmp_path, timezone=timezone, **overrides
            )
            async with running_env(settings, subscriptions=subscriptions) as running:
                yield running

        return asynccontextmanager(start)()

    return build
