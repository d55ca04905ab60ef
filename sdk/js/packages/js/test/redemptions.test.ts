// kassa.redemptions' two-step redemption against the real API: a till reserves a code on a basket,
// confirms it with its transaction id, finds it again by that id, and rolls part of it back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DiscountInvalidError, RedemptionNotReservedError, RollbackExceedsAmountError } from '@kassa/js';
import { server } from './helpers.js';

test('redemptions: reserve, confirm, find by transaction, roll back, release', async () => {
  const kassa = server();
  const campaign = await kassa.campaigns.create({ name: 'Till', budget: 10_000,
                                                  reward: { type: 'fixed_off', amounts: { EUR: 300 } } });
  const code = `TILL-${Math.random().toString(36).slice(2, 10)}`.toUpperCase();
  await kassa.codes.create(campaign.id, { code, usageLimit: 1 });
  const basket = { currency: 'EUR' as const, lineItems: [{ sku: 'HAT', quantity: 2, unitPrice: 1000 }] };
  const held = await kassa.redemptions.reserve({ codes: [code], basket, holdMinutes: 5 });
  assert.match(held.id, /^rdm_/);
  assert.deepEqual([held.status, held.amount, held.allocations[0]!.code], ['reserved', 300, code]);
  await assert.rejects(kassa.redemptions.reserve({ codes: [code], basket }), DiscountInvalidError);
  const transactionId = `T-${held.id}`;
  assert.equal((await kassa.redemptions.confirm(held.id, { transactionId })).status, 'confirmed');
  assert.deepEqual((await kassa.redemptions.findByTransaction(transactionId)).map((r) => r.redemptionId), [held.id]);
  assert.deepEqual(await kassa.redemptions.findByTransaction('no-such-transaction'), []);
  const back = await kassa.redemptions.rollback(held.id, { reason: 'return', amount: 100 });
  assert.deepEqual([back.amount, back.redemptionId], [100, held.id]);
  await assert.rejects(kassa.redemptions.rollback(held.id, { reason: 'return', amount: 201 }), RollbackExceedsAmountError);
  await assert.rejects(kassa.redemptions.release(held.id), RedemptionNotReservedError);
  assert.equal((await kassa.redemptions.rollback(held.id, { reason: 'return' })).amount, 200);
  assert.equal((await kassa.redemptions.retrieve(held.id)).status, 'rolled_back');
  const again = await kassa.redemptions.reserve({ codes: [code], basket });
  assert.equal((await kassa.redemptions.release(again.id)).status, 'cancelled');
});
