"""The async client in a FastAPI-style back end: one AsyncKassa per process, calls run in parallel."""

from __future__ import annotations

import asyncio
import os

from kassa_sdk import AsyncKassa
from kassa_sdk.types import Cart, LineItemInput


async def main() -> None:
    async with AsyncKassa() as kassa:  # KASSA_API_KEY and KASSA_BASE_URL from the environment
        variant = os.environ["KASSA_VARIANT_ID"]
        carts: list[Cart] = await asyncio.gather(*(
            kassa.carts.create(currency="EUR", line_items=[LineItemInput(variant_id=variant, quantity=n)])
            for n in range(1, 6)))
        print("cart totals:", [cart.total for cart in carts])

        page = await kassa.orders.list(limit=10)  # one page
        print(f"first page: {len(page.data)} orders, more: {page.has_more}")
        async for order in kassa.orders.list():  # every order, page after page
            print(order.id, order.total)
        summary = await kassa.abandoned_carts.summary(window_days=30)
        print(f"abandoned in 30 days: {summary.abandoned_count}, recovered: {summary.recovered_count}")


if __name__ == "__main__":
    asyncio.run(main())
