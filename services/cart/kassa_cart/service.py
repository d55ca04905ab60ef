"""The cart service's parts, built once per runtime and shared by its handlers and jobs."""

from __future__ import annotations

from dataclasses import dataclass, field

from kassa_platform.clock import Clock
from kassa_platform.db import Database
from kassa_platform.runtime import Runtime
from kassa_promotions.store.campaigns import CampaignStore
from kassa_promotions.store.codes import CodeStore
from kassa_promotions.store.groups import GroupStore
from kassa_promotions.store.redemptions import RedemptionStore

from .carts import CartService
from .catalog import Catalog
from .checkout_link import CheckoutLink
from .config import ConfigStore
from .customers import CustomerService
from .erasure import ErasureService, erasure_clients
from .shopper_identity import ShopperIdentity, jwks_fetcher

KEY = "cart"


@dataclass
class CartModule:
    db: Database
    clock: Clock
    carts: CartService
    catalog: Catalog
    config: ConfigStore
    campaigns: CampaignStore
    codes: CodeStore
    redemptions: RedemptionStore
    checkout: CheckoutLink
    customers: CustomerService
    shoppers: ShopperIdentity
    erasure: ErasureService
    groups: GroupStore = field(default_factory=GroupStore)


def module_of(runtime: Runtime) -> CartModule:
    module = runtime.services.get(KEY)
    if module is None:
        carts = CartService(runtime.db, runtime.clock, max_lines=runtime.settings.max_cart_lines,
                            signing_key=runtime.settings.signing_key)
        customers = CustomerService(runtime.db, runtime.clock)
        module = CartModule(runtime.db, runtime.clock, carts, carts.catalog, ConfigStore(), CampaignStore(), carts.codes,
                            carts.redemptions, CheckoutLink(carts), customers,
                            ShopperIdentity(runtime.db, runtime.clock, customers,
                                            jwks_fetcher(allow_private=runtime.settings.shopper_auth_allow_private_networks),
                                            allow_private=runtime.settings.shopper_auth_allow_private_networks),
                            ErasureService(runtime.db, runtime.clock, customers,
                                           *erasure_clients(runtime.settings, runtime.services)))
        runtime.services[KEY] = module
    return module
