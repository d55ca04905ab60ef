// Bar charts drawn as SVG by the page itself (no chart service, no inline style: sizes are SVG
// attributes). The figures are also in a table beside each chart, which is what a screen reader reads.
import { t } from './i18n';

export interface Series { label: string; values: number[]; className: string }

export function BarChart({ id, title, dates, series, format, dayLabel }: {
  id: string; title: string; dates: string[]; series: Series[]; format: (v: number) => string; dayLabel: (d: string) => string;
}) {
  const width = 640;
  const height = 180;
  const left = 8;
  const bottom = 2;
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const slot = (width - left) / Math.max(1, dates.length);
  const bar = Math.max(1, (slot - 2) / series.length);
  const ticks = dates.length > 2 ? [dates[0], dates[Math.floor(dates.length / 2)], dates[dates.length - 1]] : dates;
  const top = Math.max(0, ...series.flatMap((s) => s.values));
  return (
    <figure className="chart" aria-labelledby={id + '-title'}>
      <figcaption id={id + '-title'}>
        <span className="chart-title">{title}</span>
        <span className="legend" aria-hidden="true">
          {series.map((s) => <span key={s.label} className={'key ' + s.className}>{s.label}</span>)}
        </span>
        {top > 0 ? <span className="chart-max">{t('chart.max', { value: format(top) })}</span> : null}
      </figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" aria-hidden="true" focusable="false">
        <line x1={left} x2={width} y1={height - bottom} y2={height - bottom} className="axis" />
        {dates.map((date, i) => (
          <g key={date}>
            {series.map((s, j) => {
              const value = s.values[i] ?? 0;
              const h = ((height - bottom - 6) * value) / max;
              return (
                <rect key={s.label} x={left + i * slot + 1 + j * bar} y={height - bottom - h} width={bar} height={h}
                      className={'bar ' + s.className}>
                  <title>{`${dayLabel(date)}: ${s.label} ${format(value)}`}</title>
                </rect>
              );
            })}
          </g>
        ))}
      </svg>
      <div className="ticks" aria-hidden="true">{ticks.map((d) => <span key={d}>{d ? dayLabel(d) : ''}</span>)}</div>
    </figure>
  );
}
