"""A worker or relay Deployment has no API, yet its pod needs liveness and readiness probes."""

from __future__ import annotations

from crmkit.runtime import ServiceDefinition, ServiceRuntime, probe_app
from crmkit.settings import KitSettings
from fastapi.testclient import TestClient


def _runtime(**settings: object) -> ServiceRuntime:
    return ServiceRuntime(ServiceDefinition(name="x", settings=KitSettings(**settings), migrations=[]))


def test_worker_alone_answers_liveness_and_reports_an_unready_database() -> None:
    app = probe_app(_runtime(service_name="tickets", http_port=8102), {"worker"})
    assert app is not None
    client = TestClient(app)
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    # The pool is not started: readiness says so instead of pretending.
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("unavailable")
    assert client.get("/metrics").status_code == 200


def test_probe_server_can_be_turned_off_for_two_parts_on_one_host() -> None:
    assert probe_app(_runtime(http_port=0), {"relay"}) is None
