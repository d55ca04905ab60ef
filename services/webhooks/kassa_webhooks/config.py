"""The webhook service's configuration, from the `webhooks_*` fields of the settings
(kassa_platform.settings: `KASSA_WEBHOOKS_TIMEOUT_SECONDS`, `…_LEASE_SECONDS`, `…_MAX_IN_FLIGHT`,
`…_MAX_IN_FLIGHT_PER_APP` (0: half of it: fairness.py), `…_RETRY_SCHEDULE`, `…_RETENTION_DAYS` and
`…_ALLOW_PRIVATE_NETWORKS`).

`KASSA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS` is the operator's switch for the SSRF guard: `all` (or
`1`) lets every application deliver to loopback, private and link-local addresses; a comma list of
application ids lets only those. Unset, such deliveries are refused. It is never a merchant's
choice: a merchant who could allow it could point Kassa at the operator's own network.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from kassa_platform.sealing import Sealer
from kassa_platform.settings import Settings

SEALING_PURPOSE = "webhook-secrets"  # endpoint signing secrets are stored sealed (kassa_platform.sealing)

# Delays before the retries that follow a failed attempt: the first attempt is immediate, then
# 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts over about 27.6 hours).
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
    timedelta(hours=5), timedelta(hours=10), timedelta(hours=10),
)


@dataclass
class WebhookConfig:
    request_timeout: float = 15.0
    # A claimed delivery belongs to its worker this long; past it, another worker may take it. The
    # worker renews it while the request is open (delivery.Deliverer._keep_leases), and a dead
    # worker's leases end at once (kassa_platform.liveness): this is the backstop for a live worker
    # that lost track of a delivery.
    lease: timedelta = timedelta(seconds=60)
    retry_schedule: tuple[timedelta, ...] = RETRY_SCHEDULE
    jitter: float = 0.1  # retries move by up to ±10 % so that a failed burst does not return as one
    retry_after_cap: timedelta = timedelta(hours=24)
    disable_after: timedelta = timedelta(days=5)  # failing with no success this long disables
    default_rotation_overlap: timedelta = timedelta(hours=24)
    response_excerpt_bytes: int = 1024
    user_agent: str = "Kassa-Webhooks/1.0"
    relay_batch: int = 500
    claim_batch: int = 200
    max_in_flight: int = 256  # requests one worker keeps open at once, all endpoints together
    # Of those, one application may hold at most this many (0: half of max_in_flight): fairness.py.
    max_in_flight_per_app: int = 0
    # An endpoint with no success for this long gets one request in flight at a time (fairness.py).
    failing_backoff_after: timedelta = timedelta(seconds=30)
    retention: timedelta = timedelta(days=30)  # events, deliveries and attempts (retention.py)
    allow_private_all: bool = False
    allow_private_apps: set[str] = field(default_factory=set)
    # Seals endpoint secrets at rest; from the deployment's signing key (a random one for a bare config).
    sealer: Sealer = field(default_factory=lambda: Sealer(secrets.token_urlsafe(32), SEALING_PURPOSE))

    def __post_init__(self) -> None:
        if self.max_in_flight_per_app <= 0:
            self.max_in_flight_per_app = max(1, self.max_in_flight // 2)

    def allows_private(self, app_id: str) -> bool:
        return self.allow_private_all or app_id in self.allow_private_apps

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookConfig:
        allow = settings.webhooks_allow_private_networks.strip()
        everyone = allow.lower() in ("all", "1", "true", "yes")
        # Seconds between retries, comma-separated: a shorter schedule for benchmarks and drills.
        schedule = settings.webhooks_retry_schedule
        return cls(
            retry_schedule=tuple(timedelta(seconds=float(s)) for s in schedule.split(",")) if schedule
            else RETRY_SCHEDULE,
            request_timeout=settings.webhooks_timeout_seconds,
            lease=timedelta(seconds=settings.webhooks_lease_seconds),
            max_in_flight=settings.webhooks_max_in_flight,
            max_in_flight_per_app=settings.webhooks_max_in_flight_per_app,
            retention=timedelta(days=min(3650, max(1, settings.webhooks_retention_days))),
            allow_private_all=everyone,
            allow_private_apps=set() if everyone else {a.strip() for a in allow.split(",") if a.strip()},
            sealer=Sealer(settings.signing_key, SEALING_PURPOSE),
        )
