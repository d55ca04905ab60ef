"""What the sync and async clients share: describing a call, building its request, reading its answer.

An API operation is written once, as a method that returns a `Call` (method, path, body, how to
decode the answer). The `operation` and `paginated` descriptors run that call through the client
the resource belongs to: `Kassa` sends it and returns the result, `AsyncKassa` returns a coroutine
(or an `AsyncPager`). The resource classes are generic over that mode (`Sync` / `Async`), so mypy
and pyright see `Cart` from `Kassa().carts.create(...)` and `Awaitable[Cart]` from `AsyncKassa`'s.
"""

from __future__ import annotations

import functools
import os
import platform
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypedDict, TypeVar, cast, overload

import httpx
import msgspec
from kassa_contract.common import Page
from kassa_contract.errors import ErrorEnvelope

from ._api_version import API_VERSION, API_VERSIONS, VERSION_HEADER, ApiVersion
from ._error_codes import ERROR_CLASSES
from ._errors import KassaApiError, KassaError, status_class
from ._version import __version__

if TYPE_CHECKING:
    from typing import Self

    from ._pagination import AsyncPager, SyncPage

T = TypeVar("T")
P = ParamSpec("P")

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
DEFAULT_MAX_RETRIES = 2


class RequestOptions(TypedDict, total=False):
    """Options of one call; every operation takes them as `options=`.

    `idempotency_key` replaces the generated one (a POST sent again with the same key and body
    gets the first answer back); `timeout` in seconds or an `httpx.Timeout`; `max_retries`
    overrides the client's; `headers` are added to the request.
    """

    idempotency_key: str
    timeout: float | httpx.Timeout
    max_retries: int
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One API call as data: built by a resource method, sent by a client (with its retries)."""

    method: str
    path: str
    decode: Callable[[bytes], T]
    body: msgspec.Struct | None = None
    params: Mapping[str, str | int | bool | None] | None = None
    headers: Mapping[str, str] | None = None
    options: RequestOptions | None = None

    def with_params(self, **params: str | int | bool | None) -> Call[T]:
        return replace(self, params={**(self.params or {}), **params})


# ---------------------------------------------------------------- decoding answers


@functools.cache
def _decoder(type_: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(type_)


def returns(type_: type[T]) -> Callable[[bytes], T]:
    """The answer is one `type_` (a contract Struct)."""
    decode: Callable[[bytes], T] = _decoder(cast(Any, type_)).decode
    return decode


def returns_list(type_: type[T]) -> Callable[[bytes], list[T]]:
    """The answer is `{"data": [type_, ...]}` (a list that is not paginated)."""
    decoder = _decoder(Page[type_])  # type: ignore[valid-type]

    def decode(content: bytes) -> list[T]:
        items: list[T] = decoder.decode(content).data
        return items

    return decode


def returns_page(type_: type[T]) -> Callable[[bytes], Page[T]]:
    """The answer is one page of a cursor-paginated list."""
    decode: Callable[[bytes], Page[T]] = _decoder(Page[type_]).decode  # type: ignore[valid-type]
    return decode


def returns_nothing(content: bytes) -> None:
    return None


# ---------------------------------------------------------------- encoding bodies


@functools.cache
def _fields(type_: type[msgspec.Struct]) -> tuple[tuple[str, str, Any], ...]:
    out = []
    for f in msgspec.structs.fields(type_):
        default = f.default if f.default is not msgspec.NODEFAULT else (
            f.default_factory() if f.default_factory is not msgspec.NODEFAULT else msgspec.NODEFAULT)
        out.append((f.name, f.encode_name, default))
    return tuple(out)


def compact(value: Any) -> Any:
    """A contract request Struct as JSON-ready data, without the fields left at their default.

    The server decodes the same Struct, so an absent field gets the same default there; sending only
    what the caller set keeps bodies small and lets this SDK talk to a server that predates a field.
    `UNSET` (a PATCH's "leave it alone") is left out, an explicit `None` where the default is `UNSET`
    (a PATCH's "clear it") is sent.
    """
    if isinstance(value, msgspec.Struct):
        out: dict[str, Any] = {}
        for name, wire_name, default in _fields(type(value)):
            item = getattr(value, name)
            if item is msgspec.UNSET or (default is not msgspec.NODEFAULT and item == default):
                continue
            out[wire_name] = compact(item)
        return out
    if isinstance(value, list):
        return [compact(v) for v in value]
    if isinstance(value, dict):
        return {k: compact(v) for k, v in value.items()}
    return value


_encoder = msgspec.json.Encoder()


def encode_body(body: msgspec.Struct) -> bytes:
    return _encoder.encode(compact(body))


# ---------------------------------------------------------------- resources and their operations


class Mode:
    """The kind of client a resource belongs to (a type parameter only)."""


class Sync(Mode):
    """Operations return their result."""


class Async(Mode):
    """Operations return an awaitable (and list operations an `AsyncPager`)."""


M = TypeVar("M", bound=Mode)


class Resource(Generic[M]):
    """A group of operations bound to a client."""

    def __init__(self, client: BaseClient) -> None:
        self._client = client


class _Operation:
    """What both decorators share: the wrapped builder, and binding it to a resource's client."""

    def __init__(self, build: Callable[..., Call[Any]]) -> None:
        self._build = build
        functools.update_wrapper(self, build)  # type: ignore[arg-type]
        self._name = build.__name__

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name

    def _bind(self, obj: Resource[Any], runner: Callable[[Call[Any]], Any]) -> Callable[..., Any]:
        build = self._build

        @functools.wraps(build)
        def bound(*args: Any, **kwargs: Any) -> Any:
            return runner(build(obj, *args, **kwargs))

        obj.__dict__[self._name] = bound  # later lookups find it on the instance: no descriptor cost per call
        return bound


class operation(_Operation, Generic[P, T]):  # noqa: N801 - used as a decorator
    """Turns a method that builds a `Call[T]` into an API operation returning `T` (sync) or `Awaitable[T]` (async)."""

    def __init__(self, build: Callable[Concatenate[Any, P], Call[T]]) -> None:
        super().__init__(build)

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, obj: Resource[Sync], owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: Resource[Async], owner: type[Any]) -> Callable[P, Awaitable[T]]: ...

    def __get__(self, obj: Resource[Any] | None, owner: type[Any]) -> Any:
        return self if obj is None else self._bind(obj, obj._client._run)


class paginated(_Operation, Generic[P, T]):  # noqa: N801 - used as a decorator
    """Turns a method that builds a `Call[Page[T]]` into a list operation: `SyncPage[T]` (sync), `AsyncPager[T]` (async)."""

    def __init__(self, build: Callable[Concatenate[Any, P], Call[Page[T]]]) -> None:
        super().__init__(build)

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, obj: Resource[Sync], owner: type[Any]) -> Callable[P, SyncPage[T]]: ...
    @overload
    def __get__(self, obj: Resource[Async], owner: type[Any]) -> Callable[P, AsyncPager[T]]: ...

    def __get__(self, obj: Resource[Any] | None, owner: type[Any]) -> Any:
        return self if obj is None else self._bind(obj, obj._client._paginate)


# ---------------------------------------------------------------- the client's pure half


@dataclass(frozen=True, slots=True)
class Prepared:
    """A call made ready to send: everything that stays the same across its attempts."""

    method: str
    url: str
    content: bytes | None
    headers: dict[str, str]
    params: dict[str, str | int | bool] | None
    timeout: httpx.Timeout
    max_retries: int


def _timeout(value: float | httpx.Timeout | None) -> httpx.Timeout | None:
    if value is None or isinstance(value, httpx.Timeout):
        return value
    return httpx.Timeout(value)


class BaseClient:
    """Configuration, request building and answer reading; `Kassa` and `AsyncKassa` add sending and sleeping."""

    def __init__(self, api_key: str | None, *, base_url: str | None, timeout: float | httpx.Timeout | None,
                 max_retries: int, default_headers: Mapping[str, str] | None,
                 api_version: ApiVersion | None = None) -> None:
        api_key = api_key or os.environ.get("KASSA_API_KEY")
        if not api_key:
            raise KassaError("No API key: pass api_key=... or set KASSA_API_KEY")
        base_url = base_url or os.environ.get("KASSA_BASE_URL")
        if not base_url:
            raise KassaError("No base URL: pass base_url=... (e.g. http://127.0.0.1:8000) or set KASSA_BASE_URL")
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        api_version = api_version or API_VERSION
        if api_version not in API_VERSIONS:
            raise ValueError(f"Unknown API version {api_version!r}: this SDK knows {', '.join(API_VERSIONS)}")
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = _timeout(timeout) or DEFAULT_TIMEOUT
        self.max_retries = max_retries
        # Sent as `Kassa-Version` on every request: the server answers in this version's shapes.
        self.api_version: ApiVersion = api_version
        self._default_headers = dict(default_headers or {})
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Accept": "application/json",
            "User-Agent": f"kassa-sdk-python/{__version__} httpx/{httpx.__version__} "
                          f"python/{platform.python_version()}",
            VERSION_HEADER: api_version,
            **self._default_headers,
        }

    _http: Any  # the httpx.Client or httpx.AsyncClient

    def with_options(self, *, timeout: float | httpx.Timeout | None = None, max_retries: int | None = None,
                     default_headers: Mapping[str, str] | None = None, api_version: ApiVersion | None = None) -> Self:
        """A client with other defaults that shares this one's connections (and is closed with it)."""
        return type(self)(self.api_key, base_url=self.base_url, timeout=timeout or self.timeout,  # type: ignore[call-arg]
                          max_retries=self.max_retries if max_retries is None else max_retries,
                          default_headers={**self._default_headers, **(default_headers or {})}, http_client=self._http,
                          api_version=api_version or self.api_version)

    # Implemented by Kassa / AsyncKassa.
    def _run(self, call: Call[T]) -> Any:
        raise NotImplementedError

    def _paginate(self, call: Call[Page[T]]) -> Any:
        raise NotImplementedError

    def _prepare(self, call: Call[Any]) -> Prepared:
        options: RequestOptions = call.options or {}
        headers = dict(self._headers)
        if call.headers:
            headers.update(call.headers)
        if "headers" in options:
            headers.update(options["headers"])
        content = None
        if call.body is not None:
            content = encode_body(call.body)
            headers["Content-Type"] = "application/json"
        if call.method == "POST":
            # Made once, before the first attempt, so that every retry carries the same key.
            headers["Idempotency-Key"] = options.get("idempotency_key") or str(uuid.uuid4())
        params = {k: v for k, v in call.params.items() if v is not None} if call.params else None
        return Prepared(call.method, self.base_url + call.path, content, headers, params or None,
                        _timeout(options.get("timeout")) or self.timeout, options.get("max_retries", self.max_retries))

    def _read(self, call: Call[T], response: httpx.Response) -> T:
        """The decoded answer of a 2xx response; raises the matching KassaApiError otherwise."""
        if 200 <= response.status_code < 300:
            return call.decode(response.content)
        raise error_from_response(response)


def error_from_response(response: httpx.Response) -> KassaApiError:
    """The exception for an error answer: the class of its `error.code`, else of its HTTP status."""
    status, content = response.status_code, response.content
    request_id = response.headers.get("x-request-id")
    try:
        envelope = _decoder(ErrorEnvelope).decode(content)
    except msgspec.MsgspecError:  # not Kassa's envelope: a proxy's page, an empty body
        text = content.decode("utf-8", "replace").strip()[:500]
        return status_class(status)(text or f"HTTP {status}", status=status, request_id=request_id,
                                    headers=response.headers, body=content)
    error = envelope.error
    cls = ERROR_CLASSES.get(error.code) or status_class(status)
    return cls(error.message, status=status, code=error.code, field=error.field, details=error.details,
               request_id=envelope.request_id or request_id, headers=response.headers, body=content)
