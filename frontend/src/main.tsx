import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { ServicesProvider } from './core/context';
import { DispySocket } from './core/socket';
import { createDashboardStore } from './core/store';
import './styles.css';
import { applyTheme, readTheme } from './lib/theme';

// before the first paint: a stored light/dark choice without a flash of the other
applyTheme(readTheme());

// The store and the socket live outside React: the socket feeds the store,
// components only read it (and ask the socket for view/flush/commands).
const store = createDashboardStore();
const socket = new DispySocket({ store });
socket.connect();

const root = document.getElementById('root');
if (!root) throw new Error('#root is missing from index.html');

createRoot(root).render(
  <StrictMode>
    <ServicesProvider store={store} socket={socket}>
      <App />
    </ServicesProvider>
  </StrictMode>,
);
