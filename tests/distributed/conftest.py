from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.distributed.cluster import Cluster, require_servers, running_cluster


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One topology per test worker, shared by the journeys and the tests that kill and restart its replicas
    (they leave it running as they found it)."""
    require_servers()
    with running_cluster(tmp_path_factory.mktemp("cluster")) as running:
        yield running
