// Campaigns and their codes: the list with the API's filters, one campaign's stats and codes, a form
// for the common campaigns (the rest keep what the API set), generated codes and a CSV import sent in
// parts so that a large file shows real progress and a refused row does not sink the others.
import { type FormEvent, useState } from 'react';
import { api, ApiError } from '../api';
import { useGet, usePaged } from '../data';
import { dateTime, exponent, money, number, parseMoney } from '../format';
import { t } from '../i18n';
import { navigate, useRoute } from '../router';
import { useCan } from '../session';
import { ErrorBox, Field, Heading, Link, Loading, Pager, Status } from '../ui';

type Amounts = Record<string, number>;
interface Reward { type: string; percent?: number | string; amounts?: Amounts; [k: string]: unknown }
interface Campaign {
  id: string; name: string; trigger: 'automatic' | 'code'; reward: Reward; items: Record<string, unknown> | null;
  rules: Record<string, unknown> | null; startsAt: string | null; endsAt: string | null; currency: string | null;
  usageLimit: number | null; active: boolean; createdAt: string; updatedAt: string; type: string; status: string;
  groupId: string | null; archived: boolean;
}
interface Stats { uses: number; reservedUses: number; usesLeft: number | null; discountGranted: number; codes: number; budgetLeft: number | null }
interface Code { id: string; code: string; status: string; usageLimit: number | null; uses: number; assignedTo: string | null; expiresAt: string | null; createdAt: string }
interface Group { id: string; name: string }

const TYPES = ['promotion', 'discount_codes', 'gift_cards'];
const STATUSES = ['active', 'scheduled', 'expired', 'inactive'];
const SORTS = ['-createdAt', 'createdAt', '-updatedAt', 'updatedAt'];
const CODE_STATUSES = ['created', 'distributed', 'assigned', 'active', 'reserved', 'redeemed', 'expired', 'deactivated'];
const FORM_REWARDS = ['percent_off', 'fixed_off', 'free_shipping'];
const CODE_TEXT = /^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$/;
export const IMPORT_CHUNK = 1000;  // codes per request: ten parts for 10,000 codes

function rewardText(c: Campaign): string {
  const r = c.reward;
  const amounts = (a?: Amounts) => Object.entries(a ?? {}).map(([cur, v]) => money(v, cur)).join(' / ');
  if (r.type === 'percent_off') return t('campaigns.reward.percentText', { percent: String(r.percent) });
  if (r.type === 'fixed_off') return t('campaigns.reward.fixedText', { amount: amounts(r.amounts) });
  if (r.type === 'shipping_off') return r.percent !== undefined && Number(r.percent) === 100 ? t('campaigns.reward.free_shipping')
    : t('campaigns.reward.shippingText');
  return r.type;
}

export function CampaignsPage() {
  const { query } = useRoute();
  const can = useCan();
  const keys = ['q', 'type', 'group', 'active', 'status', 'archived', 'sort'] as const;
  const filters = Object.fromEntries(keys.map((k) => [k, query.get(k) ?? ''])) as Record<typeof keys[number], string>;
  const [search, setSearch] = useState(filters.q);
  const groups = useGet<{ data: Group[] }>('/api/v1/campaign-groups', { limit: 100 });
  const list = usePaged<Campaign>('/api/v1/campaigns', { limit: 25, ...filters, archived: filters.archived ? 'true' : '' });
  const apply = (changes: Record<string, string>) => {
    const params = new URLSearchParams({ ...filters, ...changes });
    for (const [k, v] of [...params.entries()]) if (!v) params.delete(k);
    const text = params.toString();
    navigate('/campaigns' + (text ? '?' + text : ''), true);
  };
  const select = (id: string, key: typeof keys[number], label: string, values: string[], name: (v: string) => string) => (
    <Field id={id} label={label}>
      <select id={id} value={filters[key]} onChange={(e) => apply({ [key]: e.target.value })}>
        {values.map((v) => <option key={v} value={v}>{name(v)}</option>)}
      </select>
    </Field>
  );
  return (
    <>
      <div className="page-head">
        <Heading>{t('campaigns.title')}</Heading>
        {can('promotions:write') ? <button type="button" className="push" onClick={() => navigate('/campaigns/new')}>{t('campaigns.new')}</button> : null}
      </div>
      <form className="filters" role="search" aria-label={t('campaigns.filters')}
            onSubmit={(e) => { e.preventDefault(); apply({ q: search.trim() }); }}>
        <Field id="campaign-search" label={t('campaigns.search')}>
          <input id="campaign-search" type="search" value={search} onChange={(e) => setSearch(e.target.value)} />
        </Field>
        {select('campaign-type', 'type', t('campaigns.type'), ['', ...TYPES], (v) => (v ? t('campaigns.type.' + v) : t('campaigns.any')))}
        {select('campaign-status', 'status', t('campaigns.status'), ['', ...STATUSES], (v) => (v ? t('status.' + v) : t('campaigns.any')))}
        {select('campaign-active', 'active', t('campaigns.switchedOn'), ['', 'true', 'false'], (v) => (v ? t('campaigns.active.' + v) : t('campaigns.any')))}
        <Field id="campaign-group" label={t('campaigns.group')}>
          <select id="campaign-group" value={filters.group} onChange={(e) => apply({ group: e.target.value })}>
            <option value="">{t('campaigns.any')}</option>
            {(groups.data?.data ?? []).map((g) => <option key={g.id} value={g.id}>{g.name}</option>)}
          </select>
        </Field>
        {select('campaign-sort', 'sort', t('campaigns.sort'), SORTS, (v) => t('campaigns.sort.' + v))}
        <label className="choice"><input type="checkbox" checked={!!filters.archived}
               onChange={(e) => apply({ archived: e.target.checked ? 'true' : '' })} /> {t('campaigns.archivedOnly')}</label>
        <div className="field actions"><button type="submit">{t('campaigns.searchButton')}</button></div>
      </form>
      <ErrorBox error={list.error} />
      {!list.data && !list.error ? <Loading /> : null}
      {list.data ? (
        list.data.data.length === 0 ? <p className="empty">{t('campaigns.none')}</p> : (
          <div className="table-wrap" tabIndex={0}>
            <table className="stack">
              <caption className="visually-hidden">{t('campaigns.title')}</caption>
              <thead><tr>
                <th scope="col">{t('campaigns.name')}</th><th scope="col">{t('campaigns.type')}</th>
                <th scope="col">{t('campaigns.reward')}</th><th scope="col">{t('campaigns.status')}</th>
                <th scope="col">{t('campaigns.created')}</th>
              </tr></thead>
              <tbody>
                {list.data.data.map((c) => (
                  <tr key={c.id}>
                    <th scope="row"><Link to={'/campaigns/' + c.id}>{c.name}</Link></th>
                    <td data-label={t('campaigns.type')}>{t('campaigns.type.' + c.type)}</td>
                    <td data-label={t('campaigns.reward')}>{rewardText(c)}</td>
                    <td data-label={t('campaigns.status')}><Status value={c.archived ? 'archived' : c.status} /></td>
                    <td data-label={t('campaigns.created')}>{dateTime(c.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      ) : null}
      <Pager {...list} />
    </>
  );
}

export function CampaignPage({ id }: { id: string }) {
  const can = useCan();
  const path = '/api/v1/campaigns/' + encodeURIComponent(id);
  const campaign = useGet<Campaign>(path);
  const stats = useGet<Stats>(path + '/stats');
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  if (campaign.error) return <><Heading>{t('campaigns.campaign')}</Heading><ErrorBox error={campaign.error} /><p><Link to="/campaigns">{t('campaigns.back')}</Link></p></>;
  if (!campaign.data) return <Loading />;
  const c = campaign.data;
  const act = async (action: string, done: string) => {
    setError(null);
    setNotice(null);
    try { await api('POST', `${path}/${action}`); setNotice(done); campaign.reload(); } catch (e) { setError(e); }
  };
  const writable = can('promotions:write');
  const amount = (v: number) => (c.currency ? money(v, c.currency) : number(v));
  return (
    <>
      <p className="breadcrumb"><Link to="/campaigns">{t('campaigns.back')}</Link></p>
      <div className="page-head">
        <Heading>{c.name}</Heading>
        <Status value={c.archived ? 'archived' : c.status} />
        {writable ? (
          <div className="buttons push">
            {!c.archived ? <button type="button" className="secondary" onClick={() => navigate(`/campaigns/${c.id}/edit`)}>{t('campaigns.edit')}</button> : null}
            {!c.archived ? (c.active
              ? <button type="button" className="secondary" onClick={() => void act('deactivate', t('campaigns.deactivated'))}>{t('campaigns.deactivate')}</button>
              : <button type="button" className="secondary" onClick={() => void act('activate', t('campaigns.activated'))}>{t('campaigns.activate')}</button>) : null}
            {c.archived
              ? <button type="button" className="secondary" onClick={() => void act('unarchive', t('campaigns.unarchived'))}>{t('campaigns.unarchive')}</button>
              : <button type="button" className="danger" onClick={() => void act('archive', t('campaigns.archivedNotice'))}>{t('campaigns.archive')}</button>}
          </div>
        ) : null}
      </div>
      <div role="status">{notice ? <p className="notice success">{notice}</p> : null}</div>
      <ErrorBox error={error} />
      <dl className="pairs">
        <dt>{t('campaigns.type')}</dt><dd>{t('campaigns.type.' + c.type)}</dd>
        <dt>{t('campaigns.trigger')}</dt><dd>{t('campaigns.trigger.' + c.trigger)}</dd>
        <dt>{t('campaigns.reward')}</dt><dd>{rewardText(c)}</dd>
        <dt>{t('campaigns.dates')}</dt><dd>{!c.startsAt && !c.endsAt ? t('campaigns.always') : `${c.startsAt ? dateTime(c.startsAt) : '…'} – ${c.endsAt ? dateTime(c.endsAt) : '…'}`}</dd>
        <dt className="mono">id</dt><dd className="mono">{c.id}</dd>
      </dl>
      <section aria-labelledby="stats-h">
        <h2 id="stats-h">{t('campaigns.stats')}</h2>
        <ErrorBox error={stats.error} />
        {stats.data ? (
          <ul className="kpis">
            <li><span className="kpi-label">{t('campaigns.stats.uses')}</span><span className="kpi">{number(stats.data.uses)}</span>
              <span className="kpi-sub">{t('campaigns.stats.reserved', { count: number(stats.data.reservedUses) })}</span></li>
            <li><span className="kpi-label">{t('campaigns.stats.usesLeft')}</span><span className="kpi">{stats.data.usesLeft === null ? '∞' : number(stats.data.usesLeft)}</span></li>
            <li><span className="kpi-label">{t('campaigns.stats.granted')}</span><span className="kpi">{amount(stats.data.discountGranted)}</span></li>
            <li><span className="kpi-label">{t('campaigns.stats.codes')}</span><span className="kpi">{number(stats.data.codes)}</span></li>
          </ul>
        ) : <Loading />}
      </section>
      {c.trigger === 'code' ? <Codes campaign={c} writable={writable && !c.archived} onChanged={stats.reload} /> : null}
    </>
  );
}

function Codes({ campaign, writable, onChanged }: { campaign: Campaign; writable: boolean; onChanged: () => void }) {
  const [status, setStatus] = useState('');
  const list = usePaged<Code>(`/api/v1/campaigns/${campaign.id}/codes`, { limit: 25, status });
  const changed = () => { list.reload(); onChanged(); };
  return (
    <section aria-labelledby="codes-h">
      <h2 id="codes-h">{t('codes.title')}</h2>
      {writable ? <div className="grid"><GenerateCodes campaign={campaign} onDone={changed} /><ImportCodes campaign={campaign} onDone={changed} /></div> : null}
      <div className="filters">
        <Field id="code-status" label={t('codes.status')}>
          <select id="code-status" value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">{t('campaigns.any')}</option>
            {CODE_STATUSES.map((s) => <option key={s} value={s}>{t('status.' + s)}</option>)}
          </select>
        </Field>
      </div>
      <ErrorBox error={list.error} />
      {!list.data && !list.error ? <Loading /> : null}
      {list.data ? (
        list.data.data.length === 0 ? <p className="empty">{t('codes.none')}</p> : (
          <div className="table-wrap" tabIndex={0}>
            <table className="stack">
              <caption className="visually-hidden">{t('codes.title')}</caption>
              <thead><tr><th scope="col">{t('codes.code')}</th><th scope="col">{t('codes.status')}</th>
                <th scope="col" className="num">{t('codes.uses')}</th><th scope="col">{t('codes.assignedTo')}</th>
                <th scope="col">{t('codes.expires')}</th></tr></thead>
              <tbody>
                {list.data.data.map((c) => (
                  <tr key={c.id}>
                    <th scope="row" className="mono">{c.code}</th>
                    <td data-label={t('codes.status')}><Status value={c.status} /></td>
                    <td data-label={t('codes.uses')} className="num">{number(c.uses)}{c.usageLimit !== null ? ' / ' + number(c.usageLimit) : ''}</td>
                    <td data-label={t('codes.assignedTo')}>{c.assignedTo ?? '—'}</td>
                    <td data-label={t('codes.expires')}>{c.expiresAt ? dateTime(c.expiresAt) : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      ) : null}
      <Pager {...list} />
    </section>
  );
}

function GenerateCodes({ campaign, onDone }: { campaign: Campaign; onDone: () => void }) {
  const [count, setCount] = useState('100');
  const [prefix, setPrefix] = useState('');
  const [pattern, setPattern] = useState('########');
  const [limit, setLimit] = useState('1');
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const made = await api<{ created: number }>('POST', `/api/v1/campaigns/${campaign.id}/codes`, {
        count: Number(count), prefix, pattern, usageLimit: limit ? Number(limit) : null });
      setNotice(t('codes.generated', { count: number(made.created) }));
      onDone();
    } catch (e) { setError(e); } finally { setBusy(false); }
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="generate-h">
      <h3 id="generate-h">{t('codes.generate')}</h3>
      <ErrorBox error={error} />
      <Field id="gen-count" label={t('codes.count')}>
        <input id="gen-count" type="number" min={1} max={100000} required value={count} onChange={(e) => setCount(e.target.value)} />
      </Field>
      <Field id="gen-prefix" label={t('codes.prefix')}>
        <input id="gen-prefix" maxLength={20} pattern="[A-Za-z0-9_\-]*" value={prefix} onChange={(e) => setPrefix(e.target.value)} />
      </Field>
      <Field id="gen-pattern" label={t('codes.pattern')} hint={t('codes.patternHint')}>
        <input id="gen-pattern" required minLength={4} maxLength={40} value={pattern} aria-describedby="gen-pattern-hint"
               onChange={(e) => setPattern(e.target.value)} />
      </Field>
      <Field id="gen-limit" label={t('codes.usageLimit')}>
        <input id="gen-limit" type="number" min={1} value={limit} onChange={(e) => setLimit(e.target.value)} />
      </Field>
      <div role="status">{notice ? <p className="notice success">{notice}</p> : null}</div>
      <div className="buttons"><button type="submit" disabled={busy}>{t('codes.generateButton')}</button></div>
    </form>
  );
}

interface Row { line: number; code: string }
interface Refused { line: number; code: string; reason: string }

/** The first column of each CSV line, with its line number (a `code` header is skipped). */
export function readCsv(text: string): { rows: Row[]; refused: Refused[] } {
  const rows: Row[] = [];
  const refused: Refused[] = [];
  const seen = new Map<string, number>();
  text.replace(/^\uFEFF/, '').split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    let code = (raw.split(',')[0] ?? '').trim();
    if (code.startsWith('"') && code.endsWith('"') && code.length > 1) code = code.slice(1, -1).trim();
    if (!code || (line === 1 && code.toLowerCase() === 'code')) return;
    const key = code.toUpperCase();
    if (!CODE_TEXT.test(code)) refused.push({ line, code, reason: t('import.badText') });
    else if (seen.has(key)) refused.push({ line, code, reason: t('import.twice', { line: seen.get(key) ?? 0 }) });
    else { seen.set(key, line); rows.push({ line, code }); }
  });
  return { rows, refused };
}

function ImportCodes({ campaign, onDone }: { campaign: Campaign; onDone: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);
  const [refused, setRefused] = useState<Refused[]>([]);
  const [summary, setSummary] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const url = `/api/v1/campaigns/${campaign.id}/codes/import`;

  // The API takes a part whole or not at all; a refused part is halved until the refused rows stand
  // alone, so every other row still goes in and each refusal keeps the API's own reason.
  const send = async (rows: Row[], out: Refused[]): Promise<number> => {
    try {
      const made = await api<{ created: number }>('POST', url, { codes: rows.map((r) => r.code), usageLimit: 1 });
      return made.created;
    } catch (e) {
      if (!(e instanceof ApiError) || e.status < 400 || e.status >= 500 || e.status === 401 || e.status === 403) throw e;
      if (rows.length === 1) { out.push({ ...rows[0]!, reason: e.message }); return 0; }
      const half = Math.ceil(rows.length / 2);
      return (await send(rows.slice(0, half), out)) + (await send(rows.slice(half), out));
    }
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!file) return;
    setBusy(true);
    setError(null);
    setSummary('');
    const { rows, refused: bad } = readCsv(await file.text());
    const parts: Row[][] = [];
    for (let i = 0; i < rows.length; i += IMPORT_CHUNK) parts.push(rows.slice(i, i + IMPORT_CHUNK));
    const total = Math.max(parts.length, 1);
    setRefused([...bad]);
    setProgress({ done: 0, total });
    let created = 0;
    try {
      for (const [i, part] of parts.entries()) {
        created += await send(part, bad);
        setProgress({ done: i + 1, total });
        setRefused([...bad]);
      }
      if (parts.length === 0) setProgress({ done: 1, total: 1 });
      bad.sort((a, b) => a.line - b.line);
      setRefused([...bad]);
      setSummary(t('import.done', { created: number(created), refused: number(bad.length) }));
      onDone();
    } catch (e) {
      setError(e);
      setSummary(t('import.stopped', { created: number(created) }));
    } finally { setBusy(false); }
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="import-h">
      <h3 id="import-h">{t('import.title')}</h3>
      <p className="hint">{t('import.hint')}</p>
      <ErrorBox error={error} />
      <Field id="import-file" label={t('import.file')}>
        <input id="import-file" type="file" accept=".csv,text/csv" required onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
      </Field>
      {progress ? (
        <div className="field">
          <label htmlFor="import-progress">{t('import.progress')}</label>
          <progress id="import-progress" max={progress.total} value={progress.done}>{progress.done} / {progress.total}</progress>
          <span className="hint">{t('import.parts', { done: number(progress.done), total: number(progress.total) })}</span>
        </div>
      ) : null}
      <div role="status" aria-live="polite">{summary ? <p className="notice success">{summary}</p> : null}</div>
      {refused.length > 0 ? (
        <div className="table-wrap" tabIndex={0}>
          <table>
            <caption>{t('import.refused')}</caption>
            <thead><tr><th scope="col" className="num">{t('import.row')}</th><th scope="col">{t('codes.code')}</th><th scope="col">{t('import.reason')}</th></tr></thead>
            <tbody>
              {refused.slice(0, 500).map((r) => (
                <tr key={r.line}><td className="num">{r.line}</td><td className="mono break">{r.code}</td><td>{r.reason}</td></tr>
              ))}
            </tbody>
          </table>
          {refused.length > 500 ? <p className="hint">{t('import.more', { count: number(refused.length - 500) })}</p> : null}
        </div>
      ) : null}
      <div className="buttons"><button type="submit" disabled={busy || !file}>{t('import.button')}</button></div>
    </form>
  );
}

// ---- The form: what most campaigns need; anything else the campaign has is kept as the API set it.

interface AmountRow { currency: string; amount: string }

function toRows(a: unknown): AmountRow[] {
  return Object.entries((a as Amounts | undefined) ?? {}).map(([currency, v]) => {
    const d = exponent(currency);
    return { currency, amount: number(v / 10 ** d, { minimumFractionDigits: d, maximumFractionDigits: d, useGrouping: false }) };
  });
}

function AmountsEditor({ id, legend, rows, onChange }: { id: string; legend: string; rows: AmountRow[]; onChange: (r: AmountRow[]) => void }) {
  const set = (i: number, change: Partial<AmountRow>) => onChange(rows.map((r, j) => (j === i ? { ...r, ...change } : r)));
  return (
    <fieldset>
      <legend>{legend}</legend>
      {rows.map((r, i) => (
        <div className="field-row" key={i}>
          <Field id={`${id}-cur-${i}`} label={t('campaigns.form.currency')}>
            <input id={`${id}-cur-${i}`} size={4} maxLength={3} value={r.currency} onChange={(e) => set(i, { currency: e.target.value.toUpperCase() })} />
          </Field>
          <Field id={`${id}-amt-${i}`} label={t('campaigns.form.amountIn', { currency: r.currency || '…' })}>
            <input id={`${id}-amt-${i}`} inputMode="decimal" value={r.amount} onChange={(e) => set(i, { amount: e.target.value })} />
          </Field>
          <button type="button" className="secondary small" aria-label={t('campaigns.form.removeCurrency', { currency: r.currency })}
                  onClick={() => onChange(rows.filter((_, j) => j !== i))}>{t('campaigns.form.remove')}</button>
        </div>
      ))}
      <button type="button" className="secondary small" onClick={() => onChange([...rows, { currency: '', amount: '' }])}>{t('campaigns.form.addCurrency')}</button>
    </fieldset>
  );
}

const list = (text: string) => text.split(',').map((s) => s.trim()).filter(Boolean);
const joined = (v: unknown) => (Array.isArray(v) ? v.join(', ') : '');
const localTime = (iso: string | null) => {
  if (!iso) return '';
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
};

function rewardKind(r: Reward | undefined): string {
  if (!r) return 'percent_off';
  if (r.type === 'shipping_off' && r.percent !== undefined && Number(r.percent) === 100) return 'free_shipping';
  return r.type;
}

export function CampaignFormPage({ id }: { id?: string }) {
  const existing = useGet<Campaign>(id ? '/api/v1/campaigns/' + encodeURIComponent(id) : null);
  if (id && existing.error) return <><Heading>{t('campaigns.edit')}</Heading><ErrorBox error={existing.error} /></>;
  if (id && !existing.data) return <Loading />;
  return <CampaignForm campaign={existing.data ?? undefined} />;
}

function CampaignForm({ campaign }: { campaign?: Campaign }) {
  const items = campaign?.items ?? {};
  const rules = campaign?.rules ?? {};
  const [name, setName] = useState(campaign?.name ?? '');
  const [trigger, setTrigger] = useState<'automatic' | 'code'>(campaign?.trigger ?? 'code');
  const [kind, setKind] = useState(rewardKind(campaign?.reward));
  const [percentText, setPercent] = useState(campaign?.reward.type === 'percent_off' ? String(campaign.reward.percent) : '10');
  const [fixed, setFixed] = useState<AmountRow[]>(campaign?.reward.type === 'fixed_off' ? toRows(campaign.reward.amounts) : [{ currency: 'EUR', amount: '' }]);
  const [minimum, setMinimum] = useState<AmountRow[]>(toRows(rules.minSubtotal));
  const [categories, setCategories] = useState(joined(items.categories));
  const [products, setProducts] = useState(joined(items.productIds));
  const [variants, setVariants] = useState(joined(items.variantIds));
  const [segments, setSegments] = useState(joined(rules.segments));
  const [startsAt, setStartsAt] = useState(localTime(campaign?.startsAt ?? null));
  const [endsAt, setEndsAt] = useState(localTime(campaign?.endsAt ?? null));
  const [usageLimit, setUsageLimit] = useState(campaign?.usageLimit ? String(campaign.usageLimit) : '');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const advanced = campaign !== undefined && !FORM_REWARDS.includes(rewardKind(campaign.reward));

  const amounts = (rows: AmountRow[], what: string): Amounts | null => {
    const out: Amounts = {};
    for (const r of rows) {
      if (!r.currency && !r.amount) continue;
      const minor = /^[A-Z]{3}$/.test(r.currency) ? parseMoney(r.amount, r.currency) : null;
      if (minor === null) throw new ApiError(422, 'validation_error', t('campaigns.form.badAmount', { what }));
      out[r.currency] = minor;
    }
    return Object.keys(out).length ? out : null;
  };

  // The same kind of reward keeps what only the API sets on it (e.g. a percentage's maximum discount).
  const kept = (type: string): Partial<Reward> => (campaign?.reward.type === type ? campaign.reward : {});

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      let reward: Reward | undefined;
      if (!advanced) {
        if (kind === 'percent_off') {
          const p = Number(percentText.replace(',', '.'));
          if (!(p > 0 && p <= 100)) throw new ApiError(422, 'validation_error', t('campaigns.form.badPercent'));
          reward = { ...kept('percent_off'), type: 'percent_off', percent: p };
        } else if (kind === 'fixed_off') {
          const a = amounts(fixed, t('campaigns.reward.fixed_off'));
          if (!a) throw new ApiError(422, 'validation_error', t('campaigns.form.badAmount', { what: t('campaigns.reward.fixed_off') }));
          reward = { ...kept('fixed_off'), type: 'fixed_off', amounts: a };
        } else {
          reward = { type: 'shipping_off', percent: 100 };
        }
      }
      const min = amounts(minimum, t('campaigns.form.minSubtotal'));
      // Fields the form does not show (exclusions, emails, limits per customer…) stay as they were.
      const nextItems: Record<string, unknown> = { ...items, categories: list(categories), productIds: list(products), variantIds: list(variants) };
      for (const k of ['categories', 'productIds', 'variantIds']) if ((nextItems[k] as string[]).length === 0) delete nextItems[k];
      const nextRules: Record<string, unknown> = { ...rules, segments: list(segments), minSubtotal: min };
      if ((nextRules.segments as string[]).length === 0) delete nextRules.segments;
      if (!min) delete nextRules.minSubtotal;
      const body: Record<string, unknown> = {
        name: name.trim(),
        ...(reward ? { reward } : {}),
        items: Object.keys(nextItems).length ? nextItems : null,
        rules: Object.keys(nextRules).length ? nextRules : null,
        startsAt: startsAt ? new Date(startsAt).toISOString() : null,
        endsAt: endsAt ? new Date(endsAt).toISOString() : null,
        usageLimit: usageLimit ? Number(usageLimit) : null,
      };
      setBusy(true);
      const saved = campaign ? await api<Campaign>('PATCH', '/api/v1/campaigns/' + campaign.id, body)
        : await api<Campaign>('POST', '/api/v1/campaigns', { ...body, trigger });
      navigate('/campaigns/' + saved.id);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <p className="breadcrumb"><Link to={campaign ? '/campaigns/' + campaign.id : '/campaigns'}>{t('campaigns.back')}</Link></p>
      <Heading>{campaign ? t('campaigns.editTitle', { name: campaign.name }) : t('campaigns.new')}</Heading>
      <form className="card campaign-form" onSubmit={submit} aria-label={campaign ? t('campaigns.edit') : t('campaigns.new')} noValidate>
        <ErrorBox error={error} />
        <Field id="cf-name" label={t('campaigns.name')}>
          <input id="cf-name" required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <fieldset>
          <legend>{t('campaigns.trigger')}</legend>
          {(['code', 'automatic'] as const).map((v) => (
            <label key={v} className="choice"><input type="radio" name="trigger" value={v} checked={trigger === v} disabled={!!campaign}
                   onChange={() => setTrigger(v)} /> {t('campaigns.trigger.' + v)}</label>
          ))}
          {campaign ? <p className="hint">{t('campaigns.form.triggerFixed')}</p> : null}
        </fieldset>
        <fieldset>
          <legend>{t('campaigns.reward')}</legend>
          {advanced ? <p className="hint">{t('campaigns.form.advancedReward', { type: campaign?.reward.type ?? '' })}</p> : (
            <>
              {FORM_REWARDS.map((v) => (
                <label key={v} className="choice"><input type="radio" name="reward" value={v} checked={kind === v}
                       onChange={() => setKind(v)} /> {t('campaigns.reward.' + v)}</label>
              ))}
              {kind === 'percent_off' ? (
                <Field id="cf-percent" label={t('campaigns.form.percent')}>
                  <input id="cf-percent" inputMode="decimal" value={percentText} onChange={(e) => setPercent(e.target.value)} />
                </Field>
              ) : null}
              {kind === 'fixed_off' ? <AmountsEditor id="cf-fixed" legend={t('campaigns.form.fixedAmounts')} rows={fixed} onChange={setFixed} /> : null}
            </>
          )}
        </fieldset>
        <fieldset>
          <legend>{t('campaigns.form.conditions')}</legend>
          <AmountsEditor id="cf-min" legend={t('campaigns.form.minSubtotal')} rows={minimum} onChange={setMinimum} />
          <Field id="cf-categories" label={t('campaigns.form.categories')} hint={t('campaigns.form.listHint')}>
            <input id="cf-categories" value={categories} aria-describedby="cf-categories-hint" onChange={(e) => setCategories(e.target.value)} />
          </Field>
          <Field id="cf-products" label={t('campaigns.form.products')}>
            <input id="cf-products" value={products} onChange={(e) => setProducts(e.target.value)} />
          </Field>
          <Field id="cf-variants" label={t('campaigns.form.variants')}>
            <input id="cf-variants" value={variants} onChange={(e) => setVariants(e.target.value)} />
          </Field>
          <Field id="cf-segments" label={t('campaigns.form.segments')}>
            <input id="cf-segments" value={segments} onChange={(e) => setSegments(e.target.value)} />
          </Field>
          <div className="field-row">
            <Field id="cf-starts" label={t('campaigns.form.startsAt')}>
              <input id="cf-starts" type="datetime-local" value={startsAt} onChange={(e) => setStartsAt(e.target.value)} />
            </Field>
            <Field id="cf-ends" label={t('campaigns.form.endsAt')}>
              <input id="cf-ends" type="datetime-local" value={endsAt} onChange={(e) => setEndsAt(e.target.value)} />
            </Field>
          </div>
          <Field id="cf-limit" label={t('campaigns.form.usageLimit')}>
            <input id="cf-limit" type="number" min={1} value={usageLimit} onChange={(e) => setUsageLimit(e.target.value)} />
          </Field>
        </fieldset>
        <p className="hint">{t('campaigns.form.apiNote')}</p>
        <div className="buttons">
          <button type="button" className="secondary" onClick={() => navigate(campaign ? '/campaigns/' + campaign.id : '/campaigns')}>{t('cancel')}</button>
          <button type="submit" disabled={busy}>{t('save')}</button>
        </div>
      </form>
    </>
  );
}
