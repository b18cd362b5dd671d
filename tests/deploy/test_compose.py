"""The compose files: valid against the Compose specification, and the same system as the local stack on
Apache Kafka in KRaft mode (one broker, or three with the cluster file)."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
from crm_contracts.registry import TOPICS
from deploy.support import DEPLOY, ROOT, load_yaml, schema, settings_env_names

COMPOSE = DEPLOY / "compose" / "compose.yaml"
CLUSTER = DEPLOY / "compose" / "compose.kafka-cluster.yaml"
# Service name -> (python module, HTTP port the local stack gives it).
SERVICES = {
    "attentions": ("attentions", 8101),
    "tickets": ("tickets", 8102),
    "notifications": ("notifications", 8103),
    "reports": ("reports", 8104),
    "factelec-sync": ("factelec_sync", 8105),
    "web": ("webclient", 8106),
}
NOT_SETTINGS = {"TZ"}


def _merge(base: Any, override: Any) -> Any:
    """Compose's merge of an override file, for the keys these files use (maps merge, the rest replaces)."""
    if isinstance(base, dict) and isinstance(override, dict):
        return {k: _merge(base[k], v) if k in base else v for k, v in override.items()} | {
            k: v for k, v in base.items() if k not in override
        }
    return override


def _cluster() -> dict[str, Any]:
    return dict(_merge(load_yaml(COMPOSE), load_yaml(CLUSTER)))


@pytest.mark.parametrize("path", [COMPOSE, CLUSTER], ids=lambda p: p.name)
def test_compose_files_follow_the_compose_specification(path: Any) -> None:
    validator = jsonschema.Draft201909Validator(schema("compose-spec.json"))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(load_yaml(path))]
    assert not errors


def test_the_specification_check_catches_a_misspelt_key() -> None:
    broken = load_yaml(COMPOSE)
    broken["services"]["tickets"]["enviroment"] = {"X": "1"}
    assert list(jsonschema.Draft201909Validator(schema("compose-spec.json")).iter_errors(broken))


def test_every_service_is_built_from_the_image_recipe_with_its_own_port() -> None:
    services = load_yaml(COMPOSE)["services"]
    for name, (_, port) in SERVICES.items():
        service = services[name]
        assert service["build"]["dockerfile"] == "deploy/images/Dockerfile"
        assert service["build"]["args"]["SERVICE"] == name
        assert service["build"]["args"]["PORT"] == str(port)
        assert service["image"].startswith(f"edesal-crm/{name}:")
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
        assert "ports" not in service, f"{name}: no host port, so that `--scale {name}=N` works"


def test_every_environment_name_is_a_setting_of_the_service() -> None:
    services = load_yaml(COMPOSE)["services"]
    for name, (module, _) in SERVICES.items():
        names = settings_env_names(module)
        if names is None:  # the web client's settings are not written yet
            continue
        unknown = set(services[name]["environment"]) - names - NOT_SETTINGS
        assert not unknown, f"{name}: {unknown} are not settings"


def test_kafka_runs_in_kraft_mode_without_auto_created_topics() -> None:
    kafka = load_yaml(COMPOSE)["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 1


def test_the_three_broker_variant_has_a_quorum_of_three_and_replicates_every_topic() -> None:
    services = _cluster()["services"]
    brokers = {n: s for n, s in services.items() if str(s.get("image", "")).startswith("apache/kafka:")}
    assert set(brokers) == {"kafka", "kafka-2", "kafka-3"}
    voters = {b["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"] for b in brokers.values()}
    assert voters == {"1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093"}
    assert sorted(b["environment"]["KAFKA_NODE_ID"] for b in brokers.values()) == [1, 2, 3]
    assert len({b["environment"]["KAFKA_ADVERTISED_LISTENERS"] for b in brokers.values()}) == 3
    for broker in brokers.values():
        assert broker["environment"]["KAFKA_MIN_INSYNC_REPLICAS"] == 2
        assert broker["environment"]["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 3
    assert services["topics"]["environment"]["TOPIC_REPLICATION_FACTOR"] == "3"
    for name in ("attentions", "tickets", "notifications", "reports", "factelec-sync", "comanda-sim"):
        assert (
            services[name]["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092,kafka-2:9092,kafka-3:9092"
        )
    assert services["topics"]["depends_on"]["kafka-2"]["condition"] == "service_healthy"


def test_topics_are_created_from_the_registry_before_any_service_starts() -> None:
    services = load_yaml(COMPOSE)["services"]
    assert services["topics"]["entrypoint"] == ["crmkit", "create-topics"]
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    producers_and_consumers = {t.producer for t in TOPICS} | {c for t in TOPICS for c in t.consumers}
    for name in SERVICES:
        if name in producers_and_consumers:
            assert services[name]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
            assert services[name]["environment"]["CREATE_TOPICS"] == "false"
            assert services[name]["environment"]["KAFKA_IDEMPOTENCE"] == "true"


def test_each_service_database_is_created_by_the_postgres_init_script() -> None:
    services = load_yaml(COMPOSE)["services"]
    script = (DEPLOY / "compose" / "postgres" / "init-databases.sh").read_text(encoding="utf-8")
    roles = set(re.search(r"for role in ([a-z_ ]+);", script).group(1).split())  # type: ignore[union-attr]
    for name in SERVICES:
        url = services[name]["environment"].get("DATABASE_URL")
        if url is None:
            continue
        role, database = re.match(r"postgresql://(\w+):[^@]+@postgres:5432/(\w+)$", url).groups()  # type: ignore[union-attr]
        assert role in roles and database == f"crm_{role}", name
    assert "CREATE DATABASE factelec_demo" in script


def test_the_demo_profile_holds_the_simulator_and_the_factelec_demo_data() -> None:
    services = load_yaml(COMPOSE)["services"]
    assert services["comanda-sim"]["profiles"] == ["demo"]
    assert services["comanda-sim"]["entrypoint"][:3] == ["python", "-m", "tickets.comanda_sim"]
    assert services["factelec-demo"]["command"][0] == "demo-source"
    assert services["notifications"]["environment"]["SMTP_HOST"] == "mailpit"


def test_the_gateway_serves_the_shared_template_with_every_variable_it_uses() -> None:
    gateway = load_yaml(COMPOSE)["services"]["gateway"]
    assert gateway["image"].startswith("nginx:")
    # The template is a whole nginx.conf: rendered over the image's own, not into conf.d.
    assert "../gateway/nginx.conf.template:/etc/nginx/templates/nginx.conf.template:ro" in gateway["volumes"]
    assert gateway["environment"]["NGINX_ENVSUBST_OUTPUT_DIR"] == "/etc/nginx"
    assert gateway["ports"] == ["8080:8080"]
    template = ROOT / "deploy" / "gateway" / "nginx.conf.template"
    if not template.is_file():
        pytest.skip("deploy/gateway/nginx.conf.template is not written yet")
    # The image's entrypoint substitutes only variables set in the environment; nginx's own are lower case.
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", template.read_text(encoding="utf-8")))
    missing = used - set(gateway["environment"])
    assert not missing, f"the gateway template needs {missing}"


def test_the_one_shot_commands_are_what_the_command_lines_accept() -> None:
    """The arguments compose passes are parsed by the real parsers: a renamed flag fails here."""
    from factelec_sync.cli import parser as factelec_parser
    from tickets.comanda_sim.__main__ import parser as comanda_parser

    services = load_yaml(COMPOSE)["services"]
    demo = factelec_parser().parse_args(services["factelec-demo"]["command"])
    assert (demo.command, demo.reset, demo.rows) == ("demo-source", True, 20_000)
    sim = services["comanda-sim"]
    parsed = comanda_parser().parse_args([*sim["entrypoint"][3:], *sim["command"]])
    assert (parsed.command, str(parsed.state), parsed.port) == ("serve", "/tmp/comanda.db", 8107)
    assert parsed.host == "0.0.0.0" and "8107:8107" in sim["ports"]
    for name in SERVICES:
        assert services[name]["command"] == ["run"]
