import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The Python server serves the build from its package directory, assets
// under /assets/, and answers unknown paths with index.html (SPA routes).
export default defineConfig({
  base: '/',
  plugins: [react()],
  build: {
    outDir: '../backend/dispymon/static',
    emptyOutDir: true,
  },
  server: {
    // `npm run dev` against a running `dispymon serve` on the default port.
    proxy: {
      '/ws': { target: 'ws://127.0.0.1:8181', ws: true },
    },
  },
});
