from pathlib import Path

from caremesh.platform.permissions import MATRIX, ROLES, allows, markdown_table


def test_readme_shows_the_matrix_in_code():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert markdown_table() in readme


def test_every_role_has_a_row_and_admin_may_do_anything():
    assert set(MATRIX) == set(ROLES)
    assert allows({"admin"}, "anything:at_all")


def test_patients_cannot_manage_users_or_read_audit():
    assert not allows({"patient"}, "users:manage")
    assert not allows({"patient"}, "audit:read")
    assert allows({"patient", "receptionist"}, "patients:write")
