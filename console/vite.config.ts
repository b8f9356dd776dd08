import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The console is a static SPA: `npm run build:console` writes console/dist, which the local runtime
 * serves at / and the CDK stack uploads to S3. Settings are read at run time from /config.json, so
 * one build serves every stage. `npx vite --config console/vite.config.ts` proxies /api to a local
 * runtime on :8080 while developing.
 */
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: { '/api': process.env.CLOVER_API_URL ?? 'http://127.0.0.1:8080' },
  },
});
