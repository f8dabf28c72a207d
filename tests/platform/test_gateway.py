"""`caremesh gateway`: the nginx configuration routes every API path to a process serving its context. Checked
on the rules themselves, and for real: nginx (Debian's package) in front of three `caremesh serve --contexts`
processes, two of them replicas, through an order saga that crosses them, a replica killed with SIGKILL, and
nginx's own refusals as problem+json."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from caremesh.app import create_app
from caremesh.contexts import CONTEXTS
from caremesh.gateway import GatewayProblem, Limits, Route, context_paths, locations, parse_routes, render
from tests.builders.orders import prescription
from tests.builders.patients import patient_body
from tests.builders.pharmacy import medication_body
from tests.builders.practitioners import practitioner_body
from tests.harness import POSTGRES_URL, delete_streams, dies_with_test, drop_schemas, free_port, process_env

NATS_URL = os.environ.get("CAREMESH_TEST_NATS_URL")

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
ADMIN = {"email": "gateway-admin@example.org", "password": "gateway-admin-password-1"}
FRONT = "identity,audit,patients,facilities,practitioners,scheduling,records,fhir"
BACK = "billing,payments,insurance,pharmacy,lab,imaging,orders,claims,notifications"


def _route_of(path: str, rules: list[tuple[str, str]]) -> str | None:
    """nginx's choice for `path`: the first matching regular expression, else the longest matching prefix."""
    import re

    for location, context in rules:
        if location.startswith("~ ") and re.match(location[2:], path):
            return context
    prefixes = [(loc, ctx) for loc, ctx in rules if not loc.startswith("~ ") and path.startswith(loc)]
    return max(prefixes, key=lambda item: len(item[0]))[1] if prefixes else None


def test_every_api_path_goes_to_the_context_that_serves_it():
    paths = context_paths()
    rules = locations(paths)
    for context, templates in paths.items():
        for template in templates:
            concrete = template.replace("{", "x").replace("}", "")
            assert _route_of(concrete, rules) == context, template
    served = {template for templates in paths.values() for template in templates}
    documented = {path for path in create_app().openapi()["paths"] if path.startswith("/api/v1/")}
    assert documented == served  # nothing the app serves is left out of the gateway


def test_contexts_sharing_a_first_segment_are_told_apart_by_their_templates():
    rules = locations({"a": ["/api/v1/things/{id}", "/api/v1/things"], "b": ["/api/v1/things/{id}/chart"]})
    assert _route_of("/api/v1/things/42/chart", rules) == "b"
    assert _route_of("/api/v1/things/42", rules) == "a"
    assert _route_of("/api/v1/things", rules) == "a"


@pytest.mark.parametrize(
    ("routes", "says"),
    [
        (["billing=127.0.0.1"], "HOST:PORT"),
        (["billing"], "CONTEXT[,CONTEXT...]=HOST:PORT"),
        (["billing,nope=127.0.0.1:1"], "unknown context(s): nope"),
        (["billing=127.0.0.1:1"], "no route serves: identity"),
    ],
)
def test_bad_routes_are_refused_clearly(routes, says):
    with pytest.raises(GatewayProblem, match=None) as caught:
        render("127.0.0.1:8080", parse_routes(routes))
    assert says in str(caught.value)


def test_replicas_share_one_upstream_and_limits_are_written():
    text = render(
        "127.0.0.1:8080",
        [Route(CONTEXTS, "127.0.0.1:9001"), Route(("billing",), "127.0.0.1:9002")],
        Limits(max_body_bytes=2048, requests_per_second=7, burst=3),
    )
    billing = text[text.index("upstream billing {") : text.index("}", text.index("upstream billing {"))]
    assert "server 127.0.0.1:9001" in billing
    assert "server 127.0.0.1:9002" in billing
    assert "client_max_body_size 2048;" in text
    assert "rate=7r/s" in text
    assert "burst=3" in text


def test_an_operation_that_takes_larger_bodies_gets_its_own_limit_before_the_prefixes():
    text = render("127.0.0.1:8080", [Route(CONTEXTS, "127.0.0.1:9001")])
    attachments = r"location ~ ^/api/v1/disputes/[^/]+/attachments$ {"
    assert attachments in text
    block = text[text.index(attachments) : text.index("}", text.index(attachments))]
    assert "client_max_body_size 10551296;" in block  # 10 MiB and the multipart framing
    assert "proxy_pass http://claims;" in block
    assert text.index(attachments) < text.index("location /api/v1/disputes {")
    assert "client_max_body_size 1048576;" in text  # everything else


# --- for real: nginx in front of three processes -------------------------------------------------------------


def _wait_until_ready(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not become ready in {seconds} s")


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (.ci/run installs Debian's package)")
    workdir = tmp_path_factory.mktemp("gateway")
    schema = f"cm_gw_{uuid.uuid4().hex[:8]}"
    database = (
        {"CAREMESH_DATABASE_URL": POSTGRES_URL, "CAREMESH_DATABASE_SCHEMA": schema}
        if POSTGRES_URL
        else {"CAREMESH_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'caremesh.db'}"}
    )
    env = process_env(ADMIN["email"], ADMIN["password"], {**database, "CAREMESH_JWT_SECRET": uuid.uuid4().hex * 2})
    namespace = f"cmgw_{uuid.uuid4().hex[:10]}"
    if POSTGRES_URL and NATS_URL:  # the distributed mode: events through NATS (else through the event tables)
        env |= {"CAREMESH_BROKER_URL": NATS_URL, "CAREMESH_BROKER_NAMESPACE": namespace}
    caremesh = [str(Path(sys.executable).parent / "caremesh")]
    subprocess.run([*caremesh, "migrate"], env=env, cwd=workdir, check=True, capture_output=True)
    processes: dict[str, subprocess.Popen] = {}
    ports = {"front": free_port(), "back-1": free_port(), "back-2": free_port(), "nginx": free_port()}
    try:
        for name, contexts in (("front", FRONT), ("back-1", BACK), ("back-2", BACK)):
            processes[name] = subprocess.Popen(
                [*caremesh, "serve", "--no-migrate", "--contexts", contexts, "--port", str(ports[name])],
                env=env,
                cwd=workdir,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=dies_with_test,
            )
            _wait_until_ready(f"http://127.0.0.1:{ports[name]}/health/ready", processes[name])
        backs = [f"{BACK}=127.0.0.1:{ports[name]}" for name in ("back-1", "back-2")]
        routes = [f"{FRONT}=127.0.0.1:{ports['front']}", *backs]
        conf = workdir / "nginx.conf"
        conf.write_text(render(f"127.0.0.1:{ports['nginx']}", parse_routes(routes), Limits(max_body_bytes=64 * 1024)))
        processes["nginx"] = subprocess.Popen(
            [NGINX, "-p", str(workdir), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=dies_with_test,
        )
        _wait_until_ready(f"http://127.0.0.1:{ports['nginx']}/gateway/health", processes["nginx"])
        yield {"base": f"http://127.0.0.1:{ports['nginx']}", "processes": processes}
    finally:
        for process in processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        if POSTGRES_URL:
            drop_schemas(schema)
        if POSTGRES_URL and NATS_URL:
            delete_streams(NATS_URL, namespace)


def _login(client: httpx.Client) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json=ADMIN)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _created(response: httpx.Response) -> dict:
    assert response.status_code in (201, 202), response.text
    return response.json()


def test_an_order_saga_across_processes_through_the_gateway_survives_a_killed_replica(topology):
    with httpx.Client(base_url=topology["base"], timeout=10) as client:
        admin = _login(client)
        patient = _created(client.post("/api/v1/patients", json=patient_body(), headers=admin))
        practitioner = _created(client.post("/api/v1/practitioners", json=practitioner_body(), headers=admin))
        medication = _created(client.post("/api/v1/medications", json=medication_body(stock_quantity=5), headers=admin))
        order = _created(
            client.post("/api/v1/orders", json=prescription(patient, practitioner, (medication, 2)), headers=admin)
        )

        deadline = time.monotonic() + 30
        while (state := client.get(f"/api/v1/orders/{order['id']}", headers=admin).json())["status"] == "pending":
            assert time.monotonic() < deadline, "the saga did not finish"
            time.sleep(0.2)
        assert state["status"] == "confirmed", state
        invoice = client.get(f"/api/v1/invoices/{state['invoice_id']}", headers=admin).json()

        os.killpg(topology["processes"]["back-1"].pid, signal.SIGKILL)
        topology["processes"]["back-1"].wait(timeout=10)

        key = {"Idempotency-Key": uuid.uuid4().hex}
        body = {"invoice_id": invoice["id"], "amount": invoice["balance_due"], "method": "cash"}
        paid = client.post("/api/v1/payments", json=body, headers=admin | key)
        again = client.post("/api/v1/payments", json=body, headers=admin | key)
        reads = [client.get(f"/api/v1/orders/{order['id']}", headers=admin).status_code for _ in range(6)]

    assert paid.status_code == 201, paid.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert reads == [200] * 6  # the surviving replica answers every one


def test_the_gateway_answers_its_own_refusals_as_problems(topology):
    with httpx.Client(base_url=topology["base"], timeout=10) as client:
        json_type = {"Content-Type": "application/json"}
        too_large = client.post("/api/v1/patients", content=b"x" * (128 * 1024), headers=json_type)
        unknown = client.get("/api/v1/nothing-here")
        request_id = client.get("/health/live", headers={"X-Request-ID": "from-the-client"})

    assert too_large.status_code == 413
    assert too_large.headers["content-type"].startswith("application/problem+json")
    assert too_large.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert unknown.status_code == 404  # passed on to a process, which answers as the API does
    assert unknown.json()["code"] == "NOT_FOUND"
    assert request_id.headers["X-Request-ID"] == "from-the-client"


def test_fhir_goes_through_the_gateway_to_the_process_serving_it(topology):
    with httpx.Client(base_url=topology["base"], timeout=10) as client:
        metadata = client.get("/fhir/R4/metadata")
        unauthenticated = client.get("/fhir/R4/Patient")

    assert metadata.status_code == 200
    assert metadata.headers["content-type"].startswith("application/fhir+json")
    assert metadata.json()["resourceType"] == "CapabilityStatement"
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["resourceType"] == "OperationOutcome"


def test_the_web_app_loads_through_the_gateway(topology):
    with httpx.Client(base_url=topology["base"], timeout=10) as client:
        home = client.get("/")
        page = client.get("/app/")
        script = client.get("/app/js/main.js")

    assert home.status_code in (302, 307)
    assert home.headers["location"].endswith("/app/")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
