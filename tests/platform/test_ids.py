"""Ids: prefixed, unique, and sorting in creation order (pagination relies on it)."""

from kassa_platform.ids import new_id


def test_ids_are_unique_prefixed_and_time_ordered() -> None:
    ids = [new_id("cart") for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(i.startswith("cart_") and len(i) == 31 and i[5:].isalnum() and i[5:].islower() for i in ids[:100])
