"""What only the broker transport has: its settings, its readiness, and a broker that does not answer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from pydantic import ValidationError

from caremesh.platform.messaging.bus import InProcessTransport, Subscriptions
from caremesh.platform.messaging.jetstream import JetStreamBroker, JetStreamTransport
from caremesh.platform.messaging.runtime import Workers
from caremesh.platform.settings import MessagingSettings
from tests.builders.billing import completed_visit, invoice_of
from tests.harness import running_env, settings_for_tests
from tests.platform.test_messaging import Recorder, publish
from tests.platform.test_transport_contract import NATS_URL, transport  # noqa: F401 (the fixture)

UNREACHABLE = "nats://127.0.0.1:1"


async def test_the_broker_url_chooses_jetstream_and_the_namespace_names_stream_and_subjects(env, monkeypatch):
    monkeypatch.delenv("CAREMESH_BROKER_URL", raising=False)
    assert MessagingSettings().broker_url is None
    monkeypatch.setenv("CAREMESH_BROKER_URL", "nats://nats.example.org:4222")
    monkeypatch.setenv("CAREMESH_BROKER_NAMESPACE", "site_b")
    settings = MessagingSettings()
    workers = Workers(env.app.state.uow_factory, Subscriptions(), settings)
    assert isinstance(workers.relay.transport, JetStreamTransport)
    assert workers.broker is not None
    assert (workers.broker.stream, workers.broker.subject("appointment.completed")) == (
        "SITE_B",
        "site_b.appointment.completed",
    )
    monkeypatch.setenv("CAREMESH_BROKER_URL", "")
    embedded = Workers(env.app.state.uow_factory, Subscriptions(), MessagingSettings())
    assert isinstance(embedded.relay.transport, InProcessTransport)
    assert embedded.broker is None


@pytest.mark.parametrize(
    ("field", "value"), [("broker_namespace", "a.b"), ("broker_namespace", ""), ("broker_duplicate_window_seconds", 60)]
)
def test_bad_broker_settings_are_refused(monkeypatch, field, value):
    with pytest.raises(ValidationError):
        MessagingSettings(**{field: value})


@asynccontextmanager
async def broker_workers(env, url: str, *, start: bool) -> AsyncIterator[Workers]:
    """The app's workers swapped for ones on a broker; `start`: their tasks run, as in `caremesh serve`."""
    settings = env.app.state.settings.messaging.model_copy(
        update={"broker_url": url, "broker_namespace": f"cmtest_{uuid.uuid4().hex[:12]}", "run_workers": start}
    )
    workers = Workers(env.app.state.uow_factory, Subscriptions([Recorder().subscription()]), settings)
    original, env.app.state.workers = env.app.state.workers, workers
    workers.start()
    try:
        yield workers
    finally:
        env.app.state.workers = original
        await workers.stop()
        if url != UNREACHABLE:
            await workers.broker.delete_stream()
            await workers.broker.close()


@pytest.mark.parametrize("transport", ["nats"], indirect=True)
async def test_readiness_reports_a_reachable_broker(env, transport):  # noqa: F811
    async with broker_workers(env, NATS_URL, start=True):
        response = await env.client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


async def test_readiness_fails_and_events_stay_in_the_outbox_while_the_broker_is_unreachable(env):
    async with broker_workers(env, UNREACHABLE, start=False) as workers:
        response = await env.client.get("/health/ready")
        assert response.status_code == 503
        assert response.json()["checks"]["broker"].startswith("unavailable")

        await publish(env)  # the request's transaction still commits
        with pytest.raises(TimeoutError):
            await workers.relay.run_once()
        assert await env.count("outbox_events", "published_at IS NULL") == 1  # not marked without an ack


@pytest.mark.parametrize("transport", ["nats"], indirect=True)
async def test_a_completed_visit_is_invoiced_once_through_the_broker(migrated_database, tmp_path, transport):  # noqa: F811
    """The whole app on CAREMESH_BROKER_URL: the real consumers of every context subscribe through JetStream."""
    settings = settings_for_tests(await migrated_database.fresh(tmp_path), tmp_path)
    settings.messaging = settings.messaging.model_copy(
        update={"broker_url": NATS_URL, "broker_namespace": f"cmtest_{uuid.uuid4().hex[:12]}"}
    )
    async with running_env(settings) as env:
        broker = env.app.state.workers.broker
        try:
            visit = await completed_visit(env)
            await env.drain()
            invoice = await invoice_of(env, visit["id"])
            assert invoice["status"] == "issued"
            await env.drain()
            assert await env.count("invoices") == 1
            assert await env.count("event_deliveries") == 0  # nothing went through the in-process queue
            assert await env.count("outbox_events", "published_at IS NULL") == 0
            js = await broker.jetstream()
            assert (await js.stream_info(broker.stream)).state.messages == await env.count("outbox_events")
        finally:
            await broker.delete_stream()


@pytest.mark.parametrize("transport", ["nats"], indirect=True)
async def test_a_broker_back_with_an_empty_store_gets_its_stream_and_consumers_again(env, transport):  # noqa: F811
    """A lost volume or a new server: the running process's relay creates the stream and the durable consumers
    again on its next publish, and its running pull loops receive through them."""
    recorder = Recorder()
    settings = env.app.state.settings.messaging.model_copy(
        update={"broker_url": NATS_URL, "broker_namespace": f"cmtest_{uuid.uuid4().hex[:12]}", "run_workers": False}
    )
    workers = Workers(env.app.state.uow_factory, Subscriptions([recorder.subscription()]), settings)
    try:
        await publish(env, 1)
        await workers.drain()
        assert [e.payload["n"] for e in recorder.seen] == [1]

        other = JetStreamBroker(settings, name="the-store-is-lost")
        try:
            await other.delete_stream()  # as if the broker restarted on an empty store
        finally:
            await other.close()

        await publish(env, 2)
        await workers.drain()
        assert [e.payload["n"] for e in recorder.seen] == [1, 2]
        assert await env.count("outbox_events", "published_at IS NULL") == 0
    finally:
        await workers.stop()
        await workers.broker.delete_stream()
        await workers.broker.close()
