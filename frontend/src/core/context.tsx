// Hands the store and the socket to components without importing module
// singletons, so component tests can render with their own store and a fake
// socket.
import { createContext, useContext } from 'react';
import type { ReactNode } from 'react';
import { useStore } from 'zustand';
import type { DispySocket } from './socket';
import type { Dashboard, DashboardStore } from './store';

/** What components may ask of the connection. */
export type SocketControls = Pick<DispySocket, 'setViewInterval' | 'setWatchedNode' | 'setWatchedJob' | 'flush' | 'command'>;

interface Services {
  store: DashboardStore;
  socket: SocketControls;
}

const ServicesContext = createContext<Services | null>(null);

export function ServicesProvider({ store, socket, children }: Services & { children: ReactNode }) {
  return <ServicesContext.Provider value={{ store, socket }}>{children}</ServicesContext.Provider>;
}

function useServices(): Services {
  const services = useContext(ServicesContext);
  if (!services) throw new Error('ServicesProvider is missing');
  return services;
}

/**
 * Reads one slice of the store; the component re-renders only when the
 * selected value changes (Object.is). Selectors must return stable values:
 * wrap ones that build arrays/objects in zustand's useShallow.
 */
export function useDashboard<T>(selector: (state: Dashboard) => T): T {
  return useStore(useServices().store, selector);
}

/**
 * This connection is a viewer's (hello.role): it may look but not command, so
 * pages offer no command (the server would answer not_allowed). Unknown
 * before the first hello, which a page without a connection does not need.
 */
export function useReadOnly(): boolean {
  return useDashboard((s) => s.hello?.role === 'viewer');
}

export function useSocket(): SocketControls {
  return useServices().socket;
}
