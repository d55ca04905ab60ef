"""The built-in test payment provider's ledger, read straight from PostgreSQL: what was charged,
whatever the API says."""

from __future__ import annotations

import asyncpg


async def provider_ledger(db_url: str, session_id: str) -> list[asyncpg.Record]:
    """The test payment provider's ledger for a session (what was charged, whatever our API says)."""
    conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
    try:
        return await conn.fetch("SELECT status, captured, charges FROM test_payment_intents WHERE key = $1",
                                session_id)
    finally:
        await conn.close()
