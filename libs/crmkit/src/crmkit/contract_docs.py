"""Generated, checked-in documentation of the event contracts (``contracts/docs/``).

``python -m crmkit.contract_docs write`` (``make contracts-docs``) regenerates, from ``crm_contracts``:

- ``asyncapi.yaml``: an AsyncAPI 3.0 document of every topic of the registry, built by FastStream itself
  from a (never connected) ``KafkaBroker`` with one publisher and one subscriber per topic, typed with the
  envelope of each event type the topic carries;
- ``schemas/<event_type>.v<version>.json``: the JSON Schema of ``Envelope[Model]`` for every event;
- ``topics.md``: the topic registry as a table.

``python -m crmkit.contract_docs check`` regenerates in memory and exits 1, listing the files that differ,
are missing or are stale (everything under ``contracts/docs/`` is generated, so a file there that the
generator no longer produces is stale). The output is deterministic: keys sorted, no timestamps.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote

import crm_contracts
import yaml
from crm_contracts.envelope import Envelope, EventModel
from crm_contracts.registry import DAY_MS, FOREVER, TOPICS, Topic
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.specification import AsyncAPI
from pydantic import BaseModel

ASYNCAPI_FILE = "asyncapi.yaml"
TOPICS_FILE = "topics.md"
SCHEMAS_DIR = "schemas"

GENERATED_NOTE = (
    "Generated from crm_contracts by `make contracts-docs` (python -m crmkit.contract_docs write). "
    "Do not edit."
)
# The address of the local stack's broker (`make up`); deployments set KAFKA_BOOTSTRAP_SERVERS.
LOCAL_BOOTSTRAP = "127.0.0.1:9092"

# Record headers the relay writes next to every envelope (crmkit.outbox.record_headers): name, schema,
# always set. tests/contracts/test_docs.py checks that they stay the same.
RECORD_HEADERS: tuple[tuple[str, dict[str, Any], bool], ...] = (
    ("event_id", {"type": "string", "format": "uuid", "description": "The envelope's `event_id`."}, True),
    ("event_type", {"type": "string", "description": "The envelope's `type`."}, True),
    (
        "schema_version",
        {"type": "string", "pattern": "^[1-9][0-9]*$", "description": "The envelope's `schema_version`."},
        True,
    ),
    ("producer", {"type": "string", "description": "The envelope's `producer`."}, True),
    ("content-type", {"type": "string", "const": "application/json"}, True),
    (
        "correlation_id",
        {
            "type": "string",
            "format": "uuid",
            "description": "The envelope's `correlation_id`; only present when it is set.",
        },
        False,
    ),
)


def schema_path(model: type[EventModel]) -> str:
    """Where the JSON Schema of one event lives, relative to ``contracts/docs``."""
    return f"{SCHEMAS_DIR}/{model.event_type}.v{model.version}.json"


def envelope_schema(model: type[EventModel]) -> dict[str, Any]:
    return Envelope[model].model_json_schema()


def _dump_json(document: Any) -> str:
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def retention_text(retention_ms: int) -> str:
    if retention_ms == FOREVER:
        return "forever"
    if retention_ms % DAY_MS == 0:
        days = retention_ms // DAY_MS
        return f"{days} day" if days == 1 else f"{days} days"
    return f"{retention_ms} ms"


def _events_text(topic: Topic) -> str:
    return ", ".join(f"`{model.event_type}` v{model.version}" for model in topic.events)


def topic_description(topic: Topic) -> str:
    """The description of a topic's channels: what it carries, who writes and reads it, how it is kept."""
    return "\n".join(
        (
            topic.description,
            "",
            f"- Producer: `{topic.producer}`",
            f"- Consumers: {', '.join(f'`{c}`' for c in topic.consumers)}",
            f"- Key: `{topic.key}` of the payload (the aggregate id; Kafka keeps order per key)",
            f"- Partitions: {topic.partitions}",
            f"- Cleanup policy: {topic.cleanup_policy}",
            f"- Retention: {retention_text(topic.retention_ms)}",
            f"- Event types: {_events_text(topic)}",
        )
    )


# --- AsyncAPI ---------------------------------------------------------------------------------------------


def named_envelope(model: type[EventModel]) -> type[BaseModel]:
    """``Envelope[Model]`` under a name an AsyncAPI component may have (no brackets), same fields."""
    doc = (
        f"Envelope of `{model.event_type}` version {model.version} (`type` = `{model.event_type}`, "
        f"`schema_version` = {model.version}); `data` is a `{model.__name__}`."
    )
    namespace = {"__doc__": doc, "__module__": __name__, "__qualname__": f"{model.__name__}Envelope"}
    return cast("type[BaseModel]", type(f"{model.__name__}Envelope", (Envelope[model],), namespace))


def _function_name(prefix: str, model: type[EventModel]) -> str:
    return f"{prefix}_{model.event_type.replace('.', '_').replace('-', '_')}_v{model.version}"


def _publishing(model: type[EventModel], envelope_type: type[BaseModel]) -> Callable[[], Any]:
    """A stand-in for the producer's publishing code: FastStream documents its return type."""

    def publish() -> Any:
        raise NotImplementedError

    publish.__name__ = publish.__qualname__ = _function_name("publish", model)
    publish.__annotations__ = {"return": envelope_type}
    return publish


def _handling(model: type[EventModel], envelope_type: type[BaseModel]) -> Callable[..., Any]:
    """A stand-in for a consumer's handler: FastStream documents the type of its argument."""

    async def handle(envelope: Any) -> None:
        raise NotImplementedError

    handle.__name__ = handle.__qualname__ = _function_name("on", model)
    handle.__annotations__ = {"envelope": envelope_type, "return": None}
    return handle


def _has_event_type(event_type: str) -> Callable[[KafkaMessage], bool]:
    """Routes a record to the handler of its type by the `event_type` header.

    Only for the document: a real FastStream subscriber would route this way; crmkit's consumer
    dispatches on the envelope's `type`.
    """

    def accepts(message: KafkaMessage) -> bool:
        return message.headers.get("event_type") == event_type

    return accepts


def _check_unique_components(topics: Iterable[Topic]) -> None:
    """FastStream names components after the model titles and silently keeps the last of two namesakes."""
    names: dict[str, type[EventModel]] = {}
    defs: dict[str, Any] = {}
    for topic in topics:
        for model in topic.events:
            seen = names.setdefault(f"{model.__name__}Envelope", model)
            if seen is not model:
                raise ValueError(f"two event models are named {model.__name__}: {seen} and {model}")
            for name, schema in envelope_schema(model).get("$defs", {}).items():
                if defs.setdefault(name, schema) != schema:
                    raise ValueError(f"two different schemas are named {name} (seen in {model.__name__})")


def build_broker(topics: Iterable[Topic] = TOPICS) -> KafkaBroker:
    """A broker, never connected, with a publisher and a subscriber per topic, typed with the envelopes."""
    broker = KafkaBroker(
        LOCAL_BOOTSTRAP,
        description="The local stack's broker (`make up`); deployments set `KAFKA_BOOTSTRAP_SERVERS`.",
    )
    for topic in topics:
        envelopes = [(model, named_envelope(model)) for model in topic.events]
        description = topic_description(topic)
        publisher = broker.publisher(topic.name, title=f"{topic.name}:Publisher", description=description)
        for model, envelope in envelopes:
            publisher(_publishing(model, envelope))
        subscriber = broker.subscriber(topic.name, title=f"{topic.name}:Subscriber", description=description)
        for model, envelope in envelopes:
            subscriber(_handling(model, envelope), filter=_has_event_type(model.event_type))
    return broker


def _message_name(reference: str) -> str:
    prefix = "#/components/messages/"
    if not reference.startswith(prefix):
        raise ValueError(f"unexpected message reference {reference}")
    return unquote(reference.removeprefix(prefix))


def _add_kafka_details(document: dict[str, Any], topics: Iterable[Topic]) -> None:
    """What FastStream leaves out: partitions and topic configuration, the record key and headers."""
    by_name = {topic.name: topic for topic in topics}
    messages = document["components"]["messages"]
    headers = {
        "type": "object",
        "description": "Record headers, copied from the envelope so that tools can route and deduplicate "
        "without parsing the value.",
        "properties": {name: schema for name, schema, _ in RECORD_HEADERS},
        "required": [name for name, _, always in RECORD_HEADERS if always],
    }
    for channel in document["channels"].values():
        topic = by_name[channel["address"]]
        binding = channel["bindings"]["kafka"]
        binding["partitions"] = topic.partitions
        binding["topicConfiguration"] = {
            "cleanup.policy": [topic.cleanup_policy],
            "retention.ms": topic.retention_ms,
        }
        for reference in channel["messages"].values():
            message = messages[_message_name(reference["$ref"])]
            message["contentType"] = "application/json"
            message["headers"] = headers
            message["bindings"] = {
                "kafka": {
                    "bindingVersion": binding["bindingVersion"],
                    "key": {
                        "type": "string",
                        "description": f"`{topic.key}` of the payload, as text (= the envelope's "
                        "`partition_key`).",
                    },
                }
            }


class _YamlDumper(yaml.SafeDumper):
    """Readable, stable YAML: multi-line text as literal blocks, and no anchors for repeated objects."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_text(dumper: yaml.SafeDumper, text: str) -> Any:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_YamlDumper.add_representer(str, _represent_text)


def render_asyncapi(topics: Iterable[Topic] = TOPICS) -> str:
    topics = tuple(topics)
    _check_unique_components(topics)
    spec = AsyncAPI(
        build_broker(topics),
        title="EDESAL CRM events",
        version=metadata.version("crm-contracts"),
        description=(
            "Every topic of the EDESAL CRM and the events it carries. A record's value is an envelope "
            "(JSON) whose `data` is the event payload; its key is the aggregate id (the envelope's "
            "`partition_key`); its headers mirror the envelope's ids. Versioning rules: docs/contracts.md."
            f"\n\n{GENERATED_NOTE}"
        ),
        schema_version="3.0.0",
    )
    with warnings.catch_warnings():
        # FastStream warns, and keeps one of them, when two channels, operations or schemas share a name.
        warnings.filterwarnings("error", message=".*(Overwrit|same name).*", category=RuntimeWarning)
        document = spec.to_specification().to_jsonable()
    _add_kafka_details(document, topics)
    body = yaml.dump(
        document, Dumper=_YamlDumper, sort_keys=True, allow_unicode=True, default_flow_style=False, width=110
    )
    return f"# {GENERATED_NOTE}\n{body}"


# --- topics.md --------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_topics(topics: Iterable[Topic] = TOPICS) -> str:
    lines = [
        f"<!-- {GENERATED_NOTE} -->",
        "",
        "# Topics",
        "",
        "Every topic of the EDESAL CRM, from `crm_contracts.registry.TOPICS`. The key is a field of the "
        "event payload (the aggregate id): Kafka keeps the order of the events of one key. Each event type "
        "links to the JSON Schema of its envelope; the AsyncAPI document is [asyncapi.yaml](asyncapi.yaml). "
        "Rules for changing an event: [docs/contracts.md](../../docs/contracts.md).",
        "",
        "| Topic | Key | Partitions | Cleanup policy | Retention | Producer | Consumers | Event types |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for topic in topics:
        events = "<br>".join(
            f"[`{model.event_type}` v{model.version}]({schema_path(model)})" for model in topic.events
        )
        cells = (
            f"`{topic.name}`",
            f"`{topic.key}`",
            str(topic.partitions),
            topic.cleanup_policy,
            retention_text(topic.retention_ms),
            topic.producer,
            ", ".join(topic.consumers),
            events,
        )
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    lines += ["", "## What each topic carries", ""]
    lines += [f"- `{topic.name}`: {topic.description}" for topic in topics]
    lines += [
        "",
        "Dead letters are not in the registry: each consumer group has its own `deadletter.<group>.v1` "
        "topic (one partition), created by `crmkit create-topics`.",
        "",
    ]
    return "\n".join(lines)


# --- all files, check, write ------------------------------------------------------------------------------


def render(topics: Iterable[Topic] = TOPICS) -> dict[str, str]:
    """Every generated file: path relative to ``contracts/docs`` (with ``/``) -> its text."""
    topics = tuple(topics)
    files = {ASYNCAPI_FILE: render_asyncapi(topics), TOPICS_FILE: render_topics(topics)}
    for topic in topics:
        for model in topic.events:
            files[schema_path(model)] = _dump_json(envelope_schema(model))
    return dict(sorted(files.items()))


def default_docs_dir() -> Path:
    """``contracts/docs`` of the work tree that ``crm_contracts`` is imported from (an editable install)."""
    contracts = Path(crm_contracts.__file__).resolve().parents[2]
    if not (contracts / "pyproject.toml").is_file():
        raise SystemExit(f"crm_contracts is not imported from a work tree ({contracts}); pass --docs-dir")
    return contracts / "docs"


def _existing_files(docs_dir: Path) -> set[str]:
    if not docs_dir.is_dir():
        return set()
    return {
        path.relative_to(docs_dir).as_posix()
        for path in docs_dir.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(docs_dir).parts)
    }


@dataclass(frozen=True)
class Drift:
    """How the files on disk differ from the generated ones."""

    differing: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.differing or self.missing or self.stale)

    def describe(self, docs_dir: Path | str = "contracts/docs", *, written: bool = False) -> str:
        labels = (
            ("rewritten", "written", "removed (stale)")
            if written
            else ("differs from the models", "is missing", "is stale (not generated any more)")
        )
        lines = []
        for label, paths in zip(labels, (self.differing, self.missing, self.stale), strict=True):
            lines += [f"{docs_dir}/{path} {label}" for path in paths]
        return "\n".join(lines)


def compare(docs_dir: Path, files: Mapping[str, str]) -> Drift:
    existing = _existing_files(docs_dir)
    differing = [
        path
        for path, text in files.items()
        if path in existing and (docs_dir / path).read_bytes() != text.encode("utf-8")
    ]
    return Drift(
        differing=tuple(sorted(differing)),
        missing=tuple(sorted(set(files) - existing)),
        stale=tuple(sorted(existing - set(files))),
    )


def write(docs_dir: Path, files: Mapping[str, str]) -> Drift:
    """Brings ``docs_dir`` to exactly ``files``; returns what it changed."""
    drift = compare(docs_dir, files)
    for path in (*drift.differing, *drift.missing):
        target = docs_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[path].encode("utf-8"))
    for path in drift.stale:
        (docs_dir / path).unlink()
    return drift


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m crmkit.contract_docs", description="Generate or check contracts/docs."
    )
    parser.add_argument("action", choices=("write", "check"))
    parser.add_argument("--docs-dir", type=Path, help="default: contracts/docs of this work tree")
    args = parser.parse_args(argv)
    docs_dir: Path = args.docs_dir or default_docs_dir()
    files = render()
    if args.action == "write":
        drift = write(docs_dir, files)
        print(
            drift.describe(docs_dir, written=True)
            if drift
            else f"{docs_dir} is up to date ({len(files)} files)"
        )
        return 0
    drift = compare(docs_dir, files)
    if drift:
        print(drift.describe(docs_dir), file=sys.stderr)
        print("The contract docs are out of date: run `make contracts-docs`.", file=sys.stderr)
        return 1
    print(f"{docs_dir} is up to date ({len(files)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
