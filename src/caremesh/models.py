"""Every table of every context, for Alembic and the schema tests. Contexts never import this."""

from __future__ import annotations

import importlib

from caremesh.contexts import CONTEXTS
from caremesh.platform import numbering as _numbering  # noqa: F401
from caremesh.platform.db import Base
from caremesh.platform.idempotency import models as _idempotency  # noqa: F401
from caremesh.platform.messaging import models as _messaging  # noqa: F401

for _name in CONTEXTS:  # every context owns tables
    importlib.import_module(f"caremesh.{_name}.models")

metadata = Base.metadata
