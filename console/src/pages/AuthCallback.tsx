import { useEffect, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { safeReturnTo } from '../auth/return-to';
import { ErrorBox, Loading } from '../components/ui';
import { useServices } from '../context';

/** Where Cognito's hosted UI returns with an authorization code: exchange it (PKCE) and go on. */
export default function AuthCallback() {
  const { auth } = useServices();
  const navigate = useNavigate();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    if (!auth.completeSignIn) {
      setError(new Error('This console signs in locally; there is no sign-in to complete.'));
      return;
    }
    auth.completeSignIn().then(
      (returnTo) => navigate(safeReturnTo(returnTo), { replace: true }),
      (e: unknown) => setError(e),
    );
  }, [auth, navigate]);
  return (
    <main id="main" className="sign-in">
      <h1>Signing in</h1>
      {error ? (
        <>
          <ErrorBox error={error} />
          <Link to="/sign-in">Back to sign-in</Link>
        </>
      ) : (
        <Loading what="your session" />
      )}
    </main>
  );
}
