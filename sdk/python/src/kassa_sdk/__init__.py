"""kassa_sdk: a typed client for the Kassa cart and checkout API.

    from kassa_sdk import Kassa
    from kassa_sdk.types import LineItemInput

    with Kassa("sk_test_...", base_url="http://127.0.0.1:8000") as kassa:
        cart = kassa.carts.create(currency="EUR", line_items=[LineItemInput(variant_id="var_...", quantity=2)])

`AsyncKassa` has the same resources for asyncio code. Errors are `KassaError` subclasses, one per
error code (`kassa_sdk.CartNotOpenError`); `kassa_sdk.webhooks.verify` checks a webhook's signature.
Every request sends `Kassa-Version: kassa_sdk.API_VERSION`, the API version whose shapes the types are.
"""

from . import _error_codes, _errors
from ._api_version import API_VERSION, API_VERSIONS, ApiVersion
from ._base import RequestOptions
from ._client import AsyncKassa, Kassa
from ._error_codes import *  # noqa: F403 - one class per error code of the contract
from ._errors import *  # noqa: F403 - KassaError and the class of each HTTP status
from ._pagination import AsyncPage, AsyncPager, SyncPage
from ._version import __version__

__all__ = ["API_VERSION", "API_VERSIONS", "ApiVersion", "AsyncKassa", "AsyncPage", "AsyncPager", "Kassa", "RequestOptions", "SyncPage", "__version__"]
__all__ += _errors.__all__
__all__ += _error_codes.__all__
