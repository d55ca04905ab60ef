// kassa.members, kassa.invitations and kassa.permissions with a provisioning key (scopes `members:read`,
// `members:write`): what an integration calls, typed answers and typed errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ForbiddenError, MemberNotFoundError, WorkspaceNotFoundError, type Invitation } from '@kassa/js';
import { server } from './helpers.js';

const workspaceId = process.env['KASSA_WORKSPACE_ID']!;
const appId = process.env['KASSA_APP_ID']!;

test('members and invitations of the key\'s workspace', async () => {
  const kassa = server({ apiKey: process.env['KASSA_MEMBERS_KEY']! });
  const permissions = await kassa.permissions.retrieve();
  assert.deepEqual(permissions.permissions, ['members:read', 'members:write']);

  const invitation: Invitation = await kassa.invitations.create(workspaceId, {
    email: 'Support@Example.com', applications: [{ applicationId: appId, role: 'viewer' }] });
  assert.deepEqual([invitation.email, invitation.status, invitation.role], ['support@example.com', 'pending', 'member']);
  const resent = await kassa.invitations.resend(workspaceId, invitation.id);
  assert.equal(resent.id, invitation.id);
  assert.deepEqual((await kassa.invitations.list(workspaceId)).map((i) => i.id), [invitation.id]);
  assert.equal((await kassa.invitations.revoke(workspaceId, invitation.id)).status, 'revoked');
  await assert.rejects(kassa.invitations.create(workspaceId, { email: 'boss@example.com', role: 'admin' }), ForbiddenError);

  const [owner] = await kassa.members.list(workspaceId);
  assert.equal(owner!.role, 'owner');
  await assert.rejects(kassa.members.update(workspaceId, owner!.user.id, { role: 'member' }), ForbiddenError);
  await assert.rejects(kassa.members.remove(workspaceId, 'usr_nobody'), MemberNotFoundError);
  await assert.rejects(kassa.members.list('wsp_elsewhere'), WorkspaceNotFoundError);
  // The shop's full key (`*`) does not reach the team.
  await assert.rejects(server().members.list(workspaceId), ForbiddenError);
});
