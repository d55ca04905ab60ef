// kassa.application against the real API: the version pin, and its refusals.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiVersionDowngradeError, ApiVersionInvalidError } from '@kassa/js';
import { server } from './helpers.js';

test('application: the pin and the versions there are; the pin never moves back', async () => {
  const admin = server();
  const app = await admin.application.retrieve();
  assert.equal(app.apiVersion, app.latestApiVersion, 'a new application is pinned to the newest version');
  assert.ok(app.apiVersions.length >= 2 && app.apiVersions[0] === app.latestApiVersion);
  const same = await admin.application.upgradeVersion(app.latestApiVersion);
  assert.equal(same.apiVersion, app.latestApiVersion, 'the same version again is answered, not refused');
  await assert.rejects(admin.application.upgradeVersion(app.apiVersions.at(-1)!), ApiVersionDowngradeError);
  await assert.rejects(admin.application.upgradeVersion('1999-01-01'), ApiVersionInvalidError);
});
