"""What rate limiting costs per request: CPU time of the authentication middleware around a no-op
app with the limits on and off (a cached key, the in-process buckets), and of the Redis buckets
(one script call, one round trip) at 1 and 16 requests in flight.

    ./dev bench ratelimit [--requests N] [--redis redis://127.0.0.1:6379]

CPU time (process_time) rather than wall time: the development machine is shared. Redis figures
include the client's side only (Redis's own time is in another process).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from types import SimpleNamespace

import uvloop
from kassa_platform.auth import Principal, hash_key
from kassa_platform.middleware import AuthMiddleware
from kassa_platform.ratelimit import Limits, RateLimiter

KEY = "sk_test_" + "b" * 32
PRINCIPAL = Principal(app_id="app_bench", environment="test", key_id="key_bench", kind="secret",
                      scopes=frozenset({"*"}))
HUGE = {"reads": "100000000", "writes": "100000000", "completes": "100000000"}
OFF = {"reads": "0", "writes": "0", "completes": "0", "auth_failures": "0"}


class CachedResolver:
    """The resolver's hot path as the middleware meets it: a key held in the process's cache."""

    def __init__(self) -> None:
        self.digest = hash_key(KEY)

    def cached(self, raw: str) -> Principal | None:
        return PRINCIPAL if hash_key(raw) == self.digest else None


async def noop_app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})


async def noop_send(message) -> None:  # type: ignore[no-untyped-def]
    pass


async def per_request_cpu(middleware: AuthMiddleware, requests: int) -> float:
    handler = SimpleNamespace(opt={"scope": "catalog:read"})
    scope = {"type": "http", "method": "GET", "path": "/api/v1/products", "client": ("127.0.0.1", 5000),
             "headers": [(b"host", b"kassa"), (b"authorization", f"Bearer {KEY}".encode())], "route_handler": handler}
    for _ in range(2000):
        await middleware(dict(scope), None, noop_send)
    started = time.process_time()
    for _ in range(requests):
        await middleware(dict(scope), None, noop_send)
    return (time.process_time() - started) / requests * 1e6


async def redis_cpu(url: str, requests: int, in_flight: int) -> tuple[float, float]:
    limiter = RateLimiter(Limits.from_values(HUGE), time.time, url, f"kassa-bench-{uuid.uuid4().hex[:8]}")
    principal = Principal(app_id="app_bench", environment="test", key_id=f"key_{uuid.uuid4().hex}", kind="secret")
    for _ in range(200):
        await limiter.take(principal, "reads", "127.0.0.1")
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(requests // in_flight):
        if in_flight == 1:
            await limiter.take(principal, "reads", "127.0.0.1")
        else:
            await asyncio.gather(*(limiter.take(principal, "reads", "127.0.0.1") for _ in range(in_flight)))
    cpu = (time.process_time() - cpu) / requests * 1e6
    wall = (time.perf_counter() - wall) / (requests // in_flight) * 1e6
    await limiter.close()
    return cpu, wall


async def main(args: argparse.Namespace) -> None:
    def middleware(values: dict[str, str]) -> AuthMiddleware:
        return AuthMiddleware(noop_app, CachedResolver(), "service-token",  # type: ignore[arg-type]
                              RateLimiter(Limits.from_values(values), time.time))

    off = min([await per_request_cpu(middleware(OFF), args.requests) for _ in range(3)])
    on = min([await per_request_cpu(middleware(HUGE), args.requests) for _ in range(3)])
    print(f"authentication middleware, cached key, no-op app: {off:.1f} µs CPU per request with limits off, "
          f"{on:.1f} µs with the in-process limiter: the limiter adds {on - off:.1f} µs")
    if args.redis:
        for in_flight in (1, 16):
            cpu, wall = await redis_cpu(args.redis, args.requests // 10, in_flight)
            print(f"Redis buckets, {in_flight} in flight: {cpu:.1f} µs CPU per request (client side), "
                  f"{wall:.0f} µs wall per round of {in_flight}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="'' to skip the Redis figures")
    uvloop.run(main(parser.parse_args()))
