"""Per-request CPU cost of the body checks every POST passes through: the idempotency fingerprint
(canonical JSON: decode, encode with sorted keys, SHA-256) against hashing the raw bytes, and the
JSON nesting check of RequestBodyMiddleware.

    uv run python bench/request_checks.py [--runs 20000]

Prints microseconds of CPU time per call (process time, so less sensitive to a shared machine)
for a line-item add, a cart create with addresses and metadata, a 1,000-code import and a
~1 MB body. Prints figures only; it asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import time

import msgspec
from kassa_platform.body import json_depth_exceeds
from kassa_platform.idempotency import fingerprint

ADDRESS = {"firstName": "Ada", "lastName": "Lovelace", "addressLine1": "Unter den Linden 1", "city": "Berlin",
           "postalCode": "10117", "countryCode": "DE", "phone": "+49 30 1234567"}
BODIES = {
    "line-item add": {"variantId": "var_06h2bmps7x6wkwhjrmj1bcxpcc", "quantity": 2},
    "cart create": {"currency": "EUR", "customerEmail": "ada@example.com", "shippingAddress": ADDRESS,
                    "billingAddress": ADDRESS, "metadata": {f"key{i}": f"value {i}" for i in range(10)},
                    "lineItems": [{"variantId": f"var_{i:026d}", "quantity": i + 1} for i in range(5)]},
    "1,000-code import": {"codes": [{"code": f"CODE-{i:06d}"} for i in range(1000)]},
    "~1 MB body": {"codes": [{"code": f"CODE-{i:06d}", "note": "x" * 40} for i in range(15_000)]},
}


def cpu_us(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    start = time.process_time()
    for _ in range(runs):
        fn()
    return (time.process_time() - start) / runs * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20_000)
    args = parser.parse_args()
    print(f"{'body':<20}{'bytes':>10}{'raw sha256':>14}{'fingerprint':>14}{'depth check':>14}   (µs CPU per call)")
    for name, value in BODIES.items():
        body = msgspec.json.encode(value)
        runs = max(20, args.runs * 200 // max(len(body), 200))
        raw = cpu_us(lambda: hashlib.sha256(b"POST /api/v1/carts\n" + body).hexdigest(), runs)
        canonical = cpu_us(lambda: fingerprint("POST", "/api/v1/carts", b"", body), runs)
        depth = cpu_us(lambda: json_depth_exceeds(body), runs)
        print(f"{name:<20}{len(body):>10,}{raw:>14.2f}{canonical:>14.2f}{depth:>14.2f}")


if __name__ == "__main__":
    main()
