"""Ids: prefixed, unique, and sorting in creation order (pagination relies on it)."""

from datetime import UTC, datetime, timedelta

from kassa_platform.ids import _encode, id_floor, new_id


def test_ids_are_unique_prefixed_and_time_ordered() -> None:
    ids = [new_id("cart") for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(i.startswith("cart_") and len(i) == 31 and i[5:].isalnum() and i[5:].islower() for i in ids[:100])


def test_ids_encode_like_rfc4648_base32_in_crockfords_alphabet() -> None:
    """The encoding ids have always had (ids already stored must keep sorting among new ones)."""
    import base64

    to_crockford = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789abcdefghjkmnpqrstvwxyz")
    for value in (0, 1, 2**128 - 1, 0x0193_4F2A_11C0 << 80 | 12345, 0xDEADBEEF << 90):
        expected = base64.b32encode(value.to_bytes(16, "big"))[:26].translate(to_crockford).decode()
        assert _encode(value) == expected


def test_id_floor_sorts_below_the_ids_of_its_millisecond() -> None:
    made = datetime.now(UTC)
    ids = [new_id("evt") for _ in range(10)]
    assert id_floor("evt", made - timedelta(milliseconds=1)) < ids[0]
    assert id_floor("evt", made + timedelta(seconds=1)) > ids[-1]
