import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { RouterProvider } from 'react-router';
import { ApiClient, ApiError } from './api/client';
import { makeAuthenticator } from './auth/authenticator';
import { SessionStore } from './auth/session';
import { loadConfig } from './config';
import { type AppServices, ServicesContext } from './context';
import { makeRouter } from './routes';
import './styles.css';

const root = createRoot(document.getElementById('root') as HTMLElement);

try {
  const config = await loadConfig();
  const session = new SessionStore();
  const api = new ApiClient({
    baseUrl: config.apiUrl,
    token: () => auth.token(),
    // The session is gone: the router guard sends the user to sign in; drafts stay in sessionStorage.
    onUnauthenticated: () => session.clear(true),
  });
  const auth = makeAuthenticator(config, api, session);
  const services: AppServices = { config, api, session, auth };
  const queries = new QueryClient({
    defaultOptions: {
      queries: {
        // A 4xx will not change by asking again; network errors and 5xx get two more tries.
        retry: (count, error) =>
          count < 2 && !(error instanceof ApiError && error.status >= 400 && error.status < 500),
        staleTime: 5_000,
      },
    },
  });
  root.render(
    <StrictMode>
      <ServicesContext.Provider value={services}>
        <QueryClientProvider client={queries}>
          <RouterProvider router={makeRouter()} />
        </QueryClientProvider>
      </ServicesContext.Provider>
    </StrictMode>,
  );
} catch (error) {
  root.render(
    <main className="boot-error" role="alert">
      <h1>Clover console could not start</h1>
      <p>
        <strong>CONFIG_ERROR</strong> {(error as Error).message}
      </p>
      <p>Check config.json beside the console's index.html (see console/README in the repository).</p>
    </main>,
  );
}
