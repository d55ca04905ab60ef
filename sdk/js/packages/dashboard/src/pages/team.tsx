import { type FormEvent, useState } from 'react';
import { api } from '../api';
import { useGet } from '../data';
import { dateTime } from '../format';
import { t } from '../i18n';
import { hasPermission, useSigned } from '../session';
import { ErrorBox, Field, Heading, Loading } from '../ui';

interface Grant { applicationId: string; role: string }
interface Member { user: { id: string; email: string; name: string | null }; role: string; applications: Grant[]; joinedAt: string }
interface Invitation { id: string; email: string; role: string; applications: Grant[]; status: string; createdAt: string; expiresAt: string }

const APPLICATION_ROLES = ['admin', 'developer', 'finance', 'viewer'];

export function TeamPage() {
  const { workspace, application, permissions, session } = useSigned();
  const base = `/api/v1/workspaces/${encodeURIComponent(workspace.id)}`;
  const members = useGet<{ data: Member[] }>(base + '/members');
  const mayWrite = hasPermission(permissions, 'members:write');
  const invitations = useGet<{ data: Invitation[] }>(base + '/invitations');
  const [email, setEmail] = useState('');
  const [role, setRole] = useState('viewer');
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const appName = (id: string) => workspace.applications.find((a) => a.id === id)?.name ?? id;
  const describe = (workspaceRole: string, grants: Grant[]) => (workspaceRole === 'member'
    ? grants.map((g) => `${t('role.' + g.role)} (${appName(g.applicationId)})`).join(', ') || t('role.member')
    : t('role.' + workspaceRole));
  const run = async (action: () => Promise<string>) => {
    setError(null); setNotice(null);
    try { setNotice(await action()); invitations.reload(); members.reload(); } catch (e) { setError(e); }
  };
  const invite = (event: FormEvent) => {
    event.preventDefault();
    const body = role === 'workspace-admin' ? { email, role: 'admin' }
      : { email, role: 'member', applications: [{ applicationId: application.id, role }] };
    void run(async () => { await api('POST', base + '/invitations', body); const sent = email; setEmail(''); return t('team.invited', { email: sent }); });
  };
  const open = invitations.data?.data.filter((i) => i.status === 'pending') ?? [];
  return (
    <>
      <Heading>{t('team.title')}</Heading>
      <p className="muted">{workspace.name}</p>
      {notice ? <div className="notice success" role="status">{notice}</div> : null}
      <ErrorBox error={error} />
      {mayWrite ? (
        <form className="card inline-form" onSubmit={invite} aria-labelledby="invite-h">
          <h2 id="invite-h">{t('team.invite')}</h2>
          <Field id="invite-email" label={t('signin.email')}><input id="invite-email" type="email" required value={email} onChange={(e) => setEmail(e.target.value)} /></Field>
          <Field id="invite-role" label={t('team.role')}>
            <select id="invite-role" value={role} onChange={(e) => setRole(e.target.value)}>
              {APPLICATION_ROLES.map((r) => <option key={r} value={r}>{t('team.roleIn', { role: t('role.' + r), application: application.name })}</option>)}
              <option value="workspace-admin">{t('team.workspaceAdmin')}</option>
            </select>
          </Field>
          <div className="field actions"><button type="submit">{t('team.send')}</button></div>
        </form>
      ) : null}
      <section aria-labelledby="members-h">
        <h2 id="members-h">{t('team.members')}</h2>
        <ErrorBox error={members.error} />
        {!members.data && !members.error ? <Loading /> : null}
        {members.data ? (
          <div className="table-wrap" tabIndex={0}><table className="stack">
            <caption className="visually-hidden">{t('team.members')}</caption>
            <thead><tr><th scope="col">{t('team.name')}</th><th scope="col">{t('signin.email')}</th><th scope="col">{t('team.role')}</th><th scope="col">{t('team.joined')}</th></tr></thead>
            <tbody>{members.data.data.map((m) => (
              <tr key={m.user.id}>
                <th scope="row">{m.user.name ?? '—'}{m.user.id === session.user.id ? <span className="muted"> ({t('team.you')})</span> : null}</th>
                <td data-label={t('signin.email')}>{m.user.email}</td>
                <td data-label={t('team.role')}>{describe(m.role, m.applications)}</td>
                <td data-label={t('team.joined')}>{dateTime(m.joinedAt)}</td>
              </tr>
            ))}</tbody>
          </table></div>
        ) : null}
      </section>
      <section aria-labelledby="invitations-h">
        <h2 id="invitations-h">{t('team.invitations')}</h2>
        <ErrorBox error={invitations.error} />
        {invitations.data && open.length === 0 ? <p className="empty">{t('team.noInvitations')}</p> : null}
        {open.length > 0 ? (
          <div className="table-wrap" tabIndex={0}><table className="stack">
            <caption className="visually-hidden">{t('team.invitations')}</caption>
            <thead><tr><th scope="col">{t('signin.email')}</th><th scope="col">{t('team.role')}</th>
              <th scope="col">{t('team.expires')}</th>{mayWrite ? <th scope="col"><span className="visually-hidden">{t('keys.actions')}</span></th> : null}</tr></thead>
            <tbody>{open.map((i) => (
              <tr key={i.id}>
                <th scope="row">{i.email}</th><td data-label={t('team.role')}>{describe(i.role, i.applications)}</td>
                <td data-label={t('team.expires')}>{dateTime(i.expiresAt)}</td>
                {mayWrite ? <td><div className="buttons">
                  <button type="button" className="secondary small" aria-label={t('team.resendLabel', { email: i.email })}
                          onClick={() => void run(async () => { await api('POST', `${base}/invitations/${i.id}/resend`); return t('team.resent', { email: i.email }); })}>{t('team.resend')}</button>
                  <button type="button" className="danger small" aria-label={t('team.revokeLabel', { email: i.email })}
                          onClick={() => void run(async () => { await api('DELETE', `${base}/invitations/${i.id}`); return t('team.revoked', { email: i.email }); })}>{t('team.revoke')}</button>
                </div></td> : null}
              </tr>
            ))}</tbody>
          </table></div>
        ) : null}
      </section>
    </>
  );
}
