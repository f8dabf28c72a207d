"""The one registry of bounded contexts: the app, the models, the command line and the import-linter
contracts (checked by a test) all read it. Order is start-up order: identity first (the first admin)."""

from __future__ import annotations

CONTEXTS: tuple[str, ...] = (
    "identity",
    "audit",
    "patients",
    "facilities",
    "practitioners",
    "scheduling",
    "records",
    "billing",
    "payments",
    "insurance",
    "pharmacy",
    "lab",
    "imaging",
    "orders",
    "claims",
    "notifications",
    "fhir",
)

# Contexts that own no tables (so no outbox or inbox either): they only read others through their contracts.
WITHOUT_TABLES: frozenset[str] = frozenset({"fhir"})


class UnknownContext(ValueError):
    pass


def select(names: str | None) -> tuple[str, ...]:
    """The contexts a comma-separated list names, in registry order; None or empty: every context."""
    if not names or not names.strip():
        return CONTEXTS
    wanted = {name.strip() for name in names.split(",") if name.strip()}
    unknown = sorted(wanted - set(CONTEXTS))
    if unknown:
        raise UnknownContext(f"unknown context(s): {', '.join(unknown)}; known: {', '.join(CONTEXTS)}")
    return tuple(name for name in CONTEXTS if name in wanted)
