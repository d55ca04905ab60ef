import { type FormEvent, type ReactNode, useState } from 'react';
import { api, ApiError, useCsrf } from './api';
import { t } from './i18n';
import { navigate } from './router';
import { Field, Heading } from './ui';

function Card({ title, error, notice, children, onSubmit }: { title: string; error: string | null; notice?: string | null;
                                                               children: ReactNode; onSubmit: (e: FormEvent) => void }) {
  return (
    <main className="signin" id="main">
      <form onSubmit={onSubmit} className="card" aria-describedby={error ? 'form-error' : undefined}>
        <p className="brand" aria-hidden="true">Kassa</p>
        <Heading>{title}</Heading>
        {error ? <div className="notice error" role="alert" id="form-error">{error}</div> : null}
        {notice ? <div className="notice success" role="status">{notice}</div> : null}
        {children}
      </form>
    </main>
  );
}

function message(e: unknown, unauthorized: string): string {
  if (e instanceof ApiError) {
    if (e.status === 401) return unauthorized;
    if (e.status === 429) return t('signin.throttled');
    if (e.status === 0) return t('error.network');
    return e.message;
  }
  return t('error.generic');
}

/** Signs in; then `after` (an invitation to accept) if given. */
export function SignIn({ onSignedIn, title, after }: { onSignedIn: () => void; title?: string; after?: () => Promise<void> }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true); setError(null); setNotice(null);
    try {
      const answer = await api<{ csrfToken: string }>('POST', '/api/v1/auth/sign-in', { email, password });
      useCsrf(answer.csrfToken);
      if (after) await after();
      onSignedIn();
    } catch (e) {
      setError(message(e, t('signin.failed')));
    } finally {
      setBusy(false);
    }
  };
  const forgot = async () => {
    setError(null);
    if (!email) { setError(t('signin.emailFirst')); return; }
    try {
      await api('POST', '/api/v1/auth/password-reset', { email });
      setNotice(t('signin.resetSent', { email }));
    } catch (e) { setError(message(e, t('error.generic'))); }
  };
  return (
    <Card title={title ?? t('signin.title')} error={error} notice={notice} onSubmit={submit}>
      <Field id="email" label={t('signin.email')}>
        <input id="email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
      </Field>
      <Field id="password" label={t('signin.password')}>
        <input id="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
      </Field>
      <button type="submit" disabled={busy}>{busy ? t('signin.busy') : t('signin.submit')}</button>
      <p><button type="button" className="linklike" onClick={() => void forgot()}>{t('signin.forgot')}</button></p>
    </Card>
  );
}

/** The mailed invitation link: a new person makes their account, someone with one signs in; either accepts. */
export function AcceptInvitation({ token, onDone }: { token: string; onDone: () => void }) {
  const [mode, setMode] = useState<'new' | 'existing'>('new');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const done = () => { navigate('/', true); onDone(); };
  const accept = async () => { await api('POST', '/api/v1/invitations/accept', { token }); };
  if (!token) return <Card title={t('invite.title')} error={t('invite.noToken')} onSubmit={(e) => e.preventDefault()}>{null}</Card>;
  if (mode === 'existing') {
    return (
      <>
        <SignIn title={t('invite.signInTitle')} after={accept} onSignedIn={done} />
        <p className="centered-note"><button type="button" className="linklike" onClick={() => setMode('new')}>{t('invite.newAccount')}</button></p>
      </>
    );
  }
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true); setError(null);
    try {
      const answer = await api<{ csrfToken: string }>('POST', '/api/v1/auth/sign-up', { invitationToken: token, password, name: name.trim() || null });
      useCsrf(answer.csrfToken);
      done();
    } catch (e) {
      setError(message(e, t('invite.invalid')));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title={t('invite.title')} error={error} onSubmit={submit}>
      <p>{t('invite.text')}</p>
      <Field id="name" label={t('team.name')}>
        <input id="name" autoComplete="name" maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
      </Field>
      <Field id="new-password" label={t('invite.password')} hint={t('invite.passwordHint')}>
        <input id="new-password" type="password" autoComplete="new-password" minLength={8} required value={password}
               aria-describedby="new-password-hint" onChange={(e) => setPassword(e.target.value)} />
      </Field>
      <button type="submit" disabled={busy}>{t('invite.join')}</button>
      <p><button type="button" className="linklike" onClick={() => setMode('existing')}>{t('invite.haveAccount')}</button></p>
    </Card>
  );
}

export function ResetPassword({ token, onDone }: { token: string; onDone: () => void }) {
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    try {
      await api('POST', '/api/v1/auth/password-reset/confirm', { token, password });
      navigate('/', true);
      onDone();
    } catch (e) { setError(message(e, t('error.generic'))); }
  };
  return (
    <Card title={t('reset.title')} error={error} onSubmit={submit}>
      <Field id="new-password" label={t('invite.password')} hint={t('invite.passwordHint')}>
        <input id="new-password" type="password" autoComplete="new-password" minLength={8} required value={password}
               aria-describedby="new-password-hint" onChange={(e) => setPassword(e.target.value)} />
      </Field>
      <button type="submit">{t('reset.submit')}</button>
    </Card>
  );
}
