"""Rate limits: token buckets per key and route class, per application for completes, and per
client address for failed authentication.

Every authenticated request (not service-to-service calls) takes one token from each bucket that
applies to it, all or none:

| class | bucket | default |
|---|---|---|
| reads (GET, HEAD) | per secret key; per publishable key and client address | 100 per second |
| writes (every other method) | the same | 100 per second |
| completes (`POST …/complete`) | per application, besides the writes bucket | 25 per second |
| failed authentication | per client address | 30 per minute |

A publishable key is shared by every shopper of a storefront, so its buckets are per client
address: one browser is limited, the storefront is not. A bucket holds `quota` tokens and refills
at `quota / window` per second, so a client idle for a window may burst its whole quota.

The buckets live in Redis when it is configured (one Lua script, one round trip: every process of
the deployment shares them) and in the process otherwise. If Redis fails, the process's own
buckets stand in, so a Redis outage never takes the API down. Time comes from the runtime's clock,
which tests move.

Responses carry `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers-11); a
refused request is 429 `rate_limited` with `Retry-After` in whole seconds (and `Retry-After-Ms`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from kassa_contract.errors import KassaError

from .auth import Principal
from .redis_pipe import RedisError, ScriptRunner
from .settings import RATE_LIMIT_ENV

log = logging.getLogger("kassa.ratelimit")

RouteClass = Literal["reads", "writes", "completes"]


@dataclass(frozen=True)
class Policy:
    """`quota` requests per `window` seconds; a quota of 0 turns the limit off."""

    name: str
    quota: int
    window: int

    @property
    def rate(self) -> float:
        return self.quota / self.window

    @property
    def enabled(self) -> bool:
        return self.quota > 0

    @classmethod
    def parse(cls, name: str, variable: str, value: str) -> "Policy":
        """`100` (per second), `30/60` (per 60 seconds), `0` or `off` (no limit)."""
        text = value.strip().lower()
        if text in ("0", "off", "none"):
            return cls(name, 0, 1)
        quota, _, window = text.partition("/")
        try:
            policy = cls(name, int(quota), int(window.removesuffix("s")) if window else 1)
        except ValueError:
            policy = cls(name, -1, 0)
        if policy.quota < 1 or policy.window < 1:
            raise ValueError(f"{variable}={value!r}: expected REQUESTS or REQUESTS/SECONDS (e.g. 100, 30/60), "
                             "or 0 for no limit")
        return policy

    def header_item(self) -> str:
        return f'"{self.name}";q={self.quota};w={self.window}'


@dataclass(frozen=True)
class Limits:
    reads: Policy
    writes: Policy
    completes: Policy
    auth_failures: Policy
    sign_in_account: Policy
    sign_in_address: Policy

    @classmethod
    def from_values(cls, values: dict[str, str]) -> "Limits":
        """From `Settings.rate_limits`; a limit not named there takes its default."""
        return cls(**{name: Policy.parse(name.replace("_", "-"), variable, values.get(name) or default)
                      for name, (variable, default) in RATE_LIMIT_ENV.items()})


class Buckets:
    """The in-process store: bucket name -> [tokens, time of the last refill]."""

    MAX_BUCKETS = 100_000

    def __init__(self, clock: Callable[[], float], idle_seconds: float) -> None:
        self.clock = clock
        self.idle_seconds = idle_seconds  # a bucket untouched this long is full again: forgetting it is exact
        self._buckets: dict[str, list[float]] = {}

    def take(self, names: list[str], policies: list[Policy]) -> tuple[bool, list[float], float]:
        """Take a token from every bucket or from none; returns (allowed, tokens left per bucket,
        seconds until every refusing bucket has a token again)."""
        now = self.clock()
        buckets = self._buckets
        states = []
        allowed = True
        wait = 0.0
        for name, policy in zip(names, policies):
            state = buckets.get(name)
            if state is None:
                if len(buckets) >= self.MAX_BUCKETS:
                    self._prune(now)
                state = buckets[name] = [float(policy.quota), now]
            elif now > state[1]:
                state[0] = min(float(policy.quota), state[0] + (now - state[1]) * policy.rate)
                state[1] = now
            if state[0] < 1.0:
                allowed = False
                wait = max(wait, (1.0 - state[0]) / policy.rate)
            states.append(state)
        if allowed:
            for state in states:
                state[0] -= 1.0
        return allowed, [state[0] for state in states], wait

    def peek(self, name: str, policy: Policy) -> tuple[float, float]:
        """(tokens, seconds until one) of a bucket, taking nothing."""
        state = self._buckets.get(name)
        if state is None:
            return float(policy.quota), 0.0
        tokens = min(float(policy.quota), state[0] + max(0.0, self.clock() - state[1]) * policy.rate)
        return tokens, 0.0 if tokens >= 1.0 else (1.0 - tokens) / policy.rate

    def _prune(self, now: float) -> None:
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < self.idle_seconds}
        if len(self._buckets) >= self.MAX_BUCKETS:
            # Flooded with distinct clients within one window: start afresh rather than grow without
            # bound (the limits hold again from here; Redis, when configured, has no such bound).
            self._buckets.clear()


# KEYS: the buckets; ARGV: now, 1 to take a token (0 to look only), then quota and rate per bucket.
# Takes a token from every bucket or from none. Returns {allowed, wait in ms, tokens left per bucket
# in thousandths}: Redis turns Lua numbers into integers.
TAKE_SCRIPT = """
local now, take = tonumber(ARGV[1]), ARGV[2] == '1'
local tokens, stamps = {}, {}
local allowed, wait = 1, 0
for i, key in ipairs(KEYS) do
  local quota, rate = tonumber(ARGV[2 * i + 1]), tonumber(ARGV[2 * i + 2])
  local state = redis.call('HMGET', key, 't', 's')
  local t, s = tonumber(state[1]), tonumber(state[2])
  if t == nil then
    t, s = quota, now
  elseif now > s then
    t, s = math.min(quota, t + (now - s) * rate), now
  end
  if t < 1 then
    allowed = 0
    wait = math.max(wait, (1 - t) / rate)
  end
  tokens[i], stamps[i] = t, s
end
local left = {}
for i, key in ipairs(KEYS) do
  if take then
    local quota, rate = tonumber(ARGV[2 * i + 1]), tonumber(ARGV[2 * i + 2])
    if allowed == 1 then tokens[i] = tokens[i] - 1 end
    redis.call('HSET', key, 't', tokens[i], 's', stamps[i])
    redis.call('PEXPIRE', key, math.ceil((quota - tokens[i]) / rate * 1000) + 1000)
  end
  left[i] = math.floor(tokens[i] * 1000)
end
return {allowed, math.ceil(wait * 1000), left}
"""


# While Redis fails, the process's own buckets stand in; Redis is tried again after this long.
REDIS_RETRY_SECONDS = 5.0


class RateLimiter:
    def __init__(self, limits: Limits, clock: Callable[[], float], redis_url: str | None = None,
                 redis_prefix: str = "kassa") -> None:
        self.limits = limits
        self.clock = clock
        self.local = Buckets(clock, idle_seconds=max(p.window for p in (limits.reads, limits.writes,
                                                                              limits.completes, limits.auth_failures,
                                                                              limits.sign_in_account,
                                                                              limits.sign_in_address)))
        self.prefix = redis_prefix + ":rl:"
        self.redis = ScriptRunner(redis_url, TAKE_SCRIPT) if redis_url else None
        self._redis_failed_at = -math.inf
        # Per route class: its policies, whether each is per application (else per key), and the
        # RateLimit-Policy value, all fixed at start.
        self._classes: dict[str, tuple[list[Policy], list[bool], bytes]] = {}
        for route_class, policies in (("reads", [(limits.reads, False)]), ("writes", [(limits.writes, False)]),
                                      ("completes", [(limits.writes, False), (limits.completes, True)])):
            active = [(p, per_app) for p, per_app in policies if p.enabled]
            self._classes[route_class] = ([p for p, _ in active], [per_app for _, per_app in active],
                                          ", ".join(p.header_item() for p, _ in active).encode())

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.close()

    # ------------------------------------------------------------------ per key and route class

    async def take(self, principal: Principal, route_class: RouteClass, client: str) -> list[tuple[bytes, bytes]]:
        """Take this request's tokens; returns the RateLimit headers to send, or raises 429."""
        policies, per_app, policy_header = self._classes[route_class]
        if not policies:
            return []
        # `{app}` is a Redis hash tag: every bucket of one request lives on one cluster node.
        app = f"{self.prefix}{{{principal.app_id}}}:"
        key = app + principal.key_id
        if principal.kind == "publishable":
            key += ":" + client  # a publishable key is every shopper's: one bucket per browser
        names = [app + p.name if whole_app else key + ":" + p.name for p, whole_app in zip(policies, per_app)]
        if self.redis is None:  # the common embedded case, without a coroutine in between
            allowed, left, wait = self.local.take(names, policies)
        else:
            allowed, left, wait = await self._take(names, policies, True)
        headers = [(b"ratelimit-policy", policy_header), (b"ratelimit", self._state(policies, left))]
        if not allowed:
            refused, whole_app = next((p, a) for p, a, t in zip(policies, per_app, left) if t < 1.0)
            raise self._refusal(refused, wait, headers,
                                f"Too many {refused.name} for this {'application' if whole_app else 'API key'}: "
                                f"at most {refused.quota} per {refused.window} s")
        return headers

    # ------------------------------------------------------------------ failed authentication

    async def check_auth(self, client: str) -> None:
        """429 when `client` has used up its failed authentications (before any key is looked up)."""
        policy = self.limits.auth_failures
        if not policy.enabled:
            return
        allowed, left, wait = await self._take([self._auth_bucket(client)], [policy], False)
        if not allowed:
            headers = [(b"ratelimit-policy", policy.header_item().encode()),
                       (b"ratelimit", self._state([policy], left))]
            raise self._refusal(policy, wait, headers, "Too many requests with an invalid API key from this address")

    async def auth_failed(self, client: str) -> None:
        policy = self.limits.auth_failures
        if policy.enabled:
            await self._take([self._auth_bucket(client)], [policy], True)

    def _auth_bucket(self, client: str) -> str:
        return f"{self.prefix}auth:{client}"

    # ------------------------------------------------------------------ named buckets (sign-in)

    async def check(self, policy: Policy, name: str, message: str) -> None:
        """429 when bucket `name` of `policy` is empty, taking nothing (kassa_team: failed sign-ins
        per account and per address are counted with `spend`, checked with this before the password)."""
        if not policy.enabled:
            return
        allowed, left, wait = await self._take([f"{self.prefix}{policy.name}:{name}"], [policy], False)
        if not allowed:
            headers = [(b"ratelimit-policy", policy.header_item().encode()),
                       (b"ratelimit", self._state([policy], left))]
            raise self._refusal(policy, wait, headers, message)

    async def spend(self, policy: Policy, name: str) -> None:
        if policy.enabled:
            await self._take([f"{self.prefix}{policy.name}:{name}"], [policy], True)

    # ------------------------------------------------------------------ the stores

    async def _take(self, names: list[str], policies: list[Policy], take: bool) -> tuple[bool, list[float], float]:
        if self.redis is not None and self.clock() - self._redis_failed_at > REDIS_RETRY_SECONDS:
            args: list[Any] = [repr(self.clock()), 1 if take else 0]
            for p in policies:
                args += [p.quota, repr(p.rate)]
            try:
                allowed, wait_ms, left = await self.redis(names, args)
                return allowed == 1, [t / 1000 for t in left], wait_ms / 1000
            except (OSError, RedisError) as exc:
                self._redis_failed_at = self.clock()
                log.warning("rate limits held in this process for %.0f s: Redis failed (%s: %s)",
                            REDIS_RETRY_SECONDS, type(exc).__name__, exc)
        if take:
            return self.local.take(names, policies)
        tokens, wait = self.local.peek(names[0], policies[0])
        return tokens >= 1.0, [tokens], wait

    @staticmethod
    def _state(policies: list[Policy], left: list[float]) -> bytes:
        """The RateLimit value: per policy the whole tokens left (`r`) and the seconds until the
        bucket is full again (`t`, at least 1)."""
        return b", ".join([b'"%s";r=%d;t=%d' % (p.name.encode(), t if t > 0 else 0,
                                                  math.ceil((p.quota - t) * p.window / p.quota) or 1)
                           for p, t in zip(policies, left)])

    @staticmethod
    def _refusal(policy: Policy, wait: float, headers: list[tuple[bytes, bytes]], message: str) -> KassaError:
        retry_after = max(1, math.ceil(wait))
        return KassaError("rate_limited", f"{message}; retry in {retry_after} s",
                          details={"policy": policy.name, "retryAfter": retry_after},
                          headers={"retry-after": str(retry_after),
                                   # the precise wait, which Kassa's SDKs prefer to whole seconds
                                   "retry-after-ms": str(max(1, math.ceil(wait * 1000))),
                                   **{k.decode(): v.decode() for k, v in headers}})
