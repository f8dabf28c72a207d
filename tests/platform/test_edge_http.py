"""The HTTP edge: docs that load offline, `/` leads to them, CORS for configured origins only, a correct
`Allow` on 405, no caching of API answers, and /metrics behind an optional token."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest

from caremesh.platform.api import API_PREFIX
from tests.builders.patients import make_patient
from tests.harness import assert_problem

APP_ORIGIN = "https://app.example.org"
OTHER_ORIGIN = "https://evil.example.net"
PATIENTS = f"{API_PREFIX}/patients"
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".json": "application/json"}
URL_IN_HTML = re.compile(r"""(?:src|href|spec-url)=["']([^"']+)["']|url:\s*'([^']+)'""")


def referenced_urls(html: str) -> list[str]:
    return [a or b for a, b in URL_IN_HTML.findall(html)]


def cors_headers(response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


# --- docs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_reference_only_local_assets_that_answer(env, page):
    response = await env.client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")

    urls = referenced_urls(response.text)
    assert len(urls) >= 3, urls  # script, stylesheet or favicon, and the OpenAPI document
    assert not re.search(r"https?://", response.text), "the page must not reach another host"
    assert "fonts.googleapis" not in response.text
    for url in urls:
        assert not urlsplit(url).netloc, url
        asset = await env.client.get(urljoin(f"http://test{page}", url))
        assert asset.status_code == 200, url
        suffix = "." + url.rsplit(".", 1)[-1]
        assert asset.headers["content-type"].startswith(ASSET_TYPES[suffix]), (url, asset.headers["content-type"])
        assert len(asset.content) > 1000, url


async def test_swagger_ui_keeps_the_authorization_and_the_oauth2_redirect(env):
    html = (await env.client.get("/docs")).text

    assert '"persistAuthorization": true' in html
    assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in html
    redirect = await env.client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200
    assert "swaggerUIRedirectOauth2" in redirect.text


async def test_the_root_leads_to_the_web_app(env):
    response = await env.client.get("/")

    assert response.status_code in (302, 307)
    assert response.headers["location"] == "/app/"
    app = await env.client.get("/app", follow_redirects=True)
    assert app.status_code == 200
    assert app.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in app.headers["content-security-policy"]
    assert '<script type="module" src="js/main.js">' in app.text


async def test_the_docs_assets_may_be_cached_but_api_answers_may_not(env):
    asset = await env.client.get("/static/docs/swagger-ui-bundle.js")

    assert asset.status_code == 200
    assert "no-store" not in asset.headers.get("cache-control", "")
    assert asset.headers.get("etag")


# --- Cache-Control ----------------------------------------------------------------------------------


async def test_every_api_answer_with_or_without_patient_data_is_no_store(env):
    patient = await make_patient(env)

    answers = [
        await env.client.get(f"{PATIENTS}/{patient['id']}", headers=env.admin),
        await env.client.get(PATIENTS, headers=env.admin),
        await env.client.patch(f"{PATIENTS}/{patient['id']}", json={"first_name": "Mira"}, headers=env.admin),
        await env.client.get(f"{PATIENTS}/00000000-0000-4000-8000-000000000000", headers=env.admin),
        await env.client.get(PATIENTS),
        await env.client.post(
            f"{API_PREFIX}/auth/login", json={"email": "x@example.org", "password": "nope-nope-nope"}
        ),
    ]

    assert [r.status_code for r in answers] == [200, 200, 200, 404, 401, 401]
    assert all(r.headers["cache-control"] == "no-store" for r in answers), [r.headers for r in answers]


# --- 405 and Allow ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", PATIENTS, "GET, POST"),
        ("PUT", PATIENTS, "GET, POST"),
        ("OPTIONS", f"{PATIENTS}/00000000-0000-4000-8000-000000000000", "GET, PATCH, DELETE"),
        ("POST", f"{API_PREFIX}/audit-events", "GET"),
    ],
)
async def test_a_405_names_every_method_of_the_path(env, method, path, allow):
    response = await env.client.request(method, path, headers=env.admin)

    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == allow


async def test_without_cors_origins_a_preflight_gets_no_cors_headers(env):
    response = await env.client.options(
        PATIENTS, headers={"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST"}
    )

    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "GET, POST"
    assert cors_headers(response) == {}


# --- CORS -------------------------------------------------------------------------------------------


async def test_a_preflight_from_an_allowed_origin_is_answered(make_env):
    async with make_env(http={"cors_origins": f"{APP_ORIGIN}, http://localhost:5173"}) as env:
        response = await env.client.options(
            PATIENTS,
            headers={
                "Origin": APP_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,idempotency-key,if-match,x-request-id",
            },
        )

        assert response.status_code in (200, 204), response.text
        assert response.headers["access-control-allow-origin"] == APP_ORIGIN
        methods = {m.strip() for m in response.headers["access-control-allow-methods"].split(",")}
        assert {"GET", "POST", "PATCH", "PUT", "DELETE"} <= methods
        allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
        assert {"authorization", "content-type", "idempotency-key", "if-match", "x-request-id"} <= allowed
        assert "access-control-allow-credentials" not in response.headers  # bearer tokens, no cookies


async def test_an_allowed_origin_may_read_the_answer_and_its_headers(make_env):
    async with make_env(http={"cors_origins": APP_ORIGIN}) as env:
        response = await env.client.post(
            PATIENTS,
            json={"first_name": "Asha", "last_name": "Rao", "date_of_birth": "1985-04-12", "gender": "female"},
            headers={**env.admin, "Origin": APP_ORIGIN},
        )

        assert response.status_code == 201, response.text
        assert response.headers["access-control-allow-origin"] == APP_ORIGIN
        exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
        assert {"etag", "x-request-id", "idempotent-replayed", "retry-after", "location"} <= exposed
        assert "origin" in response.headers["vary"].lower()


async def test_another_origin_gets_no_cors_headers_at_all(make_env):
    async with make_env(http={"cors_origins": APP_ORIGIN}) as env:
        preflight = await env.client.options(
            PATIENTS, headers={"Origin": OTHER_ORIGIN, "Access-Control-Request-Method": "POST"}
        )
        simple = await env.client.get(PATIENTS, headers={**env.admin, "Origin": OTHER_ORIGIN})

        assert_problem(preflight, 405, "METHOD_NOT_ALLOWED")
        assert preflight.headers["allow"] == "GET, POST"
        assert simple.status_code == 200
        assert cors_headers(preflight) == cors_headers(simple) == {}
        assert "origin" in simple.headers["vary"].lower()  # a cache must not hand this answer to the app's origin


async def test_cors_origins_must_be_origins():
    from pydantic import ValidationError

    from caremesh.platform.settings import HttpSettings

    assert HttpSettings(cors_origins="https://a.example.org/, http://localhost:5173").cors_origins == [
        "https://a.example.org",
        "http://localhost:5173",
    ]
    assert HttpSettings(cors_origins="").cors_origins == []
    with pytest.raises(ValidationError):
        HttpSettings(cors_origins="a.example.org")
    with pytest.raises(ValidationError):
        HttpSettings(cors_origins="https://a.example.org/app")


# --- /metrics ---------------------------------------------------------------------------------------


async def test_metrics_are_open_without_a_token(env):
    response = await env.client.get("/metrics")

    assert response.status_code == 200
    assert "http_requests_total" in response.text


@pytest.mark.parametrize("path", ["/metrics", f"{API_PREFIX}/metrics"])
async def test_metrics_need_the_token_when_one_is_set(make_env, path):
    async with make_env(http={"metrics_token": "s3cret-metrics-token"}) as env:
        missing = await env.client.get(path)
        wrong = await env.client.get(path, headers={"Authorization": "Bearer s3cret-metrics-tokeN"})
        user_token = await env.client.get(path, headers=env.admin)
        basic = await env.client.get(path, headers={"Authorization": "Basic s3cret-metrics-token"})
        right = await env.client.get(path, headers={"Authorization": "Bearer s3cret-metrics-token"})

        for refused in (missing, wrong, user_token, basic):
            assert_problem(refused, 401, "UNAUTHENTICATED")
            assert refused.headers["www-authenticate"] == "Bearer"
            assert "http_requests_total" not in refused.text
        assert right.status_code == 200
        assert "http_requests_total" in right.text


async def test_health_stays_open_when_metrics_have_a_token(make_env):
    async with make_env(http={"metrics_token": "s3cret-metrics-token"}) as env:
        assert (await env.client.get("/health/live")).status_code == 200
