"""Self-registration end to end: the verification email reaches the mail server with a working token that no stored
message keeps; the token confirms the account, which then logs in as a patient with their own record."""

from __future__ import annotations

import re

from sqlalchemy import select

from caremesh.notifications.models import Notification
from tests.builders.notifications import list_notifications
from tests.notifications.helpers import smtp_server

EMAIL = "new.patient@example.org"
PASSWORD = "a-long-enough-passphrase-42"
TOKEN_LINE = re.compile(r"^ {4}(\S+)\r?$", re.MULTILINE)


async def test_a_patient_signs_up_confirms_the_emailed_token_and_logs_in(make_env):
    with smtp_server() as server:
        async with make_env(self_registration=True, notifications={"smtp_url": server.url}) as env:
            body = {
                "email": EMAIL,
                "password": PASSWORD,
                "first_name": "Nila",
                "last_name": "Menon",
                "date_of_birth": "1985-11-30",
            }
            assert (await env.client.post("/api/v1/auth/register", json=body)).status_code == 202

            await env.drain()

            [received] = server.messages
            assert received["To"] == EMAIL
            assert received["Subject"] == "Confirm your caremesh account"
            token = TOKEN_LINE.search(received.get_content()).group(1)
            [message] = await list_notifications(env)
            assert (message["template"], message["recipient_id"], message["status"]) == (
                "email_verification.email",
                None,
                "sent",
            )
            assert "\n    [redacted]\n" in message["body"]
            async with env.db.engine.connect() as connection:
                rows = [dict(row._mapping) for row in await connection.execute(select(Notification.__table__))]
            assert all(token not in repr(row) for row in rows)

            verified = await env.client.post("/api/v1/auth/verify-email", json={"token": token})
            assert verified.status_code == 204, verified.text
            login = await env.client.post("/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
            assert login.status_code == 200, login.text
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            me = (await env.client.get("/api/v1/auth/me", headers=headers)).json()
            record = await env.client.get(f"/api/v1/patients/{me['patient_id']}", headers=headers)
            assert (record.json()["first_name"], record.json()["email"]) == ("Nila", EMAIL)
