"""Schemathesis against the OpenAPI document of every service, with a valid token, on seeded data.

For every operation of every service: valid and invalid generated requests (bodies, query filters, path
parameters, some of them ids of real objects) never get a 5xx, and every answer conforms to the document:
its status is documented, its content type is the documented one, and its body validates against the
schema of that status (the ``Problem`` schema for every error). Reproducible: hypothesis is derandomized.

Budget: ``FUZZ_EXAMPLES`` examples per operation in the default run (a few minutes for all services on
two cores); the slow tier (``--run-slow``) runs ``FUZZ_EXAMPLES_SLOW`` with shrinking.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest
from system.fuzz_support import SERVICES, System, running_system, seed_world
from system.openapi_fuzz import FuzzReport, fuzz_service

pytestmark = [
    pytest.mark.integration,
    # schemathesis 3.39 on recent jsonschema and hypothesis: deprecation noise, not findings.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
FUZZ_EXAMPLES_SLOW = int(os.environ.get("FUZZ_EXAMPLES_SLOW", "150"))
# Who calls: the admin, who sees everything (access is proven in test_security_access.py) and may use the
# operators' API of factelec-sync.
CALLER = "u-admin"


@pytest.fixture(scope="module")
async def system(infra) -> AsyncIterator[System]:
    async with running_system(infra) as system:
        await seed_world(system)
        yield system


async def fuzz(system: System, service: str, examples: int, shrink: bool) -> FuzzReport:
    loop = asyncio.get_running_loop()
    token = system.token(CALLER)
    return await asyncio.to_thread(
        fuzz_service, service, system.app(service), loop, token, system.ids, examples, shrink
    )


def explain(report: FuzzReport) -> str:
    return "\n\n".join(f"{op}:\n{text}" for op, text in report.failures.items())


@pytest.mark.parametrize("service", SERVICES)
async def test_no_server_error_and_no_answer_outside_the_document(system: System, service: str) -> None:
    report = await fuzz(system, service, FUZZ_EXAMPLES, shrink=False)
    print(service, report.operations, report.cases, report.statuses)
    assert report.operations > 0 and report.cases >= report.operations
    assert not report.failures, explain(report)


@pytest.mark.slow
@pytest.mark.parametrize("service", SERVICES)
async def test_no_server_error_and_no_answer_outside_the_document_long_run(
    system: System, service: str
) -> None:
    report = await fuzz(system, service, FUZZ_EXAMPLES_SLOW, shrink=True)
    assert not report.failures, explain(report)


@pytest.mark.parametrize("service", SERVICES)
async def test_every_operation_documents_its_errors_as_problems(system: System, service: str) -> None:
    """What the fuzzer holds the answers to: no FastAPI HTTPValidationError, a Problem for every error."""
    document = system.app(service).openapi()
    assert "HTTPValidationError" not in str(document)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            for status in ("default", *(s for s in responses if s.startswith(("4", "5")))):
                content = responses[status]["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
                assert content["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"
                }
