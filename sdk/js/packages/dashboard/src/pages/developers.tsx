import { type FormEvent, useState } from 'react';
import { api } from '../api';
import { useGet, usePaged } from '../data';
import { dateTime } from '../format';
import { t } from '../i18n';
import { useCan } from '../session';
import { ErrorBox, Field, Heading, Loading, Pager, Secret } from '../ui';

interface Key { id: string; name: string | null; type: 'secret' | 'publishable'; prefix: string; last4: string; scopes: string[];
                createdAt: string; lastUsedAt: string | null; expiresAt: string | null; revokedAt: string | null; secret?: string | null }
interface EmbedConfig { allowedOrigins: string[] }
interface AuditEntry { id: string; action: string; actor: { type: string; id: string }; resourceType: string; resourceId: string;
                       changes: { before?: Record<string, unknown> | null; after?: Record<string, unknown> | null };
                       createdAt: string; requestId?: string | null; sourceAddress?: string | null }

const SCOPES = ['carts:read', 'carts:write', 'catalog:read', 'catalog:write', 'settings:read', 'settings:write',
  'checkout:read', 'checkout:write', 'orders:read', 'orders:write', 'payments:read', 'payments:write', 'promotions:read',
  'promotions:write', 'customers:read', 'customers:write', 'webhooks:manage', 'keys:read', 'keys:write',
  'application:read', 'application:write'];

export function DevelopersPage() {
  const can = useCan();
  const keys = usePaged<Key>('/api/v1/api-keys', { limit: 50 });
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const run = async (action: () => Promise<void>) => { setError(null); try { await action(); keys.reload(); } catch (e) { setError(e); } };
  const publishable = keys.data?.data.filter((k) => k.type === 'publishable') ?? [];
  return (
    <>
      <div className="page-head">
        <Heading>{t('developers.title')}</Heading>
        {can('keys:write') && !creating ? <button type="button" className="push" onClick={() => { setSecret(null); setCreating(true); }}>{t('keys.create')}</button> : null}
      </div>
      {secret ? <Secret label={t('keys.secretOnce')} value={secret} /> : null}
      <ErrorBox error={error} />
      {creating ? <KeyForm onCancel={() => setCreating(false)} onCreated={(k) => { setCreating(false); setSecret(k.secret ?? null); keys.reload(); }} /> : null}
      <section aria-labelledby="keys-h">
        <h2 id="keys-h">{t('keys.title')}</h2>
        {publishable[0] ? <p>{t('keys.publishable')} <code>{publishable[0].prefix}…{publishable[0].last4}</code></p> : null}
        <ErrorBox error={keys.error} />
        {!keys.data && !keys.error ? <Loading /> : null}
        {keys.data ? (
          <div className="table-wrap" tabIndex={0}>
            <table>
              <caption className="visually-hidden">{t('keys.title')}</caption>
              <thead><tr><th scope="col">{t('keys.name')}</th><th scope="col">{t('keys.key')}</th><th scope="col">{t('keys.scopes')}</th>
                <th scope="col">{t('keys.lastUsed')}</th>{can('keys:write') ? <th scope="col"><span className="visually-hidden">{t('keys.actions')}</span></th> : null}</tr></thead>
              <tbody>
                {keys.data.data.map((k) => (
                  <tr key={k.id}>
                    <th scope="row">{k.name ?? t('keys.unnamed')}<br /><span className="muted">{t('keys.type.' + k.type)}</span></th>
                    <td className="mono">{k.prefix}…{k.last4}{k.expiresAt ? <><br /><span className="muted">{t('keys.expires', { when: dateTime(k.expiresAt) })}</span></> : null}</td>
                    <td>{k.scopes.join(', ')}</td>
                    <td>{k.lastUsedAt ? dateTime(k.lastUsedAt) : '—'}</td>
                    {can('keys:write') ? (
                      <td><div className="buttons">
                        <button type="button" className="secondary small" aria-label={t('keys.rollLabel', { name: k.name ?? k.last4 })}
                                onClick={() => void run(async () => { const r = await api<Key>('POST', `/api/v1/api-keys/${k.id}/roll`, {}); setSecret(r.secret ?? null); })}>{t('keys.roll')}</button>
                        <button type="button" className="danger small" aria-label={t('keys.revokeLabel', { name: k.name ?? k.last4 })}
                                onClick={() => { if (window.confirm(t('keys.revokeConfirm'))) void run(async () => { await api('DELETE', `/api/v1/api-keys/${k.id}`); }); }}>{t('keys.revoke')}</button>
                      </div></td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
        <Pager {...keys} />
      </section>
      {can('settings:read') ? <Origins editable={can('settings:write')} /> : null}
      <AuditLog />
    </>
  );
}

function KeyForm({ onCancel, onCreated }: { onCancel: () => void; onCreated: (k: Key) => void }) {
  const [name, setName] = useState('');
  const [type, setType] = useState<'secret' | 'publishable'>('secret');
  const [scopes, setScopes] = useState<string[]>(['carts:read']);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    try {
      onCreated(await api<Key>('POST', '/api/v1/api-keys', { name: name || null, type, ...(type === 'secret' ? { scopes } : {}) }));
    } catch (e) { setError(e); }
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="key-form-h">
      <h2 id="key-form-h">{t('keys.create')}</h2>
      <ErrorBox error={error} />
      <Field id="key-name" label={t('keys.name')}><input id="key-name" maxLength={100} value={name} onChange={(e) => setName(e.target.value)} /></Field>
      <fieldset><legend>{t('keys.typeLabel')}</legend>
        {(['secret', 'publishable'] as const).map((v) => (
          <label key={v} className="choice"><input type="radio" name="key-type" checked={type === v} onChange={() => setType(v)} /> {t('keys.type.' + v)}</label>
        ))}
      </fieldset>
      {type === 'secret' ? (
        <fieldset className="scopes"><legend>{t('keys.scopes')}</legend>
          {SCOPES.map((s) => (
            <label key={s} className="choice mono"><input type="checkbox" checked={scopes.includes(s)}
              onChange={(e) => setScopes(e.target.checked ? [...scopes, s] : scopes.filter((x) => x !== s))} /> {s}</label>
          ))}
        </fieldset>
      ) : null}
      <div className="buttons"><button type="button" className="secondary" onClick={onCancel}>{t('cancel')}</button><button type="submit">{t('keys.create')}</button></div>
    </form>
  );
}

function Origins({ editable }: { editable: boolean }) {
  const config = useGet<EmbedConfig>('/api/v1/embed-config');
  const [text, setText] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const value = text ?? config.data?.allowedOrigins.join('\n') ?? '';
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSaved(false);
    try {
      await api('PUT', '/api/v1/embed-config', { allowedOrigins: value.split(/\s+/).filter(Boolean) });
      setSaved(true); setText(null); config.reload(); setError(null);
    } catch (e) { setError(e); }
  };
  return (
    <section aria-labelledby="origins-h">
      <h2 id="origins-h">{t('origins.title')}</h2>
      <form onSubmit={submit}>
        <ErrorBox error={error ?? config.error} />
        {saved ? <p className="notice success" role="status">{t('saved')}</p> : null}
        <Field id="origins" label={t('origins.label')} hint={t('origins.hint')}>
          <textarea id="origins" rows={3} value={value} readOnly={!editable} aria-describedby="origins-hint" onChange={(e) => setText(e.target.value)} />
        </Field>
        {editable ? <button type="submit" className="secondary">{t('save')}</button> : null}
      </form>
    </section>
  );
}

function AuditLog() {
  const log = usePaged<AuditEntry>('/api/v1/audit-log', { limit: 20 });
  return (
    <section aria-labelledby="audit-h">
      <h2 id="audit-h">{t('audit.title')}</h2>
      {log.error ? <p className="muted">{t('audit.unavailable')}</p> : null}
      {log.data && log.data.data.length === 0 ? <p className="empty">{t('audit.none')}</p> : null}
      {log.data && log.data.data.length > 0 ? (
        <div className="table-wrap" tabIndex={0}>
          <table>
            <caption className="visually-hidden">{t('audit.title')}</caption>
            <thead><tr><th scope="col">{t('audit.when')}</th><th scope="col">{t('audit.who')}</th><th scope="col">{t('audit.what')}</th><th scope="col">{t('audit.target')}</th></tr></thead>
            <tbody>
              {log.data.data.map((entry) => (
                <tr key={entry.id}>
                  <td>{dateTime(entry.createdAt)}</td>
                  <td>{t('audit.actor.' + entry.actor.type)} <span className="mono muted">{entry.actor.id}</span></td>
                  <th scope="row" className="mono">{entry.action}</th>
                  <td className="mono">{entry.resourceId}{entry.sourceAddress ? <><br /><span className="muted">{entry.sourceAddress}</span></> : null}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <Pager {...log} />
    </section>
  );
}
