"""Audit events are recorded unsealed and chained by a sealer after commit: `position` (insertion order) becomes the
key, `seq`, `prev_hash` and `hash` stay null until sealed (all three together), and the append-only triggers admit
one UPDATE: sealing an unsealed event, nothing else changed. Existing events are sealed already (`position` = their
`seq`) and verify as before. The downgrade first seals what is unsealed (the chain rule is fixed here), then puts
back 0019's table: `seq` the key again, every column required, no update at all.

On PostgreSQL the table lives in the `audit` schema (0019); the trigger function moves there with it.

Revision ID: 0020_audit_sealer
Revises: 0019_schema_per_context
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision: str = "0020_audit_sealer"
down_revision: str | None = "0019_schema_per_context"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORDED = ("id", "at", "actor_id", "action", "entity_type", "entity_id", "request_id", "ip")
SEALED_TOGETHER = "(seq IS NULL) = (prev_hash IS NULL) AND (seq IS NULL) = (hash IS NULL)"
REFUSAL = "audit events are append-only: the only change allowed is sealing an unsealed event"
GENESIS_HASH = "0" * 64


def _schema() -> str | None:
    """The audit tables' physical schema on PostgreSQL (`audit`, or `<prefix>_audit`); None on SQLite."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    prefix = getattr(bind.get_execution_options().get("schema_translate_map"), "prefix", None)
    return f"{prefix}_audit" if prefix else "audit"


def upgrade() -> None:
    schema = _schema()
    if schema is None:
        _rebuild_sqlite(sealed_only=False)
        return
    table = f'"{schema}".audit_events'
    op.execute(f"DROP TRIGGER audit_events_append_only ON {table}")
    op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")  # 0003 made it where the tables were
    op.execute(f"ALTER TABLE {table} ADD COLUMN position BIGINT")
    op.execute(f"UPDATE {table} SET position = seq")
    sequence = f'"{schema}".audit_events_position_seq'
    op.execute(f"CREATE SEQUENCE {sequence} OWNED BY {table}.position")
    op.execute(f"SELECT setval('{sequence}', COALESCE((SELECT max(position) FROM {table}), 0) + 1, false)")
    op.execute(
        f"ALTER TABLE {table} ALTER COLUMN position SET DEFAULT nextval('{sequence}'),"
        " ALTER COLUMN position SET NOT NULL, DROP CONSTRAINT pk_audit_events,"
        " ADD CONSTRAINT pk_audit_events PRIMARY KEY (position),"
        " ALTER COLUMN seq DROP NOT NULL, ALTER COLUMN prev_hash DROP NOT NULL, ALTER COLUMN hash DROP NOT NULL,"
        " ADD CONSTRAINT uq_audit_events_seq UNIQUE (seq),"
        f" ADD CONSTRAINT ck_audit_events_sealed_together CHECK ({SEALED_TOGETHER})"
    )
    op.execute(f"CREATE INDEX ix_audit_events_unsealed ON {table} (position) WHERE seq IS NULL")
    unchanged = " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in ("position", *RECORDED))
    op.execute(
        f"""
        CREATE FUNCTION "{schema}".audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL AND {unchanged} THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION '{REFUSAL}';
        END $$
        """
    )
    op.execute(
        f"CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON {table}"
        f' FOR EACH ROW EXECUTE FUNCTION "{schema}".audit_events_append_only()'
    )


def downgrade() -> None:
    schema = _schema()
    _seal_everything(schema)
    if schema is None:
        _rebuild_sqlite(sealed_only=True)
        return
    table = f'"{schema}".audit_events'
    op.execute(f"DROP TRIGGER audit_events_append_only ON {table}")
    op.execute(f'DROP FUNCTION "{schema}".audit_events_append_only()')
    op.execute(f'DROP INDEX "{schema}".ix_audit_events_unsealed')
    op.execute(
        f"ALTER TABLE {table} DROP CONSTRAINT ck_audit_events_sealed_together, DROP CONSTRAINT uq_audit_events_seq,"
        " DROP CONSTRAINT pk_audit_events, ALTER COLUMN seq SET NOT NULL, ALTER COLUMN prev_hash SET NOT NULL,"
        " ALTER COLUMN hash SET NOT NULL, ADD CONSTRAINT pk_audit_events PRIMARY KEY (seq), DROP COLUMN position"
    )
    # As 0003 made it: the function where the tables were first created (the search path's first schema).
    op.execute(
        """
        CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit events are append-only';
        END $$
        """
    )
    op.execute(
        f"CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON {table}"
        " FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
    )


def _rebuild_sqlite(*, sealed_only: bool) -> None:
    """SQLite cannot change a primary key in place: a new table, the rows copied, the old one dropped (no trigger
    fires for a dropped table's rows)."""
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    if sealed_only:
        key = [sa.Column("seq", big, autoincrement=False, nullable=False)]
        chain = [sa.Column(name, sa.String(length=64), nullable=False) for name in ("prev_hash", "hash")]
        extra: list[sa.SchemaItem] = [sa.PrimaryKeyConstraint("seq", name="pk_audit_events")]
    else:
        key = [sa.Column("position", big, autoincrement=True, nullable=False)]
        chain = [
            sa.Column("seq", big, nullable=True),
            *(sa.Column(name, sa.String(length=64), nullable=True) for name in ("prev_hash", "hash")),
        ]
        extra = [
            sa.PrimaryKeyConstraint("position", name="pk_audit_events"),
            sa.UniqueConstraint("seq", name="uq_audit_events_seq"),
            sa.CheckConstraint(SEALED_TOGETHER, name="ck_audit_events_sealed_together"),
        ]
    op.create_table(
        "audit_events_new",
        *key,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        *chain,
        *extra,
        sa.UniqueConstraint("id", name="uq_audit_events_id"),
    )
    columns = ", ".join(RECORDED)
    if sealed_only:
        op.execute(
            f"INSERT INTO audit_events_new (seq, {columns}, prev_hash, hash)"
            f" SELECT seq, {columns}, prev_hash, hash FROM audit_events ORDER BY seq"
        )
    else:
        op.execute(
            f"INSERT INTO audit_events_new (position, {columns}, seq, prev_hash, hash)"
            f" SELECT seq, {columns}, seq, prev_hash, hash FROM audit_events ORDER BY seq"
        )
    for trigger in ("audit_events_no_update", "audit_events_seal_only", "audit_events_no_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.drop_table("audit_events")
    op.rename_table("audit_events_new", "audit_events")
    op.create_index("ix_audit_events_actor", "audit_events", ["actor_id"], unique=False)
    op.create_index("ix_audit_events_entity", "audit_events", ["entity_type", "entity_id"], unique=False)
    op.execute(
        "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events"
        " BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END"
    )
    if sealed_only:
        op.execute(
            "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events"
            " BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END"
        )
        return
    op.create_index("ix_audit_events_unsealed", "audit_events", ["position"], sqlite_where=sa.text("seq IS NULL"))
    unchanged = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in ("position", *RECORDED))
    op.execute(
        "CREATE TRIGGER audit_events_seal_only BEFORE UPDATE ON audit_events"
        f" WHEN NOT (OLD.seq IS NULL AND NEW.seq IS NOT NULL AND {unchanged})"
        f" BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
    )


def _seal_everything(schema: str | None) -> None:
    """Chain the unsealed events after the head, in insertion order, as the sealer would (its rule, fixed here)."""
    bind = op.get_bind()
    name = "audit_events" if schema is None else f'"{schema}".audit_events'
    head_table = "audit_chain_head" if schema is None else f'"{schema}".audit_chain_head'
    last_seq, last_hash = bind.execute(sa.text(f"SELECT last_seq, last_hash FROM {head_table} WHERE id = 1")).one()
    rows = bind.execute(
        sa.text(f"SELECT position, {', '.join(RECORDED)} FROM {name} WHERE seq IS NULL ORDER BY position").columns(
            at=sa.DateTime(timezone=True), id=sa.Uuid(), actor_id=sa.Uuid()
        )
    ).all()
    for row in rows:
        last_seq += 1
        digest = _digest(last_hash, last_seq, row)
        bind.execute(
            sa.text(f"UPDATE {name} SET seq = :seq, prev_hash = :prev, hash = :hash WHERE position = :position"),
            {"seq": last_seq, "prev": last_hash, "hash": digest, "position": row.position},
        )
        last_hash = digest
    if rows:
        bind.execute(
            sa.text(f"UPDATE {head_table} SET last_seq = :seq, last_hash = :hash WHERE id = 1"),
            {"seq": last_seq, "hash": last_hash},
        )


def _digest(prev_hash: str, seq: int, row: sa.Row) -> str:
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)
    canonical = json.dumps(
        {
            "seq": seq,
            "id": str(row.id),
            "at": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "actor_id": str(row.actor_id) if row.actor_id else None,
            "action": row.action,
            "entity_type": row.entity_type,
            "entity_id": row.entity_id,
            "request_id": row.request_id,
            "ip": row.ip,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()
