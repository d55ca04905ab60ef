// Every operation in Kassa's OpenAPI documents (as the real Kassa serves them) is reachable from the
// client: each method of every resource of KassaServer is called once against a recording `fetch`,
// and every documented (method, path) must have been hit, or be listed below with the reason why not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KassaServer } from '@kassa/js/server';
import { baseUrl } from './helpers.js';

const SERVICES = ['cart', 'checkout', 'webhooks', 'team'];

/** Operations the client leaves out on purpose, with why (keep the list honest). */
const SIGNED_IN = 'a signed-in user\'s (the dashboard\'s), made with the session cookie, never with a key';
const NOT_IN_THE_CLIENT: Record<string, string> = {
  signIn: SIGNED_IN, signUp: SIGNED_IN, getSession: SIGNED_IN, signOut: SIGNED_IN, signOutEverywhere: SIGNED_IN,
  requestPasswordReset: SIGNED_IN, confirmPasswordReset: SIGNED_IN, acceptInvitation: SIGNED_IN,
  createWorkspaceApplication: SIGNED_IN, listWorkspaceApplications: SIGNED_IN, renameWorkspaceApplication: SIGNED_IN,
};

// Not operations: a method that only keeps state in the client, and the resources' shared helpers
// (TypeScript's `protected` and `private` are not visible at run time).
const NOT_HTTP = new Set(['constructor', 'remember', 'call', 'items', 'pages', 'withShopper', 'asShopper']);

interface Operation { id: string; method: string; pattern: RegExp; path: string }

async function documented(): Promise<Operation[]> {
  const out: Operation[] = [];
  for (const service of SERVICES) {
    const answer = await fetch(`${baseUrl}/schema/${service}/openapi.json`);
    assert.equal(answer.status, 200, `the ${service} document`);
    const doc = (await answer.json()) as { paths: Record<string, Record<string, { operationId?: string }>> };
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
        const pattern = new RegExp('^' + path.replace(/\{[^}]+\}/g, '[^/]+') + '$');
        out.push({ id: op.operationId ?? `${method} ${path}`, method: method.toUpperCase(), pattern, path });
      }
    }
  }
  return out;
}

/** Every method of every resource (nested ones too: checkout.sessions, orders.refunds), by its dotted name. */
function methods(root: object): [string, (...args: unknown[]) => unknown][] {
  const found: [string, (...args: unknown[]) => unknown][] = [];
  const walk = (obj: object, prefix: string) => {
    for (const [name, value] of Object.entries(obj)) {
      if (!value || typeof value !== 'object' || name === 'http' || name === 'secrets') continue;
      for (let proto = Object.getPrototypeOf(value); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
        for (const key of Object.getOwnPropertyNames(proto)) {
          const fn = (value as Record<string, unknown>)[key];
          if (typeof fn === 'function' && !NOT_HTTP.has(key) && !found.some(([n]) => n === `${prefix}${name}.${key}`)) {
            found.push([`${prefix}${name}.${key}`, (fn as (...a: unknown[]) => unknown).bind(value)]);
          }
        }
      }
      walk(value, `${prefix}${name}.`);
    }
  };
  walk(root, '');
  return found;
}

test('every documented operation is reachable from KassaServer', async () => {
  const hits: { name: string; method: string; path: string }[] = [];
  let current = '';
  const kassa = new KassaServer({
    apiKey: 'sk_test_parity', baseUrl: 'http://kassa.test', maxRetries: 0,
    fetch: async (url, init) => {
      hits.push({ name: current, method: init.method ?? 'GET', path: new URL(url).pathname });
      return Response.json({ data: [], nextCursor: null });
    },
  });
  const all = methods(kassa);
  assert.ok(all.length > 60, `${all.length} methods`);
  for (const [name, call] of all) {
    current = name;
    // Placeholder arguments: ids land in the path, and a body or query of any shape is sent as given.
    await Promise.resolve(call('id_1', 'id_2', 'id_3'));
  }
  const operations = await documented();
  const unreached = operations.filter((op) => !(op.id in NOT_IN_THE_CLIENT)
    && !hits.some((h) => h.method === op.method && op.pattern.test(h.path)));
  assert.deepEqual(unreached.map((op) => `${op.id} (${op.method} ${op.path})`), [],
                   'operations no client method reaches');
  const stray = hits.filter((h) => !operations.some((op) => op.method === h.method && op.pattern.test(h.path)));
  assert.deepEqual(stray, [], 'methods that call no documented operation');
  for (const id of Object.keys(NOT_IN_THE_CLIENT)) assert.ok(operations.some((op) => op.id === id), `${id} is gone`);
  console.log(`${operations.length} operations, ${all.length} methods`);
});
