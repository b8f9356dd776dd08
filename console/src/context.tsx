import { createContext, useContext, useSyncExternalStore } from 'react';
import type { ApiClient } from './api/client';
import type { Authenticator } from './auth/authenticator';
import type { Session, SessionStore } from './auth/session';
import type { ConsoleConfig } from './config';

/** What every page reaches through context: the config, the one API client, the session and sign-in. */
export interface AppServices {
  readonly config: ConsoleConfig;
  readonly api: ApiClient;
  readonly session: SessionStore;
  readonly auth: Authenticator;
}

export const ServicesContext = createContext<AppServices | null>(null);

export function useServices(): AppServices {
  const services = useContext(ServicesContext);
  if (!services) throw new Error('useServices outside <ServicesContext.Provider>');
  return services;
}

export function useApi(): ApiClient {
  return useServices().api;
}

export function useSession(): Session | undefined {
  const { session } = useServices();
  return useSyncExternalStore(session.subscribe, session.get);
}
