import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

// `npm run dev` serves the client and hands /v1 to the edge (scripts/dev's or Compose's), so
// the browser sees one origin, as it does behind nginx.
const edge = process.env.XIR_EDGE_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  server: {
    port: 5173,
    strictPort: true,
    proxy: { '/v1': { target: edge, changeOrigin: false } },
  },
  build: {
    // No inlined assets: the Content-Security-Policy allows no data: URLs for scripts or styles.
    assetsInlineLimit: 0,
    sourcemap: true,
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
  },
});
