"""Insurance's consumers: billing's answers to its premiums. An issued premium invoice is linked to its premium
billing; a paid one accrues the agent's commission (see agents.py). Both act once however often, and in whatever
order, the events arrive."""

from __future__ import annotations

from typing import Any

from caremesh.billing.contract import InvoiceIssued, InvoicePaid
from caremesh.insurance.agents import accrue_commission
from caremesh.insurance.premiums import record_premium_invoice
from caremesh.platform.messaging.bus import Subscription

CONSUMER = "insurance"

SUBSCRIPTIONS: list[Subscription[Any]] = [
    Subscription(CONSUMER, InvoiceIssued, record_premium_invoice),
    Subscription(CONSUMER, InvoicePaid, accrue_commission),
]
