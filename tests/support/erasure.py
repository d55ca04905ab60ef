"""For erasure tests: a shopper whose strings are unique to the test, and a search of every column of
every table of a database (found from its catalog, not a list) for them."""

from __future__ import annotations

import secrets
import warnings
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection


class Person:
    """A shopper whose every string is unique to the test, so that a search finds only theirs."""

    def __init__(self) -> None:
        tag = secrets.token_hex(5)
        self.email = f"Ada.{tag}@Example.com"
        self.first = f"Ada{tag}"
        self.last = f"Lovelace{tag}"
        self.phone = "+4930" + str(int(tag, 16))[:9].rjust(9, "7")
        self.line1 = f"Erasmusweg {tag} 12"
        self.line2 = f"Hinterhaus {tag}"
        self.city = f"Stadt{tag}"
        self.postal = f"P{tag}"
        self.note = f"leave it with neighbour {tag}"
        self.address_phone = "+4989" + str(int(tag, 16))[:9].rjust(9, "3")

    @property
    def address(self) -> dict[str, Any]:
        return {"addressLine1": self.line1, "addressLine2": self.line2, "city": self.city, "postalCode": self.postal,
                "countryCode": "DE", "region": "Bayern", "firstName": self.first, "lastName": self.last,
                "phone": self.address_phone}

    @property
    def strings(self) -> list[str]:
        return [self.email, self.first, self.last, self.phone, self.line1, self.line2, self.city, self.postal,
                self.note, self.address_phone]


async def strings_in(conn: AsyncConnection, strings: list[str]) -> list[str]:
    """Every table of the database (from its catalog, not a list), every column of every row: where
    one of these strings (case-insensitive) still appears, as `table.column: string`."""
    wanted = [s.lower() for s in strings]
    found: list[str] = []
    names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
    assert "customers" in names and "webhook_events" in names and "orders" in names
    for name in names:
        table = sa.Table(name, sa.MetaData())
        with warnings.catch_warnings():  # expression indexes are not reflected; only the columns matter here
            warnings.simplefilter("ignore", sa.exc.SAWarning)
            await conn.run_sync(lambda c, t=table: sa.inspect(c).reflect_table(t, None))
        for row in await conn.execute(sa.select(table)):
            for column, value in row._mapping.items():
                if value is None:
                    continue
                if isinstance(value, bytes | memoryview):
                    text = bytes(value).decode("utf-8", "replace")
                elif isinstance(value, dict | list):
                    text = msgspec.json.encode(value).decode()
                else:
                    text = str(value)
                text = text.lower()
                found += [f"{name}.{column}: {s}" for s in wanted if s in text]
    return sorted(set(found))
