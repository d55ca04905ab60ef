"""The redaction rules (kassa_platform.redaction), pure: what goes, what stays, and that a second pass
changes nothing (an erasure's repeat counts zeros)."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st
from kassa_platform.redaction import Redactor, clean, document_needles

ADDRESS = {"addressLine1": "Linden 1", "addressLine2": "Hof", "city": "Hamburg", "postalCode": "20095",
           "countryCode": "DE", "region": "HH", "firstName": "Ada", "lastName": "Byron", "phone": "+4940123"}


def _redactor() -> Redactor:
    return Redactor(["Ada@Example.com"], document_needles({"shippingAddress": ADDRESS}), ["note"])


def test_an_order_document_keeps_what_the_merchant_must_keep() -> None:
    doc = {"customerEmail": "ada@example.com", "shippingAddress": ADDRESS, "total": 1190,
           "lineItems": [{"name": "Hamburg Mug", "sku": "MUG", "lineTotal": 1000}],
           "customer": {"id": "cus_1", "email": "ADA@example.com", "firstName": "Ada"},
           "marketingConsent": {"email": "granted"}, "metadata": {"note": "back door", "src": "ads",
                                                               "contact": "write to ada@example.com"}}
    out = _redactor().value(doc)
    assert out["customerEmail"] is None and out["customer"] == {"id": "cus_1", "email": None, "firstName": None}
    assert out["shippingAddress"] == {"addressLine1": "redacted", "addressLine2": None, "city": "redacted",
                                      "postalCode": None, "countryCode": "DE", "region": "HH", "firstName": None,
                                      "lastName": None, "phone": None}
    assert out["lineItems"] == doc["lineItems"] and out["total"] == 1190  # a product named like the city stays
    assert out["marketingConsent"] == {"email": "granted"}  # a consent's `email` is a state, not an address
    assert out["metadata"] == {"note": "redacted", "src": "ads", "contact": "redacted"}


def test_free_text_and_bodies() -> None:
    r = _redactor()
    assert r.text("Delivered to Ada Byron, Linden 1 (ada@example.com)") == "Delivered to redacted redacted, redacted (redacted)"
    assert r.text("Adalbert") == "Adalbert"  # whole words only
    body = msgspec.json.encode({"data": {"cart": {"customerEmail": "ada@example.com", "id": "cart_1"}}})
    assert msgspec.json.decode(r.body(body)) == {"data": {"cart": {"customerEmail": None, "id": "cart_1"}}}
    same = msgspec.json.encode({"data": {"cart": {"id": "cart_2"}}})
    assert r.body(same) is same
    assert r.mentions("https://shop.example/thanks?order=ord_1") is False
    assert r.mentions("https://shop.example/thanks?e=ada@example.com") is True


def test_needles_leave_out_the_markers() -> None:
    assert clean(["redacted", " Ada ", None, "x", "erased+era_1@invalid", "ADA"]) == ["ada"]


json = st.recursive(st.none() | st.booleans() | st.integers() | st.sampled_from(["Ada", "ada@example.com", "Hof", "x"])
                    | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["email", "firstName", "city", "metadata", "note", "name", "total"]), inner,
                        max_size=4), max_leaves=20)


@given(json)
def test_a_second_pass_changes_nothing(value: object) -> None:
    r = _redactor()
    once = r.value(value)
    assert r.value(once) is once


def test_a_body_that_only_mentions_the_person_keeps_the_others_fields() -> None:
    """Another customer's event whose note names the person: the note goes, that customer's email stays."""
    other = {"customer": {"email": "bo@example.com", "firstName": "Bo", "metadata": {"note": "friend of ada@example.com"}}}
    out = _redactor().values_only().value(other)
    assert out == {"customer": {"email": "bo@example.com", "firstName": "Bo", "metadata": {"note": "redacted"}}}
