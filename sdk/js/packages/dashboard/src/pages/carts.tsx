import { Fragment, useState } from 'react';
import { useGet, usePaged } from '../data';
import { dateTime, money, number } from '../format';
import { t } from '../i18n';
import { ErrorBox, Field, Heading, Link, Loading, Pager, Status } from '../ui';

interface Abandoned { id: string; cartId: string; customer: { email: string | null } | null; currency: string; total: number;
                      itemCount: number; abandonedAt: string; recoveryStatus: string; orderId?: string | null }
interface CartLine { id: string; name: string; sku: string; quantity: number; total: number }
interface Cart { id: string; currency: string; lineItems: CartLine[]; total: number; recoveryUrl?: string | null }
interface Config { cartRecoveryUrlTemplate: string | null }

export function CartsPage() {
  const [status, setStatus] = useState('');
  const list = usePaged<Abandoned>('/api/v1/abandoned-carts', { limit: 25, recoveryStatus: status });
  const config = useGet<Config>('/api/v1/embed-config');
  const [open, setOpen] = useState<string | null>(null);
  return (
    <>
      <Heading>{t('carts.title')}</Heading>
      <div className="filters">
        <Field id="recovery-status" label={t('carts.recoveryStatus')}>
          <select id="recovery-status" value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">{t('orders.anyStatus')}</option>
            {['not_contacted', 'contacted', 'recovered'].map((s) => <option key={s} value={s}>{t('status.' + s)}</option>)}
          </select>
        </Field>
      </div>
      <ErrorBox error={list.error} />
      {!list.data && !list.error ? <Loading /> : null}
      {list.data && list.data.data.length === 0 ? <p className="empty">{t('carts.none')}</p> : null}
      {list.data && list.data.data.length > 0 ? (
        <div className="table-wrap" tabIndex={0}>
          <table className="stack">
            <caption className="visually-hidden">{t('carts.title')}</caption>
            <thead><tr><th scope="col">{t('carts.cart')}</th><th scope="col">{t('orders.customer')}</th><th scope="col">{t('carts.recoveryStatus')}</th>
              <th scope="col" className="num">{t('order.items')}</th><th scope="col" className="num">{t('orders.total')}</th><th scope="col">{t('carts.abandonedAt')}</th></tr></thead>
            <tbody>
              {list.data.data.map((a) => (
                <Fragment key={a.id}>
                  <tr>
                    <th scope="row">
                      <button type="button" className="linklike mono" aria-expanded={open === a.id} aria-controls={'cart-' + a.id}
                              onClick={() => setOpen(open === a.id ? null : a.id)}>{a.cartId}</button>
                    </th>
                    <td data-label={t('orders.customer')}>{a.customer?.email ?? '—'}</td>
                    <td data-label={t('carts.recoveryStatus')}><Status value={a.recoveryStatus} />{a.orderId ? <> <Link to={'/orders/' + a.orderId} className="mono">{a.orderId}</Link></> : null}</td>
                    <td data-label={t('order.items')} className="num">{number(a.itemCount)}</td>
                    <td data-label={t('orders.total')} className="num">{money(a.total, a.currency)}</td>
                    <td data-label={t('carts.abandonedAt')}>{dateTime(a.abandonedAt)}</td>
                  </tr>
                  {open === a.id ? (
                    <tr id={'cart-' + a.id}><td colSpan={6}><CartContents id={a.cartId} template={config.data?.cartRecoveryUrlTemplate ?? null} /></td></tr>
                  ) : null}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <Pager {...list} />
    </>
  );
}

function CartContents({ id, template }: { id: string; template: string | null }) {
  const cart = useGet<Cart>('/api/v1/carts/' + encodeURIComponent(id));
  if (cart.error) return <ErrorBox error={cart.error} />;
  if (!cart.data) return <Loading />;
  const link = template ? template.replace('{cartId}', id) : null;
  return (
    <div className="cart-contents">
      <ul>
        {cart.data.lineItems.map((l) => <li key={l.id}>{number(l.quantity)} × {l.name} <span className="muted mono">{l.sku}</span> — {money(l.total, cart.data!.currency)}</li>)}
      </ul>
      <p>{t('carts.recoveryLink')}: {link ? <a href={link} className="mono break" rel="noreferrer noopener" target="_blank">{link}</a> : <span className="muted">{t('carts.noTemplate')}</span>}</p>
    </div>
  );
}
