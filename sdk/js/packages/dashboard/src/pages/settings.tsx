import { type FormEvent, useEffect, useRef, useState } from 'react';
import { api, ApiError } from '../api';
import { useGet } from '../data';
import { money } from '../format';
import { t } from '../i18n';
import { useCan, useSigned } from '../session';
import { ErrorBox, Field, Heading, Loading } from '../ui';

interface Branding { displayName: string | null; primaryColor: string | null; logoUrl: string | null }
interface EmbedConfig { cartAbandonmentThresholdMinutes: number | null; effectiveCartAbandonmentThresholdMinutes: number;
                        cartRecoveryUrlTemplate: string | null; branding: Branding | null }
interface PaymentSettings { provider: string; captureMethod: string; publishableKey: string | null; secretKeyLast4: string | null;
                           webhookSecretLast4: string | null; webhookUrl: string | null }

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
      {payments.data ? <PaymentsCard settings={payments.data} editable={can('payments:write')} onSaved={payments.reload} /> : null}
    </>
  );
}

const PAYMENT_FIELDS = ['provider', 'secretKey', 'publishableKey', 'webhookSecret', 'captureMethod'];

/** The application's payment provider: read-only without `payments:write`. Secrets are write-only: the
 * API answers their last four, and an empty secret field keeps the stored one. */
function PaymentsCard({ settings, editable, onSaved }: { settings: PaymentSettings; editable: boolean; onSaved: () => void }) {
  const { environment } = useSigned();
  const testAllowed = environment !== 'live';
  const [provider, setProvider] = useState(settings.provider);
  const [capture, setCapture] = useState(settings.captureMethod);
  const [secret, setSecret] = useState('');
  const [publishable, setPublishable] = useState(settings.publishableKey ?? '');
  const [webhookSecret, setWebhookSecret] = useState('');
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // Stripe refusing the key names no field: it is the secret key's fault.
  const field = !(error instanceof ApiError) ? null : error.code === 'payment_provider_auth_failed' ? 'secretKey'
    : error.field && PAYMENT_FIELDS.includes(error.field) ? error.field : null;
  const invalid = (name: string) => (field === name ? { 'aria-invalid': true as const } : {});
  const described = (name: string, hint?: string) =>
    [hint, field === name ? 'payments-error' : null].filter(Boolean).join(' ') || undefined;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true); setSaved(false); setError(null);
    const body: Record<string, unknown> = { provider, captureMethod: capture };
    if (provider === 'stripe') {
      if (secret.trim()) body.secretKey = secret.trim();
      if (publishable.trim()) body.publishableKey = publishable.trim();
      if (webhookSecret.trim()) body.webhookSecret = webhookSecret.trim();
    }
    try {
      await api('PUT', '/api/v1/payment-settings', body);
      setSecret(''); setWebhookSecret(''); setSaved(true); onSaved();
    } catch (e) { setError(e); } finally { setBusy(false); }
  };
  const facts = (
    <dl className="pairs">
      <dt>{t('settings.provider')}</dt><dd>{t('settings.provider.' + settings.provider)}</dd>
      <dt>{t('settings.capture')}</dt><dd>{t('settings.capture.' + settings.captureMethod)}</dd>
      {settings.secretKeyLast4 ? <><dt>{t('settings.stripeKey')}</dt><dd className="mono">…{settings.secretKeyLast4}</dd></> : null}
      {settings.provider === 'stripe' && settings.publishableKey ? <><dt>{t('settings.publishableKey')}</dt><dd className="mono break">{settings.publishableKey}</dd></> : null}
      {settings.webhookSecretLast4 ? <><dt>{t('settings.webhookSecret')}</dt><dd className="mono">…{settings.webhookSecretLast4}</dd></> : null}
      {settings.webhookUrl && !editable ? <><dt>{t('settings.stripeWebhook')}</dt><dd className="mono break">{settings.webhookUrl}</dd></> : null}
    </dl>
  );
  const webhookHint = settings.webhookUrl ? (
    <div className="notice">
      <p>{t('settings.webhookUrlHint')}</p>
      <code className="secret">{settings.webhookUrl}</code>
      <button type="button" className="secondary" onClick={() => void navigator.clipboard?.writeText(settings.webhookUrl ?? '')}>{t('copy')}</button>
    </div>
  ) : null;
  if (!editable) {
    return (
      <section className="card" aria-labelledby="payments-h">
        <h2 id="payments-h">{t('settings.payments')}</h2>
        {facts}
        <p className="muted">{t('settings.paymentsReadOnly')}</p>
      </section>
    );
  }
  const stripe = provider === 'stripe';
  return (
    <form className="card" onSubmit={(e) => void submit(e)} aria-labelledby="payments-h" noValidate>
      <h2 id="payments-h">{t('settings.payments')}</h2>
      {facts}
      {webhookHint}
      {saved ? <div className="notice success" role="status">{t('settings.saved', { what: t('settings.payments') })}</div> : null}
      <div id="payments-error" role="alert">{error ? <ErrorBody error={error} /> : null}</div>
      <fieldset aria-describedby={described('provider')}>
        <legend>{t('settings.provider')}</legend>
        {testAllowed || settings.provider === 'test' ? (
          <label className="choice"><input type="radio" name="provider" value="test" checked={provider === 'test'} {...invalid('provider')}
                 onChange={() => setProvider('test')} /> {t('settings.provider.test')}</label>
        ) : null}
        <label className="choice"><input type="radio" name="provider" value="stripe" checked={stripe} {...invalid('provider')}
               onChange={() => setProvider('stripe')} /> {t('settings.provider.stripe')}</label>
      </fieldset>
      {stripe ? (
        <>
          <Field id="stripe-secret" label={t('settings.secretKey')} hint={t(settings.secretKeyLast4 ? 'settings.secretKeyKeep' : 'settings.secretKeyHint', { last4: settings.secretKeyLast4 ?? '' })}>
            <input id="stripe-secret" type="password" autoComplete="off" spellCheck={false} value={secret}
                   required={!settings.secretKeyLast4} {...invalid('secretKey')} aria-describedby={described('secretKey', 'stripe-secret-hint')}
                   placeholder={environment === 'live' ? 'sk_live_…' : 'sk_test_…'} onChange={(e) => setSecret(e.target.value)} />
          </Field>
          <Field id="stripe-publishable" label={t('settings.publishableKey')}>
            <input id="stripe-publishable" autoComplete="off" spellCheck={false} value={publishable} required
                   {...invalid('publishableKey')} aria-describedby={described('publishableKey')}
                   placeholder={environment === 'live' ? 'pk_live_…' : 'pk_test_…'} onChange={(e) => setPublishable(e.target.value)} />
          </Field>
          <Field id="stripe-webhook-secret" label={t('settings.webhookSecretOptional')} hint={t(settings.webhookSecretLast4 ? 'settings.secretKeyKeep' : 'settings.webhookSecretHint', { last4: settings.webhookSecretLast4 ?? '' })}>
            <input id="stripe-webhook-secret" type="password" autoComplete="off" spellCheck={false} value={webhookSecret}
                   {...invalid('webhookSecret')} aria-describedby={described('webhookSecret', 'stripe-webhook-secret-hint')}
                   placeholder="whsec_…" onChange={(e) => setWebhookSecret(e.target.value)} />
          </Field>
        </>
      ) : null}
      <Field id="capture-method" label={t('settings.capture')}>
        <select id="capture-method" value={capture} {...invalid('captureMethod')} aria-describedby={described('captureMethod')}
                onChange={(e) => setCapture(e.target.value)}>
          <option value="automatic">{t('settings.capture.automatic')}</option>
          <option value="manual">{t('settings.capture.manual')}</option>
        </select>
      </Field>
      <button type="submit" disabled={busy}>{t('save')}</button>
    </form>
  );
}

function ErrorBody({ error }: { error: unknown }) {
  let text = t('error.generic');
  if (error instanceof ApiError) {
    text = error.status === 403 ? t('error.forbidden') : error.status === 0 ? t('error.network')
      : error.code === 'payment_provider_auth_failed' ? t('settings.stripeRefused', { message: error.message }) : error.message;
  }
  return <p className="notice error">{text}</p>;
}
