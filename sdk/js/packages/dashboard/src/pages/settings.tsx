import { type FormEvent, useEffect, useRef, useState } from 'react';
import { api } from '../api';
import { useGet } from '../data';
import { money } from '../format';
import { t } from '../i18n';
import { useCan } from '../session';
import { ErrorBox, Field, Heading, Loading } from '../ui';

interface Branding { displayName: string | null; primaryColor: string | null; logoUrl: string | null }
interface EmbedConfig { cartAbandonmentThresholdMinutes: number | null; effectiveCartAbandonmentThresholdMinutes: number;
                        cartRecoveryUrlTemplate: string | null; branding: Branding | null }
interface PaymentSettings { provider: string; captureMethod: string; publishableKey: string | null; secretKeyLast4: string | null; webhookUrl: string | null }

const COLOR = /^#[0-9a-fA-F]{6}$/;

export function SettingsPage() {
  const can = useCan();
  const config = useGet<EmbedConfig>('/api/v1/embed-config');
  const payments = useGet<PaymentSettings>(can('payments:read') ? '/api/v1/payment-settings' : null);
  const editable = can('settings:write');
  const [hours, setHours] = useState('');
  const [template, setTemplate] = useState('');
  const [name, setName] = useState('');
  const [color, setColor] = useState('#4338ca');
  const [logo, setLogo] = useState('');
  const [saved, setSaved] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const filled = useRef(false);
  useEffect(() => {  // the form starts from the saved settings once; later reloads never overwrite typing
    const c = config.data;
    if (!c || filled.current) return;
    filled.current = true;
    setHours(String(c.effectiveCartAbandonmentThresholdMinutes / 60));
    setTemplate(c.cartRecoveryUrlTemplate ?? '');
    setName(c.branding?.displayName ?? '');
    setColor(c.branding?.primaryColor ?? '#4338ca');
    setLogo(c.branding?.logoUrl ?? '');
  }, [config.data]);
  const save = async (body: Record<string, unknown>, what: string) => {
    setSaved(null); setError(null);
    try { await api('PUT', '/api/v1/embed-config', body); setSaved(what); config.reload(); } catch (e) { setError(e); }
  };
  const saveAbandonment = (event: FormEvent) => {
    event.preventDefault();
    const minutes = Math.round(Number(hours.replace(',', '.')) * 60);
    void save({ cartAbandonmentThresholdMinutes: Number.isFinite(minutes) ? minutes : null,
                cartRecoveryUrlTemplate: template.trim() || null }, t('settings.abandonment'));
  };
  const saveBranding = (event: FormEvent) => {
    event.preventDefault();
    void save({ branding: { displayName: name.trim() || null, primaryColor: COLOR.test(color) ? color : null,
                            logoUrl: logo.trim() || null } }, t('settings.branding'));
  };
  if (config.error) return <><Heading>{t('settings.title')}</Heading><ErrorBox error={config.error} /></>;
  if (!config.data) return <><Heading>{t('settings.title')}</Heading><Loading /></>;
  return (
    <>
      <Heading>{t('settings.title')}</Heading>
      {saved ? <div className="notice success" role="status">{t('settings.saved', { what: saved })}</div> : null}
      <ErrorBox error={error} />
      <form className="card" onSubmit={saveAbandonment} aria-labelledby="abandonment-h">
        <h2 id="abandonment-h">{t('settings.abandonment')}</h2>
        <Field id="threshold" label={t('settings.threshold')} hint={t('settings.thresholdHint')}>
          <input id="threshold" inputMode="decimal" required value={hours} readOnly={!editable} aria-describedby="threshold-hint"
                 onChange={(e) => setHours(e.target.value)} />
        </Field>
        <Field id="recovery-template" label={t('settings.recoveryUrl')} hint={t('settings.recoveryUrlHint')}>
          <input id="recovery-template" type="url" value={template} readOnly={!editable} aria-describedby="recovery-template-hint"
                 placeholder="https://shop.example.com/cart/{cartId}" onChange={(e) => setTemplate(e.target.value)} />
        </Field>
        {editable ? <button type="submit">{t('save')}</button> : null}
      </form>
      <form className="card" onSubmit={saveBranding} aria-labelledby="branding-h">
        <h2 id="branding-h">{t('settings.branding')}</h2>
        <div className="branding">
          <div>
            <Field id="brand-name" label={t('settings.displayName')}>
              <input id="brand-name" maxLength={100} value={name} readOnly={!editable} onChange={(e) => setName(e.target.value)} />
            </Field>
            <Field id="brand-color" label={t('settings.color')}>
              <input id="brand-color" type="color" value={COLOR.test(color) ? color : '#4338ca'} disabled={!editable} onChange={(e) => setColor(e.target.value)} />
            </Field>
            <Field id="brand-logo" label={t('settings.logo')}>
              <input id="brand-logo" type="url" value={logo} readOnly={!editable} placeholder="https://" onChange={(e) => setLogo(e.target.value)} />
            </Field>
          </div>
          <figure className="preview" aria-label={t('settings.preview')}>
            <figcaption className="muted">{t('settings.preview')}</figcaption>
            <div className="preview-page">
              <p className="preview-name">{name || t('settings.yourShop')}</p>
              <p className="preview-line" />
              <p className="preview-line short" />
              <span className="preview-button" style={{ backgroundColor: COLOR.test(color) ? color : '#4338ca' }}>{t('settings.previewPay', { amount: money(6414, 'EUR') })}</span>
            </div>
          </figure>
        </div>
        {editable ? <button type="submit">{t('save')}</button> : null}
      </form>
      {payments.data ? (
        <section className="card" aria-labelledby="payments-h">
          <h2 id="payments-h">{t('settings.payments')}</h2>
          <dl className="pairs">
            <dt>{t('settings.provider')}</dt><dd>{t('settings.provider.' + payments.data.provider)}</dd>
            <dt>{t('settings.capture')}</dt><dd>{t('settings.capture.' + payments.data.captureMethod)}</dd>
            {payments.data.secretKeyLast4 ? <><dt>{t('settings.stripeKey')}</dt><dd className="mono">…{payments.data.secretKeyLast4}</dd></> : null}
            {payments.data.webhookUrl ? <><dt>{t('settings.stripeWebhook')}</dt><dd className="mono break">{payments.data.webhookUrl}</dd></> : null}
          </dl>
          <p className="muted">{t('settings.paymentsHint')}</p>
        </section>
      ) : null}
    </>
  );
}
