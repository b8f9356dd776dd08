import { Link, useLocation } from 'react-router';

export default function NotFound() {
  const location = useLocation();
  return (
    <section className="not-found">
      <h1>Page not found</h1>
      <p>
        Nothing lives at <code>{location.pathname}</code>. The link may be old, or mistyped.
      </p>
      <p>
        <Link to="/">Back to the dashboard</Link> · <Link to="/jobs">Jobs</Link>
      </p>
    </section>
  );
}
