from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, SmallInteger, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caremesh.insurance.contract import Category
from caremesh.platform.db import Base, Money, UTCDateTime, new_id, partial_index, quoted_list
from caremesh.platform.money import cents_sql as cents

CLAIM_STATUSES = ("draft", "submitted", "approved", "partially_approved", "rejected", "paid", "withdrawn")
# A claim in these statuses is over without a payment: the invoice may be claimed again.
CLOSED_UNPAID = ("rejected", "withdrawn")
UNDECIDED = ("draft", "submitted", "withdrawn")  # no approved amount
ATTACHMENT_TYPES = ("application/pdf", "image/png", "image/jpeg")
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS_PER_DISPUTE = 20  # at most 200 MiB of evidence for one dispute
CATEGORIES = tuple(c.value for c in Category)
DISPUTE_STATUSES = ("open", "resolved")
DISPUTE_OUTCOMES = ("upheld", "overturned")

# Names the errors of these constraints carry (see `platform.db.violates`); SQLite names the columns.
ONE_OPEN_CLAIM_PER_INVOICE = ("uq_claims_open_invoice", "claims.invoice_id")
ONE_OPEN_DISPUTE_PER_CLAIM = ("uq_claim_disputes_open_claim", "claim_disputes.claim_id")
ONE_REMITTANCE = ("uq_remittances_payer_code_remittance_id", "remittances.payer_code, remittances.remittance_id")


class Claim(Base):
    """What the clinic asks a payer to pay for one invoice. Patient, invoice, practitioner, payer and coverage are
    other contexts' ids, never foreign keys. `recorded_*` is what this claim moved on insurance's accumulators."""

    __tablename__ = "claims"
    __table_args__ = (
        CheckConstraint(f"status IN ({quoted_list(CLAIM_STATUSES)})", name="status_known"),
        CheckConstraint(f"category IN ({quoted_list(CATEGORIES)})", name="category_known"),
        CheckConstraint(f"{cents('claimed_amount')} > 0", name="claimed_positive"),
        CheckConstraint(f"{cents('claimed_amount')} <= {cents('total_charge')}", name="claimed_within_charge"),
        CheckConstraint(
            f"approved_amount IS NULL OR ({cents('approved_amount')} >= 0"
            f" AND {cents('approved_amount')} <= {cents('claimed_amount')})",
            name="approved_within_claimed",
        ),
        CheckConstraint(
            f"{cents('paid_amount')} >= 0 AND {cents('paid_amount')} <= COALESCE({cents('approved_amount')}, 0)",
            name="paid_within_approved",
        ),
        CheckConstraint(
            f"{cents('recorded_deductible')} >= 0 AND {cents('recorded_payer_amount')} >= 0",
            name="recorded_not_negative",
        ),
        CheckConstraint(
            f"(status IN ({quoted_list(UNDECIDED)})) = (approved_amount IS NULL)", name="approved_amount_once_decided"
        ),
        # One open claim per invoice: a rejected or withdrawn claim may be followed by a corrected one.
        partial_index(
            "uq_claims_open_invoice", "invoice_id", unique=True, where=f"status NOT IN ({quoted_list(CLOSED_UNPAID)})"
        ),
        Index("ix_claims_duplicates", "member_id", "service_date"),
        Index("ix_claims_patient_id", "patient_id"),
        Index("ix_claims_status_created_at", "status", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    invoice_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    invoice_number: Mapped[str] = mapped_column(String(20))
    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    practitioner_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    payer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    payer_code: Mapped[str] = mapped_column(String(40))
    coverage_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    member_id: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(20))
    service_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    total_charge: Mapped[Decimal] = mapped_column(Money)
    claimed_amount: Mapped[Decimal] = mapped_column(Money)
    approved_amount: Mapped[Decimal | None] = mapped_column(Money)
    paid_amount: Mapped[Decimal] = mapped_column(Money)
    recorded_deductible: Mapped[Decimal] = mapped_column(Money)
    recorded_payer_amount: Mapped[Decimal] = mapped_column(Money)
    diagnosis_codes: Mapped[list[str]] = mapped_column(JSON)
    rejection_reason_code: Mapped[str | None] = mapped_column(String(5))
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    adjudicated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    lines: Mapped[list[ClaimLine]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ClaimLine.position"
    )

    __mapper_args__ = {"version_id_col": version}


class ClaimLine(Base):
    __tablename__ = "claim_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(f"{cents('claimed_amount')} <= {cents('charge_amount')}", name="claimed_within_charge"),
        CheckConstraint(f"{cents('claimed_amount')} >= 0", name="claimed_not_negative"),
        CheckConstraint(
            f"approved_amount IS NULL OR ({cents('approved_amount')} >= 0"
            f" AND {cents('approved_amount')} <= {cents('claimed_amount')})",
            name="approved_within_claimed",
        ),
    )

    claim_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("claims.claims.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    charge_amount: Mapped[Decimal] = mapped_column(Money)
    claimed_amount: Mapped[Decimal] = mapped_column(Money)
    approved_amount: Mapped[Decimal | None] = mapped_column(Money)
    # [{"group_code": "PR", "reason_code": "2", "amount": "20.00"}, ...]
    adjustments: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class ClaimHistory(Base):
    """Every transition of a claim, in order."""

    __tablename__ = "claim_history"
    __table_args__ = (Index("ix_claim_history_claim_id_occurred_at", "claim_id", "occurred_at", "sequence"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    claim_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("claims.claims.id", ondelete="CASCADE"))
    sequence: Mapped[int] = mapped_column(Integer)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    note: Mapped[str | None] = mapped_column(String(500))
    approved_amount: Mapped[Decimal | None] = mapped_column(Money)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Dispute(Base):
    __tablename__ = "claim_disputes"
    __table_args__ = (
        CheckConstraint(f"status IN ({quoted_list(DISPUTE_STATUSES)})", name="status_known"),
        CheckConstraint(f"outcome IS NULL OR outcome IN ({quoted_list(DISPUTE_OUTCOMES)})", name="outcome_known"),
        CheckConstraint("(status = 'resolved') = (outcome IS NOT NULL)", name="resolved_has_outcome"),
        partial_index("uq_claim_disputes_open_claim", "claim_id", unique=True, where="status = 'open'"),
        Index("ix_claim_disputes_claim_id_created_at", "claim_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    claim_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("claims.claims.id"))
    reason: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str | None] = mapped_column(String(20))
    approved_amount: Mapped[Decimal | None] = mapped_column(Money)
    resolution_note: Mapped[str | None] = mapped_column(String(1000))
    opened_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}


class Remittance(Base):
    """A payer's remittance advice, processed once per (payer_code, remittance_id); `fingerprint` tells a replay of
    the same remittance from a different one reusing its id. `result` is the response given the first time."""

    __tablename__ = "remittances"
    __table_args__ = (
        CheckConstraint("format IN ('json', 'x12_835')", name="format_known"),
        Index("uq_remittances_payer_code_remittance_id", "payer_code", "remittance_id", unique=True),
        Index("ix_remittances_received_at", "received_at"),
        Index("ix_remittances_payer_code_received_at", "payer_code", "received_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    remittance_id: Mapped[str] = mapped_column(String(50))
    payer_code: Mapped[str] = mapped_column(String(80))
    format: Mapped[str] = mapped_column(String(10))
    fingerprint: Mapped[str] = mapped_column(String(64))
    paid_total: Mapped[Decimal] = mapped_column(Money)
    posted_amount: Mapped[Decimal] = mapped_column(Money)
    unmatched_amount: Mapped[Decimal] = mapped_column(Money)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_on: Mapped[date] = mapped_column(Date)  # clinic date, for the report

    items: Mapped[list[RemittanceItem]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="RemittanceItem.position"
    )


class RemittanceItem(Base):
    __tablename__ = "remittance_items"
    __table_args__ = (
        CheckConstraint("outcome IN ('posted', 'unmatched')", name="outcome_known"),
        CheckConstraint(f"{cents('paid_amount')} >= 0", name="paid_not_negative"),
        Index("ix_remittance_items_claim_id", "claim_id"),
    )

    remittance_pk: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("claims.remittances.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    claim_number: Mapped[str] = mapped_column(String(40))
    claim_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    paid_amount: Mapped[Decimal] = mapped_column(Money)
    adjustment_codes: Mapped[list[str]] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(40))


class DisputeAttachment(Base):
    """A document filed with a dispute (an operative note, an EOB, a letter). The file lives in the object store
    under `storage_key`; `sha256` and `size` are what was received, checked again whenever it is served."""

    __tablename__ = "claim_dispute_attachments"
    __table_args__ = (
        CheckConstraint(f"content_type IN ({quoted_list(ATTACHMENT_TYPES)})", name="content_type_known"),
        CheckConstraint(f"size > 0 AND size <= {MAX_ATTACHMENT_BYTES}", name="size_within_limit"),
        CheckConstraint("length(sha256) = 64", name="sha256_hex"),
        Index("ix_claim_dispute_attachments_dispute_id_created_at", "dispute_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    dispute_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("claims.claim_disputes.id"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
