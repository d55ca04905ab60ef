"""Schemathesis over every service's live OpenAPI document, against `kassa serve` on PostgreSQL
with the demo application's key: no 5xx, every error in the shared envelope, every answer as the
document says (status, content type, body, headers).

Each operation gets generated requests that fit its document (positive), requests that do not
(negative), and, when its path names objects, requests on real ones made first (a cart with a
line, a product, a paid session and its order, a campaign and its code, a webhook endpoint, a
shipping method), so that generated bodies reach the code behind the lookups. The operations are
read from the documents at run time: routes added later are fuzzed too.

KASSA_FUZZ_EXAMPLES (default 5) is the number of examples per operation and kind. A 503
`service_unavailable` says the database could not be reached (a PostgreSQL shared with other test
runs may run out of connections): it is counted apart, and fails the test only when it is not rare.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from kassa_contract.versions import LATEST_VERSION, VERSIONS
from schemathesis import checks
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks

from kassa.services import SERVICES
from tests.conftest import fresh_database
from tests.support.cards import GOOD, card_payment
from tests.support.cli import serving

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

EXAMPLES = int(os.environ.get("KASSA_FUZZ_EXAMPLES", "5"))
CHECKS = [checks.not_a_server_error, openapi_checks.status_code_conformance,
          openapi_checks.content_type_conformance, openapi_checks.response_schema_conformance,
          openapi_checks.response_headers_conformance]
ADDRESS = {"addressLine1": "Unter den Linden 1", "city": "Berlin", "countryCode": "DE"}
CARD = card_payment(GOOD)
OLDER_VERSIONS = set(VERSIONS) - {LATEST_VERSION}


@pytest.fixture
async def kassa_on_postgres(tmp_path: Path) -> Any:
    async with fresh_database(f"kassa_fuzz_{uuid.uuid4().hex[:10]}") as url:
        yield url


@pytest.fixture
def server(tmp_path: Path, kassa_on_postgres: str) -> Iterator[tuple[str, requests.Session]]:
    # A small pool: PostgreSQL's connections are shared with the other tests.
    with serving(cwd=tmp_path, env={"KASSA_DATABASE_URL": kassa_on_postgres, "KASSA_DB_POOL_SIZE": "3"}) as (base, _):
        demo = dict(line.split("=", 1) for line in (tmp_path / ".kassa" / "demo.env").read_text().split())
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {demo['KASSA_DEMO_SECRET_KEY']}"
            yield base, session


def _made(session: requests.Session, method: str, url: str, body: Any) -> Any:
    answer = session.request(method, url, json=body)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def real_objects(base: str, session: requests.Session) -> dict[str, str]:
    """Path parameter name -> the id of a real object of that kind."""
    def made(method: str, path: str, body: Any) -> Any:
        return _made(session, method, base + path, body)

    product = made("POST", "/api/v1/products", {"name": "Fuzz", "variants": [{"sku": "FUZZ-1", "prices": {"EUR": 1200}}]})
    variant = product["variants"][0]["id"]
    cart = made("POST", "/api/v1/carts", {"currency": "EUR", "lineItems": [{"variantId": variant}],
                                          "shippingAddress": ADDRESS})
    paid_cart = made("POST", "/api/v1/carts", {"currency": "EUR", "lineItems": [{"variantId": variant}],
                                               "shippingAddress": ADDRESS})
    option = session.get(f"{base}/api/v1/carts/{paid_cart['id']}/shipping-methods").json()["data"][0]
    made("PUT", f"/api/v1/carts/{paid_cart['id']}/shipping-method", {"shippingMethodId": option["id"]})
    checkout = made("POST", "/api/v1/checkout/sessions", {"cartId": paid_cart["id"]})
    order = made("POST", f"/api/v1/checkout-sessions/{checkout['id']}/complete",
                 {"shippingAddress": ADDRESS, "paymentMethod": CARD})["orderId"]
    campaign = made("POST", "/api/v1/campaigns", {"name": "Fuzz", "reward": {"type": "percent_off", "percent": 10}})
    made("POST", f"/api/v1/campaigns/{campaign['id']}/codes", {"code": "FUZZ10"})
    endpoint = made("POST", "/api/v1/webhook-endpoints", {"url": "https://example.com/hooks", "enabledEvents": ["*"]})
    method = made("POST", "/api/v1/shipping-methods", {"name": "Fuzz", "prices": {"EUR": 500}})
    return {"cart_id": cart["id"], "line_id": cart["lineItems"][0]["id"], "product_id": product["id"],
            "variant_id": variant, "campaign_id": campaign["id"], "code": "FUZZ10", "session_id": checkout["id"],
            "order_id": order, "endpoint_id": endpoint["id"], "method_id": method["id"]}


def envelope_on_every_error(response: requests.Response) -> None:
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error", "requestId"}, body
        assert isinstance(body["error"]["code"], str) and body["error"]["code"] and body["error"]["message"], body
        echoed = response.headers.get("x-request-id")
        assert body["requestId"] == (echoed[0] if isinstance(echoed, list) else echoed), body


def test_every_operation_of_every_document_holds_under_generated_requests(
        server: tuple[str, requests.Session]) -> None:
    base, session = server
    real = real_objects(base, session)
    failures: list[str] = []
    counted = {"cases": 0, "operations": 0, "unavailable": 0}
    started = time.monotonic()
    for service in SERVICES:
        document = schemathesis.openapi.from_url(f"{base}/schema/{service}")
        for result in document.get_all_operations():
            operation = result.ok()
            counted["operations"] += 1
            names = {p.name for p in operation.path_parameters}
            kinds: list[tuple[GenerationMode, dict[str, str] | None]] = [(GenerationMode.POSITIVE, None),
                                                                          (GenerationMode.NEGATIVE, None)]
            if names and names <= set(real):
                kinds.append((GenerationMode.POSITIVE, {name: real[name] for name in names}))
            for mode, on_objects in kinds:
                strategy = (operation.as_strategy(generation_mode=mode, path_parameters=on_objects) if on_objects
                            else operation.as_strategy(generation_mode=mode))

                @given(strategy)
                @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck),
                          phases=[Phase.explicit, Phase.generate])
                def fuzz(case: Any) -> None:
                    counted["cases"] += 1
                    if (case.headers or {}).get("Kassa-Version") in OLDER_VERSIONS:
                        # The documents describe the newest version's shapes (tests/webhooks/
                        # test_api_version_matrix.py covers the older ones): ask for those.
                        case.headers["Kassa-Version"] = LATEST_VERSION
                    response = case.call(base_url=base, session=session)
                    if response.status_code == 503 and response.json()["error"]["code"] == "service_unavailable":
                        counted["unavailable"] += 1
                        return
                    try:
                        envelope_on_every_error(response)
                        case.validate_response(response, checks=CHECKS)
                    except (AssertionError, Exception, BaseExceptionGroup) as exc:  # noqa: B014 - a report, not a retry
                        if len(failures) < 50:
                            failures.append(f"{operation.label} ({mode.value}): {response.status_code} "
                                            f"{response.text[:300]}\n  {str(exc)[:600]}\n  {case.as_curl_command()}")

                fuzz()
    elapsed = time.monotonic() - started
    print(f"\nfuzz: {counted['cases']} cases over {counted['operations']} operations in {elapsed:.1f} s "
          f"({counted['unavailable']} answered 503: database unreachable)")
    assert counted["unavailable"] <= counted["cases"] // 20, "the database was unreachable too often to judge"
    assert counted["operations"] >= 70 and counted["cases"] >= counted["operations"] * 2 * min(EXAMPLES, 5)
    assert not failures, "\n\n".join(failures)
