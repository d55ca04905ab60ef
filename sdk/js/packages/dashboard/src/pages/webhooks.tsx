import { type FormEvent, useEffect, useState } from 'react';
import { EVENT_TYPES } from '../../../webhooks/src/generated/events';
import { api, ApiError } from '../api';
import { useGet, usePaged } from '../data';
import { dateTime, number } from '../format';
import { t } from '../i18n';
import { navigate } from '../router';
import { ErrorBox, Field, Heading, Link, Loading, Pager, Secret, Status } from '../ui';

interface Endpoint { id: string; url: string; enabledEvents: string[]; description: string | null; disabled: boolean;
                     disabledReason: string | null; apiVersion: string; secret: string; createdAt: string }
interface Delivery { id: string; eventId: string; eventType: string; status: string; attemptCount: number;
                     nextAttemptAt: string | null; lastStatusCode: number | null; lastError: string | null; createdAt: string }
interface Attempt { id: string; attempt: number; startedAt: string; succeeded: boolean; statusCode: number | null;
                    latencyMs: number; responseExcerpt: string | null; error: string | null }

const GROUPS = [...new Set(EVENT_TYPES.map((e) => e.split('.')[0] ?? e))];

function EventPicker({ value, onChange }: { value: string[]; onChange: (v: string[]) => void }) {
  const toggle = (name: string, on: boolean) => onChange(on ? [...value, name] : value.filter((v) => v !== name));
  return (
    <fieldset className="events-picker">
      <legend>{t('webhooks.events')}</legend>
      {GROUPS.map((group) => {
        const all = `${group}.*`;
        const allOn = value.includes(all);
        return (
          <div key={group} className="event-group">
            <label className="choice strong"><input type="checkbox" checked={allOn} onChange={(e) => toggle(all, e.target.checked)} /> {t('webhooks.allOf', { group })}</label>
            {EVENT_TYPES.filter((e) => e.startsWith(group + '.')).map((name) => (
              <label key={name} className="choice mono">
                <input type="checkbox" checked={allOn || value.includes(name)} disabled={allOn}
                       onChange={(e) => toggle(name, e.target.checked)} /> {name}
              </label>
            ))}
          </div>
        );
      })}
    </fieldset>
  );
}

export function WebhooksPage() {
  const list = usePaged<Endpoint>('/api/v1/webhook-endpoints', { limit: 50 });
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<Endpoint | null>(null);
  return (
    <>
      <div className="page-head">
        <Heading>{t('webhooks.title')}</Heading>
        {!creating ? <button type="button" className="push" onClick={() => { setCreated(null); setCreating(true); }}>{t('webhooks.add')}</button> : null}
      </div>
      {created ? <Secret label={t('webhooks.secretOnce')} value={created.secret} /> : null}
      {creating ? <EndpointForm onCancel={() => setCreating(false)}
                                onSaved={(e) => { setCreating(false); setCreated(e); list.reload(); }} /> : null}
      <ErrorBox error={list.error} />
      {!list.data && !list.error ? <Loading /> : null}
      {list.data && list.data.data.length === 0 ? <p className="empty">{t('webhooks.none')}</p> : null}
      {list.data && list.data.data.length > 0 ? (
        <div className="table-wrap" tabIndex={0}>
          <table>
            <caption className="visually-hidden">{t('webhooks.title')}</caption>
            <thead><tr><th scope="col">{t('webhooks.url')}</th><th scope="col">{t('webhooks.events')}</th>
              <th scope="col">{t('webhooks.state')}</th><th scope="col">{t('webhooks.created')}</th></tr></thead>
            <tbody>
              {list.data.data.map((e) => (
                <tr key={e.id}>
                  <th scope="row"><Link to={'/webhooks/' + e.id} className="mono">{e.url}</Link>{e.description ? <><br /><span className="muted">{e.description}</span></> : null}</th>
                  <td>{e.enabledEvents.join(', ')}</td>
                  <td><Status value={e.disabled ? 'disabled' : 'enabled'} /></td>
                  <td>{dateTime(e.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <Pager {...list} />
    </>
  );
}

function EndpointForm({ endpoint, onCancel, onSaved }: { endpoint?: Endpoint; onCancel: () => void; onSaved: (e: Endpoint) => void }) {
  const [url, setUrl] = useState(endpoint?.url ?? '');
  const [description, setDescription] = useState(endpoint?.description ?? '');
  const [events, setEvents] = useState<string[]>(endpoint?.enabledEvents ?? []);
  const [disabled, setDisabled] = useState(endpoint?.disabled ?? false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (events.length === 0) { setError(new ApiError(422, 'validation_error', t('webhooks.pickEvent'))); return; }
    setBusy(true);
    setError(null);
    try {
      const body = { url, enabledEvents: events, description: description.trim() || null, ...(endpoint ? { disabled } : {}) };
      onSaved(endpoint ? await api<Endpoint>('PATCH', '/api/v1/webhook-endpoints/' + endpoint.id, body)
                       : await api<Endpoint>('POST', '/api/v1/webhook-endpoints', body));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="endpoint-form-h">
      <h2 id="endpoint-form-h">{endpoint ? t('webhooks.edit') : t('webhooks.add')}</h2>
      <ErrorBox error={error} />
      <Field id="endpoint-url" label={t('webhooks.url')}>
        <input id="endpoint-url" type="url" required value={url} placeholder="https://" onChange={(e) => setUrl(e.target.value)} />
      </Field>
      <Field id="endpoint-description" label={t('webhooks.description')}>
        <input id="endpoint-description" maxLength={500} value={description} onChange={(e) => setDescription(e.target.value)} />
      </Field>
      <EventPicker value={events} onChange={setEvents} />
      {endpoint ? <label className="choice"><input type="checkbox" checked={disabled} onChange={(e) => setDisabled(e.target.checked)} /> {t('webhooks.disable')}</label> : null}
      <div className="buttons">
        <button type="button" className="secondary" onClick={onCancel}>{t('cancel')}</button>
        <button type="submit" disabled={busy}>{t('save')}</button>
      </div>
    </form>
  );
}

export function WebhookPage({ id }: { id: string }) {
  const endpoint = useGet<Endpoint>('/api/v1/webhook-endpoints/' + encodeURIComponent(id));
  const [status, setStatus] = useState('');
  const deliveries = usePaged<Delivery>(`/api/v1/webhook-endpoints/${encodeURIComponent(id)}/deliveries`, { limit: 20, status });
  const [editing, setEditing] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [since, setSince] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  // While a delivery is on its way (queued for now, or being sent), look again shortly: its outcome
  // shows without the merchant reloading.
  const inFlight = deliveries.data?.data.some((d) => d.status === 'sending' || (d.status === 'pending' && (
    d.attemptCount === 0 || (d.nextAttemptAt !== null && new Date(d.nextAttemptAt).getTime() <= Date.now())))) ?? false;
  useEffect(() => {
    if (!inFlight) return;
    const timer = window.setTimeout(deliveries.reload, 1000);
    return () => window.clearTimeout(timer);
  }, [inFlight, deliveries.data, deliveries.reload]);
  const act = async (run: () => Promise<string>) => {
    setError(null);
    setNotice(null);
    try { setNotice(await run()); deliveries.reload(); } catch (e) { setError(e); }
  };
  if (endpoint.error) return <><Heading>{t('webhooks.endpoint')}</Heading><ErrorBox error={endpoint.error} /><p><Link to="/webhooks">{t('webhooks.back')}</Link></p></>;
  if (!endpoint.data) return <Loading />;
  const e = endpoint.data;
  return (
    <>
      <p className="breadcrumb"><Link to="/webhooks">{t('webhooks.back')}</Link></p>
      <div className="page-head">
        <Heading>{t('webhooks.endpoint')}</Heading>
        <Status value={e.disabled ? 'disabled' : 'enabled'} />
      </div>
      <p className="mono break">{e.url}</p>
      {e.disabledReason ? <p className="notice error">{e.disabledReason}</p> : null}
      {secret ? <Secret label={t('webhooks.secretOnce')} value={secret} /> : null}
      {notice ? <div className="notice success" role="status">{notice}</div> : null}
      <ErrorBox error={error} />
      <div className="toolbar">
        <button type="button" onClick={() => void act(async () => { await api('POST', `/api/v1/webhook-endpoints/${e.id}/test`); return t('webhooks.testSent'); })}>{t('webhooks.sendTest')}</button>
        <button type="button" className="secondary" onClick={() => setEditing((v) => !v)} aria-expanded={editing}>{t('webhooks.edit')}</button>
        <button type="button" className="secondary" onClick={() => void act(async () => {
          const rotated = await api<Endpoint>('POST', `/api/v1/webhook-endpoints/${e.id}/rotate-secret`, {});
          setSecret(rotated.secret); return t('webhooks.rotated');
        })}>{t('webhooks.rotate')}</button>
        <button type="button" className="danger" onClick={() => {
          if (window.confirm(t('webhooks.deleteConfirm'))) void api('DELETE', '/api/v1/webhook-endpoints/' + e.id).then(() => navigate('/webhooks'), setError);
        }}>{t('webhooks.delete')}</button>
      </div>
      {editing ? <EndpointForm endpoint={e} onCancel={() => setEditing(false)} onSaved={() => { setEditing(false); endpoint.reload(); }} /> : null}
      <dl className="pairs">
        <dt>{t('webhooks.events')}</dt><dd className="mono">{e.enabledEvents.join(', ')}</dd>
        <dt>{t('webhooks.description')}</dt><dd>{e.description ?? '—'}</dd>
        <dt>{t('webhooks.apiVersion')}</dt><dd className="mono">{e.apiVersion}</dd>
        <dt>{t('webhooks.secret')}</dt><dd className="mono">{e.secret}</dd>
      </dl>
      <section aria-labelledby="deliveries-h">
        <h2 id="deliveries-h">{t('webhooks.deliveries')}</h2>
        <div className="filters">
          <Field id="delivery-status" label={t('orders.status')}>
            <select id="delivery-status" value={status} onChange={(ev) => setStatus(ev.target.value)}>
              <option value="">{t('orders.anyStatus')}</option>
              {['pending', 'sending', 'succeeded', 'failed'].map((s) => <option key={s} value={s}>{t('status.' + s)}</option>)}
            </select>
          </Field>
          <form className="field-row" onSubmit={(ev) => { ev.preventDefault(); void act(async () => {
            const r = await api<{ recovered: number }>('POST', `/api/v1/webhook-endpoints/${e.id}/recover`, { since: new Date(since).toISOString() });
            return t('webhooks.recovered', { count: number(r.recovered) });
          }); }}>
            <Field id="recover-since" label={t('webhooks.recoverSince')}>
              <input id="recover-since" type="datetime-local" required value={since} onChange={(ev) => setSince(ev.target.value)} />
            </Field>
            <button type="submit" className="secondary">{t('webhooks.recover')}</button>
          </form>
        </div>
        <div className="toolbar"><button type="button" className="secondary small" onClick={deliveries.reload}>{t('webhooks.refresh')}</button></div>
        <ErrorBox error={deliveries.error} />
        {deliveries.data && deliveries.data.data.length === 0 ? <p className="empty">{t('webhooks.noDeliveries')}</p> : null}
        <ul className="deliveries">
          {deliveries.data?.data.map((d) => (
            <li key={d.id}>
              <div className="delivery-row">
                <Status value={d.status === 'pending' && d.attemptCount > 0 ? 'retrying' : d.status} />
                <span className="mono">{d.eventType}</span>
                <span className="muted">{dateTime(d.createdAt)}</span>
                <span className="muted">{d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : d.lastError ?? ''}</span>
                {d.status === 'pending' && d.nextAttemptAt && d.attemptCount > 0 ? <span className="muted">{t('webhooks.nextAttempt', { when: dateTime(d.nextAttemptAt) })}</span> : null}
                <span className="push buttons">
                  <button type="button" className="secondary small" aria-expanded={open === d.id} aria-controls={'attempts-' + d.id}
                          onClick={() => setOpen(open === d.id ? null : d.id)}>{t('webhooks.attempts', { count: number(d.attemptCount) })}</button>
                  {d.status !== 'sending' ? (
                    <button type="button" className="small" aria-label={t('webhooks.resendLabel', { type: d.eventType, id: d.id })}
                            onClick={() => void act(async () => { await api('POST', `/api/v1/webhook-deliveries/${d.id}/resend`); return t('webhooks.resent'); })}>{t('webhooks.resend')}</button>
                  ) : null}
                </span>
              </div>
              {open === d.id ? <Attempts id={d.id} /> : null}
            </li>
          ))}
        </ul>
        <Pager {...deliveries} />
      </section>
    </>
  );
}

function Attempts({ id }: { id: string }) {
  const attempts = useGet<{ data: Attempt[] }>(`/api/v1/webhook-deliveries/${id}/attempts`);
  if (attempts.error) return <ErrorBox error={attempts.error} />;
  if (!attempts.data) return <Loading />;
  return (
    <ol className="attempts" id={'attempts-' + id}>
      {attempts.data.data.map((a) => (
        <li key={a.id}>
          <p><Status value={a.succeeded ? 'succeeded' : 'failed'} /> #{a.attempt} · {dateTime(a.startedAt)} · {a.statusCode ? `HTTP ${a.statusCode}` : a.error} · {number(a.latencyMs)} ms</p>
          {a.responseExcerpt ? <pre className="response">{a.responseExcerpt}</pre> : null}
        </li>
      ))}
    </ol>
  );
}
