from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from caremesh.payments.domain import (
    Method,
    PaymentStatus,
    RefundRefusal,
    abandoned_after,
    goes_through_gateway,
    refund_refusal,
    refundable,
)
from caremesh.payments.gateway import GatewayUnavailable, SimulatedGateway
from caremesh.payments.schemas import PaymentCreate
from caremesh.platform.idempotency.keys import KeyProblem, fingerprint, is_abandoned
from caremesh.platform.idempotency.keys import key_problem as idempotency_key_problem

INVOICE = str(uuid.UUID(int=7))
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999999999.99"), places=2)


def request(**overrides) -> dict:
    return {"invoice_id": INVOICE, "amount": "100.00", "method": "cash", "card_token": None, **overrides}


# --- the request fingerprint


def test_a_fingerprint_is_a_sha256_hex_digest():
    digest = fingerprint("payment.create", request())
    assert len(digest) == 64
    assert int(digest, 16) >= 0


@given(st.permutations(list(request().items())))
def test_field_order_does_not_change_the_fingerprint(items):
    assert fingerprint("payment.create", dict(items)) == fingerprint("payment.create", request())


@pytest.mark.parametrize(
    "change",
    [{"amount": "100.01"}, {"method": "upi"}, {"invoice_id": str(uuid.UUID(int=8))}, {"card_token": "tok_visa"}],
)
def test_any_changed_field_changes_the_fingerprint(change):
    assert fingerprint("payment.create", request(**change)) != fingerprint("payment.create", request())


def test_the_operation_is_part_of_the_fingerprint():
    assert fingerprint("refund.create", request()) != fingerprint("payment.create", request())


@pytest.mark.parametrize("amount", ["100", "100.0", 100, "1E+2"])
def test_requests_that_parse_alike_share_a_fingerprint(amount):
    parsed = PaymentCreate.model_validate({"invoice_id": INVOICE, "amount": amount, "method": "cash"})
    assert fingerprint("payment.create", parsed.fingerprinted()) == fingerprint("payment.create", request())


# --- the Idempotency-Key header


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_a_missing_or_blank_key_is_missing(raw):
    assert idempotency_key_problem(raw) is KeyProblem.MISSING


@pytest.mark.parametrize("raw", ["x" * 256, "naïve", "tab\there", "new\nline", "\x7f"])
def test_keys_beyond_255_printable_ascii_characters_are_invalid(raw):
    assert idempotency_key_problem(raw) is KeyProblem.INVALID


@pytest.mark.parametrize("raw", ["a", "x" * 255, "order 42 / try 1", "550e8400-e29b-41d4-a716-446655440000", "~!@#"])
def test_printable_ascii_keys_are_accepted(raw):
    assert idempotency_key_problem(raw) is None


# --- refunds


@given(amounts, amounts, amounts)
def test_a_refund_is_allowed_exactly_up_to_the_unrefunded_amount(amount, refunded, requested):
    refunded = min(refunded, amount)
    refusal = refund_refusal(PaymentStatus.COMPLETED, amount, refunded, requested)
    assert (refusal is None) == (requested <= amount - refunded)
    assert refusal in (None, RefundRefusal.EXCEEDS_PAYMENT)
    assert refundable(amount, refunded) == amount - refunded


def test_refundable_never_goes_below_zero():
    assert refundable(Decimal("10.00"), Decimal("12.00")) == Decimal("0.00")


@pytest.mark.parametrize("status", [PaymentStatus.FAILED, PaymentStatus.PENDING])
def test_only_completed_payments_are_refundable(status):
    assert refund_refusal(status, Decimal("10.00"), Decimal("0.00"), Decimal("1.00")) is RefundRefusal.NOT_REFUNDABLE


def test_only_cards_go_through_the_gateway():
    assert [m for m in Method if goes_through_gateway(m)] == [Method.CARD]


# --- abandoned attempts

T = datetime(2030, 1, 7, 9, tzinfo=UTC)


def test_an_attempt_is_abandoned_after_the_wait_but_never_before_the_gateway_timeout():
    assert abandoned_after(15, 10) == timedelta(seconds=15)
    assert abandoned_after(1, 10) == timedelta(seconds=10)
    after = timedelta(seconds=15)
    assert not is_abandoned(T, T + timedelta(seconds=14.999), after)
    assert is_abandoned(T, T + after, after)


# --- the simulated gateway


@pytest.mark.parametrize("token", ["tok_visa", "tok_mastercard"])
async def test_the_simulated_gateway_approves_test_cards(token):
    result = await SimulatedGateway().charge(token, Decimal("10.00"), "INR", "k1")
    assert result.approved
    assert result.reference.startswith("ch_")
    assert result.decline_reason is None


@pytest.mark.parametrize(("token", "reason"), [("tok_declined", "card declined"), ("tok_other", "unknown card token")])
async def test_the_simulated_gateway_declines_other_cards(token, reason):
    result = await SimulatedGateway().charge(token, Decimal("10.00"), "INR", "k1")
    assert (result.approved, result.reference, result.decline_reason) == (False, None, reason)


async def test_the_simulated_gateway_times_out_without_charging():
    gateway = SimulatedGateway()
    with pytest.raises(GatewayUnavailable):
        await gateway.charge("tok_timeout", Decimal("10.00"), "INR", "k1")
    assert gateway.charges == {}
    assert gateway.captured() == 0


async def test_the_simulated_gateway_answers_a_repeated_key_with_the_first_answer():
    gateway = SimulatedGateway()
    first = await gateway.charge("tok_visa", Decimal("10.00"), "INR", "k1")
    again = await gateway.charge("tok_visa", Decimal("10.00"), "INR", "k1")
    other = await gateway.charge("tok_visa", Decimal("10.00"), "INR", "k2")
    assert again == first
    assert other.reference != first.reference
    assert (gateway.charge_calls, gateway.captured()) == (3, Decimal("20.00"))


async def test_the_simulated_gateway_refunds_up_to_the_charge_once_per_key():
    gateway = SimulatedGateway()
    charge = await gateway.charge("tok_visa", Decimal("10.00"), "INR", "k1")

    first = await gateway.refund(charge.reference, Decimal("6.00"), "INR", "r1")
    assert first.approved
    assert await gateway.refund(charge.reference, Decimal("6.00"), "INR", "r1") == first
    too_much = await gateway.refund(charge.reference, Decimal("4.01"), "INR", "r2")
    assert (too_much.approved, too_much.decline_reason) == (False, "refund exceeds the charge")
    unknown = await gateway.refund("ch_nothing", Decimal("1.00"), "INR", "r3")
    assert (unknown.approved, unknown.decline_reason) == (False, "unknown charge")
    assert (await gateway.refund(charge.reference, Decimal("4.00"), "INR", "r4")).approved


# --- request schemas


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "10.00", "method": "card"},
        {"amount": "10.00", "method": "upi", "card_token": "tok_visa"},
        {"amount": "0", "method": "cash"},
        {"amount": "0.001", "method": "cash"},
        {"amount": "Infinity", "method": "cash"},
    ],
)
def test_payment_requests_the_rules_refuse(body):
    with pytest.raises(ValidationError):
        PaymentCreate.model_validate({"invoice_id": INVOICE, **body})
