"""Rollup latency on the local stack: a COMANDA closure published -> its event closable in the attentions API.

    python3 -m uv run python benchmarks/rollup_bench.py [--samples 200] [--poll-ms 5]

The stack is the one ``make up`` starts (deploy/local/stack.py's plan, run by the system tests' harness):
every service a separate process, a private PostgreSQL cluster, Tansu, the mail catcher, the nginx gateway.
Each sample: a clerk creates an event with one ticket through the gateway; COMANDA (the simulator, on the
real broker) receives the assignment; then the timer starts, COMANDA publishes the closure (``send`` waits
for the broker's ack), and the clerk reads ``GET /api/attentions/events/{id}`` every ``--poll-ms`` until
``tickets_closed == tickets_total``: from then ``POST /events/{id}/close`` is accepted (the same count is
what it checks). The path: COMANDA topic -> tickets worker (state, transition, outbox) -> tickets relay ->
attentions worker (ticket status replica) -> attentions API behind nginx. The figures include up to one
polling interval and one GET; one sample at a time, 20 ms apart.
Results: docs/benchmarks/rollup.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from common import ROOT, summary_ms, write_results

sys.path.insert(0, str(ROOT / "tests" / "system"))

from stack_harness import StackHarness
from story_load import ADMIN, CLERK, TECHNICIAN, Load

STATE = ROOT / "var" / "bench"
TARGET_P99_MS = 250


async def closable_after(load: Load, event_id: str, poll_s: float, timeout: float = 30.0) -> float:
    """Seconds until the attentions API shows every ticket of the event closed (from the caller's start)."""
    started = time.perf_counter()
    while True:
        event = await load.get("attentions", CLERK, f"/events/{event_id}")
        if event["tickets_total"] and event["tickets_closed"] == event["tickets_total"]:
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"event {event_id} not closable after {timeout} s")
        await asyncio.sleep(poll_s)


async def measure(harness: StackHarness, samples: int, warmup: int, poll_s: float) -> dict[str, Any]:
    load = Load(harness.gateway_urls, harness.broker, uuid.uuid4().hex[:6])
    await load.start_comanda()
    try:
        today = date.today()
        client = await load.write(CLERK, "/clients", {"kind": "prospect", "name": "Cliente del benchmark"})
        attention = await load.write(
            CLERK,
            f"/clients/{client['client_id']}/attentions",
            {"channel": "phone", "subject": "Benchmark", "happened_at": datetime.now(UTC).isoformat()},
        )
        latencies: list[float] = []
        for i in range(warmup + samples):
            event = await load.write(
                CLERK,
                f"/attentions/{attention['attention_id']}/events",
                {"title": f"Compromiso {i}",
                 "internal_commitment_date": (today + timedelta(days=3)).isoformat(),
                 "client_commitment_date": (today + timedelta(days=7)).isoformat()},
            )  # fmt: skip
            ticket = await load.write(
                CLERK,
                f"/events/{event['event_id']}/tickets",
                {"responsibility": "Inspección", "due_date": (today + timedelta(days=2)).isoformat(),
                 "responsible_id": TECHNICIAN},
            )  # fmt: skip
            ticket_id = str(ticket["ticket_id"])
            assert load.comanda is not None
            await load.comanda.wait_for(ticket_id, wait_s=60)  # the assignment is in COMANDA's inbox
            started = time.perf_counter()
            await load.comanda.close(ticket_id, "Inspección realizada.", by=TECHNICIAN)
            published = time.perf_counter() - started
            closable = await closable_after(load, event["event_id"], poll_s) + published
            if i >= warmup:
                latencies.append(closable)
            await asyncio.sleep(0.02)
        # The ticket the tickets API shows is closed too (the same rollup, read on the other side).
        last = await load.get("tickets", ADMIN, f"/tickets/{ticket_id}")
        assert last["status"] == "closed", last
        return summary_ms(latencies)
    finally:
        await load.stop_comanda()
        await load.close()


def run(samples: int, warmup: int, poll_ms: float) -> dict[str, Any]:
    STATE.mkdir(parents=True, exist_ok=True)
    harness = StackHarness.create(STATE)
    harness.build()
    load_before = os.getloadavg()[0]
    try:
        harness.start_all()
        harness.wait_ready(timeout=180)
        latency = asyncio.run(measure(harness, samples, warmup, poll_ms / 1000))
    finally:
        harness.stop_all()
    shutil.rmtree(harness.state_dir, ignore_errors=True)
    print(f"COMANDA publish -> event closable in the attentions API: {latency}")
    return {
        "comanda_publish_to_event_closable_in_attentions_api": latency,
        "poll_interval_ms": poll_ms,
        "targets": {"p99_ms_below": TARGET_P99_MS, "met": latency["p99_ms"] < TARGET_P99_MS},
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "notes": "the local stack as `make up` runs it (every service its own process, nginx gateway, "
        "Tansu, private PostgreSQL); one closure at a time; includes up to one polling interval.",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--poll-ms", type=float, default=5.0)
    args = parser.parse_args()
    results = run(args.samples, args.warmup, args.poll_ms)
    print(f"written to {write_results('rollup', results)}")


if __name__ == "__main__":
    main()
