"""IP addresses in every written form: the rule endpoints are saved under (`ssrf.check_host`) and
the guard deliveries connect through (`ssrf.GuardedBackend`) judge each form the same way.

FORMS is the table: a host as a merchant may write it, and what it is. `public` and `private`
hosts are canonical (private ones pass only where the operator allows private targets);
`non_canonical` and `invalid` hosts are refused everywhere, whatever the operator allows.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import httpcore
import pytest
import sqlalchemy as sa
from kassa_contract.errors import KassaError
from kassa_platform import ssrf
from kassa_webhooks.endpoints import check_url
from kassa_webhooks.tables import webhook_endpoints

from tests.support.envelopes import assert_envelope
from tests.webhooks.conftest import Merchant, Webhooks
from tests.webhooks.receiver import Receiver

PATH = "/api/v1/webhook-endpoints"

# (host as written in the URL, what it is, the IPv4 address it leads to where that is the point)
FORMS: list[tuple[str, str, str | None]] = [
    # IPv4 written other than as four decimal numbers: the C resolver reads each as an address
    ("0177.0.0.1", "non_canonical", "127.0.0.1"),  # octal
    ("127.000.000.001", "non_canonical", "127.0.0.1"),  # zero-padded (octal to inet_aton)
    ("2130706433", "non_canonical", "127.0.0.1"),  # one decimal number
    ("0x7f000001", "non_canonical", "127.0.0.1"),  # one hexadecimal number
    ("0X7F000001", "non_canonical", "127.0.0.1"),
    ("127.1", "non_canonical", "127.0.0.1"),  # short form: the last part fills the rest
    ("127.0.1", "non_canonical", "127.0.0.1"),
    ("0x7f.1", "non_canonical", "127.0.0.1"),  # mixed
    ("0x7f.0.0.0x1", "non_canonical", "127.0.0.1"),
    ("0251.0376.0251.0376", "non_canonical", "169.254.169.254"),  # cloud metadata, in octal
    ("3627734562", "non_canonical", "216.58.214.34"),  # a public address in an unusual form is refused too
    ("127.0.0.1.", "non_canonical", "127.0.0.1"),  # trailing dot
    ("1.2.3.4.5", "invalid", None),  # ends in a number, is no address
    ("example.123", "invalid", None),
    ("1.2.3.256", "invalid", None),
    # canonical IPv4
    ("127.0.0.1", "private", "127.0.0.1"),
    ("10.0.0.1", "private", "10.0.0.1"),
    ("169.254.169.254", "private", "169.254.169.254"),
    ("100.64.0.1", "private", "100.64.0.1"),
    ("8.8.8.8", "public", "8.8.8.8"),
    # IPv6 that carries an IPv4 address: judged as that address
    ("[::127.0.0.1]", "private", "127.0.0.1"),  # IPv4-compatible
    ("[::7f00:1]", "private", "127.0.0.1"),
    ("[::ffff:127.0.0.1]", "private", "127.0.0.1"),  # IPv4-mapped
    ("[::ffff:a9fe:a9fe]", "private", "169.254.169.254"),
    ("[::ffff:0:7f00:1]", "private", "127.0.0.1"),  # SIIT IPv4-translated
    ("[64:ff9b::7f00:1]", "private", "127.0.0.1"),  # NAT64, well-known prefix
    ("[64:ff9b::a00:1]", "private", "10.0.0.1"),
    ("[64:ff9b:1::7f00:1]", "private", "127.0.0.1"),  # NAT64, local-use prefix (any RFC 6052 layout)
    ("[64:ff9b:1:7f00:0:100::]", "private", "127.0.0.1"),  # ... its /48 layout
    ("[2002:7f00:1::]", "private", "127.0.0.1"),  # 6to4
    ("[2002:a9fe:a9fe::1]", "private", "169.254.169.254"),
    ("[::ffff:8.8.8.8]", "public", "8.8.8.8"),
    ("[64:ff9b::808:808]", "public", "8.8.8.8"),
    ("[64:ff9b:1:808:8:808:808:808]", "public", "8.8.8.8"),  # 8.8.8.8 under every layout
    ("[2002:808:808::1]", "public", "8.8.8.8"),
    # plain IPv6
    ("[::1]", "private", None),
    ("[fe80::1]", "private", None),
    ("[fd00::1]", "private", None),
    ("[2001::1]", "private", None),  # Teredo: not global
    ("[2606:4700::1111]", "public", None),
    # names: judged when resolved, at each delivery
    ("example.com", "public", None),
    ("localhost", "private", None),
    ("hooks.localhost", "private", None),
]
REFUSED_EVERYWHERE = {"non_canonical": "non_canonical_ip", "invalid": "invalid_ip"}


def _reason(kind: str, allow_private: bool) -> str | None:
    """The `details.reason` a create answers with, or None when the URL is accepted."""
    if kind in REFUSED_EVERYWHERE:
        return REFUSED_EVERYWHERE[kind]
    return "private_address" if kind == "private" and not allow_private else None


@pytest.mark.parametrize("allow_private", [False, True], ids=["guarded", "private-allowed"])
@pytest.mark.parametrize(("host", "kind", "leads_to"), FORMS, ids=[f[0] for f in FORMS])
def test_each_form_is_judged_for_what_it_is(host: str, kind: str, leads_to: str | None, allow_private: bool) -> None:
    url = f"https://{host}/hooks"
    expected = _reason(kind, allow_private)
    if expected is None:
        assert check_url(url, live=True, allow_private=allow_private) == url
        return
    with pytest.raises(KassaError) as refused:
        check_url(url, live=True, allow_private=allow_private)
    error = refused.value
    assert (error.code, error.field, error.details) == ("webhook_url_invalid", "url", {"reason": expected})
    if leads_to is not None and kind != "public":  # the message says what the host really is
        assert leads_to in error.message, error.message


class _Connected(Exception):
    """Raised by the stand-in for the socket layer: the guard let the connection through."""


class _NoSockets(httpcore.AsyncNetworkBackend):
    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise _Connected(host)


def _guard(allow_private: bool) -> ssrf.GuardedBackend:
    backend = ssrf.GuardedBackend(allow_private=allow_private)
    backend._inner = _NoSockets()  # noqa: SLF001 - no public address is reachable from the test machine
    return backend


@pytest.mark.parametrize("allow_private", [False, True], ids=["guarded", "private-allowed"])
@pytest.mark.parametrize(("host", "kind", "leads_to"), FORMS, ids=[f[0] for f in FORMS])
async def test_the_delivery_guard_applies_the_same_rule(host: str, kind: str, leads_to: str | None,
                                                        allow_private: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """The host as httpx hands it to the network backend (IPv6 without brackets); names are
    resolved to the address of their row, so the check of resolved addresses is what is tested."""
    literal = host.strip("[]")
    if literal in ("example.com", "localhost", "hooks.localhost"):
        resolved = {"example.com": "93.184.216.34", "localhost": "127.0.0.1", "hooks.localhost": "127.0.0.1"}[literal]

        async def getaddrinfo(name: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
            assert name == literal
            return [(0, 0, 0, "", (resolved, port))]

        monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    guard = _guard(allow_private)
    if _reason(kind, allow_private) is not None:
        with pytest.raises(ssrf.DestinationBlocked) as blocked:
            await guard.connect_tcp(literal, 443, timeout=5)
        if leads_to is not None:
            assert leads_to in str(blocked.value), str(blocked.value)
    else:
        with pytest.raises(_Connected):
            await guard.connect_tcp(literal, 443, timeout=5)


async def test_a_name_resolving_to_an_embedded_private_address_is_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    async def getaddrinfo(name: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        return [(0, 0, 0, "", ("64:ff9b::a9fe:a9fe", port, 0, 0))]  # DNS64 in front of the metadata service

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    with pytest.raises(ssrf.DestinationBlocked, match="169.254.169.254"):
        await _guard(False).connect_tcp("metadata.example", 80, timeout=5)
    assert ssrf.is_public(ipaddress.ip_address("64:ff9b::808:808"))


async def test_create_and_update_refuse_non_canonical_and_embedded_private_forms(webhooks: Webhooks,
                                                                                 merchant: Merchant,
                                                                                 receiver: Receiver) -> None:
    webhooks.module.config.allow_private_apps.discard(merchant.app_id)
    body = {"enabledEvents": ["*"]}
    for url, reason in ((f"http://0177.0.0.1:{receiver.port}/hooks", "non_canonical_ip"),
                        ("http://2130706433/hooks", "non_canonical_ip"),
                        ("http://[::127.0.0.1]/hooks", "private_address"),
                        ("http://[64:ff9b::7f00:1]/hooks", "private_address")):
        refused = await merchant.post(PATH, {"url": url, **body})
        assert_envelope(refused, 422, "webhook_url_invalid", "url")
        assert refused.json()["error"]["details"] == {"reason": reason}
    created = await merchant.post(PATH, {"url": "https://example.com/hooks", **body})
    assert created.status_code == 201, created.text
    path = f"{PATH}/{created.json()['id']}"
    changed = await merchant.patch(path, {"url": "http://0x7f000001/hooks"})
    assert_envelope(changed, 422, "webhook_url_invalid", "url")
    assert changed.json()["error"]["details"] == {"reason": "non_canonical_ip"}
    # Allowing private targets does not make a non-canonical form acceptable.
    webhooks.module.config.allow_private_apps.add(merchant.app_id)
    assert_envelope(await merchant.patch(path, {"url": "http://127.1/hooks"}), 422, "webhook_url_invalid", "url")
    assert (await merchant.patch(path, {"url": "http://[::ffff:127.0.0.1]/hooks"})).status_code == 200


@pytest.mark.parametrize("form", ["2130706433", "0x7f000001", "127.1", "0177.0.0.1"])
async def test_an_endpoint_saved_before_the_rule_is_never_sent_to(webhooks: Webhooks, merchant: Merchant,
                                                                  receiver: Receiver, form: str) -> None:
    """Even where private targets are allowed (the receiver is on 127.0.0.1), a delivery to a host
    in a non-canonical form fails its attempt with the reason and never reaches the address."""
    endpoint = await merchant.endpoint(receiver)
    async with merchant.backend.runtime.db() as conn, conn.begin():  # as the rows of an older version hold it
        await conn.execute(sa.update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint["id"])
                           .values(url=f"http://{form}:{receiver.port}/hooks"))
    await merchant.emit()
    await webhooks.run()
    [delivery] = await merchant.deliveries()
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert delivery.last_error.startswith(("destination_blocked", "webhook_url_invalid")), delivery.last_error
    assert form in delivery.last_error and receiver.received == []
