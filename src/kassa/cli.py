"""The `kassa` command: serve, worker, migrate, apps, keys, users, payments, vouchers."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from kassa_contract.api_keys import DEFAULT_ROLL_EXPIRY_HOURS
from kassa_platform.settings import Settings, SettingsError

from .services import SERVICES, build_runtime, components, job_registry, unreachable


def _settings(args: argparse.Namespace | None = None) -> Settings:
    return Settings.from_env()


async def _migrate(settings: Settings) -> None:
    from kassa_platform.migrate import migrate

    await migrate(settings.database_url, components())


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    asyncio.run(_migrate(settings))
    print(f"migrations applied to {_redact(settings.database_url)}")
    return 0


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_serve(args: argparse.Namespace) -> int:
    import gc

    import uvicorn
    from kassa_platform.logs import configure_logging

    settings = _settings(args)
    configure_logging(json_format=settings.log_json, level=settings.log_level, access_log=settings.access_log)
    names = [args.service] if args.service else list(SERVICES)
    if args.service and args.service not in SERVICES:
        print(f"unknown service {args.service!r}; services: {', '.join(SERVICES)}", file=sys.stderr)
        return 2
    missing = unreachable(names, settings.service_urls)
    if missing:
        print(f"kassa serve {args.service} calls the {', '.join(missing)} service: set "
              + ", ".join(f"KASSA_{m.upper()}_URL" for m in missing) + " to where it answers", file=sys.stderr)
        return 2
    if args.service and settings.is_sqlite:
        print("note: running one service alone on SQLite; set KASSA_DATABASE_URL to PostgreSQL for the "
              "distributed mode", file=sys.stderr)
    base_url = f"http://{args.host}:{args.port}"
    if not Settings.is_set("public_base_url"):
        settings = Settings.from_env(public_base_url=base_url)
    if args.workers > 1:
        if not args.service:
            print("--workers runs several processes of one service (kassa serve cart --workers 4); the embedded "
                  "mode is one process", file=sys.stderr)
            return 2
        return _serve_workers(args, settings)

    async def main() -> None:
        await _migrate(settings)
        runtime = build_runtime(settings, names, kind=args.service or "embedded")
        if not args.service:
            from .demo import ensure_demo

            banner = await ensure_demo(runtime, base_url)
            if banner:
                print(banner, flush=True)
        apps = {n: SERVICES[n].create_app(runtime, owns_runtime=False) for n in names}
        if args.service:
            asgi: Any = apps[args.service]
        else:
            from .gateway import PathRouter

            asgi = PathRouter([(SERVICES[n].path_prefixes, app) for n, app in apps.items()], default=apps[names[0]])
        mode = f"service {args.service}" if args.service else f"embedded ({', '.join(names)})"
        print(f"Kassa {mode} listening on {base_url} (database {_redact(settings.database_url)}, "
              f"jobs {'arq on ' + settings.redis_url if settings.redis_url else 'in-process'})", flush=True)
        # Everything built so far (modules, apps, caches) lives as long as the process: freezing it
        # keeps the collector from rescanning it, which otherwise stalls a busy server for 100+ ms.
        gc.collect()
        gc.freeze()
        config = uvicorn.Config(asgi, host=args.host, port=args.port, lifespan="on", access_log=False,
                                log_config=None, loop="uvloop", http="httptools", workers=1,
                                server_header=False, forwarded_allow_ips=settings.trusted_proxies)
        try:
            await uvicorn.Server(config).serve()
        finally:
            await runtime.close()

    try:
        import uvloop

        uvloop.run(main())
    except KeyboardInterrupt:
        pass
    return 0


def _serve_workers(args: argparse.Namespace, settings: Settings) -> int:
    import os

    from .serving import serve_workers

    asyncio.run(_migrate(settings))  # once, before the workers start
    # The worker processes read their settings from the environment: the address this command chose too.
    os.environ.setdefault("KASSA_PUBLIC_BASE_URL", settings.public_base_url)
    print(f"Kassa service {args.service}: {args.workers} processes listening on http://{args.host}:{args.port} "
          f"(database {_redact(settings.database_url)}, "
          f"jobs {'arq on ' + settings.redis_url if settings.redis_url else 'in-process'})", flush=True)
    serve_workers(args.service, host=args.host, port=args.port, workers=args.workers,
                  trusted_proxies=settings.trusted_proxies)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from arq.worker import Worker
    from kassa_platform.logs import configure_logging

    settings = _settings(args)
    configure_logging(json_format=settings.log_json, level=settings.log_level, access_log=settings.access_log)
    if not settings.redis_url:
        print("kassa worker needs KASSA_REDIS_URL (the embedded mode runs jobs in-process)", file=sys.stderr)
        return 2
    from kassa_platform.jobs import arq_worker_settings

    registry = job_registry()
    ops = None
    if args.metrics_port is not None:
        from .ops_server import OpsServer

        ops = OpsServer(args.host, args.metrics_port)

    runtimes = []

    async def make_context():  # type: ignore[no-untyped-def]
        runtime = build_runtime(settings, kind="worker")
        runtimes.append(runtime)
        for name in SERVICES:
            SERVICES[name].create_app(runtime, owns_runtime=False)  # builds each service's module
        # Its liveness lock before its first job: the leases it takes carry its number.
        await runtime.liveness.start()
        if ops is not None:
            ops.start(runtime)
        return runtime.job_context()

    async def close_context(ctx) -> None:  # type: ignore[no-untyped-def]
        if ops is not None:
            await ops.stop()
        for runtime in runtimes:
            await runtime.close()

    kwargs = arq_worker_settings(registry, make_context, close_context, settings.redis_url,
                                  settings.redis_prefix, burst=args.burst)
    asyncio.run(_migrate(settings))
    worker = Worker(**kwargs)
    print(f"Kassa worker: {len(registry.jobs)} jobs, {len(registry.crons)} cron jobs"
          + (f"; /metrics, /healthz, /readyz on http://{args.host}:{args.metrics_port}" if ops else ""), flush=True)
    worker.run()
    return 0


async def _in_transaction(settings: Settings, work):  # type: ignore[no-untyped-def]
    """Migrate, then run `work(conn, now)` in one transaction on a one-connection engine (its changes
    are audited as the operator's)."""
    from kassa_platform import audit
    from kassa_platform.clock import Clock
    from kassa_platform.db import Database, create_engine, transaction

    await _migrate(settings)
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        with audit.operator():
            async with transaction(Database(engine)) as conn:
                return await work(conn, Clock().now())
    finally:
        await engine.dispose()


def cmd_apps_create(args: argparse.Namespace) -> int:
    from kassa_contract.versions import LATEST_VERSION
    from kassa_platform.auth import create_application

    async def work(conn, now):  # type: ignore[no-untyped-def]
        return await create_application(conn, args.name, args.env, now, api_version=args.api_version or LATEST_VERSION)

    try:
        print(asyncio.run(_in_transaction(_settings(args), work)))
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    return 0


def cmd_apps_upgrade_version(args: argparse.Namespace) -> int:
    """Move an application's API version pin forward (audited as done by `cli`)."""
    from kassa_contract.errors import KassaError
    from kassa_contract.versions import LATEST_VERSION
    from kassa_platform.applications import upgrade_api_version

    async def work(conn, now):  # type: ignore[no-untyped-def]
        app_id = await _application(conn, args.app)
        return await upgrade_api_version(conn, app_id, args.version or LATEST_VERSION, now=now)

    try:
        application = asyncio.run(_in_transaction(_settings(args), work))
    except KassaError as exc:
        raise SystemExit(exc.message) from None
    print(f"{application.id} is on API version {application.api_version}")
    return 0


async def _application(conn, ref: str) -> str:  # type: ignore[no-untyped-def]
    from kassa_platform.auth import find_application

    app_id = await find_application(conn, ref)
    if app_id is None:
        raise SystemExit(f"no single application with id or name {ref!r}")
    return app_id


def cmd_keys_create(args: argparse.Namespace) -> int:
    from kassa_platform.auth import create_key

    if not args.publishable and not args.scopes:
        print("give --scopes a,b,c (or '*') for a secret key, or --publishable", file=sys.stderr)
        return 2

    async def work(conn, now):  # type: ignore[no-untyped-def]
        scopes = [s.strip() for s in (args.scopes or "").split(",") if s.strip()]
        return await create_key(conn, await _application(conn, args.app),
                                kind="publishable" if args.publishable else "secret", scopes=scopes or None,
                                now=now, name=args.name)

    try:
        print(asyncio.run(_in_transaction(_settings(args), work)))
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from kassa_platform import api_keys

    async def work(conn, now):  # type: ignore[no-untyped-def]
        app_id = await _application(conn, args.app)
        keys, cursor = [], None
        while True:
            page = await api_keys.list_keys(conn, app_id, now, limit=100, cursor=cursor, include_inactive=args.all)
            keys += page.data
            if not (cursor := page.next_cursor):
                return keys

    def when(value) -> str:  # type: ignore[no-untyped-def]
        return value.strftime("%Y-%m-%d %H:%M") if value else "-"

    rows = [("ID", "KEY", "SCOPES", "CREATED", "LAST USED", "EXPIRES", "REVOKED", "NAME")]
    for k in asyncio.run(_in_transaction(_settings(args), work)):
        rows.append((k.id, f"{k.prefix}…{k.last4}", ",".join(k.scopes) if k.type == "secret" else "(publishable)",
                     when(k.created_at), when(k.last_used_at), when(k.expires_at), when(k.revoked_at), k.name or ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0


def cmd_keys_change(args: argparse.Namespace) -> int:
    """`kassa keys revoke|roll KEY`: KEY is a key id or the key itself (a leaked key in hand)."""
    from kassa_contract.errors import KassaError
    from kassa_platform import api_keys

    async def work(conn, now):  # type: ignore[no-untyped-def]
        found = await api_keys.find_key(conn, args.key)
        if found is None:
            raise SystemExit(f"no API key {args.key!r}")
        app_id, key_id = found
        if args.keys_command == "revoke":
            return (await api_keys.revoke(conn, None, app_id, key_id, now))[0]
        return (await api_keys.roll(conn, None, app_id, key_id, args.expires_in_hours, now))[0]

    try:
        key = asyncio.run(_in_transaction(_settings(args), work))
    except KassaError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return 2
    if args.keys_command == "revoke":
        print(f"revoked {key.id} ({key.prefix}…{key.last4}); every server refuses it within a second")
    else:
        print(key.secret)
        print(f"new key {key.id}; the old secret works until "
              f"{'now' if args.expires_in_hours == 0 else f'{args.expires_in_hours} h from now'}", file=sys.stderr)
    return 0


# `kassa payments set-stripe`'s options -> the API's fields, to name the option a refusal is about.
PAYMENT_OPTIONS = {"provider": "provider", "secretKey": "--secret-key", "publishableKey": "--publishable-key",
                   "webhookSecret": "--webhook-secret", "captureMethod": "--capture"}


def cmd_users_create_owner(args: argparse.Namespace) -> int:
    """The first account: a user owning a new workspace (the first takes the applications made before)."""
    import getpass

    from kassa_contract.errors import KassaError
    from kassa_platform.clock import Clock
    from kassa_platform.db import Database, create_engine
    from kassa_platform.ratelimit import Limits, RateLimiter
    from kassa_team.accounts import Accounts

    settings = _settings(args)
    password = args.password
    if password is None:
        if not sys.stdin.isatty():
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass(f"Password for {args.email}: ")
            if getpass.getpass("Again: ") != password:
                print("the passwords differ", file=sys.stderr)
                return 2

    async def work() -> tuple[str, str, int]:
        await _migrate(settings)
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            clock = Clock()
            limiter = RateLimiter(Limits.from_values(settings.rate_limits), clock.timestamp)
            accounts = Accounts(Database(engine), clock, settings, limiter)
            return await accounts.create_owner(args.email, password, args.name, args.workspace)
        finally:
            await engine.dispose()

    try:
        user_id, workspace_id, attached = asyncio.run(work())
    except KassaError as exc:
        print(f"kassa: {exc.message}", file=sys.stderr)
        return 2
    print(f"owner {args.email.lower()} ({user_id}) of workspace {workspace_id}"
          + (f"; {attached} existing application{'s' if attached != 1 else ''} attached" if attached else ""))
    return 0


def cmd_payments(args: argparse.Namespace) -> int:
    """`kassa payments show|set-stripe|set-test APP`: through the checkout service's own PaymentSettingsService,
    so the key checks (mode, one call to Stripe) and the sealing are the API's."""

    import msgspec
    import sqlalchemy as sa
    from kassa_checkout.service import module_of
    from kassa_contract.errors import KassaError
    from kassa_contract.payments import PaymentSettings, UpdatePaymentSettings
    from kassa_platform.auth import Principal
    from kassa_platform.sealing import SealBroken
    from kassa_platform.tables import applications

    settings = _settings(args)

    async def main() -> tuple[str, str, PaymentSettings]:
        await _migrate(settings)
        runtime = build_runtime(settings, ["checkout"])
        try:
            async with runtime.db() as conn:
                app_id = await _application(conn, args.app)
                environment = (await conn.execute(sa.select(applications.c.environment)
                                                  .where(applications.c.id == app_id))).scalar_one()
            principal = Principal(app_id=app_id, environment=environment, key_id="cli", kind="service",
                                  scopes=frozenset({"payments:read", "payments:write"}))
            service = module_of(runtime).payment_settings
            if args.payments_command == "show":
                return app_id, environment, await service.get(principal)
            if args.payments_command == "set-test":
                body = {"provider": "test", "captureMethod": args.capture}
            else:
                body = {"provider": "stripe", "secretKey": args.secret_key, "publishableKey": args.publishable_key,
                        "webhookSecret": args.webhook_secret, "captureMethod": args.capture}
            # Decoded as the API decodes a request body: the key shapes are checked here as there.
            update = msgspec.convert({k: v for k, v in body.items() if v is not None}, UpdatePaymentSettings)
            return app_id, environment, await service.update(principal, update)
        finally:
            await runtime.close()

    try:
        app_id, environment, shown = asyncio.run(main())
    except msgspec.ValidationError as exc:
        field = str(exc).rsplit("$.", 1)[-1].rstrip("`") if "$." in str(exc) else ""
        option = PAYMENT_OPTIONS.get(field, field)
        print(f"kassa payments: {option or 'a value'} is not valid ({str(exc).split(' - at ')[0]})", file=sys.stderr)
        return 2
    except KassaError as exc:
        option = f" [{PAYMENT_OPTIONS.get(exc.field, exc.field)}]" if exc.field else ""
        print(f"kassa payments: {exc.code}{option}: {exc.message}", file=sys.stderr)
        return 2
    except SealBroken:
        print("kassa payments: the stored Stripe secrets were sealed under another signing key (KASSA_SIGNING_KEY): "
              "set the keys again with `kassa payments set-stripe`", file=sys.stderr)
        return 2
    print(f"application     {app_id} ({environment})")
    if environment == "live" and shown.updated_at is None:  # nothing saved: a live application takes no payments
        print("provider        none: connect Stripe with `kassa payments set-stripe`")
        return 0
    print(f"provider        {shown.provider}")
    print(f"capture         {shown.capture_method}")
    if shown.provider == "stripe":
        print(f"secret key      …{shown.secret_key_last4}")
        print(f"publishable key {shown.publishable_key}")
        print(f"webhook secret  {'…' + shown.webhook_secret_last4 if shown.webhook_secret_last4 else '(none)'}")
        print(f"webhook URL     {shown.webhook_url}")
        if args.payments_command != "show":
            then = "" if shown.webhook_secret_last4 else ", then give its signing secret here (--webhook-secret whsec_…)"
            print(f"\nIn Stripe's dashboard, add a webhook endpoint at {shown.webhook_url}{then}.", file=sys.stderr)
            if not Settings.is_set("public_base_url"):
                print("(the URL is built from KASSA_PUBLIC_BASE_URL, not set here: set it to Kassa's public address)",
                      file=sys.stderr)
    if shown.updated_at:
        print(f"updated         {shown.updated_at.strftime('%Y-%m-%d %H:%M')} UTC")
    return 0


class Progress:
    """A one-line progress bar on stderr (no dependency for something this small)."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.done, self.label = total, 0, label
        self.started = __import__("time").monotonic()

    def __call__(self, n: int) -> None:
        self.done += n
        width = 30
        filled = width * self.done // max(self.total, 1)
        rate = self.done / max(__import__("time").monotonic() - self.started, 1e-6)
        print(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} ({rate:,.0f}/s)",
              end="", file=sys.stderr, flush=True)
        if self.done >= self.total:
            print(file=sys.stderr)


def cmd_vouchers(args: argparse.Namespace) -> int:
    import sqlalchemy as sa
    from kassa_cart.promotions_routes import parse_csv_codes
    from kassa_contract.errors import KassaError
    from kassa_contract.promotions import CreateCodes
    from kassa_platform.clock import Clock
    from kassa_platform.db import Database, create_engine, transaction
    from kassa_promotions.store.codes import CodeStore
    from kassa_promotions.store.tables import campaigns

    settings = _settings(args)

    async def main() -> int:
        await _migrate(settings)
        engine = create_engine(settings.database_url, pool_size=1)
        store = CodeStore()
        try:
            async with transaction(Database(engine)) as conn:
                app_id = (await conn.execute(sa.select(campaigns.c.app_id)
                                             .where(campaigns.c.id == args.campaign))).scalar_one_or_none()
                if app_id is None:
                    raise SystemExit(f"no campaign {args.campaign}")
            if args.vouchers_command == "generate":
                body = CreateCodes(count=args.count, prefix=args.prefix, pattern=args.pattern,
                                   usage_limit=args.usage_limit, balance=args.balance)
                made, _ = await store.create(Database(engine), app_id, args.campaign, body, Clock().now(),
                                             progress=Progress(args.count, "generating"))
                return made
            async with transaction(Database(engine)) as conn:
                text = Path(args.file).read_text(encoding="utf-8-sig")
                codes = parse_csv_codes(text)
                return await store.import_codes(conn, app_id, args.campaign, codes, usage_limit=args.usage_limit,
                                                balance=args.balance, now=Clock().now(),
                                                progress=Progress(len(codes), "importing"))
        finally:
            await engine.dispose()

    try:
        print(f"{asyncio.run(main())} codes created")
    except KassaError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return 2
    return 0


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kassa", description="Kassa: carts, checkout and webhooks")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run every service on one port (embedded), or one service alone")
    serve.add_argument("service", nargs="?", choices=sorted(SERVICES), help="run only this service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=_positive, default=1,
                       help="processes of the service sharing the port (one service only; default 1)")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run the background jobs on arq (needs KASSA_REDIS_URL)")
    worker.add_argument("--burst", action="store_true", help="run queued jobs, then exit")
    worker.add_argument("--metrics-port", type=int, help="serve /metrics, /healthz and /readyz on this port")
    worker.add_argument("--host", default="127.0.0.1", help="the address of the metrics port")
    worker.set_defaults(func=cmd_worker)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)

    apps = sub.add_parser("apps", help="applications").add_subparsers(dest="apps_command", required=True)
    create_app = apps.add_parser("create", help="create an application")
    create_app.add_argument("name")
    create_app.add_argument("--env", choices=["test", "live"], required=True)
    create_app.add_argument("--api-version", help="the API version to pin it to (default: the newest)")
    create_app.set_defaults(func=cmd_apps_create)
    upgrade = apps.add_parser("upgrade-version", help="move an application's API version pin forward")
    upgrade.add_argument("app", help="application id or name")
    upgrade.add_argument("version", nargs="?", help="the version (default: the newest)")
    upgrade.set_defaults(func=cmd_apps_upgrade_version)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys_command", required=True)
    create_key = keys.add_parser("create", help="create an API key (printed once)")
    create_key.add_argument("app", help="application id or name")
    kind = create_key.add_mutually_exclusive_group()
    kind.add_argument("--scopes", help="comma-separated scopes for a secret key, or '*'")
    kind.add_argument("--publishable", action="store_true", help="a browser key: catalog and own carts")
    create_key.add_argument("--name", help="what the key is for, shown by `kassa keys list`")
    create_key.set_defaults(func=cmd_keys_create)
    list_keys = keys.add_parser("list", help="an application's keys (prefix and last four, never the key)")
    list_keys.add_argument("app", help="application id or name")
    list_keys.add_argument("--all", action="store_true", help="include revoked and expired keys")
    list_keys.set_defaults(func=cmd_keys_list)
    revoke = keys.add_parser("revoke", help="revoke a key at once (every server refuses it within a second)")
    revoke.add_argument("key", help="the key's id (key_…) or the key itself")
    revoke.set_defaults(func=cmd_keys_change)
    roll = keys.add_parser("roll", help="replace a key by a new one (printed once); the old one expires")
    roll.add_argument("key", help="the key's id (key_…) or the key itself")
    roll.add_argument("--expires-in-hours", type=int, default=DEFAULT_ROLL_EXPIRY_HOURS, choices=range(0, 169),
                      metavar="0-168", help="how long the old key keeps working (default 24; 0: stops now)")
    roll.set_defaults(func=cmd_keys_change)

    users = sub.add_parser("users", help="team accounts (docs/team.md)").add_subparsers(dest="users_command",
                                                                                       required=True)
    owner = users.add_parser("create-owner", help="create a user owning a new workspace (the first account: the "
                             "first workspace takes every application made before)")
    owner.add_argument("email")
    owner.add_argument("--password", help="else asked for (or read from standard input when it is not a terminal)")
    owner.add_argument("--name")
    owner.add_argument("--workspace", help="the workspace's name (default: My workspace)")
    owner.set_defaults(func=cmd_users_create_owner)

    payments = sub.add_parser("payments", help="an application's payment provider (test or Stripe)").add_subparsers(
        dest="payments_command", required=True)
    show = payments.add_parser("show", help="the provider, Stripe's keys by their last four, the webhook URL")
    show.add_argument("app", help="application id or name")
    show.set_defaults(func=cmd_payments)
    set_stripe = payments.add_parser("set-stripe", help="take payments with Stripe (the secret key is checked "
                                                        "against Stripe once)")
    set_stripe.add_argument("app", help="application id or name")
    set_stripe.add_argument("--secret-key", required=True, help="sk_… or rk_… (test keys for a test application, "
                                                                "live keys for a live one)")
    set_stripe.add_argument("--publishable-key", required=True, help="pk_… of the same mode")
    set_stripe.add_argument("--webhook-secret", help="whsec_…: the signing secret of the endpoint at the webhook URL")
    set_stripe.add_argument("--capture", choices=["automatic", "manual"], default="automatic",
                            help="capture at payment (default) or later, when the order ships")
    set_stripe.set_defaults(func=cmd_payments)
    set_test = payments.add_parser("set-test", help="take payments with the built-in test provider (test "
                                                    "applications only)")
    set_test.add_argument("app", help="application id or name")
    set_test.add_argument("--capture", choices=["automatic", "manual"], default="automatic")
    set_test.set_defaults(func=cmd_payments)

    vouchers = sub.add_parser("vouchers", help="promotion codes").add_subparsers(dest="vouchers_command", required=True)
    generate = vouchers.add_parser("generate", help="generate unique codes for a campaign")
    generate.add_argument("--campaign", required=True)
    generate.add_argument("--count", type=int, required=True)
    generate.add_argument("--prefix", default="")
    generate.add_argument("--pattern", default="########", help="# stands for a random character")
    generate.add_argument("--usage-limit", type=int, default=1)
    generate.add_argument("--balance", type=int, help="gift cards: the value of each code, in minor units")
    generate.set_defaults(func=cmd_vouchers)
    import_ = vouchers.add_parser("import", help="import codes from a CSV file (first column: the code)")
    import_.add_argument("file")
    import_.add_argument("--campaign", required=True)
    import_.add_argument("--usage-limit", type=int, default=1)
    import_.add_argument("--balance", type=int)
    import_.set_defaults(func=cmd_vouchers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:  # a variable Kassa cannot use: stop now, naming it
        print(f"kassa: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
