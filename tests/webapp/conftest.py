"""The web app in a real browser: Playwright drives Debian's Chromium (no browser download) against a real
`caremesh serve --demo` process, on SQLite or, in the PostgreSQL run, on a throwaway PostgreSQL installation.

One server per test worker, seeded with the demo; each journey creates the people and visits it works on, so the
journeys share the server without depending on one another."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, Route, async_playwright, expect

from tests.harness import POSTGRES_URL, dies_with_test, drop_schemas, free_port, process_env

CHROMIUM = Path(os.environ.get("CAREMESH_TEST_CHROMIUM", "/usr/bin/chromium"))
# `.ci/run` installs Chromium and sets this: there a missing browser fails the run instead of skipping it.
BROWSER_REQUIRED = os.environ.get("CAREMESH_TEST_BROWSER_REQUIRED") == "1"
BROWSER_TIMEZONE = "Pacific/Honolulu"
CAREMESH = str(Path(sys.executable).with_name("caremesh"))

expect.set_options(timeout=15_000)


@dataclass(frozen=True)
class LiveServer:
    url: str
    passwords: dict[str, str]

    def email(self, role: str) -> str:
        return f"{role.replace('_', '.')}@clinic.example.org"

    def api(self, role: str) -> httpx.Client:
        """A plain HTTP client signed in as the demo user of `role`, to check what the app did."""
        client = httpx.Client(base_url=f"{self.url}/api/v1", timeout=30)
        login = client.post("/auth/login", json={"email": self.email(role), "password": self.passwords[role]})
        login.raise_for_status()
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        return client


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"caremesh serve exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/health/live", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"caremesh serve did not answer in time:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("webapp")
    variables = {"CAREMESH_DATABASE_URL": f"sqlite+aiosqlite:///{home / 'caremesh.db'}"}
    schema = None
    if POSTGRES_URL:
        schema = f"cm_web_{uuid.uuid4().hex[:8]}"
        variables = {"CAREMESH_DATABASE_URL": POSTGRES_URL, "CAREMESH_DATABASE_SCHEMA": schema}
    # The demo makes its own admin: no CAREMESH_ADMIN_* for it to collide with.
    environment = {k: v for k, v in process_env("", "", variables).items() if not k.startswith("CAREMESH_ADMIN_")}
    if POSTGRES_URL:
        subprocess.run([CAREMESH, "migrate"], cwd=home, env=environment, check=True, capture_output=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = home / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [CAREMESH, "serve", "--demo", "--port", str(port)],
            cwd=home,
            env=environment,
            stdout=output,
            stderr=output,
            preexec_fn=dies_with_test,
        )
    try:
        _wait_until_up(url, process, log)
        passwords = json.loads((home / ".caremesh-demo.json").read_text())["passwords"]
        yield LiveServer(url=url, passwords=passwords)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        if schema:
            drop_schemas(schema)


@dataclass
class App:
    """One browser tab on the web app, with what went wrong in it (page errors, console errors) collected."""

    page: Page
    server: LiveServer
    problems: list[str]

    async def open(self, path: str = "") -> None:
        await self.page.goto(f"{self.server.url}/app/#/{path}")

    async def sign_in(self, role: str) -> None:
        await self.open()
        await self.page.get_by_label("Email").fill(self.server.email(role))
        await self.page.get_by_label("Password").fill(self.server.passwords[role])
        await self.page.get_by_role("button", name="Sign in").click()
        await expect(self.page.get_by_role("button", name="Sign out")).to_be_visible()

    async def go(self, path: str) -> None:
        """Navigate inside the app (as a link would)."""
        await self.page.evaluate("path => { location.hash = '#/' + path }", path)

    async def screenshot(self, name: str) -> None:
        """Keep a picture of the screen for people to look at (`CAREMESH_TEST_SCREENSHOTS=dir`)."""
        folder = os.environ.get("CAREMESH_TEST_SCREENSHOTS")
        if folder:  # Playwright makes the folder
            await self.page.screenshot(path=os.path.join(folder, f"{name}.png"), full_page=True)


@pytest.fixture
async def app(live_server: LiveServer) -> AsyncIterator[App]:
    """A fresh browser per test (Playwright's async API: its sync API cannot share a process with the suite's
    asyncio tests)."""
    if not os.access(CHROMIUM, os.X_OK):
        if BROWSER_REQUIRED:
            pytest.fail(f"Chromium is not at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"Chromium is not at {CHROMIUM} (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        # The clinic (the demo server) keeps UTC; the browser is ten hours behind, so a screen that showed the
        # computer's time or counted the computer's day instead of the clinic's would show it (ui.js).
        context = await browser.new_context(
            viewport={"width": 1366, "height": 800}, locale="en-GB", timezone_id=BROWSER_TIMEZONE
        )
        problems: list[str] = []

        # Works offline: anything the app asks of another origin (a CDN, a font service) fails the test.
        async def refuse(route: Route) -> None:
            problems.append(f"request to another origin: {route.request.url}")
            await route.abort()

        await context.route(re.compile(rf"^(?!{re.escape(live_server.url)}/)"), refuse)
        page = await context.new_page()
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        yield App(page=page, server=live_server, problems=problems)
        await browser.close()
    # A failed API call the test provoked shows in the console as a failed resource load; anything else is a bug.
    unexpected = [p for p in problems if "Failed to load resource" not in p]
    assert not unexpected, unexpected
