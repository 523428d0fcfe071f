/**
 * Builds the dashboard into `dist/ui`, where the control plane serves it from. `npm run
 * dev:ui` serves it with hot reload and sends API calls to a control plane on
 * `PHOENIX_CONTROL_PLANE` (default http://127.0.0.1:9092).
 */
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const uiRoot = fileURLToPath(new URL('.', import.meta.url));
const controlPlane = process.env['PHOENIX_CONTROL_PLANE'] ?? 'http://127.0.0.1:9092';

export default defineConfig({
  root: uiRoot,
  base: '/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1000,
  },
  server: {
    proxy: {
      '/api': controlPlane,
      '/phoenix.v1.': controlPlane,
    },
  },
});
