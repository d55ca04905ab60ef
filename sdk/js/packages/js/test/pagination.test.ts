import assert from 'node:assert/strict';
import { test } from 'node:test';
import { server, storefront } from './helpers.js';

test('cursor pages: await one page, or iterate every item across pages', async () => {
  const admin = server();
  const made: string[] = [];
  for (let i = 0; i < 5; i++) {
    const sku = `page-${i}-${Math.random().toString(36).slice(2, 8)}`;
    made.push((await admin.products.create({ name: `Item ${i}`, variants: [{ sku, prices: { EUR: 100 + i } }] })).id);
  }
  const first = await storefront().products.list({ limit: 2 });
  assert.equal(first.data.length, 2);
  assert.ok(first.nextCursor);

  const seen: string[] = [];
  for await (const product of storefront().products.list({ limit: 2 })) seen.push(product.id);
  assert.deepEqual([...seen].sort(), [...made].sort(), 'every product once, over three pages');

  const sizes: number[] = [];
  for await (const page of admin.products.list({ limit: 2 }).iterPages()) sizes.push(page.data.length);
  assert.deepEqual(sizes, [2, 2, 1]);
});
