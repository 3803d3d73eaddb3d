"""The deploy files, checked as an SRE would before a first rollout: hadolint, yamllint,
kubernetes-validate (strict) and a schema for KEDA's objects, then the rules this project keeps
(least privilege, no `latest`, probes, budgets, policies). Docker and a cluster are not needed."""

import json
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.integration


def tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    executable = BIN / name
    assert executable.exists(), f"{name} is not installed: pip install -e '.[dev]'"
    return subprocess.run(
        [str(executable), *args], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def documents() -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        found += [(path, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in documents() if doc["kind"] == kind}


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    done = tool("hadolint", "deploy/Dockerfile")
    assert done.returncode == 0, done.stdout + done.stderr


def test_yamllint_finds_nothing() -> None:
    done = tool("yamllint", "-c", ".yamllint.yaml", "deploy", "schedules")
    assert done.returncode == 0, done.stdout + done.stderr


def test_kubernetes_validate_strict_passes_every_manifest() -> None:
    files = [str(p.relative_to(ROOT)) for p in sorted(KUBERNETES.glob("*.yaml"))]
    done = tool("kubernetes-validate", "--strict", *files, "deploy/secret.example.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    # Only KEDA's own kinds lack a schema there; they are checked below.
    for line in done.stdout.splitlines() + done.stderr.splitlines():
        if line.startswith("WARN"):
            assert "api version keda.sh/v1alpha1" in line, line


STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
NAME_REF = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "kind": {"type": "string"}},
    "required": ["name"],
    "additionalProperties": False,
}
# The parts of KEDA's CRDs (keda.sh/v1alpha1) these manifests use; anything else is refused.
KEDA = {
    "ScaledObject": {
        "type": "object",
        "required": ["scaleTargetRef", "triggers"],
        "additionalProperties": False,
        "properties": {
            "scaleTargetRef": NAME_REF,
            "minReplicaCount": {"type": "integer", "minimum": 0},
            "maxReplicaCount": {"type": "integer", "minimum": 1},
            "cooldownPeriod": {"type": "integer", "minimum": 0},
            "pollingInterval": {"type": "integer", "minimum": 1},
            "triggers": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["type", "metadata"],
                    "additionalProperties": False,
                    "properties": {
                        "type": {"enum": ["redis"]},
                        "metadata": {
                            **STRINGS,
                            "required": ["listName", "listLength"],
                        },
                        "authenticationRef": NAME_REF,
                    },
                },
            },
        },
    },
    "TriggerAuthentication": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "secretTargetRef": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["parameter", "name", "key"],
                    "additionalProperties": False,
                    "properties": {k: {"type": "string"} for k in ("parameter", "name", "key")},
                },
            }
        },
    },
}


def test_keda_objects_follow_their_schema_and_authenticate() -> None:
    keda = [doc for _, doc in documents() if doc["apiVersion"].startswith("keda.sh/")]
    assert {doc["kind"] for doc in keda} == set(KEDA)
    for doc in keda:
        assert doc["apiVersion"] == "keda.sh/v1alpha1"
        jsonschema.validate(doc["spec"], KEDA[doc["kind"]])
    (scaled,) = of_kind("ScaledObject").values()
    (auth,) = of_kind("TriggerAuthentication").values()
    for trigger in scaled["spec"]["triggers"]:
        assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
        assert trigger["metadata"]["enableTLS"] in {"true", "false"}
    # KEDA owns the worker count: a fixed replicas would fight it on every apply.
    target = of_kind("Deployment")[scaled["spec"]["scaleTargetRef"]["name"]]
    assert "replicas" not in target["spec"]


def pod_specs() -> dict[str, dict[str, Any]]:
    specs = {name: doc["spec"]["template"]["spec"] for name, doc in of_kind("Deployment").items()}
    specs |= {name: doc["spec"]["template"]["spec"] for name, doc in of_kind("Job").items()}
    return specs


def test_every_pod_runs_unprivileged_on_a_read_only_root_with_a_pinned_image() -> None:
    release = version("warmup")
    for name, spec in pod_specs().items():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] == 10001, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        mounted = set()
        for container in spec["containers"]:
            assert container["image"] == f"warmup:{release}", name
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"] == {"drop": ["ALL"]}, name
            assert "limits" in container["resources"], name
            mounted |= {m["mountPath"] for m in container.get("volumeMounts", [])}
        assert "/tmp" in mounted, f"{name}: a read-only root needs a writable /tmp"  # noqa: S108


# Which Secrets each workload may read: no more (least privilege).
SECRETS = {
    "warmup-worker": {"warmup-database", "warmup-broker", "warmup-acs", "warmup-links"},
    "warmup-dispatcher": {"warmup-database", "warmup-broker", "warmup-acs"},
    "warmup-beat": {"warmup-broker"},
    "warmup-api": {"warmup-database", "warmup-broker", "warmup-links", "warmup-webhook"},
    "warmup-relay": {"warmup-database"},
    f"warmup-migrate-{version('warmup').replace('.', '-')}": {"warmup-database"},
}


def test_each_workload_gets_only_the_secrets_it_needs_and_no_secret_is_applied() -> None:
    specs = pod_specs()
    assert set(specs) == set(SECRETS)  # the migrate Job is named for its release
    for name, spec in specs.items():
        refs = {
            source["secretRef"]["name"]
            for container in spec["containers"]
            for source in container.get("envFrom", [])
        }
        assert refs == SECRETS[name], name
    # `kubectl apply -f deploy/kubernetes/` must never overwrite the real Secrets.
    assert not of_kind("Secret")
    examples = [d for d in yaml.safe_load_all((DEPLOY / "secret.example.yaml").read_text()) if d]
    assert {d["metadata"]["name"] for d in examples} == set().union(*SECRETS.values())


def test_budgets_policies_probes_and_a_singleton_beat() -> None:
    budgets = {
        doc["spec"]["selector"]["matchLabels"]["role"]
        for doc in of_kind("PodDisruptionBudget").values()
    }
    assert budgets == {"worker", "api", "relay"}
    policies = of_kind("NetworkPolicy")
    assert policies["warmup-default-deny"]["spec"]["policyTypes"] == ["Ingress", "Egress"]
    egress_ports = {
        port["port"]
        for rule in policies["warmup-stores"]["spec"]["egress"]
        for port in rule["ports"]
    }
    assert egress_ports == {53, 6379, 5432}
    assert policies["warmup-api-ingress"]["spec"]["podSelector"]["matchLabels"]["role"] == "api"
    assert policies["warmup-relay-ingress"]["spec"]["podSelector"]["matchLabels"]["role"] == "relay"
    acs_ports = {p["port"] for r in policies["warmup-acs"]["spec"]["egress"] for p in r["ports"]}
    assert acs_ports == {443, 587}  # REST, and SMTP for domains that send over it
    deployments = of_kind("Deployment")
    assert deployments["warmup-beat"]["spec"]["strategy"] == {"type": "Recreate"}
    assert deployments["warmup-beat"]["spec"]["replicas"] == 1
    for name in ("warmup-worker", "warmup-dispatcher"):
        spec = deployments[name]["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        assert container["readinessProbe"]["exec"]["command"] == ["warmup-probe"], name
        # A draining worker waits at most for the connect and read timeouts (10 + 30 s).
        assert spec["terminationGracePeriodSeconds"] >= 45, name
    for name in ("warmup-worker", "warmup-dispatcher", "warmup-beat"):
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["exec"]["command"] == ["warmup-probe", "--alive"], name


def metric_names() -> set[str]:
    """The metrics /metrics exports (counters with their _total suffix)."""
    source = (ROOT / "warmup" / "api" / "metrics.py").read_text()
    names = set(re.findall(r'"(warmup_[a-z_]+)"', source))
    counters = set(re.findall(r'CounterMetricFamily\(\s*"(warmup_[a-z_]+)"', source))
    return (names - counters) | {f"{name}_total" for name in counters}


def test_alert_rules_and_the_grafana_dashboard_read_metrics_that_exist() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yaml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in alerts} >= {
        "WarmupDomainPaused",
        "WarmupDomainHolding",
        "WarmupFailureRateNearGate",
        "WarmupSendQueueGrowing",
        "WarmupRowsInDoubt",
        "WarmupThrottledByAcs",
        "WarmupApiDown",
        "WarmupDispatcherSilent",
        "WarmupNothingSent",
    }
    for rule in alerts:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "warmup.json").read_text())
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    exprs = [rule["expr"] for rule in alerts]
    exprs += [target["expr"] for panel in panels for target in panel["targets"]]
    known = metric_names()
    for expr in exprs:
        used = set(re.findall(r"\bwarmup_[a-z_]+", expr))
        assert used or 'up{job="warmup"}' in expr, expr
        assert used <= known, f"{expr}: {used - known} not exported"
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for service in ("prometheus", "grafana"):
        assert compose["services"][service]["profiles"] == ["monitoring"]
        assert ":latest" not in compose["services"][service]["image"]
