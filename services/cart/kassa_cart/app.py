"""`create_app()` for the cart service."""

from __future__ import annotations

from kassa_platform.app import build_service_app
from kassa_platform.runtime import Runtime
from litestar import Litestar
from litestar.types import ControllerRouterHandler

from .abandoned_routes import ROUTES as ABANDONED_ROUTES
from .api_key_routes import ROUTES as API_KEY_ROUTES
from .application_routes import ROUTES as APPLICATION_ROUTES
from .audit_routes import ROUTES as AUDIT_ROUTES
from .customer_routes import ROUTES as CUSTOMER_ROUTES
from .erasure_routes import ROUTES as ERASURE_ROUTES
from .internal_routes import ROUTES as INTERNAL_ROUTES
from .promotions_routes import ROUTES as PROMOTION_ROUTES
from .redemption_routes import ROUTES as REDEMPTION_ROUTES
from .routes import ROUTES
from .service import module_of

# The public paths this service answers; the embedded gateway routes them here.
PATH_PREFIXES = ("/api/v1/carts", "/api/v1/products", "/api/v1/shipping-methods", "/api/v1/tax-rates",
                 "/api/v1/tax-settings", "/api/v1/campaigns", "/api/v1/campaign-groups", "/api/v1/promotion-settings",
                 "/api/v1/codes", "/api/v1/vouchers",
                 "/api/v1/redemptions", "/internal/carts", "/internal/redemptions", "/api/v1/embed-config",
                 "/api/v1/abandoned-carts", "/api/v1/api-keys", "/api/v1/application",
                 "/api/v1/customers", "/api/v1/shopper-auth", "/api/v1/customer-erasures", "/api/v1/customer-settings",
                 "/api/v1/audit-log")


def create_app(runtime: Runtime, *, owns_runtime: bool = True) -> Litestar:
    module_of(runtime)
    routes: list[ControllerRouterHandler] = [*ROUTES, *PROMOTION_ROUTES, *REDEMPTION_ROUTES, *INTERNAL_ROUTES, *ABANDONED_ROUTES, *API_KEY_ROUTES,
              *APPLICATION_ROUTES, *CUSTOMER_ROUTES, *ERASURE_ROUTES, *AUDIT_ROUTES]
    return build_service_app("cart", routes, runtime, owns_runtime=owns_runtime)
