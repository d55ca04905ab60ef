"""The wire types, from the contract package the services use: what you pass in and what you get back.

    from kassa_sdk.types import CartAddress, LineItemInput, PaymentMethodInput, CardInput
"""

from kassa_contract.abandoned import (
    AbandonedCart,
    AbandonedCartSummary,
    AbandonedCustomer,
    AbandonmentDaily,
    AbandonmentDay,
    Branding,
    BrandingInput,
    CurrencyAmount,
    EmbedConfig,
)
from kassa_contract.audit import AuditActor, AuditChanges, AuditEntry
from kassa_contract.base import UNSET
from kassa_contract.cart import (
    AppliedDiscount,
    Cart,
    CartAddress,
    LineDiscountAllocation,
    LineItem,
    LineItemInput,
    Notice,
    Product,
    SelectedShippingMethod,
    ShippingMethod,
    ShippingOption,
    TaxLine,
    TaxRate,
    TaxSettings,
    Variant,
    VariantInput,
)
from kassa_contract.checkout import (
    CardInput,
    CheckoutSession,
    CollectFlags,
    EmbedToken,
    Order,
    OrderDay,
    OrderSummary,
    Payment,
    PaymentError,
    PaymentMethod,
    PaymentMethodInput,
    Refund,
)
from kassa_contract.common import Page
from kassa_contract.customers import (
    CartCustomer,
    Customer,
    CustomerVoucher,
    MarketingConsent,
    MarketingConsentInput,
    ShopperAuth,
    ShopperIdentity,
)
from kassa_contract.erasure import CustomerSettings, Erasure
from kassa_contract.payments import PaymentIntentHandle, PaymentSettings
from kassa_contract.promotions import (
    Campaign,
    CampaignStats,
    Code,
    CodesCreated,
    DiscountLine,
    Redemption,
    ValidatedDiscount,
    ValidateLine,
    ValidationResult,
)
from kassa_contract.redemptions import (
    AllocationLine,
    Basket,
    BasketLine,
    BasketRedemption,
    RedemptionAllocation,
    RedemptionRollback,
    RollbackPart,
)
from kassa_contract.team import ApplicationGrant, Invitation, Member, Permissions, User
from kassa_contract.webhooks import (
    Event,
    RecoveryResult,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointStats,
)

__all__ = [
    "UNSET", "AbandonedCart", "AbandonedCartSummary", "AbandonedCustomer", "AbandonmentDaily", "AbandonmentDay",
    "OrderDay", "OrderSummary", "AppliedDiscount", "AuditActor",
    "AuditChanges", "AuditEntry", "Branding",
    "BrandingInput", "Campaign", "CampaignStats", "CardInput", "Cart", "CartAddress", "CheckoutSession", "Code",
    "CodesCreated", "CollectFlags", "CurrencyAmount", "DiscountLine", "EmbedConfig", "EmbedToken", "Event",
    "LineDiscountAllocation", "LineItem", "LineItemInput", "Notice", "Order", "Page", "Payment", "PaymentError",
    "PaymentIntentHandle", "PaymentMethod", "PaymentMethodInput", "PaymentSettings", "Product", "Redemption",
    "RecoveryResult", "Refund", "SelectedShippingMethod", "ShippingMethod", "ShippingOption", "TaxLine", "TaxRate",
    "TaxSettings", "ValidateLine", "ValidatedDiscount", "ValidationResult", "Variant", "VariantInput",
    "WebhookAttempt", "WebhookDelivery", "WebhookEndpoint", "WebhookEndpointStats",
    "CartCustomer", "Customer", "CustomerVoucher", "MarketingConsent", "MarketingConsentInput", "ShopperAuth",
    "ShopperIdentity", "ApplicationGrant", "Invitation", "Member", "Permissions", "User", "CustomerSettings",
    "Erasure", "AllocationLine", "Basket", "BasketLine", "BasketRedemption", "RedemptionAllocation",
    "RedemptionRollback", "RollbackPart",
]
