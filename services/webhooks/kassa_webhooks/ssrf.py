"""The SSRF guard: webhooks reach the public internet only, unless the operator allows more.

The check runs where the connection is made, against the addresses the host name resolves to at
that moment, and the connection goes to one of exactly those addresses. A name that resolves to
a public address when the endpoint is saved and to 127.0.0.1 when it is called (DNS rebinding)
is therefore refused, and so is a name with one public and one private address. TLS still
verifies the certificate against the host name of the URL.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import typing

import httpcore
import httpx

from .asyncio_backend import AsyncioBackend

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationBlocked(httpcore.ConnectError):
    """The destination is a loopback, private, link-local or otherwise non-public address."""


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    # `is_global` is False for loopback, RFC 1918, link-local (169.254/16: cloud metadata),
    # carrier-grade NAT, unique-local IPv6, documentation and reserved ranges alike.
    return address.is_global and not address.is_multicast


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, but every TCP connection goes to a checked public address."""

    def __init__(self) -> None:
        self._inner = AsyncioBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(resolve(host, port), timeout)
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        blocked = [a for a in addresses if not is_public(a)]
        if blocked or not addresses:
            raise DestinationBlocked(f"{host} resolves to a non-public address ({blocked[0] if blocked else 'none'}); "
                                     "deliveries to loopback, private and link-local addresses are not allowed")
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise DestinationBlocked("unix sockets are not a webhook destination")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


_ssl_context: ssl.SSLContext | None = None


def _shared_ssl_context() -> ssl.SSLContext:
    """One context for every client: loading the CA bundle costs ~20 ms, a context is reusable."""
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = httpx.create_ssl_context(trust_env=False)
    return _ssl_context


def http_transport(*, guarded: bool, max_connections: int) -> httpx.AsyncHTTPTransport:
    """An httpx transport for deliveries: keep-alive connections over asyncio streams, no proxies
    from the environment (a proxy would send the request somewhere the guard never checked).
    Redirects are a client feature: a transport never follows them."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections,
                          keepalive_expiry=30)
    transport = httpx.AsyncHTTPTransport(verify=_shared_ssl_context(), limits=limits, trust_env=False)
    # httpx takes no network backend, so its pool is rebuilt with ours (the guarded one checks every
    # address it connects to); everything else (exception mapping, streams) stays httpx's own.
    # `_pool` is private: the package pins httpx's minor version, and the SSRF tests fail if the
    # swap ever stops taking effect.
    transport._pool = httpcore.AsyncConnectionPool(  # noqa: SLF001
        ssl_context=_shared_ssl_context(), max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedBackend() if guarded else AsyncioBackend(),
    )
    return transport


def was_blocked(exc: BaseException) -> bool:
    """httpx re-raises httpcore's errors as its own; the guard's refusal is the cause."""
    return isinstance(exc, DestinationBlocked) or isinstance(exc.__cause__, DestinationBlocked)
