"""The web app's files name no other origin: it loads on a hospital network without internet access."""

from __future__ import annotations

import re

from caremesh.webapp import STATIC_DIR

EXTERNAL = re.compile(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", re.IGNORECASE)


def test_no_file_of_the_app_loads_anything_from_another_origin() -> None:
    files = [path for path in STATIC_DIR.rglob("*") if path.is_file()]
    assert any(path.name == "index.html" for path in files)
    offending = {
        str(path.relative_to(STATIC_DIR)): EXTERNAL.findall(path.read_text())
        for path in files
        if EXTERNAL.search(path.read_text())
    }
    assert offending == {}
