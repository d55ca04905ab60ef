/**
 * `<CheckoutEmbed>`: @kassa/embed's `mountCheckout` as a component. It mounts once per session id
 * (a new id mounts a new checkout), calls the latest callbacks you passed without re-mounting, and
 * follows `submitDisabled`. Unmounting (StrictMode's double effect included) removes the iframe and
 * aborts a token fetch still running.
 */
import { useEffect, useRef, type CSSProperties } from 'react';
import { mountCheckout, type EmbeddedCheckout, type MountCheckoutOptions } from '@kassa/embed';

export interface CheckoutEmbedProps extends Omit<MountCheckoutOptions, 'submitDisabled'> {
  /** The storefront's veto on the pay button; the checkout's own "form complete" rule still applies. */
  submitDisabled?: boolean;
  className?: string;
  style?: CSSProperties;
}

export function CheckoutEmbed({ sessionId, submitDisabled = false, className, style, ...rest }: CheckoutEmbedProps) {
  const host = useRef<HTMLDivElement>(null);
  const checkout = useRef<EmbeddedCheckout | null>(null);
  const latest = useRef(rest);
  latest.current = rest;
  const disabled = useRef(submitDisabled);
  disabled.current = submitDisabled;
  const { locale, title, loadTimeoutMs } = rest;

  useEffect(() => {
    const mounted = mountCheckout(host.current!, {
      sessionId, locale, title, loadTimeoutMs, submitDisabled: disabled.current,
      fetchEmbedToken: (signal) => latest.current.fetchEmbedToken(signal),
      onReady: () => latest.current.onReady?.(),
      onStepChange: (step) => latest.current.onStepChange?.(step),
      onComplete: (result) => latest.current.onComplete?.(result),
      onError: (error) => latest.current.onError?.(error),
    });
    checkout.current = mounted;
    return () => {
      mounted.unmount();
      checkout.current = null;
    };
  }, [sessionId, locale, title, loadTimeoutMs]);

  useEffect(() => {
    checkout.current?.setSubmitDisabled(submitDisabled);
  }, [submitDisabled]);

  return <div ref={host} className={className} style={style} data-kassa-checkout={sessionId} />;
}
