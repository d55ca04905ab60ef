"""Every setting of Kassa: one typed field each, read from one `KASSA_*` environment variable.

The fields below are the only place the product reads its environment (tests pass the same fields
as overrides). Each declares its variable, its default and what it does; `docs/operator.md`'s table
is generated from them (`settings_table`, `./dev gen`). A value that does not parse stops the
process at start with a message naming the variable (SettingsError), never later and never silently.

Two groups of variables fill one field each: the other services' addresses (`SERVICE_URL_ENV`) and
the rate limits (`RATE_LIMIT_ENV`). Process plumbing that is not a setting: `KASSA_SERVE_SERVICE`
(set by `kassa serve` for its worker processes) and `PROMETHEUS_MULTIPROC_DIR` (prometheus_client's
own variable).
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

# Where the other services answer, when they run as separate processes (distributed mode).
# Unset means "in this process" (embedded): clients then call the app over ASGITransport.
SERVICE_URL_ENV = {"cart": "KASSA_CART_URL", "checkout": "KASSA_CHECKOUT_URL", "webhooks": "KASSA_WEBHOOKS_URL"}

# Rate limits (kassa_platform.ratelimit): REQUESTS per second, or REQUESTS/SECONDS; 0 for none.
RATE_LIMIT_ENV = {
    "reads": ("KASSA_RATE_LIMIT_READS", "100"),  # per key (publishable: per key and client address)
    "writes": ("KASSA_RATE_LIMIT_WRITES", "100"),  # the same
    "completes": ("KASSA_RATE_LIMIT_COMPLETES", "25"),  # per application
    "auth_failures": ("KASSA_RATE_LIMIT_AUTH_FAILURES", "30/60"),  # per client address
    "sign_in_account": ("KASSA_RATE_LIMIT_SIGN_IN_ACCOUNT", "10/900"),  # failed sign-ins per account
    "sign_in_address": ("KASSA_RATE_LIMIT_SIGN_IN_ADDRESS", "30/300"),  # failed sign-ins per client address
}


RATE_LIMIT_DOCS = {
    "reads": "GET requests per key and second (`N`, or `N/SECONDS` for another window; `0` for no limit); a "
             "publishable key's per client address",
    "writes": "other requests, the same way",
    "completes": "checkout completes per application and second (besides the writes)",
    "auth_failures": "requests with an invalid key per client address (30 a minute); beyond, 429 before any key is "
                     "looked up",
    "sign_in_account": "failed sign-ins per account (10 in 15 minutes); beyond, 429 `rate_limited` even with the "
                       "right password, until the bucket refills (password resets are not limited by it)",
    "sign_in_address": "failed sign-ins (and password reset requests) per client address, whatever the account",
}


class SettingsError(ValueError):
    """A variable holds a value Kassa cannot use: the process stops at start, naming it."""


def _integer(text: str) -> int:
    return int(text)


def _number(text: str) -> float:
    return float(text)


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected 1/true/yes or 0/false/no")


def _log_format(text: str) -> bool:
    if text not in ("json", "text"):
        raise ValueError("expected json or text")
    return text == "json"


def _level(text: str) -> str:
    level = text.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError("expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


def _url(text: str) -> str:
    return text.rstrip("/")


def _smtp_tls(text: str) -> str:
    if text not in ("starttls", "tls", "none"):
        raise ValueError("expected starttls, tls or none")
    return text


def _proxies(text: str) -> str:
    """Addresses and networks (`10.0.0.0/8`), comma-separated, or `*`: uvicorn's forwarded_allow_ips."""
    entries = [e.strip() for e in text.split(",") if e.strip()]
    for entry in entries:
        if entry != "*":
            ipaddress.ip_network(entry, strict=False)  # ValueError names the entry
    return ",".join(entries)


def _setting(env: str, default: Any, doc: str, parse: Callable[[str], Any] = str) -> Any:
    """A field read from `env`: `parse` turns the variable's text into the field's value."""
    return field(default=default, metadata={"env": env, "doc": doc, "parse": parse})


PARSE_WORDS = {_proxies: "addresses or networks", _integer: "an integer", _number: "a number", _flag: "a flag", str: "text", _url: "a URL",
               _log_format: "json or text", _level: "a log level", Path: "a path",
               _smtp_tls: "starttls, tls or none"}


@dataclass(frozen=True)
class Settings:
    database_url: str = _setting("KASSA_DATABASE_URL", "",
                                 "`postgresql://…` (asyncpg) or `sqlite:///…`; default: SQLite in the data directory, "
                                 "`.kassa/kassa.db` (embedded mode)")
    redis_url: str | None = _setting("KASSA_REDIS_URL", None, "when set, jobs go to arq on Redis; unset, they run "
                                     "in-process")
    # Every Redis key this deployment writes starts with it, so deployments (and test runs) can share
    # one Redis without touching each other's keys.
    redis_prefix: str = _setting("KASSA_REDIS_PREFIX", "kassa", "prefix of every Redis key this deployment writes")
    data_dir: Path = _setting("KASSA_DATA_DIR", Path(".kassa"), "where the embedded database, the deployment's "
                              "secrets and the demo keys live", Path)
    public_base_url: str = _setting("KASSA_PUBLIC_BASE_URL", "http://127.0.0.1:8000",
                                    "the base of hosted URLs (`/s/{sessionId}`, Stripe's "
                                    "webhook URL); `kassa serve` takes `http://HOST:PORT` when unset", _url)
    # The client address of the per-address limits (failed keys, publishable keys, sign-ins) and of
    # team sessions: behind a proxy, only its X-Forwarded-For knows it.
    trusted_proxies: str = _setting("KASSA_TRUSTED_PROXIES", "127.0.0.1,::1",
                                    "addresses or networks (comma-separated; `*`: any) of the proxies in front of "
                                    "`kassa serve` whose `X-Forwarded-For` names the client; from anyone else the "
                                    "header is ignored", _proxies)
    max_cart_lines: int = _setting("KASSA_MAX_CART_LINES", 250, "lines per cart (beyond: 422 `too_many_line_items`)", _integer)
    max_body_bytes: int = _setting("KASSA_MAX_BODY_BYTES", 1024 * 1024, "largest request body, checked before decoding: beyond, 413 "
                                   "`request_too_large` (chunked bodies too); JSON nested deeper than 32 levels is 400 `json_too_deep`",
                                   _integer)
    idempotency_ttl_hours: int = _setting("KASSA_IDEMPOTENCY_TTL_HOURS", 24, "how long idempotency keys are kept", _integer)
    audit_retention_days: int = _setting("KASSA_AUDIT_RETENTION_DAYS", 400, "audit log entries are kept this long, "
                                         "then deleted by a platform job (docs/audit-log.md)", _integer)
    api_key_cache_seconds: int = _setting("KASSA_API_KEY_CACHE_SECONDS", 30, "in-process key cache lifetime: only the "
                                          "fallback, since revocations reach every process by notification within a second",
                                          _integer)
    db_pool_size: int = _setting("KASSA_DB_POOL_SIZE", 20, "connections per process and pool (PostgreSQL: "
                                 "SQLAlchemy's pool, and the hot paths' asyncpg pool, opened as needed; no overflow)", _integer)
    log_json: bool = _setting("KASSA_LOG_FORMAT", True, "`json` (one object a line, with `requestId`) or `text`", _log_format)
    log_level: str = _setting("KASSA_LOG_LEVEL", "INFO", "root log level: DEBUG, INFO, WARNING, ERROR", _level)
    access_log: bool = _setting("KASSA_ACCESS_LOG", False, "`1` logs one line per request (method, path, status, duration, "
                              "request id)", _flag)
    # Shared by every process of one deployment: the bearer that authenticates service-to-service
    # calls, and the HMAC key of signed tokens (embed tokens, recovery links); a file under the data
    # directory when unset (_deployment_secrets).
    service_token: str = _setting("KASSA_SERVICE_TOKEN", "", "authenticates service-to-service calls (`/internal/…`); "
                                  "unset: generated and kept in `.kassa/secrets.json`; every process of one deployment must share it")
    signing_key: str = _setting("KASSA_SIGNING_KEY", "", "HMAC key of signed tokens (embed tokens, cart recovery "
                                "links) and the root of the key that seals secrets at rest (webhook and Stripe secrets); unset: "
                                "generated and kept in `.kassa/secrets.json`; shared like the service token (changing it "
                                "invalidates those tokens and makes merchants enter their secrets again)")
    service_urls: dict[str, str] = field(default_factory=dict)  # SERVICE_URL_ENV; absent: in this process
    rate_limits: dict[str, str] = field(default_factory=dict)  # RATE_LIMIT_ENV's names; absent: its default
    # Stripe's API and Stripe.js: settings so that tests (and a regional proxy) can point them elsewhere.
    stripe_api_base: str = _setting("KASSA_STRIPE_API_BASE", "https://api.stripe.com", "Stripe's API", _url)
    stripe_js_url: str = _setting("KASSA_STRIPE_JS_URL", "https://js.stripe.com/v3/", "Stripe.js, loaded by the "
                                  "hosted page of Stripe applications")
    stripe_timeout_seconds: float = _setting("KASSA_STRIPE_TIMEOUT_SECONDS", 20.0, "one call to Stripe", _number)
    # A relay pass costs the same for one event as for hundreds: commits gather for this long first.
    outbox_gather_seconds: float = _setting("KASSA_OUTBOX_GATHER_SECONDS", 0.25,
                                            "how long the webhook relay lets outbox commits gather before a pass "
                                            "(the first commit opens the window): longer costs less CPU per event at "
                                            "low load and adds up to this much to an event's way to its first "
                                            "delivery attempt", _number)
    # The webhook service (kassa_webhooks.config).
    webhooks_timeout_seconds: float = _setting("KASSA_WEBHOOKS_TIMEOUT_SECONDS", 15.0, "one delivery request",
                                               _number)
    webhooks_lease_seconds: float = _setting("KASSA_WEBHOOKS_LEASE_SECONDS", 60.0, "how long a claimed delivery "
                                             "belongs to its worker", _number)
    webhooks_max_in_flight: int = _setting("KASSA_WEBHOOKS_MAX_IN_FLIGHT", 256, "requests one worker keeps open",
                                           _integer)
    webhooks_max_in_flight_per_app: int = _setting("KASSA_WEBHOOKS_MAX_IN_FLIGHT_PER_APP", 0, "of those, one "
                                                   "application's at most (0: half)", _integer)
    webhooks_retry_schedule: str = _setting("KASSA_WEBHOOKS_RETRY_SCHEDULE", "", "seconds between retries, comma-"
                                            "separated (default 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h)")
    webhooks_retention_days: int = _setting("KASSA_WEBHOOKS_RETENTION_DAYS", 30, "events, deliveries and attempts "
                                            "are kept this long (1–3650)", _integer)
    promotions_rejected_retention_days: int = _setting("KASSA_PROMOTIONS_REJECTED_RETENTION_DAYS", 30,
                                                       "refused code attempts (`rejected` redemptions) are kept "
                                                       "this long", _integer)
    webhooks_allow_private_networks: str = _setting("KASSA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS", "",
                                                    "`all`, or application ids (comma-separated), that may deliver "
                                                    "to loopback and private addresses; unset: none")
    shopper_auth_allow_private_networks: bool = _setting(
        "KASSA_SHOPPER_AUTH_ALLOW_PRIVATE_NETWORKS", False, "`1` lets shopper-auth JWKS URLs reach loopback and "
        "private addresses (development, tests); unset: public addresses only, as webhooks", _flag)
    # Team accounts (kassa_team, docs/team.md): sessions, passwords, mail.
    session_hours: int = _setting("KASSA_SESSION_HOURS", 336, "how long a sign-in lasts (14 days); sign-out and "
                                  "sign-out everywhere end it sooner", _integer)
    session_idle_minutes: int = _setting("KASSA_SESSION_IDLE_MINUTES", 60, "a sign-in that made no request for "
                                         "this long ends (`0`: only `KASSA_SESSION_HOURS` ends it)", _integer)
    password_min_length: int = _setting("KASSA_PASSWORD_MIN_LENGTH", 8, "shortest password accepted (NIST SP 800-63B: "
                                        "at least 8; passwords may be up to 256 characters, no composition rules)",
                                        _integer)
    password_blocklist: Path | None = _setting("KASSA_PASSWORD_BLOCKLIST", None, "a file of breached or common "
                                               "passwords, one a line, refused at sign-up and reset; unset: no check",
                                               Path)
    smtp_host: str = _setting("KASSA_SMTP_HOST", "", "the SMTP server mail goes through (invitations, password resets, "
                              "sign-in notices); unset: mail is kept and logged, not sent")
    smtp_port: int = _setting("KASSA_SMTP_PORT", 587, "its port", _integer)
    smtp_username: str = _setting("KASSA_SMTP_USERNAME", "", "login, when the server wants one")
    smtp_password: str = _setting("KASSA_SMTP_PASSWORD", "", "its password")
    smtp_tls: str = _setting("KASSA_SMTP_TLS", "starttls", "`starttls`, `tls` (implicit, port 465) or `none` "
                             "(loopback only)", _smtp_tls)
    mail_from: str = _setting("KASSA_MAIL_FROM", "Kassa <no-reply@kassa.invalid>", "the sender of Kassa's mail")
    # The checkout service's calls to the cart service.
    cart_timeout_seconds: float = _setting("KASSA_CART_TIMEOUT_SECONDS", 5.0, "one call from checkout to the cart "
                                           "service", _number)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @staticmethod
    def is_set(name: str) -> bool:
        """Whether the operator set the variable of field `name` (the CLI fills in some defaults of
        its own, such as the public address from the address it listens on)."""
        env = next(f.metadata.get("env") for f in fields(Settings) if f.name == name)
        return bool(env and os.environ.get(env))

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        """The settings of this process: each field from its variable, else its default; `overrides`
        (tests, the CLI's own flags) win. A variable that does not parse raises SettingsError."""
        values: dict[str, object] = {}
        for f in fields(cls):
            env = f.metadata.get("env")
            raw = os.environ.get(env) if env else None
            if raw is None or (raw == "" and f.metadata["parse"] is not str):
                continue
            try:
                values[f.name] = f.metadata["parse"](raw)
            except ValueError as exc:
                words = PARSE_WORDS.get(f.metadata["parse"], "a value")
                raise SettingsError(f"{env}={raw!r} is not {words}: {exc}") from None
        values["service_urls"] = {name: os.environ[env].rstrip("/") for name, env in SERVICE_URL_ENV.items()
                                  if os.environ.get(env)}
        values["rate_limits"] = {name: os.environ[env] for name, (env, _) in RATE_LIMIT_ENV.items()
                                 if os.environ.get(env)}
        values.update(overrides)
        data_dir = Path(str(values.get("data_dir", ".kassa")))
        values["database_url"] = normalize_database_url(str(values.get("database_url") or
                                                            f"sqlite+aiosqlite:///{data_dir / 'kassa.db'}"))
        if not (values.get("service_token") and values.get("signing_key")):
            secrets_of = _deployment_secrets(data_dir)
            for name in ("service_token", "signing_key"):
                values[name] = values.get(name) or secrets_of[name]
        if "redis_url" in values and not values["redis_url"]:
            values["redis_url"] = None
        return cls(**values)  # type: ignore[arg-type]


def settings_table() -> str:
    """The variables as a Markdown table (docs/operator.md, "Configuration")."""
    lines = ["| variable | default | what it sets |", "|---|---|---|"]
    for f in fields(Settings):
        env = f.metadata.get("env")
        if env:
            default = f.default if f.default is not MISSING else None
            shown = {"": "—", None: "—", True: "1", False: "0"}.get(default, default) if not isinstance(
                default, (int, float)) or isinstance(default, bool) else default
            if f.name == "log_json":
                shown = "json"
            lines.append(f"| `{env}` | {f'`{shown}`' if shown != '—' else shown} | {f.metadata['doc']} |")
        elif f.name == "service_urls":
            for name, variable in SERVICE_URL_ENV.items():
                lines.append(f"| `{variable}` | — | where the {name} service answers (distributed mode); unset: in "
                             "this process |")
        elif f.name == "rate_limits":
            for name, (variable, default) in RATE_LIMIT_ENV.items():
                lines.append(f"| `{variable}` | `{default}` | {RATE_LIMIT_DOCS[name]} |")
    return "\n".join(lines) + "\n"


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
