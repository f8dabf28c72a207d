"""The outbox, relay, inbox, retries and dead letters, with a real app and database."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select, text

from caremesh.audit import contract as audit
from caremesh.patients.contract import PatientRegistered
from caremesh.platform.messaging.bus import Subscription
from caremesh.platform.messaging.consumer import list_dead_letters, replay_dead_letter
from caremesh.platform.messaging.envelope import Envelope
from caremesh.platform.messaging.models import DeadLetter, EventDelivery, InboxEntry
from tests.builders.events import Followed, Happened
from tests.builders.patients import patient_body

EVENT = Happened.event_type


class Recorder:
    """A consumer whose effect is an audit row written in the consumer's own transaction."""

    def __init__(self, failures: int = 0, crash_after_effect: bool = False) -> None:
        self.failures = failures
        self.crash_after_effect = crash_after_effect
        self.seen: list[Envelope] = []

    async def __call__(self, uow, event: Happened, envelope: Envelope) -> None:
        self.seen.append(envelope)
        audit.record(uow, "test.consumed", "test", event.n)
        await uow.session.flush()
        if self.failures > 0:
            self.failures -= 1
            if self.crash_after_effect:
                await audit_rows_flush(uow)
            raise RuntimeError("consumer failed on purpose")

    def subscription(self) -> Subscription:
        return Subscription(consumer="tests.recorder", event=Happened, handler=self)


async def audit_rows_flush(uow) -> None:
    from caremesh.audit.service import append_staged

    await append_staged(uow)  # the effect reaches the database before the crash


async def publish(env, n: int = 1) -> uuid.UUID:
    async with env.uow(request_id=f"req-{n}") as uow:
        return uow.publish(Happened(n=n)).id


async def consumed(env) -> int:
    return await env.count("audit_events", "action = 'test.consumed'")


async def test_delivers_only_after_commit(make_env):
    recorder = Recorder()
    async with make_env(subscriptions=[recorder.subscription()]) as env:
        async with env.uow() as uow:
            uow.publish(Happened(n=1))
            await uow.session.flush()
            async with env.db.read_engine.connect() as other:
                visible = (await other.execute(text("SELECT count(*) FROM outbox_events"))).scalar_one()
            assert visible == 0  # another transaction cannot see, so cannot relay, the uncommitted event
        assert recorder.seen == []
        await env.drain()
        assert [e.payload for e in recorder.seen] == [{"n": 1}]
        assert await consumed(env) == 1


async def test_rolled_back_transaction_publishes_nothing(make_env):
    recorder = Recorder()
    async with make_env(subscriptions=[recorder.subscription()]) as env:
        with pytest.raises(RuntimeError):
            async with env.uow() as uow:
                uow.publish(Happened(n=1))
                await uow.session.flush()
                raise RuntimeError("the use case failed after publishing")
        await env.drain()
        assert recorder.seen == []
        assert await env.count("outbox_events") == 0


async def test_envelope_carries_versioned_metadata_and_request_correlation(make_env):
    seen: list[Envelope] = []

    async def follow(uow, event: PatientRegistered, envelope: Envelope) -> None:
        seen.append(envelope)
        uow.publish(Followed(n=2))

    async with make_env(subscriptions=[Subscription("tests.follower", PatientRegistered, follow)]) as env:
        response = await env.client.post(
            "/api/v1/patients", json=patient_body(), headers={**env.admin, "X-Request-ID": "req-correlate-1"}
        )
        assert response.status_code == 201
        await env.drain()
        [envelope] = seen
        assert envelope.type == "patient.registered"
        assert envelope.version == 1
        assert envelope.correlation_id == "req-correlate-1"
        assert envelope.occurred_at == env.clock.now()
        assert envelope.payload["patient_id"] == response.json()["id"]
        async with env.db.engine.connect() as connection:
            row = (
                await connection.execute(
                    text("SELECT correlation_id, causation_id FROM outbox_events WHERE type = 'test.followed'")
                )
            ).one()
        assert row[0] == "req-correlate-1"  # the consumer's own events keep the correlation
        assert uuid.UUID(str(row[1])) == envelope.id  # and name their cause


async def test_redelivered_event_changes_nothing(make_env):
    recorder = Recorder()
    async with make_env(subscriptions=[recorder.subscription()]) as env:
        event_id = await publish(env)
        await env.drain()
        assert await consumed(env) == 1
        envelope = recorder.seen[0]
        async with env.uow() as uow:  # the transport delivers the same event again
            uow.session.add(
                EventDelivery(
                    consumer="tests.recorder",
                    event_id=event_id,
                    event_type=EVENT,
                    envelope=envelope.to_dict(),
                    attempts=0,
                    next_attempt_at=env.clock.now(),
                )
            )
        await env.drain()
        assert len(recorder.seen) == 1
        assert await consumed(env) == 1
        assert await env.count("event_deliveries") == 0
        assert await env.count("inbox") == 1


async def test_concurrent_duplicate_deliveries_apply_once(make_env):
    recorder = Recorder()
    async with make_env(subscriptions=[recorder.subscription()]) as env:
        await publish(env)
        workers = env.app.state.workers
        await workers.relay.drain()
        async with env.db.sessionmaker() as session:
            delivery = await session.scalar(select(EventDelivery))
        envelope = Envelope.from_dict(delivery.envelope)
        await asyncio.gather(
            *(workers.consumer.attempt(delivery.consumer, delivery.event_id, envelope) for _ in range(8))
        )
        assert await consumed(env) == 1
        assert len(recorder.seen) == 1


async def test_consumer_crashing_halfway_leaves_nothing_and_the_retry_completes(make_env):
    recorder = Recorder(failures=1, crash_after_effect=True)
    async with make_env(subscriptions=[recorder.subscription()]) as env:
        await publish(env)
        await env.drain()
        assert len(recorder.seen) == 1
        assert await consumed(env) == 0  # the effect written before the crash was rolled back
        assert await env.count("inbox") == 0
        async with env.db.sessionmaker() as session:
            delivery = await session.scalar(select(EventDelivery))
        assert delivery.attempts == 1
        assert "consumer failed on purpose" in delivery.last_error
        assert delivery.next_attempt_at > env.clock.now()  # backoff, not an immediate busy loop

        env.clock.advance(minutes=5)
        await env.drain()
        assert len(recorder.seen) == 2
        assert await consumed(env) == 1
        assert await env.count("event_deliveries") == 0


async def test_failing_consumer_retries_with_backoff_then_dead_letters_and_replays(make_env):
    recorder = Recorder(failures=10)
    async with make_env(subscriptions=[recorder.subscription()]) as env:
        event_id = await publish(env)
        await env.drain()
        assert len(recorder.seen) == 1
        await env.drain()
        assert len(recorder.seen) == 1  # not due yet
        for attempt in (2, 3):
            env.clock.advance(minutes=10)
            await env.drain()
            assert len(recorder.seen) == attempt
        async with env.db.sessionmaker() as session:
            [dead] = await list_dead_letters(session)
        assert (dead.consumer, dead.event_id, dead.event_type, dead.attempts) == ("tests.recorder", event_id, EVENT, 3)
        assert "consumer failed on purpose" in dead.error
        assert await env.count("event_deliveries") == 0
        env.clock.advance(hours=1)
        await env.drain()
        assert len(recorder.seen) == 3  # dead letters are not retried on their own

        recorder.failures = 0
        async with env.db.sessionmaker() as session, session.begin():
            assert await replay_dead_letter(session, dead.id, env.clock.now())
            assert not await replay_dead_letter(session, dead.id, env.clock.now())  # once only
        await env.drain()
        assert len(recorder.seen) == 4
        assert await consumed(env) == 1
        async with env.db.sessionmaker() as session:
            assert await list_dead_letters(session) == []
            replayed = await session.get(DeadLetter, dead.id)
            assert replayed.replayed_at is not None
            assert await session.get(InboxEntry, ("tests.recorder", event_id)) is not None


async def test_background_workers_deliver_without_being_asked(make_env, monkeypatch):
    recorder = Recorder()
    async with make_env(subscriptions=[recorder.subscription()]) as env:
        workers = env.app.state.workers
        workers.enabled = True
        workers.start()
        try:
            await publish(env)
            for _ in range(100):
                if recorder.seen:
                    break
                await asyncio.sleep(0.02)
            assert len(recorder.seen) == 1
            assert workers.status() == "ok"
        finally:
            await workers.stop()


async def test_after_commit_callbacks_run_only_when_the_unit_commits(env):
    ran: list[str] = []
    async with env.uow() as uow:
        uow.after_commit(lambda: ran.append("committed"))
        assert ran == []
    assert ran == ["committed"]
    with pytest.raises(RuntimeError):
        async with env.uow() as uow:
            uow.after_commit(lambda: ran.append("rolled back"))
            raise RuntimeError("the use case failed")
    assert ran == ["committed"]


async def test_a_process_serving_other_contexts_relays_for_consumers_it_does_not_run(env):
    from caremesh.platform.messaging.bus import Subscriptions
    from caremesh.platform.messaging.runtime import Workers

    recorder = Recorder()
    everyone = Subscriptions([recorder.subscription()])
    factory, settings = env.app.state.uow_factory, env.app.state.settings.messaging
    relaying = Workers(factory, Subscriptions(), settings, every_subscription=everyone)  # e.g. --contexts patients
    consuming = Workers(factory, everyone, settings)  # the process that runs the consumer

    await publish(env)
    await relaying.drain()
    assert recorder.seen == []  # not this process's consumer: left for the one that runs it
    assert await env.count("event_deliveries", "consumer = 'tests.recorder'") == 1
    await consuming.consumer.run_once()
    assert len(recorder.seen) == 1
    assert await consumed(env) == 1


async def test_a_payload_the_event_class_refuses_is_retried_then_dead_lettered_with_the_reason(make_env):
    recorder = Recorder()
    async with make_env(subscriptions=[recorder.subscription()]) as env:
        async with env.uow() as uow:
            event_id = uow.publish_payload(EVENT, {"n": "not-a-number"}).id
        for _ in range(3):
            await env.drain()
            env.clock.advance(minutes=10)
        async with env.db.sessionmaker() as session:
            [dead] = await list_dead_letters(session)
        assert recorder.seen == []  # the handler never sees what its class cannot read
        assert (dead.event_id, dead.attempts) == (event_id, 3)
        assert "EventPayloadInvalid: test.happened payload refused: n: Input should be a valid integer" in dead.error
        assert await consumed(env) == 0


async def test_a_consumer_that_skips_unreadable_payloads_is_done_with_them(make_env):
    recorder = Recorder()
    skipping = Subscription("tests.recorder", Happened, recorder, skip_invalid=True)
    async with make_env(subscriptions=[skipping]) as env:
        async with env.uow() as uow:
            envelope = uow.publish_payload(EVENT, {})
        await env.drain()
        assert recorder.seen == []
        assert await env.count("inbox", "event_id = :id", id=envelope.id.hex) == 1
        assert await env.count("dead_letters") == 0
        assert await env.count("event_deliveries") == 0
