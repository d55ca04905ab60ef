import { type ReactNode, useCallback, useEffect, useState } from 'react';
import { api, ApiError, useApplication, useCsrf, whenSignedOut } from './api';
import { currentLanguage, LANGUAGES, setLanguage, t } from './i18n';
import { CampaignFormPage, CampaignPage, CampaignsPage } from './pages/campaigns';
import { CartsPage } from './pages/carts';
import { DevelopersPage } from './pages/developers';
import { OrderPage, OrdersPage } from './pages/orders';
import { OverviewPage } from './pages/overview';
import { SettingsPage } from './pages/settings';
import { TeamPage } from './pages/team';
import { WebhookPage, WebhooksPage } from './pages/webhooks';
import { currentRoute, navigate, useRoute } from './router';
import { allows, type AppRef, hasPermission, type Permissions, SessionContext,
         type SessionInfo, type Signed, useCan, type Workspace } from './session';
import { AcceptInvitation, ResetPassword, SignIn } from './signin';
import { ErrorBox, Link, Loading } from './ui';

const APP_STORE = 'kassa.dashboard.application';

interface NavItem { to: string; label: string; allowed: (p: Permissions) => boolean }

const NAV: NavItem[] = [
  { to: '/', label: 'nav.overview', allowed: (p) => allows(p, 'orders:read') },
  { to: '/orders', label: 'nav.orders', allowed: (p) => allows(p, 'orders:read') },
  { to: '/carts', label: 'nav.carts', allowed: (p) => allows(p, 'carts:read') },
  { to: '/campaigns', label: 'nav.campaigns', allowed: (p) => allows(p, 'promotions:read') },
  { to: '/webhooks', label: 'nav.webhooks', allowed: (p) => allows(p, 'webhooks:manage') },
  { to: '/developers', label: 'nav.developers', allowed: (p) => allows(p, 'keys:read') },
  { to: '/team', label: 'nav.team', allowed: (p) => hasPermission(p, 'members:read') },
  { to: '/settings', label: 'nav.settings', allowed: (p) => allows(p, 'settings:read') },
];

type Boot = { state: 'loading' } | { state: 'signed-out' } | { state: 'failed'; error: unknown } | { state: 'ready'; signed: Omit<Signed, 'switchApplication' | 'signOut'> };

function pick(workspaces: Workspace[], wanted: string | null): [Workspace, AppRef] | null {
  for (const w of workspaces) for (const a of w.applications) if (a.id === wanted) return [w, a];
  for (const w of workspaces) if (w.applications[0]) return [w, w.applications[0]];
  return null;
}

export function App() {
  const [boot, setBoot] = useState<Boot>({ state: 'loading' });
  const [, setLanguageTick] = useState(0);

  const load = useCallback(async (wanted?: string) => {
    try {
      const session = await api<SessionInfo>('GET', '/api/v1/auth/session');
      useCsrf(session.csrfToken);
      const chosen = pick(session.workspaces, wanted ?? localStorage.getItem(APP_STORE));
      if (!chosen) { setBoot({ state: 'failed', error: new ApiError(403, 'no_application', t('error.noApplication')) }); return; }
      const [workspace, application] = chosen;
      useApplication(application.id);
      localStorage.setItem(APP_STORE, application.id);
      const permissions = await api<Permissions>('GET', '/api/v1/auth/permissions');
      setBoot({ state: 'ready', signed: { session, workspace, application, permissions, environment: application.environment ?? null } });
    } catch (error) {
      setBoot(error instanceof ApiError && error.status === 401 ? { state: 'signed-out' } : { state: 'failed', error });
    }
  }, []);

  useEffect(() => {
    whenSignedOut(() => setBoot({ state: 'signed-out' }));
    void load();
  }, [load]);

  const changeLanguage = (tag: string) => { setLanguage(tag, true); setLanguageTick((n) => n + 1); };
  const route = currentRoute();
  // The mailed links work signed in or not: they sign the person in themselves.
  if (route.path === '/invitations/accept') return <AcceptInvitation token={route.query.get('token') ?? ''} onDone={() => void load()} />;
  if (route.path === '/reset-password') return <ResetPassword token={route.query.get('token') ?? ''} onDone={() => { setBoot({ state: 'signed-out' }); }} />;

  if (boot.state === 'loading') return <main id="main" className="centered"><Loading /></main>;
  if (boot.state === 'signed-out') return <SignIn onSignedIn={() => void load()} />;
  if (boot.state === 'failed') return <main id="main" className="centered"><ErrorBox error={boot.error} /></main>;
  const signed: Signed = {
    ...boot.signed,
    switchApplication: (id) => { setBoot({ state: 'loading' }); navigate('/'); void load(id); },
    signOut: () => {
      void api('POST', '/api/v1/auth/sign-out').finally(() => { useCsrf(null); setBoot({ state: 'signed-out' }); });
    },
  };
  return (
    <SessionContext.Provider value={signed}>
      <Shell signed={signed} onLanguage={changeLanguage} />
    </SessionContext.Provider>
  );
}

function Shell({ signed, onLanguage }: { signed: Signed; onLanguage: (tag: string) => void }) {
  const { path } = useRoute();
  const [menuOpen, setMenuOpen] = useState(false);
  const items = NAV.filter((item) => item.allowed(signed.permissions));
  useEffect(() => { setMenuOpen(false); }, [path]);
  const section = '/' + (path.split('/')[1] ?? '');
  return (
    <div className="shell">
      <a className="skip" href="#main">{t('skip')}</a>
      <header className="topbar">
        <span className="brand">Kassa</span>
        <button type="button" className="menu-toggle secondary" aria-expanded={menuOpen} aria-controls="sidebar"
                onClick={() => setMenuOpen((o) => !o)}>{t('nav.menu')}</button>
        <div className="topbar-tools">
          <label className="visually-hidden" htmlFor="application">{t('nav.application')}</label>
          <select id="application" value={signed.application.id} onChange={(e) => signed.switchApplication(e.target.value)}>
            {signed.session.workspaces.map((w) => (
              <optgroup key={w.id} label={w.name}>
                {w.applications.map((a) => <option key={a.id} value={a.id}>{a.name}</option>)}
              </optgroup>
            ))}
          </select>
          <label className="visually-hidden" htmlFor="language">{t('nav.language')}</label>
          <select id="language" value={currentLanguage()} onChange={(e) => onLanguage(e.target.value)}>
            {LANGUAGES.map(([tag, name]) => <option key={tag} value={tag} lang={tag}>{name}</option>)}
          </select>
          <span className="user" title={signed.session.user.email}>{signed.session.user.name || signed.session.user.email}</span>
          <button type="button" className="secondary" onClick={signed.signOut}>{t('nav.signOut')}</button>
        </div>
      </header>
      {signed.environment === 'test' ? <p className="test-banner" role="note">{t('testMode')}</p> : null}
      <div className="frame">
        <nav id="sidebar" className={menuOpen ? 'sidebar open' : 'sidebar'} aria-label={t('nav.label')}>
          <ul>
            {items.map((item) => (
              <li key={item.to}>
                <Link to={item.to} aria-current={section === item.to ? 'page' : undefined}>{t(item.label)}</Link>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" className="content">
          <Route path={path} items={items} />
        </main>
      </div>
    </div>
  );
}

function Route({ path, items }: { path: string; items: NavItem[] }): ReactNode {
  const parts = path.split('/').filter(Boolean);
  const allowed = (to: string) => items.some((i) => i.to === to);
  const page = (to: string, node: ReactNode) => (allowed(to) ? node : <NotAllowed />);
  switch (parts[0]) {
    case undefined: return allowed('/') ? <OverviewPage /> : items[0] ? <Redirect to={items[0].to} /> : <NotAllowed />;
    case 'orders': return page('/orders', parts[1] ? <OrderPage id={parts[1]} /> : <OrdersPage />);
    case 'carts': return page('/carts', <CartsPage />);
    case 'campaigns': return page('/campaigns', <Campaigns parts={parts} />);
    case 'webhooks': return page('/webhooks', parts[1] ? <WebhookPage id={parts[1]} /> : <WebhooksPage />);
    case 'developers': return page('/developers', <DevelopersPage />);
    case 'team': return page('/team', <TeamPage />);
    case 'settings': return page('/settings', <SettingsPage />);
    default: return <NotFound />;
  }
}

function Campaigns({ parts }: { parts: string[] }) {
  const can = useCan();
  if (parts[1] === 'new') return can('promotions:write') ? <CampaignFormPage /> : <NotAllowed />;
  if (parts[1] && parts[2] === 'edit') return can('promotions:write') ? <CampaignFormPage id={parts[1]} /> : <NotAllowed />;
  if (parts[1]) return <CampaignPage id={parts[1]} />;
  return <CampaignsPage />;
}

function Redirect({ to }: { to: string }) {
  useEffect(() => { navigate(to, true); }, [to]);
  return null;
}

function NotAllowed() {
  return <><h1>{t('forbidden.title')}</h1><p>{t('forbidden.text')}</p></>;
}

function NotFound() {
  return <><h1>{t('notFound.title')}</h1><p><Link to="/">{t('notFound.back')}</Link></p></>;
}
