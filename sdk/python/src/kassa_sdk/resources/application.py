"""The calling application: its view and its API version pin (scopes `application:read`, `application:write`)."""

from __future__ import annotations

from kassa_contract.applications import Application, UpgradeApiVersion

from .._api_version import ApiVersion
from .._base import M, Call, RequestOptions, Resource, operation, returns

APPLICATION = "/api/v1/application"


class ApplicationResource(Resource[M]):
    """`client.application`: the application the key belongs to."""

    @operation
    def retrieve(self, *, options: RequestOptions | None = None) -> Call[Application]:
        """The application: its name, environment and `api_version` (the version a request without a
        `Kassa-Version` header gets, and new webhook endpoints start with), and the versions there are."""
        return Call("GET", APPLICATION, returns(Application), options=options)

    @operation
    def upgrade_version(self, *, version: ApiVersion, options: RequestOptions | None = None) -> Call[Application]:
        """Move the application's pin forward to `version` (never back: 422 `api_version_downgrade`).
        This SDK's own requests name their version anyway; the pin changes requests without the header
        (other clients, old SDKs) and the default of new webhook endpoints."""
        return Call("POST", f"{APPLICATION}/upgrade-version", returns(Application), UpgradeApiVersion(version=version),
                    options=options)
