"""Payment connectors: one interface, the built-in `test` connector, room for real providers."""

from .connector import PaymentConnector, PaymentOutcome, RefundOutcome
from .methods import CATALOG, method_catalog
from .test_connector import TestConnector

__all__ = ["CATALOG", "PaymentConnector", "PaymentOutcome", "RefundOutcome", "TestConnector", "method_catalog"]
