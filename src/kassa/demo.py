"""The demo application created on the first start of `kassa serve`: keys, a product, shipping, tax, and
an owner to sign in with (docs/team.md)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from kassa_cart.service import module_of
from kassa_contract.cart import (
    CreateProduct,
    CreateShippingMethod,
    CreateTaxRate,
    VariantInput,
)
from kassa_platform.auth import create_application, create_key
from kassa_platform.db import transaction
from kassa_platform.runtime import Runtime
from kassa_platform.tables import applications
from kassa_team.accounts import new_password
from kassa_team.service import team_of

DEMO_OWNER = "owner@demo.kassa.test"


async def ensure_demo(runtime: Runtime, base_url: str) -> str | None:
    """Create the demo application if the database has none; return the text to print, once."""
    now = runtime.clock.now()
    async with transaction(runtime.db) as conn:
        if (await conn.execute(sa.select(sa.func.count()).select_from(applications))).scalar_one():
            return None
        app_id = await create_application(conn, "Demo store", "test", now)
        secret = await create_key(conn, app_id, kind="secret", scopes=["*"], now=now)
        publishable = await create_key(conn, app_id, kind="publishable", scopes=None, now=now)
        cart = module_of(runtime)
        product = await cart.catalog.create_product(conn, app_id, CreateProduct(
            name="Kassa T-shirt", categories=["apparel"], tax_class="standard",
            variants=[VariantInput(sku="TSHIRT-M", name="M", prices={"EUR": 2500, "USD": 2900}),
                      VariantInput(sku="TSHIRT-L", name="L", prices={"EUR": 2500, "USD": 2900})]), now)
        await cart.config.create_shipping_method(conn, app_id, CreateShippingMethod(
            name="Standard", prices={"EUR": 495, "USD": 595}, free_above={"EUR": 5000, "USD": 6000}), now)
        await cart.config.create_tax_rate(conn, app_id, CreateTaxRate(country_code="DE", rate="19", name="DE VAT"), now)
    variant = product.variants[0].id
    # The first workspace takes the demo application (kassa_team.accounts.create_owner).
    password = new_password()
    await team_of(runtime).accounts.create_demo_owner(DEMO_OWNER, password)
    text = f"""
  Kassa demo application created (test mode). These keys are shown once:

    secret key:       {secret}
    publishable key:  {publishable}

  The merchant dashboard, {base_url}/dashboard/ (or POST {base_url}/api/v1/auth/sign-in): sign in as the
  demo workspace's owner:

    email:            {DEMO_OWNER}
    password:         {password}

  Try it:

    curl -s {base_url}/api/v1/carts \\
      -H 'Authorization: Bearer {publishable}' -H 'Content-Type: application/json' \\
      -d '{{"currency": "EUR", "lineItems": [{{"variantId": "{variant}", "quantity": 2}}],
           "shippingAddress": {{"addressLine1": "Unter den Linden 1", "city": "Berlin", "countryCode": "DE"}}}}'

  Then choose shipping (PUT /api/v1/carts/CART_ID/shipping-method), open a checkout session with the
  secret key (POST /api/v1/checkout/sessions {{"cartId": "CART_ID"}}) and complete it with the test
  card 4242 4242 4242 4242 (docs/api-reference.md, "Checkout in brief").
"""
    env_file = runtime.settings.data_dir / "demo.env"
    Path(env_file).parent.mkdir(parents=True, exist_ok=True)
    Path(env_file).write_text(f"KASSA_DEMO_SECRET_KEY={secret}\nKASSA_DEMO_PUBLISHABLE_KEY={publishable}\n"
                              f"KASSA_DEMO_VARIANT_ID={variant}\nKASSA_DEMO_OWNER_EMAIL={DEMO_OWNER}\n"
                              f"KASSA_DEMO_OWNER_PASSWORD={password}\n")
    Path(env_file).chmod(0o600)
    return text + f"  (also saved to {env_file})\n"
