import { type FormEvent, useState } from 'react';
import { api } from '../api';
import { useGet } from '../data';
import { dateTime } from '../format';
import { t } from '../i18n';
import { hasPermission, useSigned } from '../session';
import { ErrorBox, Field, Heading, Loading } from '../ui';

interface Member { userId: string; email: string; name: string | null; role: string; joinedAt?: string }
interface Invitation { id: string; email: string; role: string; status: string; createdAt: string; expiresAt: string }

export const ROLES = ['owner', 'admin', 'developer', 'finance', 'support', 'viewer'];

export function TeamPage() {
  const { workspace, permissions } = useSigned();
  const base = `/api/v1/workspaces/${encodeURIComponent(workspace.id)}`;
  const members = useGet<{ data: Member[] }>(base + '/members', { limit: 100 });
  const mayInvite = hasPermission(permissions, 'members:invite');
  const invitations = useGet<{ data: Invitation[] }>(mayInvite ? base + '/invitations' : null, { limit: 100 });
  const [email, setEmail] = useState('');
  const [role, setRole] = useState('viewer');
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const run = async (action: () => Promise<string>) => {
    setError(null); setNotice(null);
    try { setNotice(await action()); invitations.reload(); members.reload(); } catch (e) { setError(e); }
  };
  const invite = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => { await api('POST', base + '/invitations', { email, role }); const sent = email; setEmail(''); return t('team.invited', { email: sent }); });
  };
  return (
    <>
      <Heading>{t('team.title')}</Heading>
      <p className="muted">{workspace.name}</p>
      {notice ? <div className="notice success" role="status">{notice}</div> : null}
      <ErrorBox error={error} />
      {mayInvite ? (
        <form className="card inline-form" onSubmit={invite} aria-labelledby="invite-h">
          <h2 id="invite-h">{t('team.invite')}</h2>
          <Field id="invite-email" label={t('signin.email')}><input id="invite-email" type="email" required value={email} onChange={(e) => setEmail(e.target.value)} /></Field>
          <Field id="invite-role" label={t('team.role')}>
            <select id="invite-role" value={role} onChange={(e) => setRole(e.target.value)}>
              {ROLES.filter((r) => r !== 'owner').map((r) => <option key={r} value={r}>{t('role.' + r)}</option>)}
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
          <div className="table-wrap" tabIndex={0}><table>
            <caption className="visually-hidden">{t('team.members')}</caption>
            <thead><tr><th scope="col">{t('team.name')}</th><th scope="col">{t('signin.email')}</th><th scope="col">{t('team.role')}</th></tr></thead>
            <tbody>{members.data.data.map((m) => (
              <tr key={m.userId}><th scope="row">{m.name ?? '—'}</th><td>{m.email}</td><td>{t('role.' + m.role)}</td></tr>
            ))}</tbody>
          </table></div>
        ) : null}
      </section>
      {mayInvite ? (
        <section aria-labelledby="invitations-h">
          <h2 id="invitations-h">{t('team.invitations')}</h2>
          <ErrorBox error={invitations.error} />
          {invitations.data && invitations.data.data.length === 0 ? <p className="empty">{t('team.noInvitations')}</p> : null}
          {invitations.data && invitations.data.data.length > 0 ? (
            <div className="table-wrap" tabIndex={0}><table>
              <caption className="visually-hidden">{t('team.invitations')}</caption>
              <thead><tr><th scope="col">{t('signin.email')}</th><th scope="col">{t('team.role')}</th><th scope="col">{t('orders.status')}</th>
                <th scope="col">{t('team.expires')}</th><th scope="col"><span className="visually-hidden">{t('keys.actions')}</span></th></tr></thead>
              <tbody>{invitations.data.data.map((i) => (
                <tr key={i.id}>
                  <th scope="row">{i.email}</th><td>{t('role.' + i.role)}</td><td>{t('status.' + i.status)}</td><td>{dateTime(i.expiresAt)}</td>
                  <td className="buttons">{i.status === 'pending' ? <>
                    <button type="button" className="secondary small" aria-label={t('team.resendLabel', { email: i.email })}
                            onClick={() => void run(async () => { await api('POST', `${base}/invitations/${i.id}/resend`); return t('team.resent', { email: i.email }); })}>{t('team.resend')}</button>
                    <button type="button" className="danger small" aria-label={t('team.revokeLabel', { email: i.email })}
                            onClick={() => void run(async () => { await api('DELETE', `${base}/invitations/${i.id}`); return t('team.revoked', { email: i.email }); })}>{t('team.revoke')}</button>
                  </> : null}</td>
                </tr>
              ))}</tbody>
            </table></div>
          ) : null}
        </section>
      ) : null}
    </>
  );
}
