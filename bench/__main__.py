import asyncio

from bench import booking

if __name__ == "__main__":
    asyncio.run(booking.main())
