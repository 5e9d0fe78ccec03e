// Vite build of the Strata web UI. Preact through Oxc's automatic JSX runtime (no plugin),
// assets hashed under dist/assets (the server caches them for a year), and the dev server
// proxies the API to a local node.
import { defineConfig } from "vite";

const api = process.env.STRATA_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: { target: "es2022", sourcemap: false, chunkSizeWarningLimit: 300 },
  server: { proxy: { "/api": api, "/graphql": api } },
  test: { environment: "node", include: ["test/**/*.test.ts"] },
});
