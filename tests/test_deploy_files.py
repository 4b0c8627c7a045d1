"""The deploy files parse and speak the service's names (settings, metrics)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices

from graph.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE = ROOT / "docker-compose.yml"
YAML_FILES = sorted([COMPOSE, *DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")])
JSON_FILES = sorted(DEPLOY.rglob("*.json"))
_METRIC = re.compile(r"\bmatchgraph_[a-z_]+[a-z]\b")
_HISTOGRAM_SUFFIX = re.compile(r"_(bucket|sum|count)$")


def _names(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _settings_env_names() -> set[str]:
    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(c for c in alias.choices if isinstance(c, str))
        elif isinstance(alias, str):
            names.add(alias)
    return names


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _environment(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    assert isinstance(env, dict)
    return env


def test_there_is_something_to_check() -> None:
    assert COMPOSE in YAML_FILES
    assert len(YAML_FILES) >= 14
    assert JSON_FILES


@pytest.mark.parametrize("path", YAML_FILES, ids=_names)
def test_yaml_parses(path: Path) -> None:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert documents
    assert all(isinstance(d, dict) for d in documents)


@pytest.mark.parametrize("path", JSON_FILES, ids=_names)
def test_json_parses(path: Path) -> None:
    assert isinstance(json.loads(path.read_text()), dict)


def test_settings_env_names_are_read() -> None:
    names = _settings_env_names()
    assert {"MATCHGRAPH_STORAGE", "MINIO_ENDPOINT_URL", "FASTAPI_HEADER_TOKEN"} <= names


@pytest.mark.parametrize("service", ["api", "worker", "demo"])
def test_compose_passes_only_known_settings_to_matchgraph(service: str) -> None:
    env = set(_environment(_compose()["services"][service]))
    extra = {"OMP_NUM_THREADS"} if service != "api" else set()
    assert env - extra <= _settings_env_names()
    assert {"MATCHGRAPH_STORAGE", "MATCHGRAPH_DATABASE_URL", "MATCHGRAPH_REDIS_URL"} <= env


def test_compose_api_settings() -> None:
    env = _environment(_compose()["services"]["api"])
    assert env["MATCHGRAPH_STORAGE"] == "s3"
    assert env["MINIO_ENDPOINT_URL"] == "http://minio:9000"
    assert env["PROMETHEUS_MULTIPROC_DIR"]


def test_compose_secrets_have_no_defaults() -> None:
    text = COMPOSE.read_text()
    for name in (
        "POSTGRES_PASSWORD",
        "MINIO_ROOT_USER",
        "MINIO_ROOT_PASSWORD",
        "MINIO_ACCESS_KEY",
        "MINIO_SECRET_KEY",
        "FASTAPI_HEADER_TOKEN",
        "GRAFANA_ADMIN_PASSWORD",
    ):
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses, name
        assert all(use.startswith(":?") for use in uses), name


def test_compose_dependencies_wait_for_health() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        for dependency, spec in service.get("depends_on", {}).items():
            assert dependency in services, (name, dependency)
            healthy = spec["condition"] == "service_healthy"
            assert healthy == ("healthcheck" in services[dependency]), (name, dependency)


def test_compose_mounts_exist() -> None:
    for service in _compose()["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source


@pytest.mark.parametrize("name", ["configmap.yaml", "secret.example.yaml"])
def test_k8s_env_is_known_settings(name: str) -> None:
    doc = yaml.safe_load((DEPLOY / "k8s" / name).read_text())
    keys = set(doc.get("data", {})) | set(doc.get("stringData", {}))
    assert keys
    assert keys <= _settings_env_names()


def test_kustomization_resources_exist() -> None:
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (DEPLOY / "k8s" / resource).is_file(), resource
    assert "secret.example.yaml" not in kustomization["resources"]


def _metrics_used() -> set[str]:
    """Metric names the rules, dashboards and KEDA query use (histogram suffixes dropped)."""
    used = set(_METRIC.findall((DEPLOY / "prometheus" / "rules.yml").read_text()))
    for dashboard in JSON_FILES:
        used |= set(_METRIC.findall(dashboard.read_text()))
    used |= set(_METRIC.findall((DEPLOY / "k8s" / "worker-keda-scaledobject.yaml").read_text()))
    return {_HISTOGRAM_SUFFIX.sub("", m) for m in used}


def test_metrics_used_are_documented() -> None:
    used = _metrics_used()
    documented = set(_METRIC.findall((DEPLOY / "README.md").read_text()))
    assert used <= documented
    assert "matchgraph_queue_depth" in used


def test_metrics_used_are_exported() -> None:
    from api.metrics import exported_names

    assert _metrics_used() <= exported_names()


def test_metrics_table_lists_exactly_what_is_exported() -> None:
    from api.metrics import exported_names

    table = re.findall(r"^\| `(matchgraph_[a-z_]+)` \|", (DEPLOY / "README.md").read_text(), re.M)
    assert len(table) == len(set(table))
    assert set(table) == exported_names()


def test_dashboard_panels_use_the_provisioned_datasource() -> None:
    datasource = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uid = datasource["datasources"][0]["uid"]
    for dashboard in JSON_FILES:
        for panel in json.loads(dashboard.read_text())["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == uid, panel["title"]
                assert panel["targets"], panel["title"]


def test_dashboard_shows_operation_time_cost_and_rate_limits() -> None:
    """The slowest operations, cost by operation and rate-limited requests (issue 10), each
    from a metric the API exports, with the labels the panel groups by."""
    from api.metrics import exported_names

    panels = {
        panel["title"]: " ".join(target["expr"] for target in panel["targets"])
        for dashboard in JSON_FILES
        for panel in json.loads(dashboard.read_text())["panels"]
        if panel["type"] != "row"
    }
    wanted = {
        "Slowest operations (p99)": (
            "matchgraph_graphql_operation_duration_seconds",
            "by (le, operation_type, operation_name)",
        ),
        "Estimated cost by operation (p95)": (
            "matchgraph_graphql_operation_cost",
            "by (le, operation_name)",
        ),
        "Rate-limited / s": ("matchgraph_rate_limited_total", "by (key)"),
        "Errors by operation": (
            "matchgraph_graphql_operation_errors_total",
            "operation_name, code",
        ),
    }
    for title, (metric, grouping) in wanted.items():
        assert metric in exported_names(), metric
        assert metric in panels[title] and grouping in panels[title], title
    assert panels["Slowest operations (p99)"].startswith("topk(10, histogram_quantile(0.99,")


def _deployment(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "k8s" / name).read_text())
    return loaded


def _drain_seconds(container: dict[str, Any]) -> float:
    """MATCHGRAPH_DRAIN_SECONDS as the container sees it: its own env, else the ConfigMap."""
    for item in container.get("env", []):
        if item["name"] == "MATCHGRAPH_DRAIN_SECONDS":
            return float(item["value"])
    configmap = yaml.safe_load((DEPLOY / "k8s" / "configmap.yaml").read_text())
    return float(configmap["data"]["MATCHGRAPH_DRAIN_SECONDS"])


@pytest.mark.parametrize("name", ["api-deployment.yaml", "worker-deployment.yaml"])
def test_grace_period_outlasts_prestop_and_drain(name: str) -> None:
    """Kubernetes SIGKILLs at terminationGracePeriodSeconds, counted from the preStop hook:
    the hook's sleep and the whole drain (README "Graceful shutdown") must fit, with room."""
    spec = _deployment(name)["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep", command
    pre_stop = float(command[1])
    drain = _drain_seconds(container)
    assert pre_stop > 0 and drain > 0
    margin = 5
    assert spec["terminationGracePeriodSeconds"] >= pre_stop + drain + margin, (pre_stop, drain)
