"""A shop's cart-recovery page, as a storefront serves it at its recovery URL
(`cartRecoveryUrlTemplate = <shop>/recover.html?cart={cartId}&t={token}`).

Plain HTML and a module script, no build: it sends the link's token as `X-Cart-Secret` with the shop's
publishable key to `POST /api/v1/carts/{cartId}/recover`, then shows the restored cart (pictures,
names, prices), what changed since the shopper left, the recovery incentive, and the totals, in the
store's branding. A fresh browser needs nothing else: no cookie, no client secret. The restored
answer is kept in `window.shop.recovery` for the tests.
"""

from __future__ import annotations

import json
from typing import Any

RECOVERY_PAGE = """<!doctype html>
<html lang="__LANG__"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Your cart · __STORE__</title>
<style>
  :root { --brand: __COLOR__; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: #1b1b1b; background: #f6f6f4; }
  header { display: flex; align-items: center; gap: 12px; padding: 16px 20px; background: var(--brand); color: #fff; }
  header img { width: 40px; height: 40px; border-radius: 8px; background: #fff; }
  header p { margin: 0; font-weight: 600; font-size: 1.1rem; }
  main { max-width: 720px; margin: 0 auto; padding: 20px; }
  h1 { font-size: 1.5rem; margin: 0 0 12px; }
  h2 { font-size: 1.1rem; margin: 20px 0 8px; }
  section { margin-bottom: 16px; }
  .changes { border-left: 4px solid #8a5a00; background: #fff7e6; padding: 12px 16px; margin: 0; list-style: none; }
  .changes li + li { margin-top: 6px; }
  .incentive { background: #e8f5ec; border-left: 4px solid #1e6b3a; padding: 4px 16px; }
  .incentive h2 { margin-top: 12px; }
  .incentive code { font-weight: 700; }
  ul.lines { list-style: none; margin: 0; padding: 0; background: #fff; border-radius: 8px; }
  ul.lines li { display: grid; grid-template-columns: 64px 1fr auto; gap: 12px; align-items: center; padding: 12px;
                border-bottom: 1px solid #e4e4e0; }
  ul.lines img { width: 64px; height: 64px; object-fit: cover; border-radius: 6px; background: #eee; }
  .muted { color: #555; font-size: .9rem; margin: 0; }
  dl { display: grid; grid-template-columns: 1fr auto; margin: 16px 0; background: #fff; padding: 12px 16px;
       border-radius: 8px; }
  dt, dd { margin: 4px 0; } dd { text-align: right; } .total { font-weight: 700; font-size: 1.15rem; }
  a.button { display: block; text-align: center; background: var(--brand); color: #fff; padding: 14px;
             border-radius: 8px; text-decoration: none; font-weight: 600; }
  [hidden] { display: none !important; }
</style></head>
<body>
<header><img src="__LOGO__" alt=""><p>__STORE__</p></header>
<main>
  <h1>Welcome back: your cart is waiting</h1>
  <p id="status" role="status">Restoring your cart…</p>
  <section id="changed" aria-labelledby="changed-title" hidden>
    <h2 id="changed-title">What changed since your last visit</h2>
    <ul class="changes" id="changes"></ul>
  </section>
  <section id="incentive" class="incentive" aria-labelledby="incentive-title" hidden>
    <h2 id="incentive-title">A thank-you for coming back</h2>
    <p id="incentive-text"></p>
  </section>
  <section aria-labelledby="items-title">
    <h2 id="items-title">Items</h2>
    <ul class="lines" id="lines"></ul>
  </section>
  <dl id="totals"></dl>
  <a class="button" id="checkout" href="/checkout.html">Continue to checkout</a>
</main>
<script type="application/json" id="shop-config">__CONFIG__</script>
<script type="module">
const config = JSON.parse(document.getElementById('shop-config').textContent);
const query = new URLSearchParams(location.search);
const cartId = query.get('cart');
const money = (amount, currency) => new Intl.NumberFormat(config.locale, { style: 'currency', currency })
  .format(amount / 100);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};
const answer = await fetch(`${config.kassaUrl}/api/v1/carts/${encodeURIComponent(cartId)}/recover`, {
  method: 'POST', headers: { Authorization: `Bearer ${config.publishableKey}`, 'X-Cart-Secret': query.get('t') ?? '',
                             'Idempotency-Key': crypto.randomUUID() } });
const body = await answer.json();
const status = document.getElementById('status');
if (!answer.ok) {
  status.textContent = body.error.code === 'cart_not_open' ? 'This cart has already been ordered.'
    : 'This link has expired. Your cart could not be restored.';
  status.dataset.error = body.error.code;
} else {
  const { cart, changes, incentive } = body;
  window.shop = { recovery: body };
  status.textContent = 'Your cart is restored with today\\'s prices.';
  if (changes.length) {
    document.getElementById('changed').hidden = false;
    document.getElementById('changes').append(...changes.map((c) => el('li', { textContent: c.message,
      className: c.type })));
  }
  if (incentive) {
    const box = document.getElementById('incentive');
    box.hidden = false;
    document.getElementById('incentive-text').append(incentive.applied
      ? el('span', {}, 'Code ', el('code', { textContent: incentive.code }), ` is applied: you save ${money(incentive.amount, cart.currency)}.`)
      : el('span', { textContent: `Code ${incentive.code} could not be applied: ${incentive.message}` }));
  }
  const images = config.images ?? {};
  document.getElementById('lines').append(...cart.lineItems.map((li) => el('li', {},
    el('img', { src: images[li.variantId] ?? config.logoUrl, alt: '' }),
    el('div', {}, el('p', { textContent: li.name, style: 'margin:0;font-weight:600' }),
       el('p', { className: 'muted', textContent: `${li.quantity} × ${money(li.unitPrice, cart.currency)}` })),
    el('p', { textContent: money(li.subtotal, cart.currency), style: 'margin:0' }))));
  const row = (label, amount, cls = '') => [el('dt', { textContent: label, className: cls }),
                                            el('dd', { textContent: money(amount, cart.currency), className: cls })];
  document.getElementById('totals').append(...row('Subtotal', cart.subtotal),
    ...(cart.discountTotal ? row('Discounts', -cart.discountTotal) : []), ...row('Total', cart.total, 'total'));
}
document.body.dataset.ready = 'true';
</script></body></html>
"""


def recovery_page(*, kassa_url: str, publishable_key: str, store: str, color: str, logo_url: str, locale: str,
                  images: dict[str, str]) -> str:
    """The page for one shop (`images`: variant id -> picture, as the shop's own catalog knows them)."""
    config: dict[str, Any] = {"kassaUrl": kassa_url, "publishableKey": publishable_key, "locale": locale,
                              "logoUrl": logo_url, "images": images}
    return (RECOVERY_PAGE.replace("__CONFIG__", json.dumps(config)).replace("__STORE__", store)
            .replace("__COLOR__", color).replace("__LOGO__", logo_url).replace("__LANG__", locale.split("-")[0]))


def swatch(color: str) -> bytes:
    """A product picture: an SVG of one colour (pictures are served by the shop, as a CDN would)."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" '
            f'fill="{color}"/></svg>').encode()
