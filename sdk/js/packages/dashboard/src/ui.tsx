import { type MouseEvent, type ReactNode, useEffect, useRef } from 'react';
import { ApiError } from './api';
import { t } from './i18n';
import { BASE, navigate } from './router';

export function Link({ to, children, className, ...rest }: { to: string; children: ReactNode; className?: string;
                        'aria-current'?: 'page' | undefined }) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={BASE + to} onClick={onClick} className={className} {...rest}>{children}</a>;
}

/** The page's heading, focused when the page opens so a screen reader announces where the viewer is. */
export function Heading({ children }: { children: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => { ref.current?.focus(); }, []);
  return <h1 ref={ref} tabIndex={-1}>{children}</h1>;
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  let text = t('error.generic');
  if (error instanceof ApiError) {
    text = error.status === 403 ? t('error.forbidden') : error.status === 0 ? t('error.network') : error.message;
  }
  return <div className="notice error" role="alert">{text}</div>;
}

export function Loading() {
  return <p className="muted" role="status">{t('loading')}</p>;
}

export function Status({ value }: { value: string }) {
  return <span className={`badge badge-${value}`}>{t('status.' + value)}</span>;
}

export function Pager({ hasPrevious, next, onPrevious, onNext }: { hasPrevious: boolean; next: string | null;
                        onPrevious: () => void; onNext: () => void }) {
  if (!hasPrevious && !next) return null;
  return (
    <nav className="pager" aria-label={t('pager.label')}>
      <button type="button" className="secondary" disabled={!hasPrevious} onClick={onPrevious}>{t('pager.previous')}</button>
      <button type="button" className="secondary" disabled={!next} onClick={onNext}>{t('pager.next')}</button>
    </nav>
  );
}

export function Field({ id, label, hint, children }: { id: string; label: string; hint?: string; children: ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
      {hint ? <p className="hint" id={id + '-hint'}>{hint}</p> : null}
    </div>
  );
}

/** A secret shown once, with a button to copy it. */
export function Secret({ label, value }: { label: string; value: string }) {
  return (
    <div className="notice success" role="status">
      <p>{label}</p>
      <code className="secret">{value}</code>
      <button type="button" className="secondary" onClick={() => void navigator.clipboard?.writeText(value)}>{t('copy')}</button>
    </div>
  );
}
