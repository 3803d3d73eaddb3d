"""deploy/compose.yaml read as `docker compose config` would (Docker is not on the project's
machines): its interpolation (`${VAR:-default}`, `${VAR:?error}`), its anchors, and the merge of
compose.production.yaml over it. As it is, it starts with no .env on demo-only values; with the
production file it refuses to, naming each secret, until every one is set; each role gets only
the secrets its Kubernetes workload gets."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.test_deploy_files import SECRETS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
BASE = DEPLOY / "compose.yaml"
PRODUCTION = DEPLOY / "compose.production.yaml"
VARIABLE = re.compile(r"\$(?:\$|\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})")
# Compose replaces these in a later file instead of appending to them.
REPLACED = {"command", "entrypoint", "test"}


class Unset(Exception):
    pass


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        found = env.get(name)
        missing = found is None or (found == "" and op is not None and op.startswith(":"))
        if op in {"-", ":-"}:
            return arg if missing else str(found)
        if op in {"?", ":?"} and missing:
            raise Unset(f"required variable {name} is missing a value: {arg}")  # as compose says
        return found or ""

    return VARIABLE.sub(one, value)


def merge(base: Any, override: Any, key: str = "") -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for name, value in override.items():
            merged[name] = merge(base[name], value, name) if name in base else value
        return merged
    if isinstance(base, list) and isinstance(override, list) and key not in REPLACED:
        return base + override
    return override


def config(*files: Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What `docker compose -f ... config` would print, for the parts these tests read."""
    merged: dict[str, Any] = {}
    for file in files:
        loaded = yaml.safe_load(file.read_text(encoding="utf-8"))
        merged = merge(merged, {k: v for k, v in loaded.items() if not k.startswith("x-")})
    return interpolate(merged, env or {})  # type: ignore[no-any-return]


def active(model: dict[str, Any], *profiles: str) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in model["services"].items()
        if not service.get("profiles") or set(service["profiles"]) & set(profiles)
    }


def secret_keys() -> dict[str, set[str]]:
    """Each Kubernetes Secret's keys that warmup reads (not KEDA's own), from the example."""
    examples = yaml.safe_load_all((DEPLOY / "secret.example.yaml").read_text(encoding="utf-8"))
    keda = {"WARMUP_REDIS_HOST_PORT", "WARMUP_REDIS_PASSWORD"}
    return {d["metadata"]["name"]: set(d["stringData"]) - keda for d in examples if d}


# The compose service that plays each Kubernetes workload.
ROLES = {
    "worker": "warmup-worker",
    "dispatcher": "warmup-dispatcher",
    "beat": "warmup-beat",
    "api": "warmup-api",
    "relay": "warmup-relay",
    "migrate": next(name for name in SECRETS if name.startswith("warmup-migrate-")),
}
EVERY_SECRET = {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "GRAFANA_ADMIN_PASSWORD_FILE"} | {
    "WARMUP_ACS_CONNECTION_STRING",
    "WARMUP_UNSUBSCRIBE_SECRET",
    "WARMUP_PUBLIC_URL",
    "WARMUP_WEBHOOK_SECRETS",
}


def test_it_starts_with_no_env_file_on_demo_values_bound_to_the_host() -> None:
    model = config(BASE)  # no variable set at all: nothing is required
    services = active(model, "relay", "monitoring")
    assert {"emulator", "worker", "dispatcher", "beat", "api", "migrate"} <= set(services)
    for name, service in services.items():
        assert ":" in service["image"], name
        assert ":latest" not in service["image"], name
        for env_file in service.get("env_file", []):
            assert env_file["required"] is False, name  # deploy/settings.env is optional
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name}: the demo publishes to the host only"
    # The demo sends to the emulator, never to ACS.
    for name in ("worker", "dispatcher"):
        acs = services[name]["environment"]["WARMUP_ACS_CONNECTION_STRING"]
        assert acs.startswith("endpoint=http://emulator:7071/"), name
    secret = model["services"]["emulator"]["command"][-1]
    assert secret.endswith("code=" + services["api"]["environment"]["WARMUP_WEBHOOK_SECRETS"])


def test_the_production_file_refuses_to_start_until_every_secret_is_set() -> None:
    complete = {name: f"real-{name.lower()}-value-0123456789" for name in EVERY_SECRET}
    for name in sorted(EVERY_SECRET):
        without = {key: value for key, value in complete.items() if key != name}
        with pytest.raises(Unset, match=name):
            config(BASE, PRODUCTION, env=without)
    model = config(BASE, PRODUCTION, env=complete)
    services = active(model)
    assert "emulator" not in services  # only with --profile demo
    assert "demo-only" not in yaml.safe_dump(services)
    assert (
        model["secrets"]["grafana_admin_password"]["file"]
        == complete["GRAFANA_ADMIN_PASSWORD_FILE"]
    )
    redis = services["redis"]
    assert "--requirepass" in redis["command"][-1]
    assert redis["environment"]["REDISCLI_AUTH"] == complete["REDIS_PASSWORD"]
    assert complete["REDIS_PASSWORD"] in services["worker"]["environment"]["WARMUP_REDIS_URL"]


@pytest.mark.parametrize("production", [False, True])
def test_each_role_gets_only_the_secrets_its_kubernetes_workload_gets(production: bool) -> None:
    files = (BASE, PRODUCTION) if production else (BASE,)
    env = dict.fromkeys(EVERY_SECRET, "x" * 20)
    services = config(*files, env=env)["services"]
    keys = secret_keys()
    every = set().union(*keys.values())
    for service, workload in ROLES.items():
        expected = set().union(*(keys[secret] for secret in SECRETS[workload]))
        got = set(services[service].get("environment", {})) & every
        assert got == expected, service


def test_grafana_reads_its_admin_password_from_a_secret_file() -> None:
    grafana = config(BASE)["services"]["grafana"]
    assert grafana["environment"] == {
        "GF_SECURITY_ADMIN_PASSWORD__FILE": "/run/secrets/grafana_admin_password"
    }
    assert grafana["secrets"] == ["grafana_admin_password"]


def test_the_reader_here_sees_what_compose_would() -> None:
    # Its interpolation and merge rules, on the cases the files use.
    env = {"SET": "v", "EMPTY": ""}
    assert interpolate("${SET:-d} ${UNSET:-d} ${EMPTY:-d} ${EMPTY-d} $$x", env) == "v d d  $x"
    with pytest.raises(Unset, match="needed"):
        interpolate("${EMPTY:?needed}", env)
    assert interpolate("${EMPTY?needed}", env) == ""
    merged = merge(
        {"command": ["a"], "ports": ["1:1"], "environment": {"A": "1", "B": "2"}},
        {"command": ["b"], "ports": ["2:2"], "environment": {"B": "3"}},
    )
    assert merged == {
        "command": ["b"],
        "ports": ["1:1", "2:2"],
        "environment": {"A": "1", "B": "3"},
    }
