// The end-to-end harness shared by the e2e test files: a real `strata` node on a free port
// with a fresh data directory, Debian's headless Chromium driven by playwright-core, the HTTP
// API as root, screenshots and an axe-core accessibility check. Each test file calls
// `harness(name)` once; its artifacts (screenshots, strata.log, perf.json, axe reports) go
// to e2e/artifacts/<name>/.
import { after, before } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = "e2e-root-token";
const BIN = process.env.STRATA_BIN ?? resolve(here, "../../target/release/strata");
const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

async function freePort() {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

export function harness(name) {
  const ARTIFACTS = join(here, "artifacts", name);
  const h = { base: "", page: null, browser: null, perf: {}, artifacts: ARTIFACTS };
  let server, dataDir;

  h.api = async (path, { method = "POST", token = ROOT, body, json = true, headers = {} } = {}) => {
    const res = await fetch(h.base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(json ? { "content-type": "application/json" } : {}), ...headers },
      body: body === undefined ? undefined : json ? JSON.stringify(body) : body,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };

  /** The raw answer of the streaming query endpoint. */
  h.streamQuery = async (repo, body, accept) => {
    const res = await fetch(`${h.base}/api/v1/repositories/${encodeURIComponent(repo)}/query`, {
      method: "POST",
      headers: { authorization: `Bearer ${ROOT}`, "content-type": "application/json", accept },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200);
    return Buffer.from(await res.arrayBuffer());
  };

  h.gql = async (query, variables = {}) => {
    const r = await h.api("/graphql", { body: { query, variables } });
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    return r.data;
  };

  h.shot = async (file, { full = true } = {}) => {
    await h.page.screenshot({ path: join(ARTIFACTS, `${file}.png`), fullPage: full });
  };

  /**
   * Runs axe-core in the page and fails on serious or critical violations (the full report
   * goes to artifacts/axe-<file>.json either way).
   */
  h.axe = async (file) => {
    if (!(await h.page.evaluate(() => typeof window.axe !== "undefined"))) await h.page.addScriptTag({ path: AXE });
    const res = await h.page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
    writeFileSync(join(ARTIFACTS, `axe-${file}.json`), JSON.stringify(res.violations, null, 2));
    const bad = res.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    const summary = bad.map((v) => `${v.id} (${v.impact}): ${v.help}\n  ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("\n  ")}`).join("\n");
    assert.equal(bad.length, 0, `axe found serious/critical violations on ${file}:\n${summary}`);
  };

  /** Screenshot and accessibility check of the page as it is. */
  h.check = async (file, opts) => {
    await h.shot(file, opts);
    await h.axe(file);
  };

  // The search page numbers its runs (data-gen); waiting for a later number than the one seen
  // before an action avoids mistaking the previous run's finished results for the new one's.
  h.searchGen = async () => {
    const g = await h.page.locator("[data-testid=progress]").getAttribute("data-gen", { timeout: 1000 }).catch(() => null);
    return g === null ? 0 : Number(g);
  };
  h.searchDone = async (after) => {
    await h.page.waitForFunction((a) => {
      const p = document.querySelector("[data-testid=progress]");
      return p !== null && p.dataset.done === "1" && Number(p.dataset.gen) > a;
    }, after);
  };

  h.signIn = async () => {
    await h.page.goto(h.base + "/");
    await h.page.fill("input[name=token]", ROOT);
    await h.page.click("button[type=submit]");
    await h.page.locator("[data-testid=user]").waitFor();
  };

  before(async () => {
    rmSync(ARTIFACTS, { recursive: true, force: true });
    mkdirSync(ARTIFACTS, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), "strata-ui-e2e-"));
    const port = await freePort();
    h.base = `http://127.0.0.1:${port}`;
    server = spawn(BIN, ["serve", "--data-dir", dataDir, "--http-addr", `127.0.0.1:${port}`, "--ui-dir", resolve(here, "../dist")], {
      env: { ...process.env, STRATA_ROOT_TOKEN: ROOT, RUST_LOG: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log = createWriteStream(join(ARTIFACTS, "strata.log"));
    server.stdout.pipe(log);
    server.stderr.pipe(log);
    for (let i = 0; ; i++) {
      try {
        const r = await fetch(`${h.base}/api/v1/status`, { headers: { authorization: `Bearer ${ROOT}` } });
        if (r.ok) break;
      } catch {}
      if (i > 300) throw new Error(`strata did not start; see ${join(ARTIFACTS, "strata.log")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    h.browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
    });
    h.page = await h.browser.newPage({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
    h.page.setDefaultTimeout(15_000);
  });

  after(async () => {
    writeFileSync(join(ARTIFACTS, "perf.json"), JSON.stringify(h.perf, null, 2));
    if (Object.keys(h.perf).length) console.log("UI figures:", JSON.stringify(h.perf));
    await h.browser?.close();
    server?.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dataDir, { recursive: true, force: true });
  });

  return h;
}
