// kassa.apiKeys against the real key management API: create, list (cursor pages), retrieve, roll, revoke.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiKeyNotFoundError, ForbiddenError, UnauthorizedError, type ApiKey, type AuditEntry } from '@kassa/js';
import { server } from './helpers.js';

test('API keys: create with scopes, list without secrets, roll, revoke', async () => {
  const admin = server();
  const made = await admin.apiKeys.create({ scopes: ['carts:read', 'orders:read'], name: 'reporting' });
  assert.match(made.secret ?? '', /^sk_test_/);
  assert.equal(made.last4, made.secret!.slice(-4));
  assert.deepEqual([made.name, [...made.scopes].sort(), made.revokedAt], ['reporting', ['carts:read', 'orders:read'], null]);
  const publishable = await admin.apiKeys.create({ type: 'publishable' });
  assert.match(publishable.secret ?? '', /^pk_test_/);

  const listed: ApiKey[] = [];
  for await (const key of admin.apiKeys.list({ limit: 1 })) listed.push(key);
  assert.ok([made.id, publishable.id].every((id) => listed.some((k) => k.id === id)), 'every key, a page at a time');
  assert.ok(listed.every((k) => k.secret == null), 'a list never shows a secret');
  assert.equal((await admin.apiKeys.retrieve(made.id)).prefix, 'sk_test_');

  const rolled = await admin.apiKeys.roll(made.id, { expiresInHours: 0 });
  assert.ok(rolled.secret && rolled.secret !== made.secret);
  const reporting = server({ apiKey: rolled.secret });
  assert.deepEqual((await reporting.orders.list()).data, []);
  await assert.rejects(reporting.products.create({ name: 'Nope', variants: [{ sku: `n-${Date.now()}`, prices: { EUR: 1 } }] }),
                       ForbiddenError);
  await assert.rejects(server({ apiKey: made.secret!, maxRetries: 0 }).orders.list(), UnauthorizedError);

  const revoked = await admin.apiKeys.revoke(publishable.id);
  assert.ok(revoked.revokedAt);
  const active: string[] = [];
  for await (const key of admin.apiKeys.list()) active.push(key.id);
  assert.ok(!active.includes(publishable.id));
  const all: string[] = [];
  for await (const key of admin.apiKeys.list({ includeInactive: true })) all.push(key.id);
  assert.ok(all.includes(publishable.id));
  await assert.rejects(admin.apiKeys.retrieve('key_unknown'), ApiKeyNotFoundError);

  // The audit log has each change: the roll of `made`, by the admin key, without any secret.
  const entries: AuditEntry[] = [];
  for await (const entry of admin.auditLog.list({ resourceId: made.id, limit: 1 })) entries.push(entry);
  assert.deepEqual(entries.map((x) => x.action), ['api_key.rolled', 'api_key.created']);
  assert.equal(entries[0]!.actor.type, 'key');
  assert.equal(entries[0]!.changes.after?.replacedBy, rolled.id);
  assert.ok(!JSON.stringify(entries).includes(rolled.secret!) && !JSON.stringify(entries).includes(made.secret!));
  const revocations = await admin.auditLog.list({ action: 'api_key.revoked', resourceType: 'api_key' });
  assert.deepEqual(revocations.data.map((x) => x.resourceId), [publishable.id]);
});
