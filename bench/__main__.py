import asyncio

from bench import billing, booking, claims, distributed, orders

if __name__ == "__main__":
    asyncio.run(booking.main())
    asyncio.run(billing.main())
    asyncio.run(orders.main())
    asyncio.run(claims.main())
    asyncio.run(distributed.main())
