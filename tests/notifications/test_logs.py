"""Contact details and message text are personal data: they never reach the logs."""

from __future__ import annotations

import json

from caremesh.platform.settings import AppSettings, NotificationSettings
from tests import harness
from tests.builders.notifications import advance, make_notification, publish
from tests.builders.notifications import invoice_issued as invoice_issued_payload
from tests.builders.patients import make_patient
from tests.builders.practitioners import make_practitioner
from tests.builders.scheduling import make_appointment
from tests.notifications.helpers import free_port, webhook

PERSON = {
    "first_name": "Zephyrine",
    "last_name": "Quillborough",
    "email": "zq.mail@example.net",
    "phone": "+447700900123",
}
SECRET_TEXT = "Quartzlight visiting protocol"


async def test_sending_logs_ids_never_addresses_or_text(migrated_database, tmp_path, capsys):
    settings = harness.settings_for_tests(await migrated_database.fresh(tmp_path), tmp_path)
    settings.app = AppSettings(timezone="UTC", log_level="DEBUG", log_json=True)
    with webhook(statuses=[500, 200]) as hook:
        # Email fails (nobody listens on the SMTP port) and is retried; SMS fails once, then goes.
        settings.notifications = NotificationSettings(
            smtp_url=f"smtp://127.0.0.1:{free_port()}", sms_webhook_url=hook.url, notification_backoff_base_seconds=1
        )
        async with harness.running_env(settings) as env:
            patient = await make_patient(env, **PERSON)
            doctor = await make_practitioner(env)
            await make_appointment(env, patient_id=patient["id"], practitioner_id=doctor["id"])
            await publish(env, "invoice.issued", invoice_issued_payload(patient["id"]))
            await make_notification(env, recipient="ward.secret@example.org", subject=SECRET_TEXT, body=SECRET_TEXT)
            await env.drain()
            await advance(env, minutes=1)
            await env.drain()
        assert len(hook.requests) == 3  # two SMS, one of them twice

    output = capsys.readouterr().out

    events = [json.loads(line).get("event") for line in output.splitlines() if line.strip()]
    assert {"notification_retry_scheduled", "notification_sent"} <= set(events), "the logs were not captured"
    needles = [*PERSON.values(), "447700900123", "ward.secret", SECRET_TEXT.lower(), "dear zephyrine"]
    lowered = output.lower()
    assert [n for n in needles if n.lower() in lowered] == []
