"""One registry of contexts (caremesh/contexts.py): the import-linter contracts, the app, the models and the
command line all name the same list, so a new context cannot be wired in one place and forgotten in another."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from typer.testing import CliRunner

from caremesh.app import create_app, mount_point
from caremesh.cli import cli
from caremesh.contexts import CONTEXTS, WITHOUT_TABLES, UnknownContext, select
from caremesh.models import metadata

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _contracts() -> dict[str, dict]:
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    return {contract["name"]: contract for contract in contracts}


def test_the_independence_contract_names_every_context_and_nothing_else():
    independence = _contracts()["Contexts meet only through contract.py"]
    assert independence["modules"] == [f"caremesh.{name}" for name in CONTEXTS]


def test_the_platform_is_forbidden_every_context():
    forbidden = _contracts()["The platform knows no context"]["forbidden_modules"]
    contexts_named = [module for module in forbidden if module.removeprefix("caremesh.") in CONTEXTS]
    assert contexts_named == [f"caremesh.{name}" for name in CONTEXTS]
    assert "caremesh.contexts" in forbidden  # the registry is composition, not platform


def test_the_layering_contract_covers_every_context():
    layers = _contracts()["Inside a context: entrypoints, then use cases, then rules, tables and shapes"]
    assert layers["containers"] == [f"caremesh.{name}" for name in CONTEXTS]
    pure = _contracts()["Domain rules are pure: no SQLAlchemy"]
    assert pure["source_modules"] == ["caremesh.*.domain"]
    assert pure["forbidden_modules"] == ["sqlalchemy"]


def test_every_context_is_a_package_with_the_same_files():
    for name in CONTEXTS:
        for module in ("api", "contract", "events", "handlers", "models", "schemas", "service"):
            importlib.import_module(f"caremesh.{name}.{module}")


def test_the_app_serves_every_context_and_the_models_hold_their_tables():
    from caremesh.platform.db import Base

    app = create_app()
    paths = set(app.openapi()["paths"])
    table_modules = {mapper.class_.__module__ for mapper in Base.registry.mappers}
    for name in CONTEXTS:
        api = importlib.import_module(f"caremesh.{name}.api")
        if name in WITHOUT_TABLES:
            assert f"caremesh.{name}.models" not in table_modules, f"{name} declares tables"
        if (prefix := mount_point(api)) != "/api/v1":  # mounted elsewhere, outside the OpenAPI document (FHIR)
            assert any(route.path.startswith(prefix) for route in iter_route_contexts(app.routes)), name
            continue
        alone = FastAPI()
        alone.include_router(api.router, prefix="/api/v1")
        own = set(alone.openapi()["paths"])
        assert own, f"{name} has no routes"
        assert own <= paths, f"{name} is not served"
        if name not in WITHOUT_TABLES:
            assert f"caremesh.{name}.models" in table_modules, f"{name}'s tables are not in the models"
    assert metadata is Base.metadata


def test_select_keeps_registry_order_and_refuses_unknown_names():
    assert select(None) == CONTEXTS
    assert select(" ") == CONTEXTS
    assert select("billing, identity") == ("identity", "billing")
    with pytest.raises(UnknownContext, match="nope"):
        select("billing,nope")


def test_caremesh_contexts_prints_one_name_a_line():
    result = CliRunner().invoke(cli, ["contexts"])
    assert result.exit_code == 0
    assert result.output.splitlines() == list(CONTEXTS)


def test_serve_refuses_an_unknown_context_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["serve", "--contexts", "billing,nope"])
    assert result.exit_code == 1
    assert "unknown context(s): nope" in result.output
    assert list(tmp_path.iterdir()) == []  # refused before any database file is touched
