/**
 * Every console route. They are deep-linkable: alert mail links to /runs/:runId and /jobs/:jobId
 * (core/alert-mail.ts builds those links). Pages are loaded on demand, so the first page carries
 * only the shell and its own code.
 */
import { createBrowserRouter } from 'react-router';
import { Layout } from './components/Layout';
import { Loading } from './components/ui';

const page = (load: () => Promise<{ default: React.ComponentType }>) => async () => ({
  Component: (await load()).default,
});

export function makeRouter() {
  const HydrateFallback = () => <Loading what="Clover" />;
  return createBrowserRouter([
    { path: '/sign-in', lazy: page(() => import('./pages/SignIn')), HydrateFallback },
    { path: '/auth/callback', lazy: page(() => import('./pages/AuthCallback')), HydrateFallback },
    {
      path: '/',
      Component: Layout,
      HydrateFallback,
      children: [
        { index: true, lazy: page(() => import('./pages/Dashboard')) },
        { path: 'jobs', lazy: page(() => import('./pages/Jobs')) },
        { path: 'jobs/new', lazy: page(() => import('./pages/JobEdit')) },
        { path: 'jobs/:jobId', lazy: page(() => import('./pages/JobDetail')) },
        { path: 'jobs/:jobId/edit', lazy: page(() => import('./pages/JobEdit')) },
        { path: 'runs', lazy: page(() => import('./pages/Runs')) },
        { path: 'runs/:runId', lazy: page(() => import('./pages/RunDetail')) },
        { path: 'workers', lazy: page(() => import('./pages/Workers')) },
        { path: 'contacts', lazy: page(() => import('./pages/Contacts')) },
        { path: 'alerts', lazy: page(() => import('./pages/Alerts')) },
        { path: 'errors', lazy: page(() => import('./pages/ErrorSearch')) },
        { path: 'audit', lazy: page(() => import('./pages/Audit')) },
        { path: '*', lazy: page(() => import('./pages/NotFound')) },
      ],
    },
  ]);
}
