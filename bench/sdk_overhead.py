"""The Python SDK's own CPU cost per call, against a bare httpx request with the same body.

    uv run python bench/sdk_overhead.py [--calls 3000] [--rounds 5]

A small keep-alive HTTP server in another process answers every request with the same realistic
cart (3 lines, a discount, tax lines: about 1.7 KB of JSON), so only the client's work is measured,
in CPU time of this process (`time.process_time`, less sensitive to a busy machine than wall time).
Per round and per kind, `--calls` requests are made, the kinds interleaved round after round; the
figures are the median and the minimum over the rounds (the minimum is the least disturbed by other
work on the machine):

* bare httpx:           `client.post(url, content=body, headers=...)`, the answer's bytes read
* httpx + msgspec:      the same, the answer decoded into the contract's `Cart` (a hand-made client)
* SDK:                  `kassa.carts.add_line_item(...)` (encodes the contract Struct, adds an
                        Idempotency-Key, reads the answer, decodes it into `Cart`), no retries taken
* SDK GET:              `kassa.carts.retrieve(...)` against a bare `client.get`

Target: the SDK adds < 0.2 ms of CPU per call over the bare request. Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import msgspec
from kassa_contract.cart import (
    AppliedDiscount,
    Cart,
    LineDiscountAllocation,
    LineItem,
    LineItemInput,
    TaxLine,
)
from kassa_sdk import Kassa

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)


def canned_cart() -> bytes:
    lines = [LineItem(id=f"li_{i}", variant_id=f"var_{i}", product_id=f"prod_{i}", sku=f"SKU-{i}", name=f"Shirt {i}",
                      quantity=i + 1, unit_price=1500, subtotal=1500 * (i + 1), discount_total=150, tax_total=260,
                      total=1500 * (i + 1) - 150, tax_rate="19", tax_class="standard", categories=["tops", "sale"],
                      custom=False, metadata={"color": "blue"},
                      discount_allocations=[LineDiscountAllocation(campaign_id="camp_1", code="SPRING", amount=150)])
             for i in range(3)]
    cart = Cart(id="cart_1", status="open", currency="EUR", customer_email="ana@example.com", line_items=lines,
                shipping_address=None, billing_address=None, shipping_method=None,
                discounts=[AppliedDiscount(code="SPRING", campaign_id="camp_1", name="Spring", amount=450)],
                notices=[], tax_lines=[TaxLine(name="USt", rate="19", taxable_amount=8550, amount=1365)],
                taxes_included=True, subtotal=9000, discount_total=450, shipping_total=0, tax_total=1365, total=8550,
                item_count=6, metadata={"src": "ads"}, created_at=NOW, updated_at=NOW)
    return msgspec.json.encode(cart)


def serve(port: int) -> None:
    """The answering server: HTTP/1.1 keep-alive on raw asyncio, the canned cart for every request."""
    reply = canned_cart()
    head = (f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(reply)}\r\n"
            f"x-request-id: req_1\r\n\r\n").encode()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in raw.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                writer.write(head + reply)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def cpu_per_call(fn: Callable[[], object], calls: int) -> float:
    """CPU milliseconds per call of `fn`, over `calls` calls (after a warm-up)."""
    for _ in range(50):
        fn()
    gc.collect()
    start = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - start) * 1000 / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return

    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        base = f"http://127.0.0.1:{port}"
        key = "sk_test_bench"
        body = msgspec.json.encode({"variantId": "var_1", "quantity": 2})
        url = f"{base}/api/v1/carts/cart_1/line-items"
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Accept": "application/json",
                   "Idempotency-Key": "a6a1c3a2-5b0f-4c1e-8a53-0f9b1c2d3e4f"}
        decode_cart = msgspec.json.Decoder(Cart).decode
        bare = httpx.Client(timeout=10)
        kassa = Kassa(key, base_url=base, max_retries=0)
        line = LineItemInput(variant_id="var_1", quantity=2)
        assert kassa.carts.add_line_item("cart_1", variant_id=line.variant_id, quantity=2).total == 8550

        kinds: dict[str, Callable[[], object]] = {
            "bare httpx POST": lambda: bare.post(url, content=body, headers=headers).content,
            "httpx POST + msgspec Cart": lambda: decode_cart(bare.post(url, content=body, headers=headers).content),
            "SDK carts.add_line_item": lambda: kassa.carts.add_line_item("cart_1", variant_id="var_1", quantity=2),
            "bare httpx GET": lambda: bare.get(f"{base}/api/v1/carts/cart_1", headers=headers).content,
            "SDK carts.retrieve": lambda: kassa.carts.retrieve("cart_1"),
        }
        results: dict[str, list[float]] = {name: [] for name in kinds}
        for _ in range(args.rounds):  # interleaved, so that a busy moment on the machine hits every kind
            for name, fn in kinds.items():
                results[name].append(cpu_per_call(fn, args.calls))
        print(f"CPU per call (ms) over {args.rounds} rounds of {args.calls} calls; answer {len(canned_cart())} bytes")
        print(f"  {'':28} {'median':>7} {'min':>7}")
        for stat in (statistics.median, min):
            figures = {name: stat(values) for name, values in results.items()}
            if stat is min:
                low = figures
            else:
                mid = figures
        for name in kinds:
            print(f"  {name:28} {mid[name]:7.3f} {low[name]:7.3f}")
        for label, f in (("median", mid), ("min", low)):
            post = f["SDK carts.add_line_item"] - f["bare httpx POST"]
            get = f["SDK carts.retrieve"] - f["bare httpx GET"]
            decode = f["httpx POST + msgspec Cart"] - f["bare httpx POST"]
            print(f"SDK overhead over bare httpx ({label}): POST {post:+.3f} ms, GET {get:+.3f} ms (target < 0.2 ms); "
                  f"decoding the answer into Cart alone: {decode:+.3f} ms")
        bare.close()
        kassa.close()
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
