"""The Kubernetes manifests: generated from the code, rendered by kustomize, valid against the Kubernetes
and operator schemas, and saying what the code needs (topics, probes, budgets, autoscaling, secrets)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from crm_contracts.registry import TOPICS, deadletter_topic
from deploy.support import (
    K8S,
    KUBERNETES_VERSION,
    OVERLAYS,
    ROOT,
    generator,
    k8s_validator,
    render,
    schema,
    settings_env_names,
)

TARGETS = ("base", *(f"overlays/{o}" for o in OVERLAYS))
CRD_SCHEMAS = {
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): "strimzi-kafkatopic-v1beta2.json",
    ("postgresql.cnpg.io/v1", "Cluster"): "cnpg-cluster-v1.json",
    ("postgresql.cnpg.io/v1", "Database"): "cnpg-database-v1.json",
    ("keda.sh/v1alpha1", "ScaledObject"): "keda-scaledobject-v1alpha1.json",
}
BACKENDS = {"attentions", "tickets", "notifications", "reports", "factelec-sync"}


def _kinds(resources: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["kind"] == kind]


def _crm(resources: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Resources of the CRM itself (not the demo's mail catcher or simulator)."""
    return [
        r
        for r in _kinds(resources, kind)
        if r["metadata"]["labels"].get("app.kubernetes.io/part-of") == "edesal-crm"
    ]


def _containers(resources: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for r in resources:
        if r["kind"] in ("Deployment", "Job"):
            for c in r["spec"]["template"]["spec"]["containers"]:
                yield r, c


def _validate(resource: dict[str, Any], origin: str) -> None:
    """Operator resources against their CRD schema, everything else against Kubernetes' own (strict)."""
    key = (resource["apiVersion"], resource["kind"])
    where = f"{origin}: {resource['kind']}/{resource['metadata']['name']}"
    if key in CRD_SCHEMAS:
        errors = sorted(
            jsonschema.Draft202012Validator(schema(CRD_SCHEMAS[key])).iter_errors(resource), key=str
        )
        assert not errors, f"{where}: {[f'{list(e.absolute_path)}: {e.message}' for e in errors]}"
        return
    try:
        validator = k8s_validator(resource["apiVersion"], resource["kind"])
    except FileNotFoundError:
        pytest.fail(f"{where}: no Kubernetes {KUBERNETES_VERSION} schema for this kind")
    errors = sorted(validator.iter_errors(resource), key=str)
    assert not errors, f"{where}: {[f'{list(e.absolute_path)}: {e.message}' for e in errors]}"


def test_generated_manifests_are_what_the_code_generates() -> None:
    stale = generator().stale()
    assert not stale, (
        f"deploy/k8s/base/generated is out of date: {stale}. "
        "Run `python3 -m uv run python deploy/generate.py` and commit the result."
    )


@pytest.mark.parametrize("target", TARGETS)
def test_rendered_resources_are_valid_kubernetes_and_operator_resources(target: str) -> None:
    resources = render(target)
    assert resources
    for resource in resources:
        _validate(resource, target)


def test_the_schema_check_catches_a_misspelt_field() -> None:
    """The validation above can fail: a typo in a Deployment and in a KafkaTopic is refused."""
    deployment = next(r for r in render("base") if r["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    assert list(k8s_validator("apps/v1", "Deployment").iter_errors(broken))
    kubernetes_validate.validate(
        deployment, KUBERNETES_VERSION, strict=True
    )  # the library agrees on the rest
    topic = _kinds(render("base"), "KafkaTopic")[0]
    validator = jsonschema.Draft202012Validator(
        schema(CRD_SCHEMAS[("kafka.strimzi.io/v1beta2", "KafkaTopic")])
    )
    assert list(validator.iter_errors({**topic, "spec": {**topic["spec"], "partition": 3}}))


def _registry_topics() -> dict[str, tuple[int, dict[str, str]]]:
    """What the contracts registry declares, computed here without the generator."""
    wanted = {t.name: (t.partitions, t.kafka_configs()) for t in TOPICS}
    for group in sorted({c for t in TOPICS for c in t.consumers if c != "comanda"}):
        wanted[deadletter_topic(group)] = (1, {"cleanup.policy": "delete"})
    return wanted


@pytest.mark.parametrize("target", TARGETS)
def test_kafka_topics_in_the_manifests_are_the_contracts_registry(target: str) -> None:
    rendered = {t["spec"]["topicName"]: t for t in _kinds(render(target), "KafkaTopic")}
    wanted = _registry_topics()
    assert set(rendered) == set(wanted)
    for name, (partitions, configs) in wanted.items():
        spec = rendered[name]["spec"]
        assert rendered[name]["metadata"]["name"] == name
        assert spec["partitions"] == partitions, name
        for key, value in configs.items():
            assert spec["config"][key] == value, f"{name}: {key}"
        assert rendered[name]["metadata"]["labels"]["strimzi.io/cluster"] == "crm-kafka"


def test_production_topics_are_replicated_and_the_demo_fits_one_broker() -> None:
    for topic in _kinds(render("overlays/production"), "KafkaTopic"):
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"]["min.insync.replicas"] == "2"
    for topic in _kinds(render("overlays/local-demo"), "KafkaTopic"):
        assert topic["spec"]["replicas"] == 1
        assert topic["spec"]["config"]["min.insync.replicas"] == "1"


@pytest.mark.parametrize("target", TARGETS)
def test_every_crm_pod_is_probed_bounded_and_unprivileged(target: str) -> None:
    resources = render(target)
    deployments = _crm(resources, "Deployment")
    assert {d["metadata"]["name"] for d in deployments} >= {
        f"{s}-{part}" for s in BACKENDS for part in ("api", "worker", "relay")
    } | {"web"}
    for owner, container in _containers(_crm(resources, "Deployment") + _crm(resources, "Job")):
        name = f"{owner['kind']}/{owner['metadata']['name']}"
        pod = owner["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
        assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"], name
        if owner["kind"] == "Deployment":
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
            assert container["ports"][0]["name"] == "http", name


@pytest.mark.parametrize("target", TARGETS)
def test_every_crm_deployment_has_a_disruption_budget(target: str) -> None:
    resources = render(target)
    budgets = [b["spec"]["selector"]["matchLabels"] for b in _kinds(resources, "PodDisruptionBudget")]
    for deployment in _crm(resources, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(sel.items() <= labels.items() for sel in budgets), deployment["metadata"]["name"]


def test_workers_scale_on_the_lag_of_the_topics_they_consume_within_their_partitions() -> None:
    resources = render("overlays/production")
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in _kinds(resources, "ScaledObject")}
    consumers = {c for t in TOPICS for c in t.consumers if c != "comanda"}
    assert set(scaled) == {f"{c}-worker" for c in consumers}
    deployments = {d["metadata"]["name"] for d in _kinds(resources, "Deployment")}
    for service in consumers:
        spec = scaled[f"{service}-worker"]["spec"]
        assert f"{service}-worker" in deployments
        consumed = {t.name: t.partitions for t in TOPICS if service in t.consumers}
        triggers = {tr["metadata"]["topic"]: tr["metadata"] for tr in spec["triggers"]}
        assert set(triggers) == set(consumed), service
        assert all(
            m["consumerGroup"] == service and m["allowIdleConsumers"] == "false" for m in triggers.values()
        )
        # More pods than partitions would idle: a partition has one consumer in a group.
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= max(consumed.values())


def test_relays_run_beside_a_standby_and_apis_survive_a_drain() -> None:
    resources = render("overlays/production")
    replicas = {d["metadata"]["name"]: d["spec"]["replicas"] for d in _kinds(resources, "Deployment")}
    for service in BACKENDS:
        assert replicas[f"{service}-relay"] >= 2
        assert replicas[f"{service}-api"] >= 2


@pytest.mark.parametrize("target", TARGETS)
def test_secrets_are_referenced_never_committed(target: str) -> None:
    resources = render(target)
    assert not _kinds(resources, "Secret")
    referenced = set()
    for _, container in _containers(resources):
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                referenced.add(ref["name"])
        assert not any("password" in e["name"].lower() and "value" in e for e in container.get("env", []))
    for cluster in _kinds(resources, "Cluster"):
        referenced |= {r["passwordSecret"]["name"] for r in cluster["spec"]["managed"]["roles"]}
    runbook = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    undocumented = sorted(name for name in referenced if name not in runbook)
    assert not undocumented, f"docs/deploy.md must say how to create {undocumented}"


def test_one_database_and_role_per_service() -> None:
    resources = render("overlays/production")
    databases = {d["spec"]["name"]: d["spec"]["owner"] for d in _kinds(resources, "Database")}
    assert databases == {f"crm_{s.replace('-', '_')}": s.replace("-", "_") for s in BACKENDS}
    (cluster,) = _kinds(resources, "Cluster")
    assert {r["name"] for r in cluster["spec"]["managed"]["roles"]} == set(databases.values())
    for _, container in _containers(_crm(resources, "Deployment")):
        url = next((e["value"] for e in container["env"] if e["name"] == "DATABASE_URL"), None)
        if url is not None:
            assert url.rsplit("/", 1)[1] in databases


def test_ingress_routes_are_the_gateway_routes() -> None:
    resources = render("overlays/production")
    routes = {
        p["path"]: p["backend"]["service"]["name"]
        for ingress in _kinds(resources, "Ingress")
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert routes == {"/": "web", **{f"/api/{s}(/|$)(.*)": s for s in BACKENDS}}
    gateway = ROOT / "deploy" / "gateway" / "nginx.conf.template"
    if gateway.is_file():
        prefixes = set(re.findall(r"location\s+\^?~?\s*/api/([a-z-]+)/", gateway.read_text(encoding="utf-8")))
        assert prefixes <= BACKENDS, f"gateway routes {prefixes - BACKENDS} have no Ingress path"


MODULES = {"attentions": "attentions", "tickets": "tickets", "notifications": "notifications",
           "reports": "reports", "factelec-sync": "factelec_sync", "web": "webclient"}  # fmt: skip
# Read by the kit or the platform rather than a service's settings class: DB_USER and DB_PASSWORD only
# build DATABASE_URL; TZ is the process time zone.
NOT_SETTINGS = {"DB_USER", "DB_PASSWORD", "TZ"}


@pytest.mark.parametrize("target", TARGETS)
def test_every_environment_name_is_a_setting_of_the_service(target: str) -> None:
    resources = render(target)
    config = {k for cm in _kinds(resources, "ConfigMap") if cm["metadata"]["name"].startswith("crm-config")
              for k in cm["data"]}  # fmt: skip
    every_setting: set[str] = set()
    for deployment, container in _containers(_crm(resources, "Deployment") + _crm(resources, "Job")):
        service = deployment["metadata"]["labels"]["app.kubernetes.io/name"]
        names = settings_env_names(MODULES[service])
        if names is None:  # the web client's settings are not written yet
            continue
        every_setting |= names
        unknown = {e["name"] for e in container["env"]} - names - NOT_SETTINGS
        assert not unknown, f"{deployment['metadata']['name']}: {unknown} are not settings of {service}"
    unknown_config = config - every_setting - NOT_SETTINGS
    assert not unknown_config, f"crm-config keys no service reads: {unknown_config}"


def test_every_service_package_of_the_workspace_is_deployed() -> None:
    """A new service under services/ must be added to deploy/generate.py (and so to the manifests)."""
    scripts = {
        script
        for path in ROOT.glob("services/*/pyproject.toml")
        for script in tomllib.loads(path.read_text(encoding="utf-8"))["project"].get("scripts", {})
    }
    deployed = {f"crm-{s.name}" for s in generator().services()}
    assert scripts == deployed


def _files_of(kustomization_dir: Any) -> list[Any]:
    """The plain resource files a kustomization lists, following the directories it includes."""
    kustomization = yaml.safe_load((kustomization_dir / "kustomization.yaml").read_text(encoding="utf-8"))
    files = []
    for entry in kustomization.get("resources", []):
        path = (kustomization_dir / entry).resolve()
        files += _files_of(path) if path.is_dir() else [path]
    return files


def test_resource_files_are_valid_without_rendering() -> None:
    """Runs where kustomize is missing too: every listed file, as written, against the same schemas."""
    files = {f for target in TARGETS for f in _files_of(K8S / target)}
    assert len(files) > 10
    for path in sorted(files):
        for resource in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            _validate(resource, path.name)


def _config(target: str) -> dict[str, str]:
    (config,) = [
        c for c in _kinds(render(target), "ConfigMap") if c["metadata"]["name"].startswith("crm-config")
    ]
    data: dict[str, str] = config["data"]
    return data


def test_production_signs_in_through_the_identity_provider_and_only_the_demo_has_dev_tokens() -> None:
    production = _config("overlays/production")
    assert production["DEV_AUTH"] == "false" and "DEV_AUTH_KEY_FILE" not in production
    assert production["JWT_JWKS_URL"].startswith("https://")
    assert production["KAFKA_IDEMPOTENCE"] == "true" and production["CREATE_TOPICS"] == "false"
    assert _config("overlays/local-demo")["DEV_AUTH"] == "true"
