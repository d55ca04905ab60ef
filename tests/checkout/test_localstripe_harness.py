"""The Stripe test harness itself: localstripe answers, the official client drives it, the fault
proxy in front of it does what it is told, and its webhooks verify with the client's own check."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
import stripe

from tests.support.fault_proxy import FaultProxy
from tests.support.localstripe import REJECTED_KEY, LocalStripe
from tests.support.stripe_shop import SUCCESS


async def card(client: stripe.StripeClient, number: str) -> str:
    method = await client.v1.payment_methods.create_async(
        {"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
    return method.id


async def test_localstripe_answers_with_its_stripe_js_and_checks_the_key(localstripe: LocalStripe) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        script = await http.get(localstripe.js_url)
        assert script.status_code == 200 and "localstripe" in script.text
        balance = await http.get(f"{localstripe.url}/v1/balance", auth=(localstripe.api_key, ""))
        assert balance.status_code == 200 and balance.json()["livemode"] is False
    async with localstripe.client(api_key=REJECTED_KEY) as client:
        with pytest.raises(stripe.AuthenticationError):
            await client.v1.balance.retrieve_async()


async def test_the_official_client_creates_and_confirms_a_payment_intent(localstripe: LocalStripe) -> None:
    async with localstripe.client() as client:
        intent = await client.v1.payment_intents.create_async(
            {"amount": 1999, "currency": "eur", "payment_method": await card(client, SUCCESS),
             "payment_method_types": ["card"], "metadata": {"kassa_payment": "pay_harness"}},
            {"idempotency_key": f"harness-{uuid.uuid4()}"})
        assert intent.status == "requires_confirmation"
        confirmed = await client.v1.payment_intents.confirm_async(intent.id)
        assert confirmed.status == "succeeded"
        again = await client.v1.payment_intents.retrieve_async(intent.id)
        assert (again.amount, again.currency, again.metadata.to_dict()) == (1999, "eur", {"kassa_payment": "pay_harness"})


async def test_three_d_secure_is_completed_or_failed_through_the_harness(localstripe: LocalStripe) -> None:
    async with localstripe.client() as client:
        method = await card(client, "4000002760003184")
        passed, failed = [await client.v1.payment_intents.create_async(
            {"amount": 500, "currency": "eur", "payment_method": method, "confirm": True}) for _ in range(2)]
        assert passed.status == failed.status == "requires_action"
        assert passed.next_action is not None and passed.next_action.type == "use_stripe_sdk"
    assert (await localstripe.authenticate(passed.id, success=True))["status"] == "succeeded"
    after = await localstripe.authenticate(failed.id, success=False)
    assert after["status"] == "requires_payment_method"
    assert after["last_payment_error"]["code"] == "payment_intent_authentication_failure"


async def test_the_proxy_drops_the_answer_after_localstripe_acted(localstripe: LocalStripe) -> None:
    key = f"harness-{uuid.uuid4()}"
    async with FaultProxy(localstripe.url) as proxy, localstripe.client(base=proxy.url, timeout=5) as client:
        proxy.drop_answer("POST", r"^/v1/payment_intents$")
        with pytest.raises(stripe.APIConnectionError):
            await client.v1.payment_intents.create_async(
                {"amount": 1250, "currency": "eur", "payment_method": await card(client, SUCCESS),
                 "confirm": True}, {"idempotency_key": key})
        [dropped] = proxy.seen("POST", r"^/v1/payment_intents$")
        assert (dropped.outcome, dropped.idempotency_key, dropped.status) == ("drop_answer", key, 200)
        assert dropped.authorization == f"Bearer {localstripe.api_key}"
        # Stripe charged the card although the client never heard of it.
        charged = await client.v1.payment_intents.retrieve_async(dropped.json()["id"])
        assert (charged.status, charged.amount) == ("succeeded", 1250)


async def test_the_proxy_answers_500_without_forwarding_and_holds_a_request_until_the_client_gives_up(
        localstripe: LocalStripe) -> None:
    async with FaultProxy(localstripe.url) as proxy, localstripe.client(base=proxy.url, timeout=0.5) as client:
        proxy.fail("POST", r"^/v1/payment_intents$", status=500)
        with pytest.raises(stripe.APIError) as failed:
            await client.v1.payment_intents.create_async({"amount": 100, "currency": "eur"})
        assert failed.value.http_status == 500 and proxy.requests[-1].response is None  # never forwarded
        proxy.hang("GET", r"^/v1/balance$")
        with pytest.raises(stripe.APIConnectionError) as timed_out:
            await client.v1.balance.retrieve_async()
        assert isinstance(timed_out.value.__cause__, httpx.TimeoutException)
        assert [s.outcome for s in proxy.requests] == ["status", "hang"]
        assert (await client.v1.balance.retrieve_async()).livemode is False  # rules are used up: forwarded again


async def test_a_configured_webhook_arrives_signed_for_the_official_check(localstripe: LocalStripe) -> None:
    arrived: asyncio.Queue[tuple[dict[str, str], bytes]] = asyncio.Queue()

    async def receive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in head.decode("latin-1").split("\r\n")[1:] if line)}
        body = await reader.readexactly(int(headers["content-length"]))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()
        await arrived.put((headers, body))

    server = await asyncio.start_server(receive, "127.0.0.1", 0)
    endpoint, secret = f"harness-{uuid.uuid4().hex[:8]}", f"whsec_{uuid.uuid4().hex}"
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/stripe"
    try:
        async with localstripe.webhook(endpoint, url, secret, events=["payment_intent.succeeded"]), \
                localstripe.client() as client:
            intent = await client.v1.payment_intents.create_async(
                {"amount": 700, "currency": "jpy", "payment_method": await card(client, SUCCESS),
                 "confirm": True})
            # Other tests of this worker may pay meanwhile: wait for this intent's event.
            while True:
                headers, body = await asyncio.wait_for(arrived.get(), 10)
                if json.loads(body)["data"]["object"]["id"] == intent.id:
                    break
        event = stripe.Webhook.construct_event(body, headers["stripe-signature"], secret, tolerance=300)
        assert (event.type, event.data.object.id, event.data.object.amount) == ("payment_intent.succeeded", intent.id, 700)
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.Webhook.construct_event(body, headers["stripe-signature"], "whsec_another", tolerance=300)
    finally:
        server.close()
        await server.wait_closed()
