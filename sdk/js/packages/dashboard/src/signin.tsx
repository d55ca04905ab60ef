import { type FormEvent, useState } from 'react';
import { api, ApiError } from './api';
import { t } from './i18n';
import { Field, Heading } from './ui';

export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('POST', '/api/v1/auth/sign-in', { email, password });
      onSignedIn();
    } catch (e) {
      setError(e instanceof ApiError && (e.status === 401 || e.status === 400 || e.status === 422)
        ? t('signin.failed') : e instanceof ApiError && e.status === 429 ? t('signin.throttled') : t('error.generic'));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="signin" id="main">
      <form onSubmit={submit} className="card" aria-describedby={error ? 'signin-error' : undefined}>
        <p className="brand" aria-hidden="true">Kassa</p>
        <Heading>{t('signin.title')}</Heading>
        {error ? <div className="notice error" role="alert" id="signin-error">{error}</div> : null}
        <Field id="email" label={t('signin.email')}>
          <input id="email" type="email" autoComplete="username" required value={email}
                 onChange={(e) => setEmail(e.target.value)} />
        </Field>
        <Field id="password" label={t('signin.password')}>
          <input id="password" type="password" autoComplete="current-password" required value={password}
                 onChange={(e) => setPassword(e.target.value)} />
        </Field>
        <button type="submit" disabled={busy}>{busy ? t('signin.busy') : t('signin.submit')}</button>
      </form>
    </main>
  );
}
