/**
 * Builds the console into dist/console (served by src/http/console.ts).
 * Everything ends up in files under /assets/ with a content hash in the name:
 * no inline script or style, so the page runs under a CSP of `script-src 'self'`.
 */
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/',
  plugins: [react()],
  publicDir: 'public',
  // `npm run console:dev`: hot reload against a gateway already running (npm start), on PORT (default 8080).
  server: { proxy: { '/api': `http://127.0.0.1:${process.env.PORT || '8080'}` } },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    // Not emptied: a gateway running from dist keeps serving the previous build's assets while a rebuild runs.
    emptyOutDir: false,
    assetsDir: 'assets',
    // Never inline assets as data: URLs (fonts would need font-src data:); the console has none anyway.
    assetsInlineLimit: 0,
    // The polyfill is bundled into the entry chunk, never inlined into index.html.
    modulePreload: { polyfill: false },
    sourcemap: true,
    target: 'es2022',
    reportCompressedSize: false,
  },
});
