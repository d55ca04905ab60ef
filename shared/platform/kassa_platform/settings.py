"""Settings from the environment, with defaults that make the embedded mode work untouched."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

# Where the other services answer, when they run as separate processes (distributed mode).
# Unset means "in this process" (embedded): clients then call the app over ASGITransport.
SERVICE_URL_ENV = {"cart": "KASSA_CART_URL", "checkout": "KASSA_CHECKOUT_URL", "webhooks": "KASSA_WEBHOOKS_URL"}


# Rate limits (kassa_platform.ratelimit): REQUESTS per second, or REQUESTS/SECONDS; 0 for none.
RATE_LIMIT_ENV = {
    "reads": ("KASSA_RATE_LIMIT_READS", "100"),  # per key (publishable: per key and client address)
    "writes": ("KASSA_RATE_LIMIT_WRITES", "100"),  # the same
    "completes": ("KASSA_RATE_LIMIT_COMPLETES", "25"),  # per application
    "auth_failures": ("KASSA_RATE_LIMIT_AUTH_FAILURES", "30/60"),  # per client address
}


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None = None
    # Every Redis key this deployment writes starts with it, so deployments (and test runs) can share
    # one Redis without touching each other's keys.
    redis_prefix: str = "kassa"
    data_dir: Path = Path(".kassa")
    public_base_url: str = "http://127.0.0.1:8000"
    max_cart_lines: int = 250
    max_body_bytes: int = 1024 * 1024
    idempotency_ttl_hours: int = 24
    api_key_cache_seconds: int = 30
    db_pool_size: int = 20
    log_json: bool = True
    log_level: str = "INFO"
    access_log: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    # Shared by every process of one deployment: the bearer that authenticates service-to-service
    # calls, and the HMAC key of signed tokens (embed tokens, recovery links).
    service_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    signing_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    service_urls: dict[str, str] = field(default_factory=dict)
    rate_limits: dict[str, str] = field(default_factory=dict)  # RATE_LIMIT_ENV's names; absent: its default
    # Stripe's API and Stripe.js: settings so that tests (and a regional proxy) can point them elsewhere.
    stripe_api_base: str = "https://api.stripe.com"
    stripe_js_url: str = "https://js.stripe.com/v3/"
    stripe_timeout_seconds: float = 20.0
    # How long the outbox relay lets commits gather before a pass (KASSA_OUTBOX_GATHER_SECONDS): a pass
    # costs the same for one event as for hundreds, so a longer window is cheaper per event at low load
    # and adds up to this much to an event's way to its first delivery attempt.
    outbox_gather_seconds: float = 0.25

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        data_dir = Path(os.environ.get("KASSA_DATA_DIR", ".kassa"))
        values: dict[str, object] = {
            "database_url": normalize_database_url(
                os.environ.get("KASSA_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'kassa.db'}"
            ),
            "redis_url": os.environ.get("KASSA_REDIS_URL") or None,
            "redis_prefix": os.environ.get("KASSA_REDIS_PREFIX") or "kassa",
            "data_dir": data_dir,
            "public_base_url": os.environ.get("KASSA_PUBLIC_BASE_URL", "http://127.0.0.1:8000"),
            "max_cart_lines": _env_int("KASSA_MAX_CART_LINES", 250),
            "max_body_bytes": _env_int("KASSA_MAX_BODY_BYTES", 1024 * 1024),
            "idempotency_ttl_hours": _env_int("KASSA_IDEMPOTENCY_TTL_HOURS", 24),
            "api_key_cache_seconds": _env_int("KASSA_API_KEY_CACHE_SECONDS", 30),
            "db_pool_size": _env_int("KASSA_DB_POOL_SIZE", 20),
            "log_json": os.environ.get("KASSA_LOG_FORMAT", "json") == "json",
            "log_level": os.environ.get("KASSA_LOG_LEVEL", "INFO").upper(),
            "access_log": os.environ.get("KASSA_ACCESS_LOG", "0").lower() in ("1", "true", "yes"),
            "service_urls": {name: os.environ[env].rstrip("/") for name, env in SERVICE_URL_ENV.items()
                             if os.environ.get(env)},
            "rate_limits": {name: os.environ[env] for name, (env, _) in RATE_LIMIT_ENV.items() if os.environ.get(env)},
            "stripe_api_base": os.environ.get("KASSA_STRIPE_API_BASE", "https://api.stripe.com").rstrip("/"),
            "stripe_js_url": os.environ.get("KASSA_STRIPE_JS_URL", "https://js.stripe.com/v3/"),
            "stripe_timeout_seconds": float(os.environ.get("KASSA_STRIPE_TIMEOUT_SECONDS") or 20.0),
            "outbox_gather_seconds": float(os.environ.get("KASSA_OUTBOX_GATHER_SECONDS") or 0.25),
        }
        values.update(_deployment_secrets(Path(str(overrides.get("data_dir", data_dir)))))
        values.update(overrides)
        if "database_url" in overrides:
            values["database_url"] = normalize_database_url(str(values["database_url"]))
        return cls(**values)  # type: ignore[arg-type]


def normalize_database_url(url: str) -> str:
    """Accept the plain URLs people paste (postgresql://, sqlite:///) and pick the async driver."""
    for plain in ("postgres://", "postgresql://"):
        if url.startswith(plain):
            return "postgresql+asyncpg://" + url[len(plain):]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///"):]
    return url


def _deployment_secrets(data_dir: Path) -> dict[str, str]:
    """KASSA_SERVICE_TOKEN / KASSA_SIGNING_KEY, else a file under the data directory made on first use.

    The file keeps signed links valid across restarts of the embedded mode and lets processes that
    share a data directory agree; separate machines must set the variables.
    """
    from_env = {"service_token": os.environ.get("KASSA_SERVICE_TOKEN"),
                "signing_key": os.environ.get("KASSA_SIGNING_KEY")}
    if all(from_env.values()):
        return from_env  # type: ignore[return-value]
    path = data_dir / "secrets.json"
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        stored = {"service_token": secrets.token_urlsafe(32), "signing_key": secrets.token_urlsafe(32)}
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(stored, fh)
        except FileExistsError:
            stored = json.loads(path.read_text())  # another process made it first
        except OSError:
            pass  # a read-only data directory: secrets live as long as this process
    return {k: v or stored[k] for k, v in from_env.items()}
