"""One local stack (every service a separate process, as `make up` runs them) shared by the tests of this
directory that need it; started on first use, on its own ports, state directory and databases."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper modules of this folder

from stack_harness import StackHarness

VAR = Path(__file__).resolve().parents[2] / "var" / "test"


@pytest.fixture(scope="session")
def local_stack(request: pytest.FixtureRequest) -> Iterator[StackHarness]:
    harness = StackHarness.create(VAR)
    harness.build()
    try:
        harness.start_all()
        harness.wait_ready(timeout=180)
        yield harness
    finally:
        harness.stop_all()
    # Keep the state (logs) of a failed run for a person to read; drop the private cluster of a good one.
    if not request.session.testsfailed:
        shutil.rmtree(harness.state_dir, ignore_errors=True)
