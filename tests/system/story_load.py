"""A scripted load of the seed story, and the audit that compares what it did with every service's state.

Each *story* is what a clerk and COMANDA do for one client: create the client, an attention, an event and
two tickets through the attentions API; COMANDA (an in-test simulator on the real broker) takes the
assignments and closes both tickets; the clerk closes the event and then the attention once the closures
have rolled up. Several stories run at once, over and over, while faults are injected.

A request whose answer is lost (the service was SIGKILLed mid-request, PostgreSQL went away during COMMIT)
has an unknown outcome. The load sends every write with an Idempotency-Key, as the web client does, and
sends it again with the same key until it gets a definite answer: any duplicate the audit finds is the
system's.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from tickets.comanda_sim import ComandaSimulator
from tickets.comanda_sim.simulator import SimulatorError

CLERK, TECHNICIAN, SALES, ADMIN = "u-atencion", "u-tecnico", "u-comercial", "u-admin"
RETRY_STATUSES = {502, 503, 504}
# A period around today wherever the clock is: the reports count days in America/El_Salvador (UTC-6).
PERIOD = {
    "from": (date.today() - timedelta(days=1)).isoformat(),
    "to": (date.today() + timedelta(days=1)).isoformat(),
}
# A lost answer: the request may have been applied. (A refused connection was never sent.)
AMBIGUOUS = (httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout, httpx.WriteError)


class LoadComanda(ComandaSimulator):
    """COMANDA for the load: reads every partition of the assignments topic without a consumer group.

    A group member whose heartbeats stall for a few seconds on a loaded machine is evicted and rejoins,
    and a memory broker is slow and fragile at that; the load's COMANDA keeps its inbox in memory, commits
    nothing, and only needs every assignment once. Without a group there is nothing to be evicted from.
    """

    _consumer: AIOKafkaConsumer | None
    journal: list[str]

    async def send(self, envelope: Any) -> Any:
        sent = await super().send(envelope)
        data = envelope.data
        self.journal.append(
            f"{time.strftime('%H:%M:%S')} sent {data.status} seq {data.sequence} of {data.ticket_id} "
            f"to p{sent.partition}@{sent.offset}"
        )
        return sent

    def note_assignment(self, item: Any) -> None:
        self.journal.append(f"{time.strftime('%H:%M:%S')} received {item.code} {item.ticket_id}")

    async def start_consuming(self) -> None:
        if self._consumer is not None:
            return
        consumer = AIOKafkaConsumer(
            self.assignments_topic,
            bootstrap_servers=self.bootstrap_servers,
            group_id=None,
            client_id="comanda-load",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
        )
        await consumer.start()
        self._consumer = consumer

    def partitions(self) -> list[int]:
        consumer = self._consumer
        return sorted(tp.partition for tp in consumer.assignment()) if consumer is not None else []

    async def describe(self) -> str:
        """Where this consumer stands: for a report when an assignment never arrives."""
        consumer = self._consumer
        if consumer is None:
            return "no consumer"
        known = consumer.partitions_for_topic(self.assignments_topic)
        assigned = sorted(consumer.assignment())
        try:
            ends = await consumer.end_offsets(assigned)
            positions = {tp.partition: (await consumer.position(tp), ends[tp]) for tp in assigned}
        except Exception as exc:
            return f"metadata partitions {known}, assigned {[tp.partition for tp in assigned]}, error {exc!r}"
        return f"metadata partitions {known}, (position, end) by partition {positions}"


@dataclass
class Story:
    number: int
    name: str
    client_id: str | None = None
    attention_id: str | None = None
    event_id: str | None = None
    tickets: dict[str, str] = field(default_factory=dict)  # ticket_id -> responsible
    comanda_closed: set[str] = field(default_factory=set)
    event_closed: bool = False
    attention_closed: bool = False
    finished: bool = False


@dataclass
class LoadStats:
    requests: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    ambiguous: int = 0
    replayed: int = 0  # writes answered from their Idempotency-Key: sent again after a lost answer
    rescans: int = 0  # COMANDA's consumer restarted because an assignment did not arrive in 30 s


class Load:
    def __init__(self, urls: dict[str, str], broker: str, run_tag: str) -> None:
        self.urls = urls
        self.broker = broker
        self.tag = run_tag
        self.stories: list[Story] = []
        self.stats = LoadStats()
        self.stop = asyncio.Event()
        self.writes_allowed = asyncio.Event()
        self.writes_allowed.set()
        # COMANDA is not our system: after a memory broker restarts it must not publish before the services
        # have recreated the topics (Tansu acknowledges records for a missing topic and drops them:
        # scripts/tansu_produce_to_missing_topic.py; Apache Kafka refuses them).
        self.comanda_allowed = asyncio.Event()
        self.comanda_allowed.set()
        self.in_flight_writes = 0
        self.errors: list[str] = []
        self._tokens: dict[str, str] = {}
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(20.0, connect=3.0))
        self.comanda: LoadComanda | None = None
        self._comanda_lock = asyncio.Lock()
        self.comanda_errors: Counter[str] = Counter()
        self.comanda_journal: list[str] = []
        self.resent_after_interruption: list[str] = []  # ticket codes the audit accepted twice, and why
        self._pump: asyncio.Task[None] | None = None

    # -- plumbing ----------------------------------------------------------------------------------------

    async def token(self, user: str) -> str:
        if user not in self._tokens:

            async def issue() -> httpx.Response:
                return await self._http.post(f"{self.urls['attentions']}/dev/token", json={"user_id": user})

            response = await self._retrying("token", issue)
            self._tokens[user] = response.json()["access_token"]
        return self._tokens[user]

    async def _retrying(
        self, what: str, send: Callable[[], Awaitable[httpx.Response]], timeout: float = 240.0
    ) -> httpx.Response:
        """Send until a definite answer: connection refused and 502/503/504 mean "not now"."""
        deadline = time.monotonic() + timeout
        delay = 0.1
        while True:
            try:
                response = await send()
                self.stats.statuses[response.status_code] += 1
                if response.status_code not in RETRY_STATUSES:
                    return response
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
                pass
            self.stats.retries[what] += 1
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: no definite answer within {timeout} s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def call(
        self,
        service: str,
        user: str,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = {**(headers or {}), "Authorization": f"Bearer {await self.token(user)}"}
        url = f"{self.urls[service]}{path}"
        self.stats.requests[f"{method} {service}"] += 1

        async def send() -> httpx.Response:
            return await self._http.request(method, url, headers=headers, **kwargs)

        return await self._retrying(f"{method} {service}", send)

    async def get(self, service: str, user: str, path: str, **params: Any) -> Any:
        while True:
            try:
                response = await self.call(service, user, "GET", path, params=params)
            except AMBIGUOUS:
                continue  # a read is safe to repeat
            assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
            return response.json()

    async def find(self, service: str, user: str, path: str, **params: Any) -> Any:
        """A GET of something that may not exist yet (materialized from events): None on 404."""
        while True:
            try:
                response = await self.call(service, user, "GET", path, params=params)
            except AMBIGUOUS:
                continue
            if response.status_code == 404:
                return None
            assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
            return response.json()

    async def write(
        self, user: str, path: str, body: dict[str, Any], ok: tuple[int, ...] = (200, 201)
    ) -> dict[str, Any]:
        """A create or a close on the attentions API, as the web client sends it: with one Idempotency-Key
        however often it must be sent. A lost answer (the service was killed, PostgreSQL went away during
        COMMIT) is simply asked again; the service applies the write at most once and answers alike."""
        key = f"load-{uuid.uuid4()}"
        while True:
            await self.writes_allowed.wait()
            self.in_flight_writes += 1
            try:
                response = await self.call(
                    "attentions", user, "POST", path, json=body, headers={"Idempotency-Key": key}
                )
            except AMBIGUOUS:
                self.stats.ambiguous += 1
                continue
            finally:
                self.in_flight_writes -= 1
            if response.headers.get("idempotent-replayed") == "true":
                self.stats.replayed += 1
            if response.status_code in ok:
                return dict(response.json())
            raise AssertionError(f"POST {path}: {response.status_code} {response.text}")

    # -- COMANDA ---------------------------------------------------------------------------------------

    async def start_comanda(self) -> None:
        """(Re)start COMANDA: a new client of the broker, the same inbox, and a pump of its own.

        Each COMANDA instance has its own pump task, cancelled before the instance is stopped: a pump
        shared across instances could be left waiting on a consumer stopped under it, and then nothing
        would take assignments any more."""
        async with self._comanda_lock:
            store = self.comanda.store if self.comanda is not None else None
            await self._stop_pump_and_comanda()
            comanda = LoadComanda(self.broker, store=store)
            comanda.journal = self.comanda_journal
            comanda.on_assignment = comanda.note_assignment
            self.comanda_journal.append(f"{time.strftime('%H:%M:%S')} COMANDA (re)started")
            deadline = time.monotonic() + 120
            while True:
                try:
                    await comanda.start()
                    break
                except Exception:
                    await comanda.stop()
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
            self.comanda = comanda
            self._pump = asyncio.create_task(self._take_assignments(comanda))

    async def _take_assignments(self, comanda: LoadComanda) -> None:
        """COMANDA's inbox: keep taking assignments until ``stop_comanda`` (not ``stop``: stories already
        started still need their assignments after the load is told to start no new ones)."""
        while True:
            try:
                await comanda.poll(timeout_ms=200)
            except Exception as exc:
                self.comanda_errors[type(exc).__name__] += 1
                await asyncio.sleep(0.2)

    async def stop_comanda(self) -> None:
        async with self._comanda_lock:
            await self._stop_pump_and_comanda()

    async def _stop_pump_and_comanda(self) -> None:
        """The pump first: it must never wait on a consumer stopped under it."""
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(BaseException):
                await self._pump
            self._pump = None
        if self.comanda is not None:
            await self.comanda.stop()

    async def comanda_close(self, ticket_id: str, resolution: str) -> None:
        started = time.monotonic()
        deadline = started + 240
        rescanned = False
        while True:
            comanda = self.comanda
            try:
                assert comanda is not None
                item = comanda.store.get(ticket_id)
                if item is None and not rescanned and time.monotonic() - started > 30:
                    # COMANDA's consumer has not seen the assignment: read the topic again with a new
                    # consumer, as an operator would restart a stuck client (counted in the report).
                    rescanned = True
                    self.stats.rescans += 1
                    await self.start_comanda()
                    continue
                if item is not None and item.status == "closed":
                    return
                if item is not None:
                    await self.writes_allowed.wait()
                    await self.comanda_allowed.wait()
                    self.in_flight_writes += 1
                    try:
                        await asyncio.wait_for(comanda.close(ticket_id, resolution), 10)
                    finally:
                        self.in_flight_writes -= 1
                    return
            except (SimulatorError, AssertionError):
                pass
            except Exception:
                pass  # the broker is away: COMANDA tries again, as a real system would
            if time.monotonic() > deadline:
                seen = await self.call("tickets", ADMIN, "GET", f"/tickets/{ticket_id}")
                where = await comanda.describe() if isinstance(comanda, LoadComanda) else "no COMANDA"
                raise AssertionError(
                    f"COMANDA never received ticket {ticket_id} (poll errors {dict(self.comanda_errors)}; "
                    f"{where}); the tickets service says {seen.status_code} {seen.text[:200]}"
                )
            await asyncio.sleep(0.2)

    # -- the story ---------------------------------------------------------------------------------------

    async def run_story(self, story: Story) -> None:
        today = date.today()
        name = story.name

        client = await self.write(
            CLERK,
            "/clients",
            {"kind": "prospect" if story.number % 2 else "stakeholder", "name": name,
             "sector": "Carga de prueba", "access_user_ids": [TECHNICIAN, SALES]},
        )  # fmt: skip
        story.client_id = client["client_id"]
        attention = await self.write(
            CLERK,
            f"/clients/{story.client_id}/attentions",
            {"channel": "phone", "subject": f"{name}: solicitud", "description": "Llamada de la carga.",
             "happened_at": datetime.now(UTC).isoformat()},
        )  # fmt: skip
        story.attention_id = attention["attention_id"]
        event = await self.write(
            CLERK,
            f"/attentions/{story.attention_id}/events",
            {"title": f"{name}: evento", "internal_commitment_date": (today + timedelta(days=10)).isoformat(),
             "client_commitment_date": (today + timedelta(days=15)).isoformat()},
        )  # fmt: skip
        story.event_id = event["event_id"]

        for k, responsible in enumerate((TECHNICIAN, SALES), start=1):
            ticket = await self.write(
                CLERK,
                f"/events/{story.event_id}/tickets",
                {"responsibility": f"{name}: tarea {k}", "due_date": (today + timedelta(days=5)).isoformat(),
                 "responsible_id": responsible, "cc_ids": []},
            )  # fmt: skip
            story.tickets[str(ticket["ticket_id"])] = responsible

        for ticket_id in story.tickets:
            await self.comanda_close(ticket_id, f"Resuelto ({name})")
            story.comanda_closed.add(ticket_id)

        async def event_ready() -> dict[str, Any]:
            return dict(await self.get("attentions", CLERK, f"/events/{story.event_id}"))

        deadline = time.monotonic() + 300
        while (detail := await event_ready())["tickets_closed"] < len(story.tickets):
            if time.monotonic() > deadline:
                raise AssertionError(f"closures never rolled up for {name}: {detail}")
            await asyncio.sleep(0.2)

        await self.write(CLERK, f"/events/{story.event_id}/close", {"note": "Tareas cumplidas."})
        story.event_closed = True
        await self.write(CLERK, f"/attentions/{story.attention_id}/close", {"note": "Atendido."})
        story.attention_closed = True
        story.finished = True

    async def worker(self, number: int, concurrency: int) -> None:
        n = number
        while not self.stop.is_set():
            story = Story(n, f"Carga {self.tag}-{n:04d}")
            self.stories.append(story)
            try:
                await self.run_story(story)
            except Exception as exc:
                self.errors.append(f"{story.name}: {exc!r}")
                tickets = set(story.tickets)
                said = [line for line in self.comanda_journal if any(t in line for t in tickets)]
                print(f"load error: {story.name}: {exc!r}\nCOMANDA about its tickets: {said}", flush=True)
                return
            n += concurrency

    async def run(self, concurrency: int) -> None:
        await self.start_comanda()
        try:
            await asyncio.gather(*(self.worker(i, concurrency) for i in range(concurrency)))
        finally:
            await self.stop_comanda()

    async def pause_writes(self) -> None:
        self.writes_allowed.clear()
        while self.in_flight_writes:
            await asyncio.sleep(0.05)

    def resume_writes(self) -> None:
        self.writes_allowed.set()

    async def close(self) -> None:
        await self.stop_comanda()
        await self._http.aclose()


# -- the audit ---------------------------------------------------------------------------------------------


async def caught_up(load: Load) -> list[str]:
    """What was published so far and is not consumed yet (empty: every consumer has caught up)."""
    gaps: list[str] = []
    comanda = load.comanda
    for story in list(load.stories):
        for ticket_id in list(story.tickets):
            if comanda is None or comanda.store.get(ticket_id) is None:
                gaps.append(f"{story.name}: {ticket_id} not in COMANDA")
            sent = await load.get("notifications", ADMIN, f"/tickets/{ticket_id}/messages")
            if not any(m["kind"] == "assignment" for m in sent["items"]):
                gaps.append(f"{story.name}: no assignment email for {ticket_id}")
        if story.comanda_closed and story.event_id:
            detail = await load.get("attentions", ADMIN, f"/events/{story.event_id}")
            closed = {str(t["ticket_id"]) for t in detail["tickets"] if t["status"] == "closed"}
            if not story.comanda_closed <= closed:
                gaps.append(f"{story.name}: closures not rolled up yet")
    return gaps


ASSIGNED = "Se le asignó el ticket "  # the assignment email's subject, then the code (see the template)


async def mail_subjects(http: httpx.AsyncClient, mail_api: str) -> list[str]:
    messages = (await http.get(f"{mail_api}/messages/", timeout=10)).json()["messages"]
    return [str(m["subject"]) for m in messages]


async def audit(load: Load, mail_api: str, stories: list[Story]) -> list[str]:
    """What the load did against what every service holds (attentions, tickets, notifications and its mail
    server, reports). Returns the discrepancies (empty: all kept)."""
    problems: list[str] = []
    codes: dict[str, str] = {}
    interrupted: dict[
        str, str
    ] = {}  # ticket code -> Message-ID, for sends the delivery log marks as repeated
    load.resent_after_interruption = []
    for story in stories:
        clients = await load.get("attentions", ADMIN, "/clients", q=story.name)
        same_name = [c for c in clients["items"] if c["name"] == story.name]
        if len(same_name) != 1:
            problems.append(f"{story.name}: {len(same_name)} clients")
            continue
        attentions = await load.get(
            "attentions", ADMIN, f"/clients/{story.client_id}/attentions", status="all"
        )
        if attentions["total"] != 1 or attentions["items"][0]["status"] != "closed":
            problems.append(f"{story.name}: attentions {attentions['total']} / not closed")
        events = await load.get("attentions", ADMIN, f"/attentions/{story.attention_id}/events")
        items = events["items"] if isinstance(events, dict) else events
        if len(items) != 1:
            problems.append(f"{story.name}: {len(items)} events")
        detail = await load.get("attentions", ADMIN, f"/events/{story.event_id}")
        if detail["status"] != "closed" or detail["tickets_total"] != 2 or detail["tickets_closed"] != 2:
            problems.append(
                f"{story.name}: event {detail['status']} {detail['tickets_closed']}/{detail['tickets_total']}"
            )
        tickets = await load.get("tickets", ADMIN, "/tickets", event_id=story.event_id)
        if tickets["total"] != 2:
            problems.append(f"{story.name}: tickets service holds {tickets['total']} tickets")
        report = await load.find("reports", ADMIN, "/reports/subject", client_id=story.client_id, **PERIOD)
        figures = report["summary"] if report else None
        counted = (
            (figures["attentions"]["opened"], figures["attentions"]["closed"], figures["events"]["closed"],
             figures["tickets"]["opened"], figures["tickets"]["closed"])
            if figures else None
        )  # fmt: skip
        if counted != (1, 1, 1, 2, 2):
            problems.append(f"{story.name}: the period report counts {counted}, not (1, 1, 1, 2, 2)")
        for ticket in tickets["items"]:
            codes[ticket["code"]] = story.name
            if ticket["status"] != "closed":
                problems.append(f"{story.name}: ticket {ticket['code']} is {ticket['status']}")
            sent = await load.get("notifications", ADMIN, f"/tickets/{ticket['id']}/messages")
            assignment = [
                m for m in sent["items"] if m["kind"] == "assignment" and m["recipient"]["role"] == "to"
            ]
            if len(assignment) != 1 or assignment[0]["status"] != "sent":
                summary = [(m["kind"], m["recipient"]["role"], m["status"]) for m in sent["items"]]
                problems.append(f"{story.name}: delivery log of {ticket['code']}: {summary}")
            elif assignment[0]["interrupted_attempts"]:
                interrupted[ticket["code"]] = assignment[0]["message_id"]
    catcher = await assignment_emails(load._http, mail_api)
    for code, name in codes.items():
        copies = catcher.get(code, [])
        if len(copies) == 1:
            continue
        # The one repeat the system admits: the sender died after the server took the message, and says so
        # in the delivery log; the repeat is the same message (same Message-ID).
        if len(copies) == 2 and code in interrupted:
            ids = {await message_id(load._http, mail_api, c) for c in copies}
            if ids == {interrupted[code]}:
                load.resent_after_interruption.append(code)
                continue
        problems.append(f"{name}: {len(copies)} assignment emails for {code} in the mail catcher")
    return problems


async def assignment_emails(http: httpx.AsyncClient, mail_api: str) -> dict[str, list[int]]:
    """The mail catcher's assignment emails: ticket code -> the catcher's message ids."""
    messages = (await http.get(f"{mail_api}/messages/", timeout=10)).json()["messages"]
    found: dict[str, list[int]] = {}
    for m in messages:
        subject = str(m["subject"])
        if subject.startswith(ASSIGNED):
            found.setdefault(subject.removeprefix(ASSIGNED).split(" ")[0], []).append(int(m["id"]))
    return found


async def message_id(http: httpx.AsyncClient, mail_api: str, catcher_id: int) -> str:
    source = (await http.get(f"{mail_api}/messages/{catcher_id}.source", timeout=10)).content
    return str(email.message_from_bytes(source, policy=email.policy.default)["Message-ID"])


async def broker_evidence(bootstrap: str, errors: list[str], groups: list[str]) -> str:
    """What the broker holds for the tickets named in the load's errors, and where the services' consumer
    groups stand: the evidence a failed run leaves for a person (records are gone with a memory broker)."""
    import json
    import re

    from aiokafka import TopicPartition

    ids = sorted(
        set(re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", " ".join(errors)))
    )
    lines: list[str] = []
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        for topic in ("tickets.tickets.v1", "comanda.ticket-status.v1", "attentions.ticket-requests.v1"):
            parts = sorted(
                consumer.partitions_for_topic(topic)
                or (await consumer.topics() and consumer.partitions_for_topic(topic))
                or []
            )
            tps = [TopicPartition(topic, p) for p in parts]
            if not tps:
                lines.append(f"{topic}: no partitions in the metadata")
                continue
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            lines.append(f"{topic}: end offsets {[ends[tp] for tp in tps]}")
            for _ in range(20):
                batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
                if not batch:
                    break
                for tp, records in batch.items():
                    for r in records:
                        key = (r.key or b"").decode(errors="replace")
                        body = r.value or b""
                        if any(i in key or i.encode() in body for i in ids):
                            data = json.loads(body)
                            lines.append(
                                f"  p{tp.partition}@{r.offset} key {key[:8]} {data.get('type')} "
                                f"seq {data.get('data', {}).get('sequence')} at {data.get('occurred_at')}"
                            )
    finally:
        await consumer.stop()
    for group in groups:
        member = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await member.start()
        try:
            for topic in ("tickets.tickets.v1", "comanda.ticket-status.v1", "attentions.ticket-requests.v1"):
                parts = member.partitions_for_topic(topic) or []
                committed = {p: await member.committed(TopicPartition(topic, p)) for p in sorted(parts)}
                lines.append(f"group {group} committed on {topic}: {committed}")
        finally:
            await member.stop()
    return "\n".join(lines)
