"""The calling application: its API version pin (scopes `application:read`, `application:write`)."""

from __future__ import annotations

from kassa_contract.applications import Application, UpgradeApiVersion

from .._base import Call, M, RequestOptions, Resource, operation, returns

APPLICATION = "/api/v1/application"


class ApplicationResource(Resource[M]):
    """`client.application`."""

    @operation
    def retrieve(self, *, options: RequestOptions | None = None) -> Call[Application]:
        """The application: its `api_version` pin, the newest version and every version there is."""
        return Call("GET", APPLICATION, returns(Application), options=options)

    @operation
    def upgrade_version(self, version: str, *, options: RequestOptions | None = None) -> Call[Application]:
        """Move the pin forward to `version` (never back: `ApiVersionDowngradeError`); requests without a
        version header and new webhook endpoints get it. Read docs/api-versions.md first."""
        return Call("POST", APPLICATION + "/upgrade-version", returns(Application), UpgradeApiVersion(version=version),
                    options=options)
