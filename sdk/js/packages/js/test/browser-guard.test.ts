import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kassa, KassaError } from '@kassa/js';

test('a secret key is refused in a browser unless explicitly allowed', () => {
  const g = globalThis as { window?: unknown; document?: unknown };
  g.window = g;
  g.document = {};
  try {
    assert.throws(() => new Kassa({ apiKey: 'sk_test_abc', baseUrl: 'http://kassa.test' }),
                  (e: unknown) => e instanceof KassaError && /must not be used in a browser/.test(e.message));
    assert.ok(new Kassa({ apiKey: 'pk_test_abc', baseUrl: 'http://kassa.test' }));
    assert.ok(new Kassa({ apiKey: 'sk_test_abc', baseUrl: 'http://kassa.test', dangerouslyAllowSecretKeyInBrowser: true }));
  } finally {
    delete g.window;
    delete g.document;
  }
  assert.ok(new Kassa({ apiKey: 'sk_test_abc', baseUrl: 'http://kassa.test' }), 'on a server it is fine');
});
