"""A customer's vouchers: the codes this customer may use now, for account pages and emails.

Generic codes (one active, unassigned code shared by everyone) of live campaigns the customer
qualifies for, and codes assigned to the customer (by id or email) with uses left; none of a
campaign that ended (past its grace period), not started, inactive, out of uses or budget, or
closed to this customer by its rules (segments, lists, per-customer limit, first order).
The promotions engine's own standing checks decide, so this list and a cart never disagree.
"""

from __future__ import annotations

from datetime import timedelta

from kassa_contract.customers import CustomerVoucher
from kassa_contract.errors import KassaError
from kassa_promotions import Customer, model
from kassa_promotions.rules import campaign_currencies, standing_miss
from sqlalchemy.ext.asyncio import AsyncConnection

from . import customer_rows as rows
from .discounts import customer_usage, has_ordered

MAX_VOUCHERS = 200


def _currency(campaign: model.Campaign) -> str | None:
    """A currency the campaign works in (None: none at all): vouchers are listed for the customer, not for
    one cart."""
    allowed = campaign_currencies(campaign)
    if allowed is None:
        return "XXX"  # any currency
    return min(allowed) if allowed else None


async def vouchers_of(conn: AsyncConnection, app_id: str, customer_id: str, now) -> list[CustomerVoucher]:  # type: ignore[no-untyped-def]
    row = await rows.fetch(conn, app_id, customer_id)
    if row is None:
        raise KassaError("customer_not_found", f"No customer {customer_id}")
    segments = frozenset((await rows.segments_of(conn, app_id, [customer_id]))[customer_id])
    usage = await customer_usage(conn, app_id, customer_id)
    first_order = not await has_ordered(conn, app_id, row.email, None, customer_id)
    customer = Customer(id=customer_id, email=row.email, segments=segments, usage=usage, is_first_order=first_order)
    found: list[CustomerVoucher] = []
    for code, code_ends in await rows.voucher_candidates(conn, app_id, customer_id, row.email, now=now,
                                                         limit=MAX_VOUCHERS):
        campaign = code.campaign
        currency = _currency(campaign)
        if currency is None or standing_miss(campaign, code, customer, now, currency) is not None:
            continue
        ends = campaign.ends_at
        if ends is not None and campaign.redemption_grace_hours:
            ends = ends + timedelta(hours=campaign.redemption_grace_hours)
        ends = min((e for e in (ends, code_ends) if e is not None), default=None)  # whichever ends first
        found.append(CustomerVoucher(code=code.code, campaign_id=campaign.id, campaign_name=campaign.name,
                                     kind="unique" if code.assigned_to else "generic", expires_at=ends,
                                     remaining_uses=code.remaining_uses))
    return found
