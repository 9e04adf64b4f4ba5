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
    rolldownOptions: {
      output: {
        codeSplitting: {
          // The libraries every page needs, in one long-cached file beside
          // the app's own code. Without this group the bundler still splits
          // them off (they are shared with the lazy pages), but into a chunk
          // named after whichever app module it lands with.
          groups: [{ name: 'vendor', test: /node_modules[\\/](react|react-dom|scheduler|zustand|@msgpack)[\\/]/ }],
        },
      },
    },
  },
  server: {
    // `npm run dev` against a running `dispymon serve` on the default port.
    proxy: {
      '/ws': { target: 'ws://127.0.0.1:8181', ws: true },
    },
  },
});
