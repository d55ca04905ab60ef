// The voucher lifecycle from @kassa/js/server against the real API: groups, archive and delete,
// list filters and sorts, codes' externalId and metadata, bulk assignment, promotion settings, and
// the typed errors of each refusal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CampaignArchivedError, CampaignGroupNotFoundError, CodeNotFoundError, ValidationError,
} from '@kassa/js';
import { server } from './helpers.js';

const FIVER = { type: 'fixed_off', amounts: { EUR: 500 } };

test('campaign groups, archive, delete and list filters', async () => {
  const kassa = server();
  const tag = Math.random().toString(36).slice(2, 10);
  const group = await kassa.campaignGroups.create({ name: `Season ${tag}`, metadata: { tag } });
  assert.match(group.id, /^cgrp_/);
  const inGroup = await kassa.campaigns.create({ name: `In ${tag}`, reward: FIVER, groupId: group.id });
  const other = await kassa.campaigns.create({ name: `Out ${tag}`, reward: FIVER });
  const listed: string[] = [];
  for await (const c of kassa.campaigns.list({ group: group.id, sort: '-updatedAt', limit: 1 })) listed.push(c.id);
  assert.deepEqual(listed, [inGroup.id]);
  const byName: string[] = [];
  for await (const c of kassa.campaigns.list({ q: tag, type: 'discount_codes', status: 'active' })) byName.push(c.id);
  assert.deepEqual(byName, [inGroup.id, other.id]);
  assert.equal((await kassa.campaignGroups.retrieve(group.id)).campaigns, 1);
  assert.equal((await kassa.campaignGroups.update(group.id, { name: `Winter ${tag}` })).name, `Winter ${tag}`);

  const archived = await kassa.campaigns.archive(other.id);
  assert.deepEqual([archived.archived, archived.active], [true, false]);
  await assert.rejects(kassa.campaigns.activate(other.id), CampaignArchivedError);
  const hidden: string[] = [];
  for await (const c of kassa.campaigns.list({ q: tag, archived: true })) hidden.push(c.id);
  assert.deepEqual(hidden, [other.id]);
  assert.equal((await kassa.campaigns.unarchive(other.id)).archived, false);
  await kassa.campaigns.delete(other.id);
  await kassa.campaignGroups.delete(group.id);
  await assert.rejects(kassa.campaignGroups.retrieve(group.id), CampaignGroupNotFoundError);
  assert.equal((await kassa.campaigns.retrieve(inGroup.id)).groupId, null);
  // An unknown filter value: validation_error (400) naming the parameter, as its typed error.
  await assert.rejects(async () => { await kassa.campaigns.list({ status: 'running' }); }, (err: unknown) =>
    err instanceof ValidationError && err.field === 'status');
});

test('codes: externalId, metadata, status filter and bulk assignment, all or nothing', async () => {
  const kassa = server();
  const tag = Math.random().toString(36).slice(2, 10).toUpperCase();
  const campaign = await kassa.campaigns.create({ name: `Codes ${tag}`, reward: FIVER });
  const made = await kassa.codes.create(campaign.id, { code: `EXT-${tag}`, externalId: 'crm-1', metadata: { a: 1 } });
  assert.equal(made.codes[0]!.externalId, 'crm-1');
  assert.deepEqual((await kassa.codes.update(`EXT-${tag}`, { metadata: { a: 2 } })).metadata, { a: 2 });
  await kassa.codes.importCodes(campaign.id, { codes: [`A-${tag}`, `B-${tag}`] } as never);
  const assigned = await kassa.codes.assignMany({ assignments: [{ code: `A-${tag}`, customer: 'ana@example.com' }] });
  assert.deepEqual(assigned.map((c) => [c.status, c.assignedTo]), [['assigned', 'ana@example.com']]);
  await assert.rejects(kassa.codes.assignMany({ assignments: [{ code: `B-${tag}`, customer: 'bo@example.com' },
                                                              { code: `NOPE-${tag}`, customer: 'cy@example.com' }] }),
                       (err: unknown) => err instanceof CodeNotFoundError && err.field === 'assignments[1].code');
  assert.equal((await kassa.codes.retrieve(`B-${tag}`)).assignedTo, null);
  const created: string[] = [];
  for await (const c of kassa.codes.list(campaign.id, { status: 'created,assigned' })) created.push(c.code);
  assert.deepEqual(created.sort(), [`A-${tag}`, `B-${tag}`]);
});

test('promotion settings', async () => {
  const kassa = server();
  const before = await kassa.promotionSettings.retrieve();
  const after = await kassa.promotionSettings.update({ allowMultiplePercentageBasket: !before.allowMultiplePercentageBasket });
  assert.equal(after.allowMultiplePercentageBasket, !before.allowMultiplePercentageBasket);
  await kassa.promotionSettings.update({ allowMultiplePercentageBasket: before.allowMultiplePercentageBasket });
});
