// checkout.sessions.createEmbedToken: its input names the session and the origin, nothing else. An
// `allowedMethods` is no part of an embed token (Kassa answers 400 `allowed_methods_unsupported`:
// methods are restricted on the session), so the type refuses it at compile time: the
// `@ts-expect-error` lines fail the build (tsc -p tsconfig.test.json) if the type accepts it again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AllowedMethodsUnsupportedError, type EmbedTokenInput } from '@kassa/js';
import { server, setupShop } from './helpers.js';

const ORIGIN = 'https://shop.example';

test('createEmbedToken takes a session and an origin; its type has no allowedMethods, which Kassa refuses', async () => {
  const { variantId } = await setupShop();
  const kassa = server();
  const cart = await kassa.carts.create({ currency: 'EUR', lineItems: [{ variantId, quantity: 1 }] });
  const session = await kassa.checkout.sessions.create({ cartId: cart.id, allowedMethods: ['card'] });

  const token = await kassa.checkout.sessions.createEmbedToken({ sessionId: session.id, origin: ORIGIN });
  assert.equal(token.sessionId, session.id);
  assert.equal(token.origin, ORIGIN);
  assert.ok(token.url.includes(`/s/${session.id}?embed=`));

  // @ts-expect-error `allowedMethods` is not a field of the embed token's input
  const input: EmbedTokenInput = { sessionId: session.id, origin: ORIGIN, allowedMethods: ['card'] };
  const refused = await kassa.checkout.sessions.createEmbedToken(
    // @ts-expect-error nor of createEmbedToken's argument
    { sessionId: session.id, origin: ORIGIN, allowedMethods: ['card'] },
  ).then(() => assert.fail('expected a refusal'), (e: unknown) => e);
  // A caller that gets past the type (plain JavaScript, an old build) is still refused, by name.
  assert.ok(refused instanceof AllowedMethodsUnsupportedError, String(refused));
  assert.equal(refused.status, 400);
  assert.equal(refused.field, 'allowedMethods');
  await assert.rejects(kassa.checkout.sessions.createEmbedToken(input), AllowedMethodsUnsupportedError);
});
