"""API keys of the calling application: list, create, roll and revoke (scopes `keys:read`, `keys:write`)."""

from __future__ import annotations

from collections.abc import Iterable

from kassa_contract.api_keys import DEFAULT_ROLL_EXPIRY_HOURS, ApiKey, CreateApiKey, KeyType, RollApiKey, Scope
from kassa_contract.common import Page

from .._base import Call, M, RequestOptions, Resource, operation, paginated, returns, returns_page
from ._util import listed, seg

API_KEYS = "/api/v1/api-keys"


class ApiKeys(Resource[M]):
    """`client.api_keys` (scopes `keys:read`, `keys:write`). A key never grants more than its own scopes."""

    @paginated
    def list(self, *, include_inactive: bool | None = None, limit: int | None = None, cursor: str | None = None,
             options: RequestOptions | None = None) -> Call[Page[ApiKey]]:
        """The application's keys (prefix and last four, never the secret), a page at a time;
        `include_inactive` adds revoked and expired ones."""
        return Call("GET", API_KEYS, returns_page(ApiKey), params={
            "includeInactive": include_inactive, "limit": limit, "cursor": cursor}, options=options)

    @operation
    def retrieve(self, key_id: str, *, options: RequestOptions | None = None) -> Call[ApiKey]:
        """One key by its id (`key_…`)."""
        return Call("GET", f"{API_KEYS}/{seg(key_id)}", returns(ApiKey), options=options)

    @operation
    def create(self, *, type: KeyType = "secret", scopes: Iterable[Scope] | None = None, name: str | None = None,
               options: RequestOptions | None = None) -> Call[ApiKey]:
        """A new key; its `secret` is in this answer only. A secret key names its `scopes` (`["*"]` for all);
        a publishable key (`type="publishable"`) has the fixed browser scopes."""
        body = CreateApiKey(type=type, scopes=listed(scopes), name=name)
        return Call("POST", API_KEYS, returns(ApiKey), body, options=options)

    @operation
    def roll(self, key_id: str, *, expires_in_hours: int = DEFAULT_ROLL_EXPIRY_HOURS,
             options: RequestOptions | None = None) -> Call[ApiKey]:
        """A new secret for the key (in this answer only); the old one keeps working for
        `expires_in_hours` (0: stops at once)."""
        body = RollApiKey(expires_in_hours=expires_in_hours)
        return Call("POST", f"{API_KEYS}/{seg(key_id)}/roll", returns(ApiKey), body, options=options)

    @operation
    def revoke(self, key_id: str, *, options: RequestOptions | None = None) -> Call[ApiKey]:
        """Revoke the key at once, in every process of the deployment."""
        return Call("DELETE", f"{API_KEYS}/{seg(key_id)}", returns(ApiKey), options=options)
