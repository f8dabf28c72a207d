"""Human-facing numbers: one sequence per prefix and year, no gaps, no repeats under concurrency."""

from __future__ import annotations

import asyncio

from caremesh.platform.numbering import next_number


async def test_numbers_count_up_per_prefix_and_year(env):
    async with env.uow() as uow:
        taken = [await next_number(uow.session, "TST", 2030) for _ in range(3)]
        taken.append(await next_number(uow.session, "TST", 2031))
        taken.append(await next_number(uow.session, "OTH", 2030))
    assert taken == ["TST-2030-000001", "TST-2030-000002", "TST-2030-000003", "TST-2031-000001", "OTH-2030-000001"]


async def test_concurrent_transactions_never_share_a_number(env):
    async def take() -> str:
        async with env.uow() as uow:
            return await next_number(uow.session, "CON", 2030)

    numbers = await asyncio.gather(*(take() for _ in range(20)))
    assert sorted(numbers) == [f"CON-2030-{n:06d}" for n in range(1, 21)]


async def test_a_rolled_back_transaction_gives_its_number_back(env):
    async with env.uow() as uow:
        await next_number(uow.session, "RBK", 2030)
        await uow.rollback()
    async with env.uow() as uow:
        assert await next_number(uow.session, "RBK", 2030) == "RBK-2030-000001"
