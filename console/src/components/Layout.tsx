import { Suspense } from 'react';
import { Navigate, NavLink, Outlet, useLocation, useNavigation } from 'react-router';
import { useMe } from '../api/hooks';
import { useServices, useSession } from '../context';
import { Loading } from './ui';

const NAV: readonly { to: string; label: string }[] = [
  { to: '/', label: 'Dashboard' },
  { to: '/jobs', label: 'Jobs' },
  { to: '/runs', label: 'Runs' },
  { to: '/workers', label: 'Workers' },
  { to: '/alerts', label: 'Alerts' },
  { to: '/errors', label: 'Error search' },
  { to: '/contacts', label: 'Contacts' },
  { to: '/audit', label: 'Audit' },
];

/** The signed-in shell: skip link, navigation, who is signed in, and the page. Signed out → sign-in. */
export function Layout() {
  const session = useSession();
  const location = useLocation();
  const navigation = useNavigation();
  const { auth } = useServices();
  const me = useMe();
  if (!session) {
    const returnTo = `${location.pathname}${location.search}`;
    return <Navigate to={`/sign-in?returnTo=${encodeURIComponent(returnTo)}`} replace />;
  }
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <NavLink to="/" className="brand" aria-label="Clover home">
          <span aria-hidden="true">☘</span> Clover
        </NavLink>
        <nav aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.to}>
                <NavLink to={item.to} end={item.to === '/'}>
                  {item.label}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          {me.data && (
            <span title={`Signed in as ${me.data.subject}`}>
              {me.data.subject} <span className="badge neutral">{me.data.role}</span>
            </span>
          )}
          <button type="button" onClick={() => void auth.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1} aria-busy={navigation.state === 'loading'}>
        <Suspense fallback={<Loading what="page" />}>
          <Outlet />
        </Suspense>
      </main>
    </div>
  );
}
