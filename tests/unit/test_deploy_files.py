"""The deployment examples set only variables our settings read: a misspelt name there
would be silently ignored in production (pydantic-settings ignores unknown variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from config.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KNOWN = {name.upper() for name in Settings.model_fields}


def _compose_app_env() -> dict[str, Any]:
    services = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]
    env = services["migrate"]["environment"]
    assert services["api"]["environment"] == env == services["worker"]["environment"]
    return env


def _k8s_docs() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / "k8s" / "disputeflow.yaml").read_text())
            if d]


def _k8s_app_env() -> dict[str, Any]:
    docs = _k8s_docs()
    env: dict[str, Any] = {}
    for doc in docs:
        if doc.get("kind") == "Secret" and doc["metadata"]["name"] == "disputeflow":
            env.update(doc["stringData"])
        if doc.get("kind") == "ConfigMap" and doc["metadata"]["name"] == "disputeflow":
            env.update(doc["data"])
    return env


def test_compose_sets_only_known_variables() -> None:
    env = _compose_app_env()
    assert "DATABASE_URL" in env and "DISPUTEFLOW_DB_POOL_SIZE" in env
    assert set(env) <= KNOWN, set(env) - KNOWN


def test_kubernetes_sets_only_known_variables_with_valid_values() -> None:
    env = _k8s_app_env()
    assert "DATABASE_URL" in env and "DISPUTEFLOW_DB_POOL_SIZE" in env
    assert set(env) <= KNOWN, set(env) - KNOWN
    sizes = Settings(disputeflow_db_pool_size=env["DISPUTEFLOW_DB_POOL_SIZE"],
                     disputeflow_db_max_overflow=env["DISPUTEFLOW_DB_MAX_OVERFLOW"])
    replicas = sum(d["spec"]["replicas"] for d in _k8s_docs() if d["kind"] == "Deployment")
    # PostgreSQL's default max_connections is 100; keep some for migrations and psql.
    per_replica = sizes.disputeflow_db_pool_size + sizes.disputeflow_db_max_overflow
    assert replicas >= 2 and replicas * per_replica <= 90
