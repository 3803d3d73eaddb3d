"""The deploy files, checked as an SRE would before a first rollout: hadolint, yamllint, each
kustomize overlay rendered by `kubectl kustomize` and passed through kubernetes-validate (strict)
and schemas for the operators' objects (KEDA, Prometheus Operator, CloudNativePG), then the rules
this project keeps (one image setting, least privilege, probes, budgets, policies, what faces the
internet). Docker and a cluster are not needed; kubectl (with kustomize) is."""

import json
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
OVERLAYS = ("dev", "production")
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.integration


def tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    executable = BIN / name
    assert executable.exists(), f"{name} is not installed: pip install -e '.[dev]'"
    return subprocess.run(
        [str(executable), *args], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def kustomize(directory: Path) -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl (with kustomize) is missing: it renders deploy/kubernetes/overlays")
    done = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@cache
def rendered(overlay: str) -> str:
    return kustomize(KUBERNETES / "overlays" / overlay)


def documents(overlay: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(rendered(overlay)) if doc]


def of_kind(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in documents(overlay) if doc["kind"] == kind}


each_overlay = pytest.mark.parametrize("overlay", OVERLAYS)


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    done = tool("hadolint", "deploy/Dockerfile")
    assert done.returncode == 0, done.stdout + done.stderr


def test_yamllint_finds_nothing() -> None:
    done = tool("yamllint", "-c", ".yamllint.yaml", "deploy", "schedules", "azure.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


# The operators' kinds kubernetes-validate has no schema for; each is checked below instead.
OPERATOR_APIS = ("keda.sh/v1alpha1", "monitoring.coreos.com/v1", "postgresql.cnpg.io/v1")


@each_overlay
def test_each_overlay_renders_and_kubernetes_validate_strict_passes_it(
    overlay: str, tmp_path: Path
) -> None:
    manifest = tmp_path / f"{overlay}.yaml"
    manifest.write_text(rendered(overlay))
    done = tool("kubernetes-validate", "--strict", str(manifest), "deploy/secret.example.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    for line in done.stdout.splitlines() + done.stderr.splitlines():
        if line.startswith("WARN"):
            assert any(f"api version {api}" in line for api in OPERATOR_APIS), line


def test_each_overlay_holds_its_stores_and_both_the_ingress_and_the_service_monitor() -> None:
    dev = {(doc["kind"], doc["metadata"]["name"]) for doc in documents("dev")}
    production = {(doc["kind"], doc["metadata"]["name"]) for doc in documents("production")}
    both = {("Ingress", "warmup-public"), ("ServiceMonitor", "warmup-api")}
    assert both <= dev
    assert both <= production
    assert {("StatefulSet", "redis"), ("StatefulSet", "postgres")} <= dev
    assert {("Service", "redis"), ("Service", "postgres")} <= dev
    assert {("Cluster", "warmup-db"), ("ScheduledBackup", "warmup-db-nightly")} <= production
    assert not {kind for kind, _ in production} & {"StatefulSet"}  # managed stores only


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


STRING = {"type": "string"}
QUANTITIES = {"type": "object", "additionalProperties": {"type": "string"}}
# The parts of the Prometheus Operator's ServiceMonitor (monitoring.coreos.com/v1) used here.
SERVICE_MONITOR = {
    "type": "object",
    "required": ["selector", "endpoints"],
    "additionalProperties": False,
    "properties": {
        "jobLabel": STRING,
        "selector": {
            "type": "object",
            "properties": {"matchLabels": STRINGS},
            "additionalProperties": False,
        },
        "namespaceSelector": {
            "type": "object",
            "properties": {"matchNames": {"type": "array", "items": STRING}},
            "additionalProperties": False,
        },
        "endpoints": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["port", "path"],
                "additionalProperties": False,
                "properties": {
                    "port": STRING,
                    "path": STRING,
                    "interval": {"type": "string", "pattern": "^[0-9]+[smh]$"},
                    "scrapeTimeout": {"type": "string", "pattern": "^[0-9]+[smh]$"},
                },
            },
        },
    },
}
# The parts of CloudNativePG's Cluster and ScheduledBackup (postgresql.cnpg.io/v1) used here.
STORAGE = {
    "type": "object",
    "required": ["size"],
    "additionalProperties": False,
    "properties": {"size": STRING, "storageClass": STRING},
}
CNPG_CLUSTER = {
    "type": "object",
    "required": ["instances", "storage"],
    "additionalProperties": False,
    "properties": {
        "instances": {"type": "integer", "minimum": 1},
        "imageName": {"type": "string", "pattern": r":[0-9]+\.[0-9]+"},
        "primaryUpdateStrategy": {"enum": ["unsupervised", "supervised"]},
        "bootstrap": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "initdb": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"database": STRING, "owner": STRING},
                }
            },
        },
        "postgresql": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"parameters": STRINGS},
        },
        "storage": STORAGE,
        "walStorage": STORAGE,
        "resources": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"requests": QUANTITIES, "limits": QUANTITIES},
        },
        "backup": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "volumeSnapshot": {
                    "type": "object",
                    "required": ["className"],
                    "additionalProperties": False,
                    "properties": {"className": STRING},
                }
            },
        },
    },
}
CNPG_SCHEDULED_BACKUP = {
    "type": "object",
    "required": ["schedule", "cluster"],
    "additionalProperties": False,
    "properties": {
        # CloudNativePG's cron has six fields: seconds first.
        "schedule": {"type": "string", "pattern": r"^(\S+ ){5}\S+$"},
        "cluster": NAME_REF,
        "method": {"enum": ["volumeSnapshot", "barmanObjectStore", "plugin"]},
        "backupOwnerReference": {"enum": ["none", "self", "cluster"]},
    },
}
OPERATOR_SCHEMAS = KEDA | {
    "ServiceMonitor": SERVICE_MONITOR,
    "Cluster": CNPG_CLUSTER,
    "ScheduledBackup": CNPG_SCHEDULED_BACKUP,
}


@each_overlay
def test_operator_objects_follow_their_schema_and_keda_authenticates(overlay: str) -> None:
    operated = [doc for doc in documents(overlay) if doc["apiVersion"] in OPERATOR_APIS]
    for doc in operated:
        jsonschema.validate(doc["spec"], OPERATOR_SCHEMAS[doc["kind"]])
    (scaled,) = of_kind(overlay, "ScaledObject").values()
    (auth,) = of_kind(overlay, "TriggerAuthentication").values()
    for trigger in scaled["spec"]["triggers"]:
        assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
        # The managed Redis of production listens on TLS only; the dev one has none.
        assert trigger["metadata"]["enableTLS"] == {"dev": "false", "production": "true"}[overlay]
    # KEDA owns the worker count: a fixed replicas would fight it on every apply.
    target = of_kind(overlay, "Deployment")[scaled["spec"]["scaleTargetRef"]["name"]]
    assert "replicas" not in target["spec"]
    (monitor,) = of_kind(overlay, "ServiceMonitor").values()
    api = of_kind(overlay, "Service")["warmup-api"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= api["metadata"]["labels"].items()
    # The job is named "warmup", as the alert rules expect (up{job="warmup"}).
    assert api["metadata"]["labels"][monitor["spec"]["jobLabel"]] == "warmup"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {port["name"] for port in api["spec"]["ports"]}


WORKLOADS = ("Deployment", "Job", "StatefulSet")


def pod_specs(overlay: str, app: str = "warmup") -> dict[str, dict[str, Any]]:
    """The pod templates of the workloads labelled ``app`` (warmup's own, or a dev store)."""
    return {
        name: doc["spec"]["template"]["spec"]
        for kind in WORKLOADS
        for name, doc in of_kind(overlay, kind).items()
        if doc["metadata"]["labels"]["app"] == app
    }


def image_setting() -> str:
    """The one image setting: the base's `images:` (no overlay or manifest names another)."""
    settings = []
    for path in KUBERNETES.rglob("kustomization.yaml"):
        settings += yaml.safe_load(path.read_text()).get("images", [])
    (image,) = settings
    assert image["name"] == "warmup"
    assert "/" in image["newName"], "an image from a registry"
    return f"{image['newName']}:{image['newTag']}"


@each_overlay
def test_every_pod_runs_unprivileged_on_a_read_only_root_with_a_pinned_image(overlay: str) -> None:
    image = image_setting()
    assert image.endswith(f":{version('warmup')}")  # the release; never latest
    stores = pod_specs(overlay, "redis") | pod_specs(overlay, "postgres")
    assert bool(stores) == (overlay == "dev")
    for name, spec in (pod_specs(overlay) | stores).items():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] == 10001, name  # a high UID, no clash with the host's
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        mounted = set()
        for container in spec["containers"]:
            if name in stores:  # the images' own releases, pinned to a patch level
                assert re.fullmatch(
                    r"(redis|postgres):[0-9]+\.[0-9]+(\.[0-9]+)?", container["image"]
                )
            else:
                assert container["image"] == image, name
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"] == {"drop": ["ALL"]}, name
            assert "limits" in container["resources"], name
            mounted |= {m["mountPath"] for m in container.get("volumeMounts", [])}
        if name not in stores:
            assert "/tmp" in mounted, f"{name}: a read-only root needs a writable /tmp"  # noqa: S108
        # In memory where nothing large is spooled; the API spools uploads there, on disk.
        volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
        if name not in stores and name != "warmup-api":
            assert volumes["tmp"]["emptyDir"]["medium"] == "Memory", name


# Which Secrets each workload may read: no more (least privilege).
SECRETS = {
    "warmup-worker": {"warmup-database", "warmup-broker", "warmup-acs", "warmup-links"},
    "warmup-dispatcher": {"warmup-database", "warmup-broker", "warmup-acs"},
    "warmup-beat": {"warmup-broker"},
    "warmup-api": {"warmup-database", "warmup-broker", "warmup-links", "warmup-webhook"},
    "warmup-relay": {"warmup-database"},
    f"warmup-migrate-{version('warmup').replace('.', '-')}": {"warmup-database"},
    # The dev overlay's stores: Redis its password (the broker's), PostgreSQL its own.
    "redis": {"warmup-broker"},
    "postgres": {"warmup-dev-postgres"},
}


def secrets_read(spec: dict[str, Any]) -> set[str]:
    names = set()
    for container in spec["containers"]:
        names |= {source["secretRef"]["name"] for source in container.get("envFrom", [])}
        names |= {
            variable["valueFrom"]["secretKeyRef"]["name"]
            for variable in container.get("env", [])
            if "secretKeyRef" in variable.get("valueFrom", {})
        }
    return names


@each_overlay
def test_each_workload_gets_only_the_secrets_it_needs_and_no_secret_is_applied(
    overlay: str,
) -> None:
    specs = pod_specs(overlay) | pod_specs(overlay, "redis") | pod_specs(overlay, "postgres")
    assert set(specs) == set(SECRETS) - (
        {"redis", "postgres"} if overlay == "production" else set()
    )
    for name, spec in specs.items():
        assert secrets_read(spec) == SECRETS[name], name
    # Applying an overlay must never overwrite the real Secrets.
    assert not of_kind(overlay, "Secret")
    examples = [d for d in yaml.safe_load_all((DEPLOY / "secret.example.yaml").read_text()) if d]
    assert {d["metadata"]["name"] for d in examples} == set().union(*SECRETS.values())


def ports(rules: list[dict[str, Any]]) -> set[int]:
    return {port["port"] for rule in rules for port in rule["ports"]}


@each_overlay
def test_budgets_policies_probes_and_a_singleton_beat(overlay: str) -> None:
    budgets = {
        doc["spec"]["selector"]["matchLabels"]["role"]
        for doc in of_kind(overlay, "PodDisruptionBudget").values()
    }
    assert budgets == {"worker", "api", "relay"}
    policies = of_kind(overlay, "NetworkPolicy")
    assert policies["warmup-default-deny"]["spec"]["policyTypes"] == ["Ingress", "Egress"]
    stores = ports(policies["warmup-stores"]["spec"]["egress"])
    # Production's Redis is managed, on TLS (6380).
    assert stores == {53, 5432} | ({6379} if overlay == "dev" else {6380})
    if overlay == "dev":  # its stores take connections from warmup's pods (and KEDA) only
        for store, port in (("redis", 6379), ("postgres", 5432)):
            policy = policies[store]["spec"]
            assert policy["policyTypes"] == ["Ingress", "Egress"]
            assert "egress" not in policy  # they reach nothing
            assert ports(policy["ingress"]) == {port}
            sources = [source for rule in policy["ingress"] for source in rule["from"]]
            assert {"podSelector": {"matchLabels": {"app": "warmup"}}} in sources
    assert policies["warmup-api-ingress"]["spec"]["podSelector"]["matchLabels"]["role"] == "api"
    assert policies["warmup-relay-ingress"]["spec"]["podSelector"]["matchLabels"]["role"] == "relay"
    assert ports(policies["warmup-acs"]["spec"]["egress"]) == {443, 587}  # REST and SMTP
    deployments = of_kind(overlay, "Deployment")
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


def public_paths(ingress: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path["path"], path["pathType"])
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }


@each_overlay
def test_only_the_webhook_and_the_unsubscribe_pages_face_the_internet(overlay: str) -> None:
    (ingress,) = of_kind(overlay, "Ingress").values()
    assert public_paths(ingress) == {("/webhooks/acs", "Exact"), ("/u/", "Prefix")}
    backends = {
        path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends == {"warmup-api"}
    assert ingress["spec"]["tls"], "TLS: Event Grid delivers only to https"


def test_the_public_api_component_adds_an_api_ingress_to_named_networks(tmp_path: Path) -> None:
    up = Path(os.path.relpath(KUBERNETES, tmp_path))
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [str(up / "overlays" / "production")],
                "components": [str(up / "components" / "public-api")],
            }
        )
    )
    ingresses = {
        doc["metadata"]["name"]: doc
        for doc in yaml.safe_load_all(kustomize(tmp_path))
        if doc and doc["kind"] == "Ingress"
    }
    assert set(ingresses) == {"warmup-public", "warmup-api"}
    api = ingresses["warmup-api"]
    assert public_paths(api) == {("/", "Prefix")}
    assert api["metadata"]["annotations"]["nginx.ingress.kubernetes.io/whitelist-source-range"]


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


AZURE = DEPLOY / "azure"
BICEP_PARAM = re.compile(r"^param (\w+) (\w+)( = .+)?$", re.MULTILINE)


def test_the_azure_parameters_file_sets_every_required_bicep_parameter_and_no_other() -> None:
    # Not compiled here (no Bicep compiler on these machines; checkov parses it by hand, see
    # deploy/README.md): this keeps what azd passes and what main.bicep takes in step.
    params = {
        name: default
        for name, _, default in BICEP_PARAM.findall((AZURE / "main.bicep").read_text())
    }
    given = json.loads((AZURE / "main.parameters.json").read_text())["parameters"]
    required = {name for name, default in params.items() if not default}
    assert required <= set(given), required - set(given)
    assert set(given) <= set(params), set(given) - set(params)
    secure = re.findall(
        r"@secure\(\)\n(?:@description\(.*\)\n)?param (\w+)", (AZURE / "main.bicep").read_text()
    )
    assert set(secure) == {"unsubscribeSecret", "webhookSecret", "postgresPassword"}
    for name in secure:  # from azd's environment, never written in the file
        assert re.fullmatch(r"\$\{WARMUP_\w+\}", given[name]["value"]), name
    azd = yaml.safe_load((ROOT / "azure.yaml").read_text())
    assert (azd["infra"]["path"], azd["infra"]["module"]) == ("deploy/azure", "main")
    outputs = set(re.findall(r"^output (\w+) ", (AZURE / "main.bicep").read_text(), re.MULTILINE))
    for hook in azd["hooks"].values():
        used = set(re.findall(r"\$(WARMUP_[A-Z_]+)", hook["posix"]["run"]))
        # Each variable a hook reads is a Bicep output, or one the operator sets for the params.
        assert used <= outputs | {
            v.strip("${}") for p in given.values() for v in re.findall(r"\$\{\w+", p["value"])
        }
