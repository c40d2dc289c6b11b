import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The build is compiled into the nodespace binary (cmake/embed_web_assets.cmake)
// and served from "/" and "/assets/"; `npm run dev` proxies the API to a
// running `nodespace serve`.
export default defineConfig({
  plugins: [svelte()],
  base: '/',
  build: {
    assetsDir: 'assets',
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1024,
    sourcemap: false,
  },
  server: {
    proxy: {
      '/v1': 'http://127.0.0.1:7700',
      '/metrics': 'http://127.0.0.1:7700',
    },
  },
});
