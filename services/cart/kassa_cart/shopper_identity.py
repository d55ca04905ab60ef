"""Shopper identity: a browser proves its signed-in shopper with `X-Shopper-Token`, a JWT from the
merchant's identity provider, checked against the application's shopper-auth setting.

Signatures are PyJWT's (no hand-written crypto). The algorithm is pinned by the key, never taken
from the token alone: RSA keys verify RS*/PS*, EC keys the ES* of their curve, OKP keys EdDSA;
symmetric keys in a JWKS are ignored. So `alg: none` and an HMAC token "signed" with the public key
are refused. Times (`exp`, `nbf`) are checked against the injected clock.

The JWKS is cached per URL; an unknown `kid` refetches it, at most once per REFETCH_SECONDS per URL
(a stream of tokens with made-up kids cannot turn Kassa into a load generator), and the cached set
expires after CACHE_SECONDS, so a rotation is seen either way: new keys at their first token, removed
keys at the next fetch.

A shopper sends the same token with every cart write until it expires, so a process keeps the
tokens it verified (until their `exp`, re-checked at every use against the clock) and a subject's
customer for a few seconds: a cart write with a token then costs a dictionary lookup, not a
signature check and a query (bench/cart_load.py --shopper-token).

A customer is identified by the token's issuer and subject. The first token of a subject creates the
customer (or claims the customer with that email when the token says the email is verified and that
customer has no identity yet); an unverified email is never stored on a customer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
from kassa_contract.base import UNSET
from kassa_contract.customers import CartCustomer, ShopperAuth, UpdateShopperAuth, is_locale
from kassa_contract.errors import KassaError
from kassa_platform import audit
from kassa_platform.auth import Principal
from kassa_platform.clock import Clock
from kassa_platform.db import Database, transaction
from kassa_platform.ssrf import HostRefused, check_host, http_transport
from sqlalchemy.ext.asyncio import AsyncConnection

from . import customer_rows as rows
from .customers import CustomerService, summary

CACHE_SECONDS = 600  # a JWKS is refetched at the latest after this
REFETCH_SECONDS = 30  # an unknown kid refetches at most this often per JWKS URL
CONFIG_SECONDS = 10  # how long a process keeps an application's setting (its own changes: at once)
LEEWAY_SECONDS = 30  # clock skew allowed on exp / nbf
CUSTOMER_SECONDS = 5  # how long a process keeps a subject's customer (its own changes: at once)
MAX_CACHED = 10_000  # verified tokens and subjects kept per process (then the caches start over)
FETCH_TIMEOUT = httpx.Timeout(5.0)
MAX_JWKS_BYTES = 256 * 1024

_RSA = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "secp256k1": "ES256K"}


def _refused(message: str, reason: str) -> KassaError:
    return KassaError("shopper_token_invalid", message, details={"reason": reason})


def allowed_algorithms(jwk: dict[str, Any]) -> frozenset[str]:
    """The algorithms a key of this type may verify: pinned by the key, never by the token."""
    kty = jwk.get("kty")
    if kty == "RSA":
        algs = _RSA
    elif kty == "EC" and jwk.get("crv") in _EC:
        algs = frozenset({_EC[jwk["crv"]]})
    elif kty == "OKP":
        algs = frozenset({"EdDSA"})
    else:
        return frozenset()  # symmetric ("oct") and unknown keys verify nothing
    named = jwk.get("alg")
    return algs & {named} if named else algs


@dataclass
class _Key:
    key: Any
    algorithms: frozenset[str]


@dataclass
class _KeySet:
    keys: dict[str, _Key] = field(default_factory=dict)
    fetched_at: float | None = None
    attempted_at: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


Fetch = Callable[[str], Awaitable[bytes]]


class JwksCache:
    def __init__(self, clock: Clock, fetch: Fetch) -> None:
        self.clock = clock
        self.fetch = fetch
        self._sets: dict[str, _KeySet] = {}
        self.fetches = 0  # for tests and metrics: how often a JWKS was actually fetched

    async def key(self, url: str, kid: str | None) -> _Key | None:
        entry = self._sets.setdefault(url, _KeySet())
        now = self.clock.timestamp()
        if entry.fetched_at is None or now - entry.fetched_at >= CACHE_SECONDS:
            await self._refresh(url, entry, now, force=True)
        found = self._pick(entry, kid)
        if found is None and (entry.attempted_at is None or now - entry.attempted_at >= REFETCH_SECONDS):
            await self._refresh(url, entry, now, force=False)  # unknown kid: maybe a rotation
            found = self._pick(entry, kid)
        return found

    @staticmethod
    def _pick(entry: _KeySet, kid: str | None) -> _Key | None:
        if kid is not None:
            return entry.keys.get(kid)
        return next(iter(entry.keys.values())) if len(entry.keys) == 1 else None  # no kid: the only key

    async def _refresh(self, url: str, entry: _KeySet, now: float, *, force: bool) -> None:
        attempted = entry.attempted_at
        async with entry.lock:
            if entry.attempted_at != attempted:
                return  # another request refreshed it meanwhile
            entry.attempted_at = now
            try:
                body = await self.fetch(url)
                self.fetches += 1
                keys = parse_jwks(body)
            except (httpx.HTTPError, httpx.InvalidURL, ValueError, jwt.PyJWTError):
                if force and entry.fetched_at is None:
                    raise _refused("The identity provider's keys could not be fetched", "jwks_unavailable") from None
                return  # keep the keys we have
            entry.keys, entry.fetched_at = keys, now


def parse_jwks(body: bytes) -> dict[str, _Key]:
    """The usable keys of a JWKS document by kid (keys without a kid under their thumbprint-less index)."""
    document = jwt.api_jwk.PyJWKSet.from_json(body.decode())
    keys: dict[str, _Key] = {}
    for i, jwk in enumerate(document.keys):
        raw = jwk._jwk_data
        if raw.get("use", "sig") != "sig":
            continue
        algorithms = allowed_algorithms(raw)
        if algorithms:
            keys[raw.get("kid") or f"#{i}"] = _Key(jwk.key, algorithms)
    if not keys:
        raise ValueError("no usable signing key")
    return keys


def jwks_fetcher(*, allow_private: bool = False) -> Fetch:
    """Fetches a JWKS document: no redirects, no proxy from the environment, at most MAX_JWKS_BYTES read,
    and through the SSRF guard webhooks use (kassa_platform.ssrf): every address the host resolves to
    when it connects must be public, unless the operator allows private networks
    (KASSA_SHOPPER_AUTH_ALLOW_PRIVATE_NETWORKS). A merchant's setting cannot make Kassa call into its
    own network (a cloud metadata address, an internal service) and show what answered."""

    async def fetch(url: str) -> bytes:
        transport = http_transport(guarded=not allow_private, max_connections=2)
        async with httpx.AsyncClient(transport=transport, timeout=FETCH_TIMEOUT, follow_redirects=False,
                                     trust_env=False) as client:
            async with client.stream("GET", url, headers={"accept": "application/json"}) as response:
                response.raise_for_status()
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise ValueError("JWKS too large")
                return bytes(body)

    return fetch


fetch_jwks = jwks_fetcher()  # guarded: public addresses only


@dataclass(frozen=True)
class Shopper:
    """A verified token's shopper."""

    issuer: str
    subject: str
    email: str | None  # only when the token says it is verified
    first_name: str | None = None
    last_name: str | None = None
    locale: str | None = None
    expires: float = 0.0
    not_before: float | None = None


class ShopperIdentity:
    """Verifies shopper tokens and finds (or creates) their customers. One per cart module."""

    def __init__(self, db: Database, clock: Clock, customers: CustomerService, fetch: Fetch = fetch_jwks, *,
                 allow_private: bool = False) -> None:
        self.allow_private = allow_private  # JWKS URLs may name loopback and private hosts (the operator's switch)
        self.db = db
        self.clock = clock
        self.customers = customers
        self.jwks = JwksCache(clock, fetch)
        self._config: dict[str, tuple[float, ShopperAuth]] = {}
        self._tokens: dict[tuple[str, str, str], Shopper] = {}  # (app, setting, token) -> verified shopper
        self._customers: dict[tuple[str, str, str], tuple[float, int, CartCustomer]] = {}

    # ---------------------------------------------------------------- the setting

    async def setting(self, app_id: str) -> ShopperAuth:
        cached = self._config.get(app_id)
        now = self.clock.timestamp()
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self.db() as conn:
            row = await rows.shopper_auth_of(conn, app_id)
        config = ShopperAuth() if row is None else ShopperAuth(jwks_url=row.jwks_url, issuer=row.issuer,
                                                              audience=row.audience, updated_at=row.updated_at)
        self._config[app_id] = (now + CONFIG_SECONDS, config)
        return config

    async def update_setting(self, principal: Principal, body: UpdateShopperAuth) -> ShopperAuth:
        values = {name: getattr(body, name) for name in ("jwks_url", "issuer", "audience")
                  if getattr(body, name) is not UNSET}
        if values.get("jwks_url"):
            url = values["jwks_url"].strip()
            allowed = ("https://",) if principal.environment == "live" else ("https://", "http://")
            if not url.startswith(allowed):
                raise KassaError("validation_error", "jwksUrl must be an https:// URL (http:// is allowed for test "
                                 "applications only)", field="jwksUrl")
            self.check_jwks_host(url, allow_private=self.allow_private)
            values["jwks_url"] = url
        async with transaction(self.db) as conn:
            before = await rows.shopper_auth_of(conn, principal.app_id)
            await rows.save_shopper_auth(conn, principal.app_id, values, self.clock.now())
            await audit.record(conn, "shopper_auth.updated", principal.app_id, app_id=principal.app_id,
                               now=self.clock.now(), before=_auth_fields(before),
                               after=_auth_fields(await rows.shopper_auth_of(conn, principal.app_id)))
        self._config.pop(principal.app_id, None)
        return await self.setting(principal.app_id)

    @staticmethod
    def check_jwks_host(url: str, *, allow_private: bool) -> None:
        check_jwks_host(url, allow_private=allow_private)

    # ---------------------------------------------------------------- tokens

    async def verify(self, app_id: str, token: str) -> Shopper:
        """The token's shopper, or 401 `shopper_token_invalid` (the reason in `details.reason`)."""
        config = await self.setting(app_id)
        if not config.configured:
            raise _refused("This application accepts no shopper tokens: set its shopper auth (jwksUrl, issuer, "
                           "audience) first", "not_configured")
        key = (app_id, f"{config.jwks_url}|{config.issuer}|{config.audience}", token)
        known = self._tokens.get(key)
        if known is not None:
            self._check_times(known.expires, known.not_before)
            return known
        shopper = await self._verify(config, token)
        if len(self._tokens) >= MAX_CACHED:
            self._tokens.clear()
        self._tokens[key] = shopper
        return shopper

    def _check_times(self, exp: Any, nbf: Any) -> float:
        """The token's expiry (a number), once its times admit it now."""
        now = self.clock.timestamp()
        if not isinstance(exp, int | float) or now > exp + LEEWAY_SECONDS:
            raise _refused("The shopper token has expired", "expired")
        if nbf is not None and (not isinstance(nbf, int | float) or now < nbf - LEEWAY_SECONDS):
            raise _refused("The shopper token is not valid yet", "not_yet_valid")
        return exp

    async def _verify(self, config: ShopperAuth, token: str) -> Shopper:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _refused("The shopper token is not a JWT", "malformed") from None
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg.lower() == "none":
            raise _refused("Unsigned shopper tokens are refused", "unsigned")
        if kid is not None and not isinstance(kid, str):
            raise _refused("The shopper token's kid is not a string", "malformed")
        key = await self.jwks.key(config.jwks_url, kid)  # type: ignore[arg-type]
        if key is None:
            raise _refused("The shopper token is signed with a key the identity provider does not publish",
                           "unknown_key")
        if alg not in key.algorithms:
            raise _refused(f"The algorithm {alg} is not allowed for this key", "algorithm_not_allowed")
        try:
            claims = jwt.decode(token, key.key, algorithms=[alg], audience=config.audience, issuer=config.issuer,
                                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                                         "require": ["iss", "sub", "aud", "exp"]})
        except jwt.InvalidAudienceError:
            raise _refused("The shopper token is for another audience", "audience") from None
        except jwt.InvalidIssuerError:
            raise _refused("The shopper token is from another issuer", "issuer") from None
        except jwt.InvalidSignatureError:
            raise _refused("The shopper token's signature does not verify", "signature") from None
        except jwt.PyJWTError as exc:
            raise _refused(f"The shopper token is invalid: {exc}", "invalid") from None
        exp, nbf = claims.get("exp"), claims.get("nbf")
        expires = self._check_times(exp, nbf)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 255:
            raise _refused("The shopper token names no subject", "subject")
        email = claims.get("email") if claims.get("email_verified") is True else None
        locale = claims.get("locale")
        return Shopper(issuer=claims["iss"], subject=subject,
                       email=email.strip() if isinstance(email, str) and "@" in email and len(email) <= 254 else None,
                       first_name=_text(claims.get("given_name")), last_name=_text(claims.get("family_name")),
                       locale=locale if isinstance(locale, str) and is_locale(locale) else None,
                       expires=expires, not_before=nbf)

    async def customer(self, app_id: str, token: str) -> CartCustomer:
        """The customer of a verified token: found by issuer and subject, created at their first token."""
        shopper = await self.verify(app_id, token)
        key = (app_id, shopper.issuer, shopper.subject)
        cached = self._customers.get(key)
        if cached is not None and cached[0] > self.clock.timestamp() and cached[1] == self.customers.generation:
            return cached[2]
        generation = self.customers.generation
        customer = await self._customer_of(app_id, shopper)
        if len(self._customers) >= MAX_CACHED:
            self._customers.clear()
        self._customers[key] = (self.clock.timestamp() + CUSTOMER_SECONDS, generation, customer)
        return customer

    async def _customer_of(self, app_id: str, shopper: Shopper) -> CartCustomer:
        async with self.db() as conn:
            row = await rows.fetch_by_identity(conn, app_id, shopper.issuer, shopper.subject)
        if row is not None:
            return summary(row)
        for _ in range(2):  # a concurrent first token of the same subject may win the insert
            try:
                async with transaction(self.db) as conn:
                    return await self._first_token(conn, app_id, shopper)
            except KassaError as exc:
                # A concurrent first token of this subject inserted first (its email may be the constraint
                # that tripped); or another customer took the email meanwhile: look again, then retry.
                if exc.code not in ("conflict", "customer_email_taken"):
                    raise
            async with self.db() as conn:
                row = await rows.fetch_by_identity(conn, app_id, shopper.issuer, shopper.subject)
            if row is not None:
                return summary(row)
        raise KassaError("conflict", "The shopper's customer could not be created; try again")

    async def _first_token(self, conn: AsyncConnection, app_id: str, shopper: Shopper) -> CartCustomer:
        now = self.clock.now()
        identity = {"identity_issuer": shopper.issuer, "identity_subject": shopper.subject}
        email = shopper.email
        if email is not None:
            known = await rows.fetch_by_email(conn, app_id, email)
            if known is not None and known.identity_issuer is None:
                # A verified email claims the customer the merchant (or a guest checkout) made with it.
                await self.customers.claim_identity(conn, known, identity, now)
                return summary(await rows.fetch(conn, app_id, known.id))
            if known is not None:
                email = None  # another identity holds it: this shopper's customer starts without
        customer = await self.customers.insert(conn, app_id, now, email=email, first_name=shopper.first_name,
                                               last_name=shopper.last_name, locale=shopper.locale,
                                               identity_issuer=shopper.issuer, identity_subject=shopper.subject)
        return CartCustomer(id=customer.id, email=customer.email, first_name=customer.first_name,
                            last_name=customer.last_name)


def check_jwks_host(url: str, *, allow_private: bool) -> None:
    """The guard's rule where the setting is saved (the fetch checks every address again when it connects)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return  # not a URL at all: the fetch fails, and tokens are refused as `jwks_unavailable`
    try:
        check_host(host, allow_private=allow_private)
    except HostRefused as exc:
        raise KassaError("validation_error", f"jwksUrl: {exc}", field="jwksUrl",
                         details={"reason": exc.reason}) from None


def _text(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) and value.strip() else None



def _auth_fields(row: Any) -> dict[str, Any]:
    return {"jwksUrl": row.jwks_url if row else None, "issuer": row.issuer if row else None,
            "audience": row.audience if row else None}


async def cart_customer(identity: ShopperIdentity, principal: Principal, customer_id: Any,
                        token: str | None) -> Any:
    """The customer a cart write names: a secret key's `customerId` (None detaches it, UNSET leaves the
    cart's), or the shopper of `X-Shopper-Token`. Nothing is written when the token is refused."""
    if token is not None:
        if customer_id is not UNSET and customer_id is not None:
            raise KassaError("validation_error", "Send either customerId or X-Shopper-Token, not both",
                             field="customerId")
        return await identity.customer(principal.app_id, token)
    if customer_id is UNSET or customer_id is None:
        return customer_id
    if not principal.is_secret:
        raise KassaError("forbidden", "customerId needs a secret key; a browser proves its shopper with the "
                         "X-Shopper-Token header", field="customerId", details={"keyKind": principal.kind})
    async with identity.db() as conn:
        return await identity.customers.attachable(conn, principal.app_id, customer_id)


async def shopper_customer(identity: ShopperIdentity, principal: Principal, token: str | None) -> Any:
    """The customer of `X-Shopper-Token` on a cart write that names no customer otherwise (UNSET: no token,
    the cart keeps its customer). Refused with 401 before anything is written."""
    return UNSET if token is None else await identity.customer(principal.app_id, token)
