"""Human codes (ATN-2026-000123): one counter per prefix and year, created on first use, never repeated."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = pytest.mark.integration


async def test_a_new_year_starts_its_own_counter(service):
    codes = [await service.fetchval("SELECT next_code('ATN', 2031)") for _ in range(3)]
    assert codes == ["ATN-2031-000001", "ATN-2031-000002", "ATN-2031-000003"]
    assert await service.fetchval("SELECT next_code('EVT', 2031)") == "EVT-2031-000001"


async def test_the_first_codes_of_a_year_asked_at_once_are_all_different(service):
    async def one() -> str:
        async with service.runtime.pool.acquire() as conn, conn.transaction():
            return str(await conn.fetchval("SELECT next_code('TCK', 2033)"))

    codes = await asyncio.gather(*(one() for _ in range(10)))
    assert sorted(codes) == [f"TCK-2033-{n:06d}" for n in range(1, 11)]
