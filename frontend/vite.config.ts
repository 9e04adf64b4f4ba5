import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipAsync } from '@gfx/zopfli';
import { defineConfig } from 'vite';
import type { Plugin } from 'vite';
import react from '@vitejs/plugin-react';

const COMPRESSIBLE = /\.(js|css|html|svg)$/;

/**
 * Writes `<file>.gz` beside each text file of the build, made by Zopfli: gzip
 * that any browser inflates, 3-4 % smaller than zlib's level 9 for a second or
 * two of build time (the first page's figures: docs/benchmarks.md, 9). The
 * server's static files answer a browser that accepts gzip with it (aiohttp's
 * FileResponse looks for `<file>.gz`): the files go out at their smallest,
 * compressed once here instead of never (or on every request). A file gzip
 * would not make smaller gets none, and is sent as it is.
 */
function precompress(): Plugin {
  return {
    name: 'dispymon:precompress',
    apply: 'build',
    async writeBundle(options, bundle) {
      const dir = options.dir ?? path.dirname(options.file ?? '.');
      const names = Object.keys(bundle).filter((name) => COMPRESSIBLE.test(name));
      await Promise.all(
        names.map(async (name) => {
          const file = path.join(dir, name);
          const raw = await readFile(file);
          const gz = Buffer.from(await gzipAsync(raw, { numiterations: 5 }));
          if (gz.length < raw.length) await writeFile(`${file}.gz`, gz);
        }),
      );
    },
  };
}

// The Python server serves the build from its package directory, assets
// under /assets/, and answers unknown paths with index.html (SPA routes).
export default defineConfig({
  base: '/',
  plugins: [react(), precompress()],
  build: {
    outDir: '../backend/dispymon/static',
    emptyOutDir: true,
    // Every browser the dashboard supports preloads modules itself
    // (<link rel="modulepreload">: Chromium 66, Firefox 115, Safari 17);
    // Vite's polyfill for older ones would cost the first page 0.4 KB.
    modulePreload: { polyfill: false },
    rolldownOptions: {
      output: {
        codeSplitting: {
          // The libraries every page needs, in one long-cached file beside
          // the app's own code. Without this group the bundler still splits
          // them off (they are shared with the lazy pages), but into a chunk
          // named after whichever app module it lands with. Only what the
          // first page runs belongs here: a library only lazy modules use
          // (@tanstack/react-virtual, uplot) stays in their chunks, loaded
          // with them (benchmarks/b9_bundle.py checks what the first page loads).
          groups: [
            { name: 'vendor', test: /node_modules[\\/](react|react-dom|scheduler|zustand|@msgpack)[\\/]/ },
            // The app's own modules the first page runs, in one chunk with
            // the entry. Without this group Rolldown 1.2 moves those a lazy
            // page shares with the entry (context, useCommands, router...)
            // into an extra chunk the first page must also fetch, 0.6 KB
            // more (rolldown/rolldown#10731).
            { name: 'index', tags: ['$initial'], test: /[\\/]src[\\/]/ },
          ],
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
