import asyncio

from bench import billing, booking

if __name__ == "__main__":
    asyncio.run(booking.main())
    asyncio.run(billing.main())
