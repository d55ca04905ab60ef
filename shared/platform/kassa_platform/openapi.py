"""Each service's OpenAPI document, finished to say what the API does:

* every operation documents its errors as the shared envelope (`default`), in place of the
  framework's own 400 shape, which no Kassa answer has;
* the bearer key (`Authorization: Bearer <key>`) is the document's security scheme;
* currencies and countries are listed, and ids have their shape (kassa_contract.documented);
* the document is the newest API version's, and every operation takes the `Kassa-Version` header.

Applied once to the app's document when the app is built: `/schema/<service>` serves it and
`app.openapi_schema` returns it (the SDK generates its types from it).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import kassa_contract
import msgspec
from kassa_contract.documented import ENUMS_BY_DESCRIPTION, ID_PREFIXES, id_pattern
from kassa_contract.versions import LATEST_VERSION, VERSION_HEADER, VERSIONS
from litestar import Litestar
from litestar.openapi.spec import (
    Components,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    Schema,
    SecurityScheme,
)

ENVELOPE = "ErrorEnvelope"
_ERROR_BODY = Schema(
    type=OpenAPIType.OBJECT, required=["code", "message"],
    properties={
        "code": Schema(type=OpenAPIType.STRING, description="Stable, machine-readable: see kassa_contract.errors"),
        "message": Schema(type=OpenAPIType.STRING, description="For the developer (discount reasons: for shoppers)"),
        "field": Schema(type=OpenAPIType.STRING, description="The field at fault, camelCase (`lineItems[0].quantity`)"),
        "details": Schema(type=OpenAPIType.OBJECT, additional_properties=True),
    },
)
_ENVELOPE = Schema(
    type=OpenAPIType.OBJECT, required=["error", "requestId"],
    properties={"error": Reference(f"#/components/schemas/{ENVELOPE}Body"),
                "requestId": Schema(type=OpenAPIType.STRING)},
)
_ERROR_RESPONSE = OpenAPIResponse(
    description="An error, in the shared envelope. 4xx: the request (a code in kassa_contract.errors."
                "NOT_EXECUTED means it did not run); 5xx: Kassa (503 carries Retry-After).",
    content={"application/json": OpenAPIMediaType(schema=Reference(f"#/components/schemas/{ENVELOPE}"))},
)
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_VERSION_PARAMETER = Parameter(
    name=VERSION_HEADER, param_in="header", required=False,
    description="The API version to answer in (default: the application's pin); the answer names it in the "
                "same header. This document describes the newest version; docs/api-versions.md lists the changes.",
    schema=Schema(type=OpenAPIType.STRING, enum=list(VERSIONS)),
)


def finish_openapi(app: Litestar) -> None:
    document = app.openapi_schema
    components = document.components if isinstance(document.components, Components) else Components()
    document.components = components
    components.schemas = {**(components.schemas or {}), ENVELOPE: _ENVELOPE, f"{ENVELOPE}Body": _ERROR_BODY}
    components.security_schemes = {**(components.security_schemes or {}), "bearerKey": SecurityScheme(
        type="http", scheme="bearer",
        description="A secret key (`sk_test_…`, `sk_live_…`) or, where a route allows it, a publishable key (`pk_…`)")}
    document.security = [{"bearerKey": []}]
    document.info.version = LATEST_VERSION
    for item in (document.paths or {}).values():
        for method in _METHODS:
            operation: Operation | None = getattr(item, method, None)
            if operation is None:
                continue
            responses = {code: answer for code, answer in (operation.responses or {}).items()
                         if not code.startswith(("4", "5"))}  # the framework's shapes: ours is the envelope
            responses["default"] = _ERROR_RESPONSE
            operation.responses = responses
            operation.parameters = [*(operation.parameters or ()), _VERSION_PARAMETER]
            for parameter in operation.parameters or ():
                prefix = ID_PREFIXES.get(_camel(getattr(parameter, "name", "")))
                schema = getattr(parameter, "schema", None)
                if prefix and isinstance(schema, Schema):
                    schema.pattern = id_pattern(prefix)
                _document(schema)
    closed = _closed_structs()
    for name, schema in components.schemas.items():
        if name in closed and isinstance(schema, Schema):
            schema.additional_properties = False  # a field it does not know is a 422, not ignored
        _document(schema)


def _closed_structs() -> frozenset[str]:
    """The names of the contract's types that refuse unknown fields (the request bodies)."""
    names = set()
    for module in pkgutil.iter_modules(kassa_contract.__path__):
        for value in vars(importlib.import_module(f"kassa_contract.{module.name}")).values():
            if (isinstance(value, type) and issubclass(value, msgspec.Struct)
                    and value.__struct_config__.forbid_unknown_fields):
                names.add(value.__name__)
    return frozenset(names)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _document(schema: Any) -> None:
    """List the values of the constrained scalars and give ids their shape, all the way down."""
    if not isinstance(schema, Schema):
        return
    if schema.description in ENUMS_BY_DESCRIPTION and schema.enum is None:
        nullable = ((isinstance(schema.type, list) and OpenAPIType.NULL in schema.type)
                    or any(isinstance(inner, Schema) and inner.type == OpenAPIType.NULL
                           for inner in [*(schema.one_of or ()), *(schema.any_of or ())]))
        schema.enum = [*ENUMS_BY_DESCRIPTION[schema.description], *([None] if nullable else [])]
    for name, value in (schema.properties or {}).items():
        prefix = ID_PREFIXES.get(name)
        if prefix:
            _give_id_shape(value, id_pattern(prefix))
        _document(value)
    for field in ("items", "additional_properties", "property_names"):
        _document(getattr(schema, field))
    for field in ("one_of", "any_of", "all_of", "prefix_items"):
        for inner in getattr(schema, field) or ():
            _document(inner)


def _give_id_shape(schema: Any, pattern: str) -> None:
    if not isinstance(schema, Schema):
        return
    if schema.type == OpenAPIType.STRING or (isinstance(schema.type, list) and OpenAPIType.STRING in schema.type):
        schema.pattern = pattern
    for inner in [*(schema.one_of or ()), *(schema.any_of or ())]:
        _give_id_shape(inner, pattern)
    if schema.items is not None:
        _give_id_shape(schema.items, pattern)

