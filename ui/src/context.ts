/** What every page needs: who is signed in and the API clients acting as them. */
import { createContext, useContext } from 'react';
import type { ApiClients } from './api/clients.js';
import type { Session } from './api/session.js';

export interface DashboardContext {
  readonly session: Session;
  readonly token: string;
  readonly api: ApiClients;
  /** Price per 1 000 active series per month, in dollars, for cost estimates. */
  readonly pricePerThousandSeries: number;
  setPricePerThousandSeries(price: number): void;
  signOut(): void;
}

export const Dashboard = createContext<DashboardContext | null>(null);

export function useDashboard(): DashboardContext {
  const context = useContext(Dashboard);
  if (context === null) throw new Error('useDashboard outside <Dashboard.Provider>');
  return context;
}
