"""The SSRF guard: webhooks (and the cart service's fetch of a shopper-auth JWKS) reach the public
internet only, unless the operator allows more. It lives in the platform so that both services use
the one rule without importing each other.

One rule, applied where an endpoint is saved (`check_host`, to the URL's host) and where a delivery
connects (`GuardedBackend`, to every address the host resolves to at that moment):

* an IP address is accepted only in its canonical form: `0177.0.0.1`, `127.000.000.001`,
  `2130706433`, `0x7f000001` and `127.1` all mean 127.0.0.1 to the C resolver (and other things
  to other parsers), so they are refused instead of guessed at;
* an IPv6 address that carries an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4) is
  judged as the IPv4 address it leads to;
* the address must be public (not loopback, private, link-local, CGNAT, reserved ...) unless
  `KASSA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS` allows private targets for the application.

The connection goes to one of exactly the addresses checked. A name that resolves to a public
address when the endpoint is saved and to 127.0.0.1 when it is called (DNS rebinding) is therefore
refused, and so is a name with one public and one private address. TLS still verifies the
certificate against the host name of the URL.
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


class HostRefused(ValueError):
    """A URL host that is no webhook destination. `reason`: `non_canonical_ip` (an IP address
    written in a form other than its canonical one), `invalid_ip` (a numeric host that is no address)
    or `private_address` (not a public address)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# ---------------------------------------------------------------- what a host names

_HEX = "0123456789abcdef"


def _ipv4_number(part: str) -> int | None:
    """One part of an IPv4 host as resolvers read it (WHATWG URL, inet_aton): `0x…` hexadecimal,
    `0…` octal, else decimal; None when it is no number."""
    if part[:2] in ("0x", "0X"):
        digits, base = part[2:], 16
    elif len(part) > 1 and part[0] == "0":
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if not all(c in _HEX[:base] for c in digits.lower()):
        return None
    return int(digits, base) if digits else 0


def _labels(host: str) -> list[str]:
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()  # `127.0.0.1.` is read as 127.0.0.1
    return labels


def _ends_in_a_number(host: str) -> bool:
    """WHATWG's test for an IPv4 host: its last label is a number (`1`, `0x7f`, `0177`). Such a
    host never reaches DNS: the URL parser of a browser and the C resolver read it as an address."""
    last = _labels(host)[-1]
    return last != "" and (last.isascii() and last.isdigit() or _ipv4_number(last) is not None
                           and last[:2] in ("0x", "0X"))


def _read_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address a resolver reads in a numeric host of any form: `0177.0.0.1`, `127.000.000.001`,
    `2130706433`, `0x7f000001`, `127.1` are all 127.0.0.1 (None: no address at all)."""
    labels = _labels(host)
    numbers = [_ipv4_number(label) if label else None for label in labels]
    if len(labels) > 4 or any(n is None for n in numbers):
        return None
    *head, last = typing.cast(list[int], numbers)
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    return ipaddress.IPv4Address(sum(n << 8 * (3 - i) for i, n in enumerate(head)) + last)


def host_address(host: str) -> IPAddress | None:
    """The IP address a URL host names literally, or None for a DNS name.

    An IPv4 address is taken only in its canonical form (four decimal numbers, no leading zeros):
    the other forms mean different addresses to different parsers (`0177.0.0.1` is 127.0.0.1 to the
    C resolver and 177.0.0.1 to a decimal reader), so they are refused, never guessed.
    """
    host = host.strip("[]") if host.startswith("[") else host
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise HostRefused("invalid_ip", f"The host {host} is not an IPv6 address") from None
    if not _ends_in_a_number(host):
        return None
    try:
        return ipaddress.IPv4Address(host)
    except ValueError:
        read = _read_ipv4(host)
        if read is None:
            raise HostRefused("invalid_ip", f"The host {host} ends in a number but is not an IPv4 address") from None
        raise HostRefused("non_canonical_ip", f"The host {host} is an IP address in a non-canonical form (it reads as "
                          f"{read}); write IPv4 addresses as four decimal numbers, like 203.0.113.7") from None


# ---------------------------------------------------------------- which addresses are public

_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # SIIT ::ffff:0:a.b.c.d
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: always the /96 layout
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: the operator picks the layout


def _bits(value: int, first: int, count: int) -> int:
    """`count` bits of a 128-bit address starting at bit `first` (0 = most significant)."""
    return (value >> (128 - first - count)) & ((1 << count) - 1)


def _rfc6052_readings(value: int) -> list[ipaddress.IPv4Address]:
    """The IPv4 address under each RFC 6052 layout that fits in a /48 prefix (48, 56, 64, 96):
    bits 64-71 are skipped by the layouts that straddle them."""
    return [ipaddress.IPv4Address(v) for v in (
        _bits(value, 48, 16) << 16 | _bits(value, 72, 16),
        _bits(value, 56, 8) << 24 | _bits(value, 72, 24),
        _bits(value, 72, 32),
        _bits(value, 96, 32),
    )]


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to, for the forms that carry one: IPv4-mapped
    (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), SIIT-translated, NAT64 (64:ff9b::a.b.c.d; in the
    local-use 64:ff9b:1::/48 every layout the operator may use) and 6to4 (2002:aabb:ccdd::/48).
    A packet to such an address ends up at the IPv4 address, so that is the one to judge."""
    value = int(address)
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address in _IPV4_COMPATIBLE or address in _IPV4_TRANSLATED or address in _NAT64_WELL_KNOWN:
        return [ipaddress.IPv4Address(value & 0xFFFFFFFF)]
    if address in _NAT64_LOCAL_USE:
        return list(dict.fromkeys(_rfc6052_readings(value)))
    return []


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = embedded_ipv4(address)
        if embedded:  # [::127.0.0.1], [64:ff9b::7f00:1] are 127.0.0.1: public only if every reading is
            return all(is_public(v4) for v4 in embedded)
    # `is_global` is False for loopback, RFC 1918, link-local (169.254/16: cloud metadata),
    # carrier-grade NAT, unique-local IPv6, documentation and reserved ranges alike.
    return address.is_global and not address.is_multicast


def check_host(host: str, *, allow_private: bool) -> IPAddress | None:
    """The rule for a URL's host when the endpoint is saved: canonical, and public unless the
    operator allows private targets. Returns its literal address (None for a DNS name, whose
    addresses are judged by the same `is_public` each time a delivery connects)."""
    address = host_address(host)
    if allow_private:
        return address
    if host.rstrip(".") == "localhost" or host.rstrip(".").endswith(".localhost"):
        raise HostRefused("private_address", "Deliveries to localhost are not allowed")
    if address is not None and not is_public(address):
        raise HostRefused("private_address", f"Deliveries to {_described(address)} are not allowed: loopback, "
                          "private and link-local addresses are not webhook destinations")
    return address


def _described(address: IPAddress) -> str:
    embedded = embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else []
    return f"{address} (which leads to {' or '.join(map(str, embedded))})" if embedded else str(address)


async def resolve(host: str, port: int) -> list[IPAddress]:
    literal = host_address(host)
    if literal is not None:
        return [literal]
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, but every TCP connection goes to an address checked by the rule
    endpoints are saved under: a host in a non-canonical IP form is refused (never handed to the C
    resolver, which reads `0177.0.0.1` as 127.0.0.1), and every resolved address must be public
    unless the operator allows private targets for the application."""

    def __init__(self, *, allow_private: bool = False) -> None:
        self._inner = AsyncioBackend()
        self.allow_private = allow_private

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(resolve(host, port), timeout)
        except HostRefused as exc:
            raise DestinationBlocked(str(exc)) from exc
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        blocked = [] if self.allow_private else [a for a in addresses if not is_public(a)]
        if blocked or not addresses:
            shown = _described(blocked[0]) if blocked else "none"
            raise DestinationBlocked(f"{host} resolves to a non-public address ({shown}); "
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
    # httpx takes no network backend, so its pool is rebuilt with ours (it checks every address it
    # connects to: public ones only when guarded); everything else (exception mapping, streams) stays httpx's own.
    # `_pool` is private: the package pins httpx's minor version, and the SSRF tests fail if the
    # swap ever stops taking effect.
    transport._pool = httpcore.AsyncConnectionPool(  # noqa: SLF001
        ssl_context=_shared_ssl_context(), max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedBackend(allow_private=not guarded),
    )
    return transport


def was_blocked(exc: BaseException) -> bool:
    """httpx re-raises httpcore's errors as its own; the guard's refusal is the cause."""
    return isinstance(exc, DestinationBlocked) or isinstance(exc.__cause__, DestinationBlocked)
