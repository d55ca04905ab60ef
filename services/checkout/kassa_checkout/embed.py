"""Payment-only embed tokens: short-lived, signed, bound to one session and one origin.

The origin must be one the application allows (`allowedOrigins` of its embed config, kept by the
cart service); a test application without a list may embed anywhere, a live one nowhere.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from kassa_contract.base import UNSET
from kassa_contract.checkout import EmbedToken, EmbedTokenRequest
from kassa_contract.errors import KassaError
from kassa_platform.auth import Principal
from kassa_platform.clock import Clock
from kassa_platform.cors import origin_allowed
from kassa_platform.db import Database
from kassa_platform.signed_tokens import sign_token

from .cart_client import CartClient
from .sessions import SessionStore

PURPOSE = "checkout_embed"
TTL = timedelta(minutes=15)


class EmbedTokens:
    def __init__(self, db: Database, clock: Clock, store: SessionStore, cart: CartClient, key: str) -> None:
        self.db = db
        self.cart = cart
        self.clock = clock
        self.store = store
        self.key = key

    async def issue(self, principal: Principal, body: EmbedTokenRequest) -> EmbedToken:
        if body.allowed_methods is not UNSET:  # present at all, even null: fail loud (seed 003, 2026-06-20)
            raise KassaError("allowed_methods_unsupported", "A payment-only embed renders the methods of the "
                             "payment connection; restrict methods with the session's `allowedMethods` instead",
                             field="allowedMethods", status=400)
        async with self.db() as conn:
            row = await self.store.load(conn, principal.app_id, body.session_id)
        if row.status != "open":
            raise KassaError("checkout_session_not_open", f"Checkout session {row.id} is {row.status}", status=409,
                             details={"status": row.status})
        origin = body.origin.lower()
        allowed = [o.lower() for o in (await self.cart.embed_config(principal.app_id)).allowed_origins]
        if not origin_allowed(allowed, principal.environment, origin):
            raise KassaError("origin_not_allowed", f"{body.origin} may not embed this application's checkout: add it "
                             "to `allowedOrigins` of PUT /api/v1/embed-config"
                             + (" (live applications must list their origins)" if not allowed else ""),
                             field="origin", status=422)
        now = self.clock.now()
        expires_at = min(now + TTL, row.expires_at)
        token = sign_token(self.key, PURPOSE, {"app": row.app_id, "sid": row.id, "origin": origin}, expires_at)
        url = f"{self.store.view(row).url}?{urlencode({'embed': token})}"
        return EmbedToken(token=token, session_id=row.id, origin=origin, expires_at=expires_at, url=url)
