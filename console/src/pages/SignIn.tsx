import { type FormEvent, useState } from 'react';
import { Navigate, useNavigate, useSearchParams } from 'react-router';
import { safeReturnTo } from '../auth/return-to';
import { ErrorBox } from '../components/ui';
import { useServices, useSession } from '../context';

export default function SignIn() {
  const { auth, session: store } = useServices();
  const session = useSession();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const returnTo = safeReturnTo(params.get('returnTo'));
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  if (session) return <Navigate to={returnTo} replace />;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      if (auth.signInWithPassword) {
        await auth.signInWithPassword(username, password);
        await navigate(returnTo, { replace: true });
      } else {
        await auth.redirectToSignIn?.(returnTo);
      }
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" className="sign-in">
      <h1>
        <span aria-hidden="true">☘</span> Sign in to Clover
      </h1>
      {store.lost && (
        <p className="state warn" role="status">
          Your session ended. Sign in again to carry on — unsaved changes in forms are kept.
        </p>
      )}
      <form onSubmit={submit} className="card">
        {auth.mode === 'local' ? (
          <>
            <label>
              Username
              <input
                name="username"
                autoComplete="username"
                required
                value={username}
                onChange={(e) => setUsername(e.target.value)}
              />
            </label>
            <label>
              Password
              <input
                name="password"
                type="password"
                autoComplete="current-password"
                required
                value={password}
                onChange={(e) => setPassword(e.target.value)}
              />
            </label>
            <p className="hint">The local runtime prints its users and passwords when it starts.</p>
          </>
        ) : (
          <p>You will be taken to your organisation's sign-in page and brought back here.</p>
        )}
        {error !== undefined && <ErrorBox error={error} />}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
