"""The embed config: abandonment threshold, recovery URL, allowed embedding origins, hosted-page branding."""

from __future__ import annotations

from collections.abc import Iterable

from kassa_contract.abandoned import BrandingInput, EmbedConfig, UpdateEmbedConfig
from kassa_contract.base import UNSET, UnsetT

from .._base import Call, M, RequestOptions, Resource, operation, returns
from ._util import listed

EMBED_CONFIG = "/api/v1/embed-config"


class EmbedConfigResource(Resource[M]):
    """`client.embed_config` (scopes `settings:read`, `settings:write`)."""

    @operation
    def retrieve(self, *, options: RequestOptions | None = None) -> Call[EmbedConfig]:
        """The application's embed config, with the threshold the abandonment sweep uses."""
        return Call("GET", EMBED_CONFIG, returns(EmbedConfig), options=options)

    @operation
    def update(self, *, cart_abandonment_threshold_minutes: int | None | UnsetT = UNSET,
               cart_recovery_url_template: str | None | UnsetT = UNSET,
               allowed_origins: Iterable[str] | None | UnsetT = UNSET, branding: BrandingInput | None | UnsetT = UNSET,
               options: RequestOptions | None = None) -> Call[EmbedConfig]:
        """Change the fields given (`None` clears one; the others stay). The threshold is 15 to 129600 minutes,
        the template an absolute URL with `{cartId}` (and optionally `{token}`)."""
        body = UpdateEmbedConfig(cart_abandonment_threshold_minutes=cart_abandonment_threshold_minutes,
                                 cart_recovery_url_template=cart_recovery_url_template,
                                 allowed_origins=listed(allowed_origins), branding=branding)
        return Call("PUT", EMBED_CONFIG, returns(EmbedConfig), body, options=options)
