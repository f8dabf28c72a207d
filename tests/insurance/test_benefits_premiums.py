"""Benefits (one per category, money and percent rules) and premium rates (bands never overlap, quotes)."""

from __future__ import annotations

import asyncio

import pytest

from tests.builders.insurance import SCHEMES, add_benefit, add_rate, benefit_body, make_scheme
from tests.harness import assert_problem


def ok(response):
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_benefit_per_category_per_scheme(env):
    scheme = await make_scheme(env)
    benefit = await add_benefit(env, scheme, coverage_percent="87.5", copay_amount=50, annual_limit="10000")

    assert benefit["coverage_percent"] == "87.50"
    assert (benefit["copay_amount"], benefit["deductible"], benefit["annual_limit"]) == ("50.00", "0.00", "10000.00")
    again = await env.client.post(f"{SCHEMES}/{scheme['id']}/benefits", json=benefit_body(), headers=env.admin)
    assert_problem(again, 409, "BENEFIT_EXISTS")
    await add_benefit(env, scheme, category="lab")
    listed = await env.client.get(f"{SCHEMES}/{scheme['id']}/benefits", headers=env.admin)
    assert [b["category"] for b in listed.json()["items"]] == ["consultation", "lab"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"coverage_percent": "100.01"},
        {"coverage_percent": "-1"},
        {"coverage_percent": "50.125"},
        {"copay_amount": "-0.01"},
        {"deductible": "10.001"},
        {"annual_limit": "-5"},
        {"category": "dental"},
        {"requires_preauth": "maybe"},
    ],
)
async def test_malformed_benefits_are_refused_with_422(env, overrides):
    scheme = await make_scheme(env)
    response = await env.client.post(
        f"{SCHEMES}/{scheme['id']}/benefits", json=benefit_body(**overrides), headers=env.admin
    )
    assert_problem(response, 422, "VALIDATION_ERROR")
    assert await env.count("insurance_benefits") == 0


async def test_premium_bands_of_a_scheme_never_overlap(env):
    scheme = await make_scheme(env)
    other = await make_scheme(env)
    await add_rate(env, scheme, 0, 17, "300.00")
    await add_rate(env, scheme, 18, 40, "500.00")
    await add_rate(env, other, 10, 30, "450.00")  # another scheme's bands are its own

    url = f"{SCHEMES}/{scheme['id']}/premium-rates"
    for band in [(17, 20), (40, 40), (0, 150), (5, 6)]:
        body = {"min_age": band[0], "max_age": band[1], "monthly_premium": "1.00"}
        assert_problem(await env.client.post(url, json=body, headers=env.admin), 409, "OVERLAPPING_PREMIUM_BANDS")
    bad = {"min_age": 50, "max_age": 41, "monthly_premium": "1.00"}
    assert_problem(await env.client.post(url, json=bad, headers=env.admin), 422, "VALIDATION_ERROR")
    await add_rate(env, scheme, 41, 150, "900.00")
    listed = await env.client.get(url, headers=env.admin)
    assert [(r["min_age"], r["max_age"]) for r in listed.json()["items"]] == [(0, 17), (18, 40), (41, 150)]


async def test_concurrent_overlapping_bands_one_wins(env):
    scheme = await make_scheme(env)
    url = f"{SCHEMES}/{scheme['id']}/premium-rates"
    await env.warm_pool(8)
    bodies = [{"min_age": 20 + n, "max_age": 40 + n, "monthly_premium": "100.00"} for n in range(8)]

    responses = await asyncio.gather(*(env.client.post(url, json=b, headers=env.admin) for b in bodies))

    assert sorted(r.status_code for r in responses) == [201] + [409] * 7, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "OVERLAPPING_PREMIUM_BANDS")
    assert await env.count("insurance_premium_rates") == 1


@pytest.mark.parametrize(
    ("date_of_birth", "age", "premium"),
    [
        ("2030-01-07", 0, "300.00"),  # born today
        ("2012-01-08", 17, "300.00"),  # 18 tomorrow: still the upper edge of 0-17
        ("2012-01-07", 18, "500.00"),  # 18th birthday today: the lower edge of 18-40
        ("1989-01-08", 40, "500.00"),  # max_age inclusive
        ("1989-01-07", 41, "900.00"),
    ],
)
async def test_premium_quote_takes_the_age_on_todays_clinic_date(env, date_of_birth, age, premium):
    scheme = await make_scheme(env)
    await add_rate(env, scheme, 0, 17, "300.00")
    await add_rate(env, scheme, 18, 40, "500.00")
    await add_rate(env, scheme, 41, 64, "900.00")

    response = await env.client.get(
        f"{SCHEMES}/{scheme['id']}/premium-quote", params={"date_of_birth": date_of_birth}, headers=env.admin
    )

    assert response.status_code == 200, response.text
    quote = response.json()
    assert (quote["age"], quote["monthly_premium"], quote["on"]) == (age, premium, "2030-01-07")


async def test_premium_quote_without_a_band_is_404_and_a_future_birth_422(env):
    scheme = await make_scheme(env)
    await add_rate(env, scheme, 18, 64, "500.00")
    url = f"{SCHEMES}/{scheme['id']}/premium-quote"

    too_old = await env.client.get(url, params={"date_of_birth": "1965-01-07"}, headers=env.admin)
    assert_problem(too_old, 404, "NO_PREMIUM_RATE")
    unborn = await env.client.get(url, params={"date_of_birth": "2030-01-08"}, headers=env.admin)
    assert_problem(unborn, 422, "VALIDATION_ERROR")


async def test_the_last_band_may_be_open_ended_and_quotes_every_older_age(env):
    scheme = await make_scheme(env)
    await add_rate(env, scheme, 0, 17, "300.00")
    await add_rate(env, scheme, 18, 59, "500.00")
    senior = await add_rate(env, scheme, 60, None, "1200.00")
    assert (senior["min_age"], senior["max_age"]) == (60, None)
    url = f"{SCHEMES}/{scheme['id']}/premium-quote"

    for date_of_birth, age in [("1970-01-07", 60), ("1925-06-01", 104)]:
        quote = ok(await env.client.get(url, params={"date_of_birth": date_of_birth}, headers=env.admin))
        assert (quote["age"], quote["monthly_premium"], quote["max_age"]) == (age, "1200.00", None)
    below = ok(await env.client.get(url, params={"date_of_birth": "1970-01-08"}, headers=env.admin))
    assert (below["age"], below["monthly_premium"]) == (59, "500.00")
    listed = ok(await env.client.get(f"{SCHEMES}/{scheme['id']}/premium-rates", headers=env.admin))
    assert [(r["min_age"], r["max_age"]) for r in listed["items"]] == [(0, 17), (18, 59), (60, None)]


@pytest.mark.parametrize(
    ("existing", "band"),
    [
        ([(60, None)], (70, 80)),  # inside the open band
        ([(60, None)], (65, None)),  # a second open band
        ([(60, None)], (50, 60)),  # touches its first age
        ([(18, 64)], (64, None)),  # an open band over a closed one
        ([(18, 64)], (0, None)),  # an open band over everything
    ],
)
async def test_open_bands_never_overlap_either(env, existing, band):
    scheme = await make_scheme(env)
    for low, high in existing:
        await add_rate(env, scheme, low, high, "500.00")
    before = await env.count("insurance_premium_rates")
    body = {"min_age": band[0], "max_age": band[1], "monthly_premium": "1.00"}

    response = await env.client.post(f"{SCHEMES}/{scheme['id']}/premium-rates", json=body, headers=env.admin)

    assert_problem(response, 409, "OVERLAPPING_PREMIUM_BANDS")
    assert await env.count("insurance_premium_rates") == before


async def test_a_band_below_an_open_one_fits(env):
    scheme = await make_scheme(env)
    await add_rate(env, scheme, 60, None, "1200.00")
    await add_rate(env, scheme, 0, 59, "500.00")
    assert await env.count("insurance_premium_rates") == 2


async def test_max_age_is_still_required_and_bounded(env):
    scheme = await make_scheme(env)
    url = f"{SCHEMES}/{scheme['id']}/premium-rates"
    for body in (
        {"min_age": 60, "monthly_premium": "1.00"},
        {"min_age": 60, "max_age": 151, "monthly_premium": "1.00"},
        {"min_age": 151, "max_age": None, "monthly_premium": "1.00"},
    ):
        assert_problem(await env.client.post(url, json=body, headers=env.admin), 422, "VALIDATION_ERROR")
    assert await env.count("insurance_premium_rates") == 0


async def test_concurrent_open_bands_one_wins(env):
    scheme = await make_scheme(env)
    url = f"{SCHEMES}/{scheme['id']}/premium-rates"
    await env.warm_pool(6)
    bodies = [{"min_age": 55 + n, "max_age": None, "monthly_premium": "100.00"} for n in range(6)]

    responses = await asyncio.gather(*(env.client.post(url, json=b, headers=env.admin) for b in bodies))

    assert sorted(r.status_code for r in responses) == [201] + [409] * 5, [r.text for r in responses]
    assert await env.count("insurance_premium_rates") == 1
