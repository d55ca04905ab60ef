import { type FormEvent, useEffect, useRef, useState } from 'react';
import { api, ApiError } from '../api';
import { useGet, usePaged } from '../data';
import { dateTime, money, number, parseMoney, percent } from '../format';
import { t } from '../i18n';
import { navigate, useRoute } from '../router';
import { useCan } from '../session';
import { ErrorBox, Field, Heading, Link, Loading, Pager, Status } from '../ui';

interface Line { id: string; sku: string; name: string; quantity: number; unitPrice: number; discountTotal: number; taxTotal: number; total: number }
interface Discount { code?: string | null; name?: string | null; amount: number; campaignId?: string | null }
interface TaxLine { name?: string | null; rate: string; amount: number }
interface Address { firstName?: string; lastName?: string; company?: string; addressLine1: string; addressLine2?: string; postalCode?: string; city: string; region?: string; countryCode: string }
export interface Order {
  id: string; status: string; sessionId: string; cartId: string; currency: string; customerEmail: string | null;
  lineItems: Line[]; discounts: Discount[]; shippingMethod: { name: string; amount: number } | null; taxLines: TaxLine[];
  taxesIncluded: boolean; shippingAddress: Address | null; billingAddress: Address | null; subtotal: number;
  discountTotal: number; shippingTotal: number; taxTotal: number; total: number; itemCount: number;
  amountRefunded: number; createdAt: string; paymentId: string;
}
interface Refund { id: string; amount: number; currency: string; reason: string | null; status: string; createdAt: string; failureMessage?: string | null }
interface Payment { id: string; status: string; method: string; amount: number; currency: string; cardBrand?: string | null; cardLast4?: string | null; createdAt: string; provider?: string }

const STATUSES = ['paid', 'partially_refunded', 'refunded'];

export function OrdersPage() {
  const { query } = useRoute();
  const filters = { status: query.get('status') ?? '', email: query.get('email') ?? '',
                    createdFrom: query.get('from') ?? '', createdTo: query.get('to') ?? '' };
  const [search, setSearch] = useState(filters.email);
  const list = usePaged<Order>('/api/v1/orders', {
    limit: 25, status: filters.status, email: filters.email,
    createdFrom: filters.createdFrom ? filters.createdFrom + 'T00:00:00' + offset() : '',
    createdTo: filters.createdTo ? nextDay(filters.createdTo) + 'T00:00:00' + offset() : '',
  });
  const apply = (changes: Record<string, string>) => {
    const params = new URLSearchParams({ status: filters.status, email: filters.email, from: filters.createdFrom,
                                         to: filters.createdTo, ...changes });
    for (const [k, v] of [...params.entries()]) if (!v) params.delete(k);
    const text = params.toString();
    navigate('/orders' + (text ? '?' + text : ''), true);
  };
  const onSearch = (event: FormEvent) => {
    event.preventDefault();
    const text = search.trim();
    if (/^ord_[0-9a-z]+$/i.test(text)) navigate('/orders/' + text);
    else apply({ email: text });
  };
  return (
    <>
      <Heading>{t('orders.title')}</Heading>
      <form className="filters" role="search" onSubmit={onSearch} aria-label={t('orders.filters')}>
        <Field id="order-search" label={t('orders.search')} hint={t('orders.searchHint')}>
          <input id="order-search" type="search" value={search} aria-describedby="order-search-hint"
                 onChange={(e) => setSearch(e.target.value)} />
        </Field>
        <Field id="order-status" label={t('orders.status')}>
          <select id="order-status" value={filters.status} onChange={(e) => apply({ status: e.target.value })}>
            <option value="">{t('orders.anyStatus')}</option>
            {STATUSES.map((s) => <option key={s} value={s}>{t('status.' + s)}</option>)}
          </select>
        </Field>
        <Field id="order-from" label={t('orders.from')}>
          <input id="order-from" type="date" value={filters.createdFrom} onChange={(e) => apply({ from: e.target.value })} />
        </Field>
        <Field id="order-to" label={t('orders.to')}>
          <input id="order-to" type="date" value={filters.createdTo} onChange={(e) => apply({ to: e.target.value })} />
        </Field>
        <div className="field actions"><button type="submit">{t('orders.searchButton')}</button></div>
      </form>
      <ErrorBox error={list.error} />
      {!list.data && !list.error ? <Loading /> : null}
      {list.data ? (
        list.data.data.length === 0 ? <p className="empty">{t('orders.none')}</p> : (
          <div className="table-wrap" tabIndex={0}>
            <table className="stack">
              <caption className="visually-hidden">{t('orders.title')}</caption>
              <thead><tr>
                <th scope="col">{t('orders.order')}</th><th scope="col">{t('orders.customer')}</th>
                <th scope="col">{t('orders.status')}</th><th scope="col" className="num">{t('orders.total')}</th>
                <th scope="col">{t('orders.date')}</th>
              </tr></thead>
              <tbody>
                {list.data.data.map((o) => (
                  <tr key={o.id}>
                    <th scope="row"><Link to={'/orders/' + o.id} className="mono">{o.id}</Link></th>
                    <td data-label={t('orders.customer')}>{o.customerEmail ?? '—'}</td>
                    <td data-label={t('orders.status')}><Status value={o.status} /></td>
                    <td data-label={t('orders.total')} className="num">{money(o.total, o.currency)}</td>
                    <td data-label={t('orders.date')}>{dateTime(o.createdAt)}</td>
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

function offset(): string {
  const minutes = -new Date().getTimezoneOffset();
  const sign = minutes >= 0 ? '+' : '-';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

function nextDay(isoDate: string): string {
  const d = new Date(isoDate + 'T00:00:00Z');
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

export function OrderPage({ id }: { id: string }) {
  const can = useCan();
  const order = useGet<Order>('/api/v1/orders/' + encodeURIComponent(id));
  const refunds = useGet<{ data: Refund[] }>('/api/v1/orders/' + encodeURIComponent(id) + '/refunds');
  const payments = useGet<{ data: Payment[] }>(order.data && can('checkout:read')
    ? `/api/v1/checkout-sessions/${order.data.sessionId}/payments` : null);
  const [refunding, setRefunding] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  if (order.error) {
    return <><Heading>{t('order.title')}</Heading>
      {order.error instanceof ApiError && order.error.status === 404 ? <p>{t('order.notFound', { id })}</p> : <ErrorBox error={order.error} />}
      <p><Link to="/orders">{t('order.back')}</Link></p></>;
  }
  if (!order.data) return <Loading />;
  const o = order.data;
  const refundable = o.total - o.amountRefunded;
  return (
    <>
      <p className="breadcrumb"><Link to="/orders">{t('order.back')}</Link></p>
      <div className="page-head">
        <Heading>{t('order.heading', { total: money(o.total, o.currency) })}</Heading>
        <Status value={o.status} />
        {can('orders:write') && refundable > 0 ? (
          <button type="button" className="push" onClick={() => { setDone(null); setRefunding(true); }}>{t('refund.open')}</button>
        ) : null}
      </div>
      <p className="mono muted">{o.id}</p>
      {done ? <div className="notice success" role="status">{done}</div> : null}
      {refunding ? (
        <RefundDialog order={o} onClose={() => setRefunding(false)}
                      onRefunded={(r) => { setRefunding(false); setDone(t('refund.done', { amount: money(r.amount, r.currency) })); order.reload(); refunds.reload(); }} />
      ) : null}
      <div className="grid">
        <section className="card" aria-labelledby="summary-h">
          <h2 id="summary-h">{t('order.summary')}</h2>
          <dl className="pairs">
            <dt>{t('orders.customer')}</dt><dd>{o.customerEmail ?? '—'}</dd>
            <dt>{t('orders.date')}</dt><dd>{dateTime(o.createdAt)}</dd>
            <dt>{t('order.items')}</dt><dd>{number(o.itemCount)}</dd>
            <dt>{t('order.refunded')}</dt><dd>{money(o.amountRefunded, o.currency)}</dd>
            <dt>{t('order.cart')}</dt><dd className="mono">{o.cartId}</dd>
          </dl>
        </section>
        <section className="card" aria-labelledby="address-h">
          <h2 id="address-h">{t('order.addresses')}</h2>
          <h3>{t('order.shippingAddress')}</h3><AddressLines address={o.shippingAddress} />
          <h3>{t('order.billingAddress')}</h3><AddressLines address={o.billingAddress ?? o.shippingAddress} />
        </section>
      </div>
      <section aria-labelledby="lines-h">
        <h2 id="lines-h">{t('order.lines')}</h2>
        <div className="table-wrap" tabIndex={0}>
          <table>
            <thead><tr>
              <th scope="col">{t('order.product')}</th><th scope="col" className="num">{t('order.quantity')}</th>
              <th scope="col" className="num">{t('order.unitPrice')}</th><th scope="col" className="num">{t('order.discount')}</th>
              <th scope="col" className="num">{t('order.tax')}</th><th scope="col" className="num">{t('orders.total')}</th>
            </tr></thead>
            <tbody>
              {o.lineItems.map((l) => (
                <tr key={l.id}>
                  <th scope="row">{l.name}<br /><span className="muted mono">{l.sku}</span></th>
                  <td className="num">{number(l.quantity)}</td><td className="num">{money(l.unitPrice, o.currency)}</td>
                  <td className="num">{l.discountTotal ? '−' + money(l.discountTotal, o.currency) : '—'}</td>
                  <td className="num">{money(l.taxTotal, o.currency)}</td><td className="num">{money(l.total, o.currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <dl className="totals">
          <dt>{t('order.subtotal')}</dt><dd>{money(o.subtotal, o.currency)}</dd>
          {o.discounts.map((d, i) => (
            <div key={i} className="row"><dt>{t('order.discount')} {d.code ?? d.name ?? ''}</dt><dd>−{money(d.amount, o.currency)}</dd></div>
          ))}
          {o.shippingMethod ? <div className="row"><dt>{t('order.shipping')} ({o.shippingMethod.name})</dt><dd>{money(o.shippingTotal, o.currency)}</dd></div> : null}
          {o.taxLines.map((tl, i) => (
            <div key={i} className="row"><dt>{t(o.taxesIncluded ? 'order.taxIncluded' : 'order.taxRate', { name: tl.name ?? '', rate: percent(Number(tl.rate) / 100) })}</dt><dd>{money(tl.amount, o.currency)}</dd></div>
          ))}
          <div className="row total"><dt>{t('orders.total')}</dt><dd>{money(o.total, o.currency)}</dd></div>
        </dl>
      </section>
      {payments.data ? (
        <section aria-labelledby="payments-h">
          <h2 id="payments-h">{t('order.payments')}</h2>
          <ul className="events">
            {payments.data.data.map((p) => (
              <li key={p.id}><Status value={p.status} /> {money(p.amount, p.currency)} · {p.cardBrand ? `${p.cardBrand} •••• ${p.cardLast4 ?? ''}` : p.method} · {dateTime(p.createdAt)} <span className="mono muted">{p.id}</span></li>
            ))}
          </ul>
        </section>
      ) : null}
      <section aria-labelledby="refunds-h">
        <h2 id="refunds-h">{t('order.refunds')}</h2>
        {refunds.data && refunds.data.data.length === 0 ? <p className="muted">{t('order.noRefunds')}</p> : null}
        <ul className="events">
          {refunds.data?.data.map((r) => (
            <li key={r.id}><Status value={r.status} /> {money(r.amount, r.currency)} · {dateTime(r.createdAt)}{r.reason ? ` · ${r.reason}` : ''} <span className="mono muted">{r.id}</span></li>
          ))}
        </ul>
      </section>
    </>
  );
}

function AddressLines({ address }: { address: Address | null }) {
  if (!address) return <p className="muted">—</p>;
  const name = [address.firstName, address.lastName].filter(Boolean).join(' ');
  return (
    <address>
      {[name, address.company, address.addressLine1, address.addressLine2,
        [address.postalCode, address.city].filter(Boolean).join(' '), address.region, address.countryCode]
        .filter(Boolean).map((line, i) => <span key={i}>{line}<br /></span>)}
    </address>
  );
}

function RefundDialog({ order, onClose, onRefunded }: { order: Order; onClose: () => void; onRefunded: (r: Refund) => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const refundable = order.total - order.amountRefunded;
  const [kind, setKind] = useState<'full' | 'partial'>('full');
  const [amount, setAmount] = useState('');
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
    return () => { if (d?.open) d.close(); };
  }, []);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    let minor: number | null = refundable;
    if (kind === 'partial') {
      minor = parseMoney(amount, order.currency);
      if (minor === null || minor <= 0) { setError(t('refund.badAmount')); return; }
      if (minor > refundable) { setError(t('refund.tooMuch', { amount: money(refundable, order.currency) })); return; }
    }
    setBusy(true);
    try {
      const refund = await api<Refund>('POST', `/api/v1/orders/${order.id}/refunds`,
                                       { amount: minor, ...(reason.trim() ? { reason: reason.trim() } : {}) });
      onRefunded(refund);
    } catch (e) {
      setError(e instanceof ApiError ? (e.status === 403 ? t('error.forbidden') : e.message) : t('error.generic'));
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={dialog} aria-labelledby="refund-h" onCancel={(e) => { e.preventDefault(); onClose(); }}>
      <form onSubmit={submit} method="dialog">
        <h2 id="refund-h">{t('refund.title')}</h2>
        <p>{t('refund.refundable', { amount: money(refundable, order.currency) })}</p>
        {error ? <div className="notice error" role="alert">{error}</div> : null}
        <fieldset>
          <legend>{t('refund.kind')}</legend>
          <label className="choice"><input type="radio" name="kind" value="full" checked={kind === 'full'} onChange={() => setKind('full')} /> {t('refund.full', { amount: money(refundable, order.currency) })}</label>
          <label className="choice"><input type="radio" name="kind" value="partial" checked={kind === 'partial'} onChange={() => setKind('partial')} /> {t('refund.partial')}</label>
        </fieldset>
        {kind === 'partial' ? (
          <Field id="refund-amount" label={t('refund.amount', { currency: order.currency })}>
            <input id="refund-amount" inputMode="decimal" required value={amount} autoComplete="off" onChange={(e) => setAmount(e.target.value)} />
          </Field>
        ) : null}
        <Field id="refund-reason" label={t('refund.reason')}>
          <input id="refund-reason" maxLength={500} value={reason} onChange={(e) => setReason(e.target.value)} />
        </Field>
        <div className="buttons">
          <button type="button" className="secondary" onClick={onClose}>{t('cancel')}</button>
          <button type="submit" disabled={busy}>{busy ? t('refund.busy') : t('refund.submit')}</button>
        </div>
      </form>
    </dialog>
  );
}
