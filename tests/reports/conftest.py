"""Fixtures of the reports tests: one set of services per module (see ``rpt_support``)."""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from attentions.service import define as define_attentions
from attentions.settings import Settings as AttentionsSettings
from crmkit import localstack
from crmkit.auth import DevTokenIssuer
from crmkit.runtime import ServiceRuntime
from crmkit.settings import KitSettings
from reports.service import define as define_reports
from reports.settings import Settings as ReportsSettings
from tickets.service import define as define_tickets
from tickets.settings import Settings as TicketsSettings

sys.path.insert(0, str(Path(__file__).parent))  # the helper module of this folder

from rpt_support import STAFF_CSV, Crm


@pytest.fixture(scope="module")
async def crm(infra: Any) -> AsyncIterator[Crm]:
    issuer = DevTokenIssuer(issuer="edesal-crm", audience="edesal-crm")
    prefix = f"t{uuid.uuid4().hex[:10]}."
    names: list[str] = []

    async def database(label: str) -> str:
        name = f"t_{label}_{uuid.uuid4().hex[:10]}"
        conn = await asyncpg.connect(infra.postgres_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        names.append(name)
        return localstack.with_database(infra.postgres_url, name)

    def settings(cls: type[KitSettings], label: str, url: str) -> Any:
        return cls(
            database_url=url,
            kafka_bootstrap_servers=infra.kafka,
            kafka_idempotence=infra.kafka_is_apache,
            topic_prefix=prefix,
            consumer_session_timeout_ms=3000,
            consumer_heartbeat_interval_ms=500,
            consumer_retry_backoff_s=0.05,
            relay_poll_interval_s=0.5,
            relay_standby_interval_s=0.2,
            log_json=False,
            log_level="WARNING",
            gc_gen0_threshold=0,
            jwt_issuer="edesal-crm",
            jwt_audience="edesal-crm",
            jwt_public_key=issuer.public_pem(),
        )

    attentions = ServiceRuntime(
        define_attentions(settings(AttentionsSettings, "a", await database("rpt_attentions")))
    )
    tickets = ServiceRuntime(define_tickets(settings(TicketsSettings, "t", await database("rpt_tickets"))))
    reports = ServiceRuntime(define_reports(settings(ReportsSettings, "r", await database("rpt_reports"))))
    try:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(attentions.running())
            await stack.enter_async_context(tickets.running())
            await stack.enter_async_context(reports.running())
            producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, acks="all")
            await producer.start()
            stack.push_async_callback(producer.stop)
            crm = Crm(attentions, tickets, reports, issuer, producer)
            stack.push_async_callback(crm.close)
            response = await crm.attentions("u-admin", "admin").post(
                "/staff/import", files={"file": ("staff.csv", STAFF_CSV.encode(), "text/csv")}
            )
            assert response.status_code == 200, response.text
            yield crm
    finally:
        conn = await asyncpg.connect(infra.postgres_url)
        try:
            for name in names:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
