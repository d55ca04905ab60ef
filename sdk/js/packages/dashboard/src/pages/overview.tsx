import { useState } from 'react';
import { BarChart } from '../chart';
import { useGet } from '../data';
import { day, money, number, percent } from '../format';
import { t } from '../i18n';
import { useCan } from '../session';
import { ErrorBox, Heading, Link, Loading } from '../ui';

interface OrderDay { date: string; currency: string; orderCount: number; revenue: number; refunded: number }
interface CartDay { date: string; currency: string; abandonedCount: number; abandonedValue: number; recoveredCount: number; recoveredValue: number }
interface Summary<D> { timeZone: string; since: string; until: string; days: D[] }

const DAYS = 30;

function zone(): string {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch { return 'UTC'; }
}

/** The window's dates, oldest first, as the server counts them (today in the viewer's zone, back). */
function windowDates(until: string, timeZone: string): string[] {
  const last = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    .format(new Date(new Date(until).getTime() - 1));
  const end = new Date(last + 'T00:00:00Z');
  return Array.from({ length: DAYS }, (_, i) => new Date(end.getTime() - (DAYS - 1 - i) * 86_400_000).toISOString().slice(0, 10));
}

export function OverviewPage() {
  const can = useCan();
  const query = { days: DAYS, timeZone: zone() };
  const orders = useGet<Summary<OrderDay>>('/api/v1/orders/summary', query);
  const carts = useGet<Summary<CartDay>>(can('carts:read') ? '/api/v1/abandoned-carts/daily' : null, query);
  const [chosen, setChosen] = useState<string | null>(null);
  if (orders.error) return <><Heading>{t('overview.title')}</Heading><ErrorBox error={orders.error} /></>;
  if (!orders.data) return <><Heading>{t('overview.title')}</Heading><Loading /></>;
  const revenueBy = new Map<string, number>();
  for (const d of orders.data.days) revenueBy.set(d.currency, (revenueBy.get(d.currency) ?? 0) + d.revenue);
  for (const d of carts.data?.days ?? []) if (!revenueBy.has(d.currency)) revenueBy.set(d.currency, 0);
  const currencies = [...revenueBy.entries()].sort((a, b) => b[1] - a[1]).map(([c]) => c);
  const currency = chosen && currencies.includes(chosen) ? chosen : currencies[0] ?? null;
  const dates = windowDates(orders.data.until, orders.data.timeZone);
  const pick = <D extends { date: string; currency: string }>(rows: D[], f: (d: D) => number) =>
    dates.map((date) => rows.filter((r) => r.date === date && r.currency === currency).reduce((s, r) => s + f(r), 0));
  const orderCount = pick(orders.data.days, (d) => d.orderCount);
  const revenue = pick(orders.data.days, (d) => d.revenue);
  const cartRows = carts.data?.days ?? [];
  const abandoned = pick(cartRows, (d) => d.abandonedCount);
  const abandonedValue = pick(cartRows, (d) => d.abandonedValue);
  const recovered = pick(cartRows, (d) => d.recoveredCount);
  const recoveredValue = pick(cartRows, (d) => d.recoveredValue);
  const sum = (v: number[]) => v.reduce((s, x) => s + x, 0);
  const m = (v: number) => (currency ? money(v, currency) : number(v));
  const rate = sum(abandoned) ? sum(recovered) / sum(abandoned) : null;
  const showCarts = can('carts:read');
  return (
    <>
      <div className="page-head">
        <Heading>{t('overview.title')}</Heading>
        {currencies.length > 1 ? (
          <div className="field inline push">
            <label htmlFor="currency">{t('overview.currency')}</label>
            <select id="currency" value={currency ?? ''} onChange={(e) => setChosen(e.target.value)}>
              {currencies.map((c) => <option key={c} value={c}>{c}</option>)}
            </select>
          </div>
        ) : null}
      </div>
      <p className="muted">{t('overview.window', { days: DAYS, zone: orders.data.timeZone })}</p>
      <ErrorBox error={carts.error} />
      <ul className="kpis" aria-label={t('overview.totals')}>
        <li><span className="kpi-label">{t('overview.orders')}</span><span className="kpi">{number(sum(orderCount))}</span></li>
        <li><span className="kpi-label">{t('overview.revenue')}</span><span className="kpi">{m(sum(revenue))}</span></li>
        {showCarts ? <>
          <li><span className="kpi-label">{t('overview.abandoned')}</span><span className="kpi">{number(sum(abandoned))}</span><span className="kpi-sub">{m(sum(abandonedValue))}</span></li>
          <li><span className="kpi-label">{t('overview.recovered')}</span><span className="kpi">{number(sum(recovered))}</span><span className="kpi-sub">{m(sum(recoveredValue))}</span></li>
          <li><span className="kpi-label">{t('overview.recoveryRate')}</span><span className="kpi">{rate === null ? '—' : percent(rate)}</span></li>
        </> : null}
      </ul>
      {currency === null ? <p className="empty">{t('overview.none')} <Link to="/orders">{t('nav.orders')}</Link></p> : (
        <>
          <div className="charts">
            <BarChart id="chart-orders" title={t('overview.ordersPerDay')} dates={dates} dayLabel={day} format={(v) => number(v)}
                      series={[{ label: t('overview.orders'), values: orderCount, className: 's1' }]} />
            <BarChart id="chart-revenue" title={t('overview.revenuePerDay', { currency })} dates={dates} dayLabel={day} format={m}
                      series={[{ label: t('overview.revenue'), values: revenue, className: 's2' }]} />
            {showCarts ? (
              <BarChart id="chart-carts" title={t('overview.cartsPerDay')} dates={dates} dayLabel={day} format={(v) => number(v)}
                        series={[{ label: t('overview.abandoned'), values: abandoned, className: 's3' },
                                 { label: t('overview.recovered'), values: recovered, className: 's4' }]} />
            ) : null}
          </div>
          <details className="daily">
            <summary><h2 id="daily-h">{t('overview.daily')}</h2></summary>
            <div className="table-wrap" tabIndex={0}>
              <table>
                <caption className="visually-hidden">{t('overview.dailyCaption', { currency })}</caption>
                <thead><tr>
                  <th scope="col">{t('overview.day')}</th><th scope="col" className="num">{t('overview.orders')}</th>
                  <th scope="col" className="num">{t('overview.revenue')}</th>
                  {showCarts ? <>
                    <th scope="col" className="num">{t('overview.abandoned')}</th><th scope="col" className="num">{t('overview.abandonedValue')}</th>
                    <th scope="col" className="num">{t('overview.recovered')}</th><th scope="col" className="num">{t('overview.recoveredValue')}</th>
                  </> : null}
                </tr></thead>
                <tbody>
                  {dates.map((date, i) => (
                    <tr key={date}>
                      <th scope="row">{day(date)}</th><td className="num">{number(orderCount[i] ?? 0)}</td><td className="num">{m(revenue[i] ?? 0)}</td>
                      {showCarts ? <>
                        <td className="num">{number(abandoned[i] ?? 0)}</td><td className="num">{m(abandonedValue[i] ?? 0)}</td>
                        <td className="num">{number(recovered[i] ?? 0)}</td><td className="num">{m(recoveredValue[i] ?? 0)}</td>
                      </> : null}
                    </tr>
                  )).reverse()}
                </tbody>
              </table>
            </div>
          </details>
        </>
      )}
    </>
  );
}
