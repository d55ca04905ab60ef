"""localstripe for the tests: one process per xdist worker, on a free port of 127.0.0.1.

localstripe (a stateful fake of Stripe's API, with a mock of Stripe.js v3) stands in for Stripe's
cloud, which this machine cannot reach. `start_localstripe()` runs it (`localstripe_server.py`:
loopback only, state in the process's memory alone), waits until it answers and returns a
`LocalStripe`; the session fixture `localstripe` in tests/conftest.py owns that process.

Its state is shared by every test of the worker and never reset (`DELETE /_config/data` would wipe
what other tests of the worker hold): tests create their own objects and look only at those.
Webhook endpoints are process-wide too: give each one its own id and disable it when done.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

SERVER_SCRIPT = Path(__file__).with_name("localstripe_server.py")

# localstripe accepts any secret key that starts with `sk_` (and is longer than 5 characters), as a
# Bearer token or Basic user; anything else is 401. `pk_` keys pass only where Stripe.js posts.
API_KEY = "sk_test_kassa_localstripe"
PUBLISHABLE_KEY = "pk_test_kassa_localstripe"
REJECTED_KEY = "rk_test_kassa_not_a_secret_key"  # a restricted-key shape localstripe answers 401 to


class LocalStripeUnavailable(Exception):
    """localstripe is not installed, or did not start."""


@dataclass
class LocalStripe:
    url: str  # http://127.0.0.1:PORT, Stripe's API base (the API paths start with /v1/)
    process: subprocess.Popen[bytes]
    log_path: Path
    api_key: str = API_KEY
    publishable_key: str = PUBLISHABLE_KEY

    @property
    def js_url(self) -> str:
        """The Stripe.js v3 mock, for a page's <script src>; it talks to this localstripe."""
        return f"{self.url}/js.stripe.com/v3/"

    def output(self) -> str:
        """What the process logged (requests, webhook deliveries, tracebacks)."""
        return self.log_path.read_text(errors="replace")

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10,
                                 headers={"Authorization": f"Bearer {self.api_key}"})

    async def configure_webhook(self, id: str, url: str, secret: str, events: list[str] | None = None) -> None:
        """Register (or replace) webhook endpoint `id`: localstripe POSTs every event (or those of
        `events`) to `url`, signed with `secret` in a `Stripe-Signature: t=…,v1=…` header, about a
        second after the change that caused it."""
        body: dict[str, Any] = {"url": url, "secret": secret}
        if events is not None:
            body["events"] = events
        async with self._http() as http:
            response = await http.post(f"/_config/webhooks/{id}", json=body)
        response.raise_for_status()

    async def disable_webhook(self, id: str) -> None:
        """localstripe cannot delete an endpoint: this one is left subscribed to no event."""
        await self.configure_webhook(id, "http://127.0.0.1:9/", "disabled", events=[])

    @contextlib.asynccontextmanager
    async def webhook(self, id: str, url: str, secret: str, events: list[str] | None = None) -> AsyncIterator[None]:
        await self.configure_webhook(id, url, secret, events)
        try:
            yield
        finally:
            await self.disable_webhook(id)

    async def authenticate(self, payment_intent_id: str, success: bool) -> dict[str, Any]:
        """Complete (or fail) the 3-D Secure step of a PaymentIntent in `requires_action`, as the
        shopper would in the Stripe.js mock's dialog; returns the PaymentIntent after it."""
        async with self._http() as http:
            intent = await http.get(f"/v1/payment_intents/{payment_intent_id}")
            intent.raise_for_status()
            response = await http.post(f"/v1/payment_intents/{payment_intent_id}/_authenticate",
                                       params={"success": "true" if success else "false"},
                                       data={"client_secret": intent.json()["client_secret"]})
        response.raise_for_status()
        return response.json()

    async def card_token(self, number: str, *, exp_year: int = 2030, cvc: str = "123") -> str:
        """What Stripe.js's `createToken(card)` makes of a card in the shopper's browser: a `tok_…`
        (posted with the publishable key, as the mock does)."""
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            response = await http.post("/v1/tokens", data={
                "card[number]": number, "card[exp_month]": "12", "card[exp_year]": str(exp_year % 100),
                "card[cvc]": cvc, "key": self.publishable_key})
        response.raise_for_status()
        return response.json()["id"]

    async def get(self, path: str, **params: Any) -> Any:
        """A GET of Stripe's API as the merchant's secret key sees it (for assertions)."""
        async with self._http() as http:
            response = await http.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def client(self, *, api_key: str | None = None, base: str | None = None, timeout: float = 10.0) -> StripeClientCM:
        """`async with localstripe.client() as client:` a `stripe.StripeClient` on this localstripe
        (or on `base`, e.g. a fault proxy in front of it): async over httpx, no retries."""
        return stripe_client(base or self.url, api_key or self.api_key, timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


StripeClientCM = contextlib.AbstractAsyncContextManager[Any]


@contextlib.asynccontextmanager
async def stripe_client(base: str, api_key: str, *, timeout: float = 10.0) -> AsyncIterator[Any]:
    """The official client as the connector builds it: `client.v1.<resource>.<method>_async(...)`
    over its own httpx.AsyncClient (closed on the way out), no automatic retries."""
    import stripe

    http_client = stripe.HTTPXClient(timeout=timeout)
    client = stripe.StripeClient(api_key, base_addresses={"api": base}, http_client=http_client,
                                 max_network_retries=0)
    try:
        yield client
    finally:
        await http_client.close_async()


def start_localstripe(*, timeout: float = 30.0) -> LocalStripe:
    """Start localstripe on a free loopback port and wait until it answers; raise
    LocalStripeUnavailable when it is not installed or does not come up."""
    if importlib.util.find_spec("localstripe") is None:
        raise LocalStripeUnavailable("the localstripe package is not installed (uv sync installs it)")
    log = tempfile.NamedTemporaryFile(prefix=f"localstripe-{os.environ.get('PYTEST_XDIST_WORKER', 'gw0')}-",
                                      suffix=".log", delete=False)
    process = subprocess.Popen([sys.executable, str(SERVER_SCRIPT), "--port", "0"], stdout=subprocess.PIPE,
                               stderr=log, stdin=subprocess.DEVNULL)
    log.close()
    log_path = Path(log.name)
    try:
        return _await_ready(process, log_path, timeout)
    except BaseException:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
        raise


def _await_ready(process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> LocalStripe:
    deadline = time.monotonic() + timeout

    def failed(why: str) -> LocalStripeUnavailable:
        return LocalStripeUnavailable(f"{why}:\n{log_path.read_text(errors='replace')[-4000:]}")

    # Its first line is the port it listens on (printed once the socket listens).
    assert process.stdout is not None
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise failed("localstripe did not report its port in time")
        ready, _, _ = select.select([process.stdout], [], [], remaining)
        if ready:
            chunk = os.read(process.stdout.fileno(), 64)
            if not chunk:
                raise failed(f"localstripe exited ({process.wait()}) before listening")
            line += chunk
    server = LocalStripe(f"http://127.0.0.1:{int(line)}", process, log_path)

    # The socket listens before the app serves: a request waits in the backlog until it does.
    while True:
        if process.poll() is not None:
            raise failed(f"localstripe exited ({process.returncode})")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise failed("localstripe did not answer in time")
        try:
            if httpx.get(server.js_url, timeout=remaining).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # polling for readiness only: nothing else to wait on
