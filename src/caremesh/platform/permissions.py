"""The one role-permission matrix. The README's table is generated from it (`caremesh permissions`).

A permission is `resource:action`. Row scoping (a patient sees only their own records) is applied
by the use cases on top of this matrix.
"""

from __future__ import annotations

ROLES = (
    "admin",
    "receptionist",
    "doctor",
    "nurse",
    "pharmacist",
    "lab_technician",
    "radiologist",
    "billing_clerk",
    "claims_officer",
    "patient",
)

# Facilities, departments and personnel (issue 15) are read by every staff role and written by the admin.
STAFF_READ = {"patients:read", "practitioners:read", "appointments:read", "facilities:read", "personnel:read"}
CLINICAL_READ = {
    "orders:read",
    "medications:read",
    "lab_tests:read",
    "lab_orders:read",
    "imaging_studies:read",
    "imaging_orders:read",
}
BILLING_READ = {"tariffs:read", "invoices:read", "payments:read"}
INSURANCE_READ = {"insurance:read", "coverage:verify"}
CLAIMS_READ = {"claims:read", "reconciliation:read"}
# Medical records: a permission per type of entry (issue 15). Notes and vital signs are for the clinical staff and
# the patient only; diagnoses and procedures also for billing and claims (they go on invoices and claims).
RECORDS_READ = {"diagnoses:read", "allergies:read", "vital_signs:read", "clinical_notes:read", "procedures:read"}
RECORDS_CODED_READ = {"diagnoses:read", "procedures:read"}
NURSE_WRITE = {"vital_signs:write", "allergies:write", "clinical_notes:write"}
# Premium billing, agents and commissions (issue 16): billing clerks run the premiums and pay the agents, claims
# officers keep the agents; both read all of it.
PREMIUMS_READ = {"premiums:read", "agents:read", "commissions:read"}

MATRIX: dict[str, set[str]] = {
    "admin": {"*"},
    "receptionist": STAFF_READ
    | {
        "patients:write",
        "patients:delete",
        "appointments:book",
        "appointments:check_in",
        "appointments:cancel",
        "appointments:reschedule",
        "appointments:no_show",
        "tariffs:read",
        "invoices:read",
        "payments:read",
        "payments:create",
        "notifications:read",
        "coverage:verify",
        "payment_methods:read",  # to charge a patient's stored card at the desk
    },
    "doctor": STAFF_READ
    | CLINICAL_READ
    | RECORDS_READ
    | NURSE_WRITE
    | {"diagnoses:write", "procedures:write", "charts:read"}
    | {"appointments:check_in", "appointments:complete", "appointments:no_show", "orders:create", "orders:cancel"}
    | {"imaging_orders:report"},
    "nurse": STAFF_READ
    | CLINICAL_READ
    | RECORDS_READ
    | NURSE_WRITE
    | {"charts:read", "patients:write", "appointments:check_in"},
    "pharmacist": STAFF_READ
    | {"allergies:read"}
    | {"orders:read", "medications:read", "medications:write", "reservations:read", "reservations:dispense"},
    "lab_technician": STAFF_READ
    | {"orders:read", "lab_tests:read", "lab_tests:write", "lab_orders:read", "lab_orders:result"},
    # What a lab technician reads and does, for radiology.
    "radiologist": STAFF_READ
    | {"orders:read", "imaging_studies:read", "imaging_studies:write", "imaging_orders:read", "imaging_orders:report"},
    "billing_clerk": STAFF_READ
    | BILLING_READ
    | INSURANCE_READ
    | CLAIMS_READ
    | RECORDS_CODED_READ
    | {"invoices:write", "payments:create", "payments:refund", "accounts_receivable:read"}
    | PREMIUMS_READ
    | {"premiums:run", "commissions:pay"}
    | {"payment_methods:read", "payment_methods:write", "settlements:read", "settlements:close"},
    "claims_officer": STAFF_READ
    | BILLING_READ
    | INSURANCE_READ
    | CLAIMS_READ
    | RECORDS_CODED_READ
    | {"accounts_receivable:read", "insurance:write", "claims:write", "reconciliation:write"}
    | PREMIUMS_READ
    | {"agents:write"},
    # Scoped to their own patient record by the use cases.
    "patient": {
        "patients:read",
        "practitioners:read",
        "appointments:read",
        "appointments:book",
        "appointments:cancel",
        "appointments:reschedule",
        "invoices:read",
        "payments:read",
        "payments:create",
        "notifications:read",
        "orders:read",
        "lab_orders:read",
        "imaging_orders:read",
        "insurance:read",
        "payment_methods:read",
        "payment_methods:write",
    }
    | RECORDS_READ
    | {"charts:read"},
}

ADMIN_ONLY = {
    "users:manage": "create, list and change users",
    "audit:read": "read and verify the audit trail",
    "practitioners:write": "register, change and remove practitioners",
    "facilities:write": "create and change facilities and departments",
    "personnel:write": "register and change personnel",
    "tariffs:write": "create and change tariffs",
    "notifications:manage": "edit notification templates and send messages by hand",
}


def allows(roles: frozenset[str] | set[str], permission: str) -> bool:
    return any("*" in MATRIX.get(role, ()) or permission in MATRIX.get(role, ()) for role in roles)


def all_permissions() -> list[str]:
    named = {p for perms in MATRIX.values() for p in perms if p != "*"} | set(ADMIN_ONLY)
    return sorted(named)


def markdown_table() -> str:
    header = "| permission | " + " | ".join(ROLES) + " |"
    rule = "|---" * (len(ROLES) + 1) + "|"
    rows = [f"| `{p}` | " + " | ".join("✓" if allows({r}, p) else "" for r in ROLES) + " |" for p in all_permissions()]
    return "\n".join([header, rule, *rows])


# Issue 16: a dispute's documents are filed and read by the billing office (billing clerks and claims officers),
# never by patients.
CLAIM_ATTACHMENTS = {"claim_attachments:read", "claim_attachments:write"}
for _role in ("billing_clerk", "claims_officer"):
    MATRIX[_role] |= CLAIM_ATTACHMENTS
