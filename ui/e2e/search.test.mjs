// End-to-end tests of the search page as LogScale users work in it (harness.mjs starts the
// node and the browser): export of a 50,000-event search as NDJSON and CSV compared with the
// query API's own answer, cancel, events in context, columns and time zone through a reload,
// autocomplete, history, aggregate cells, the empty-repository page, keyboard shortcuts and
// reach, and axe-core on every state. Screenshots go to e2e/artifacts/search/.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { harness } from "./harness.mjs";

const h = harness("search");
let page;
const BULK = 50_000;
// A whole minute about 20 minutes ago: every event is well inside "Last 1 hour" and "Last 24
// hours", and the bulk events (5 minutes of them) fill 5 one-minute buckets of 10,000.
const BASE = Math.floor((Date.now() - 20 * 60_000) / 60_000) * 60_000;

/** Ingests structured events into `repo` as root, in batches. */
async function ingest(repo, groups) {
  await h.api(`/api/v1/repositories/${repo}/ingest`, { body: groups });
}

async function waitCount(repo, query, n) {
  for (let i = 0; i < 600; i++) {
    const rows = JSON.parse((await h.streamQuery(repo, { queryString: `${query} | count()`, start: "24h", end: "now" }, "application/json")).toString());
    if (Number(rows[0]?._count) === n) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${repo} never reached ${n} events for ${query}`);
}

async function createRepo(name) {
  await h.gql(`mutation { createRepository(name: "${name}") { repository { name } } }`);
}

/** Opens a search and waits for its first run to finish. */
async function open(url) {
  await page.goto(h.base + url);
  await h.searchDone(0);
}

async function run(query) {
  const prev = await h.searchGen();
  await page.fill("[data-testid=query]", query);
  await page.press("[data-testid=query]", "Escape");
  await page.press("[data-testid=query]", "Enter");
  await h.searchDone(prev);
}

/** Starts an export in `format` and returns the downloaded bytes. */
async function exportAs(format) {
  if ((await page.locator("[data-testid=export-start]").count()) === 0) await page.click("[data-testid=export]");
  await page.check(`[data-testid=export-${format}]`);
  const dl = page.waitForEvent("download", { timeout: 120_000 });
  await page.click("[data-testid=export-start]");
  const d = await dl;
  await page.locator("[data-testid=export-status][data-phase=done]").waitFor({ timeout: 120_000 });
  return { bytes: readFileSync(await d.path()), name: d.suggestedFilename() };
}

/** RFC 4180 CSV parser (the test's own, independent of the UI's). */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let f = "";
  let q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') (f += '"'), i++;
      else if (c === '"') q = false;
      else f += c;
    } else if (c === '"') q = true;
    else if (c === ",") row.push(f), (f = "");
    else if (c === "\r" && text[i + 1] === "\n") {
      row.push(f), rows.push(row), (row = []), (f = ""), i++;
    } else f += c;
  }
  if (f || row.length) row.push(f), rows.push(row);
  return rows;
}

const seqs = async () => (await page.locator("[data-testid=context] [data-testid=event] .raw").allTextContents()).map((r) => /seq=(\d+) ds=(\w)/.exec(r).slice(1).join(""));

describe("search page", () => {
  before(async () => {
    page = h.page;
    await createRepo("bulk");
    await createRepo("ctx");
    const events = [];
    for (let i = 0; i < BULK; i++) {
      const note = i % 1000 === 0 ? { note: 'with, comma and "quotes"' } : {};
      events.push({ timestamp: BASE + (i % 300) * 1000, attributes: { i: String(i), user: `u${i % 7}`, ...note }, rawstring: `i=${i} user=u${i % 7}${i % 1000 === 0 ? ' note="with, comma and \\"quotes\\""' : ""}` });
    }
    for (let k = 0; k < BULK; k += 10_000) await ingest("bulk", [{ tags: { host: "bulk1" }, events: events.slice(k, k + 10_000) }]);
    // Two datasources, interleaved in time: a at whole seconds, b half a second later.
    const ds = (name, off) => ({ tags: { host: name }, events: Array.from({ length: 60 }, (_, i) => ({ timestamp: BASE + i * 1000 + off, attributes: { seq: String(i) }, rawstring: `seq=${i} ds=${name}` })) });
    await ingest("ctx", [ds("a", 0), ds("b", 500)]);
    await h.signIn();
    await waitCount("bulk", "", BULK);
    await waitCount("ctx", "", 120);
  });

  it("exports a 50,000-event search as NDJSON, byte for byte the query API's answer", async () => {
    await open("/search?repo=bulk&start=24h");
    // The histogram's y axis carries five-digit labels (about 10,000 events a minute), drawn whole:
    // no ink in the canvas's leftmost pixels (a fixed 50 px axis cut "10,000" to "0,000").
    await page.waitForFunction(() => Number(document.querySelector("[data-testid=histogram]")?.dataset.max) >= 10_000);
    await page.locator("[data-testid=histogram] canvas").waitFor();
    const leftInk = await page.evaluate(() => {
      const c = document.querySelector("[data-testid=histogram] canvas");
      const d = c.getContext("2d").getImageData(0, 0, 3, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
      return n;
    });
    assert.equal(leftInk, 0, "the y axis labels reach the canvas's left edge");
    assert.equal(await page.locator("[data-testid=progress]").getAttribute("data-pct"), "100");
    // The page's JS heap while the export runs (a figure for the report, not an assertion).
    await page.evaluate(() => {
      const m = () => performance.memory?.usedJSHeapSize ?? 0;
      window.__heap = { base: m(), max: m() };
      window.__heapTimer = setInterval(() => (window.__heap.max = Math.max(window.__heap.max, m())), 20);
    });
    const { bytes, name } = await exportAs("ndjson");
    const heap = await page.evaluate(() => (clearInterval(window.__heapTimer), window.__heap));
    h.perf.exportNdjsonBytes = bytes.length;
    h.perf.exportPeakJsHeapGrowthBytes = heap.max - heap.base;
    const api = await h.streamQuery("bulk", { queryString: "", start: "24h", end: "now" }, "application/x-ndjson");
    assert.match(name, /^strata-bulk-.*\.ndjson$/);
    assert.equal(bytes.length, api.length);
    assert.ok(bytes.equals(api), "the export differs from the API's NDJSON");
    assert.equal(bytes.toString().trimEnd().split("\n").length, BULK);
    assert.match(await page.locator("[data-testid=export-status]").textContent(), /Exported 50,000 events/);
    await h.check("export-ndjson", { full: false });
  });

  it("exports it as CSV of the shown columns, row for row the API's events", async () => {
    await page.click("[data-testid=export]");
    await page.click("[data-field=user] >> [data-testid=column-toggle]");
    await page.waitForURL(/cols=/);
    const { bytes } = await exportAs("csv");
    const rows = parseCsv(bytes.toString("utf8"));
    const events = JSON.parse((await h.streamQuery("bulk", { queryString: "", start: "24h", end: "now" }, "application/json")).toString());
    assert.deepEqual(rows[0], ["@timestamp", "user", "@rawstring"]);
    assert.equal(rows.length - 1, BULK);
    assert.equal(events.length, BULK);
    for (let i = 0; i < BULK; i++) {
      const e = events[i];
      const want = [e["@timestamp"], e.user ?? "", e["@rawstring"]];
      if (rows[i + 1].join("\u0000") !== want.join("\u0000")) assert.deepEqual(rows[i + 1], want, `row ${i + 1}`);
    }
    assert.ok(rows.some((r) => r[2].includes('note="with, comma and \\"quotes')), "quoted values survive");
  });

  it("cancels an export in flight", async () => {
    let release;
    const held = new Promise((r) => (release = r));
    await page.route("**/api/v1/repositories/bulk/query", async (route) => {
      await held;
      await route.continue().catch(() => {});
    });
    await page.check("[data-testid=export-ndjson]");
    await page.click("[data-testid=export-start]");
    await page.locator("[data-testid=export-status][data-phase=searching]").waitFor();
    await page.click("[data-testid=export-cancel]");
    await page.locator("[data-testid=export-status][data-phase=cancelled]").waitFor();
    release();
    await page.unroute("**/api/v1/repositories/bulk/query");
    assert.ok(await page.locator("[data-testid=export-start]").isEnabled());
  });

  it("shows the events around an event in its datasource, marked, with a way back", async () => {
    await open("/search?repo=ctx&start=1h&query=" + encodeURIComponent("#host=a seq=30"));
    assert.equal(await page.locator("[data-testid=event]").count(), 1);
    await page.click("[data-testid=event] >> .expander");
    await page.click("[data-testid=show-context]");
    await page.waitForURL(/ctx=/);
    await page.locator("[data-testid=context][data-done='1']").waitFor();
    // 20 on each side by default, all of datasource a, oldest first.
    const want = (from, to) => Array.from({ length: to - from + 1 }, (_, k) => `${from + k}a`);
    assert.deepEqual(await seqs(), want(10, 50));
    assert.match(await page.locator("[data-testid=event][aria-current=true] .raw").textContent(), /^seq=30 ds=a$/);
    await h.check("context", { full: false });
    await page.selectOption("[data-testid=context-n]", "5");
    await page.waitForURL(/ctxN=5/);
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=context] [data-testid=event]").length === 11);
    assert.deepEqual(await seqs(), want(25, 35));
    // Near the start of the datasource there are fewer before it.
    await page.goto(h.base + "/search?repo=ctx&start=1h&ctxN=5&ctx=" + encodeURIComponent(`${BASE + 2000}~x`) + "&ctxTags=" + encodeURIComponent('{"#host":"b"}'));
    await page.locator("[data-testid=context][data-done='1']").waitFor();
    assert.match(await page.locator("[data-testid=context-count]").textContent(), /no longer stored/);
    await page.goBack();
    await page.locator("[data-testid=context][data-done='1']").waitFor();
    await page.click("[data-testid=context-back]");
    await page.waitForURL((u) => !u.search.includes("ctx="));
    await h.searchDone(0);
    assert.equal(await page.locator("[data-testid=event]").count(), 1);
  });

  it("keeps chosen columns, their order and width, and the time zone through a reload", async () => {
    const bodies = [];
    page.on("request", (r) => r.url().endsWith("/queryjobs") && r.method() === "POST" && bodies.push(JSON.parse(r.postData())));
    await open("/search?repo=ctx&start=1h&query=" + encodeURIComponent("#host=a"));
    await page.click("[data-field=seq] >> [data-testid=column-toggle]");
    await page.waitForURL(/cols=/);
    await page.click("th[data-col=seq] >> [aria-label='Move column seq left']");
    await page.focus("th[data-col=seq] >> [role=separator]");
    for (let i = 0; i < 3; i++) await page.keyboard.press("ArrowRight");
    await page.waitForURL(/seq%3A170/);
    // The mouse: drag the resize handle 30 px right, and drag @timestamp's header onto seq's.
    const handle = await page.locator("th[data-col=seq] >> [role=separator]").boundingBox();
    await page.mouse.move(handle.x + handle.width / 2, handle.y + handle.height / 2);
    await page.mouse.down();
    await page.mouse.move(handle.x + handle.width / 2 + 15, handle.y + handle.height / 2);
    await page.mouse.move(handle.x + handle.width / 2 + 30, handle.y + handle.height / 2);
    await page.mouse.up();
    await page.waitForURL(/seq%3A200/);
    await page.dragAndDrop("th[data-col='@timestamp'] .col-name", "th[data-col=seq] .col-name");
    await page.waitForURL(/cols=%40timestamp%2Cseq/);
    const prev = await h.searchGen();
    await page.selectOption("[data-testid=timezone]", "Asia/Kolkata");
    await page.waitForURL(/tz=Asia%2FKolkata/);
    await h.searchDone(prev);
    await page.reload();
    await h.searchDone(0);
    const heads = await page.locator("table.events thead th[data-col]").evaluateAll((ths) => ths.map((t) => t.dataset.col));
    assert.deepEqual(heads, ["@timestamp", "seq", "@rawstring"]);
    assert.equal(await page.locator("col[data-col=seq]").evaluate((c) => c.style.width), "200px");
    assert.equal(await page.locator("[data-testid=timezone]").inputValue(), "Asia/Kolkata");
    // seq=0 is the oldest event, at BASE: its time as Kolkata's wall clock.
    const row = page.locator("[data-testid=event]").last();
    assert.equal(await row.locator("[data-cell=seq]").textContent(), "0");
    const p = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone: "Asia/Kolkata", hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }).formatToParts(new Date(BASE)).map((x) => [x.type, x.value]));
    assert.equal(await row.locator(".ts").textContent(), `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}.000`);
    assert.ok(bodies.length > 0 && bodies.at(-1).timeZone === "Asia/Kolkata", `query jobs sent ${JSON.stringify(bodies.at(-1))}`);
    // The setting is the user's: a URL without tz uses it.
    await open("/search?repo=ctx&start=1h");
    assert.equal(await page.locator("[data-testid=timezone]").inputValue(), "Asia/Kolkata");
    await h.check("columns-zone", { full: false });
    await page.selectOption("[data-testid=timezone]", "UTC");
  });

  it("filters on a value or excludes it from a cell", async () => {
    await open("/search?repo=ctx&start=1h&cols=" + encodeURIComponent("@timestamp,#host,@rawstring"));
    const prev = await h.searchGen();
    await page.locator("[data-testid=event] [data-cell='#host'] .value-btn", { hasText: "b" }).first().click();
    await page.click("[data-testid=event] [data-cell='#host'] >> [data-testid=filter-out]");
    await page.waitForURL(/query=%23host%21%3D%22b%22/);
    await h.searchDone(prev);
    assert.equal(await page.locator("[data-testid=event]").count(), 60);
    assert.ok((await page.locator("[data-testid=event] .raw").allTextContents()).every((r) => r.endsWith("ds=a")));
  });

  it("autocompletes a field from the result and a function with its parameters", async () => {
    await open("/search?repo=ctx&start=1h");
    await page.fill("[data-testid=query]", "se");
    await page.locator("[data-testid=suggestions] [role=option]", { hasText: "seq" }).waitFor();
    await h.check("autocomplete", { full: false });
    await page.press("[data-testid=query]", "Enter");
    assert.equal(await page.inputValue("[data-testid=query]"), "seq");
    await page.type("[data-testid=query]", " | grou");
    const opt = page.locator("[data-testid=suggestions] [role=option][data-kind=function]").first();
    assert.match(await opt.textContent(), /groupBy.*groupBy\(field, function, limit\)/);
    await page.press("[data-testid=query]", "Tab");
    assert.equal(await page.inputValue("[data-testid=query]"), "seq | groupBy()");
    await page.type("[data-testid=query]", "#host, li");
    await page.locator("[data-testid=suggestions] [role=option]", { hasText: "limit=" }).waitFor();
    await page.press("[data-testid=query]", "Escape");
    assert.equal(await page.locator("[data-testid=suggestions]").count(), 0);
  });

  it("re-runs a query from the history with one click", async () => {
    await open("/search?repo=ctx&start=1h");
    await run("seq=1");
    await run("seq=2");
    await page.click("[data-testid=history]");
    await h.check("history", { full: false });
    const prev = await h.searchGen();
    await page.click("[data-testid=history-entry][data-query='seq=1']");
    await page.waitForURL(/query=seq%3D1&/);
    await h.searchDone(prev);
    assert.deepEqual((await page.locator("[data-testid=event] .raw").allTextContents()).sort(), ["seq=1 ds=a", "seq=1 ds=b"]);
    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem("strata.history.root")).map((e) => e.query));
    assert.deepEqual(stored.slice(0, 3), ["seq=1", "seq=2", ""]);
  });

  it("shows aggregate times as times and averages rounded, progress at 100%", async () => {
    await open("/search?repo=ctx&start=1h&query=" + encodeURIComponent("#host=a (seq=0 or seq=1 or seq=3) | groupBy(#host, function=avg(seq))"));
    assert.equal(await page.locator("[data-testid=progress]").getAttribute("data-pct"), "100");
    const cell = page.locator("[data-testid=results-table] tbody td").nth(1);
    assert.equal(await cell.textContent(), "1.333");
    assert.match(await cell.getAttribute("title"), /^1\.3333333/);
    await run("#host=a | bucket(span=1m)");
    await page.click("[data-testid=view-table]");
    const head = await page.locator("[data-testid=results-table] th").allTextContents();
    const bucket = await page.locator("[data-testid=results-table] tbody tr").first().locator("td").nth(head.indexOf("_bucket")).textContent();
    assert.match(bucket, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
    await h.check("aggregate", { full: false });
  });

  it("exports an aggregate as the table shows it", async () => {
    await open("/search?repo=ctx&start=1h&query=" + encodeURIComponent("groupBy(#host, function=[count(), avg(seq)])"));
    const head = await page.locator("[data-testid=results-table] th").allTextContents();
    const { bytes } = await exportAs("csv");
    const rows = parseCsv(bytes.toString("utf8"));
    assert.deepEqual(rows[0], head);
    assert.deepEqual(rows.slice(1).sort(), [
      ["a", "60", "29.5"],
      ["b", "60", "29.5"],
    ]);
    const { bytes: nd } = await exportAs("ndjson");
    assert.deepEqual(nd.toString().trim().split("\n").map((l) => JSON.parse(l)["#host"]).sort(), ["a", "b"]);
  });

  it("shows how to send a first event to an empty repository, with a real ingest token", async () => {
    await createRepo("fresh");
    await page.goto(h.base + "/search?repo=fresh&start=1h");
    await page.locator("[data-testid=empty-repo]").waitFor();
    await page.click("[data-testid=create-first-token]");
    const curl = await page.locator("[data-testid=curl-line]").textContent();
    const token = await page.locator("[data-testid=curl-line]").getAttribute("data-token");
    assert.match(token, /^[0-9a-f]{64}$/);
    assert.ok(curl.includes(`Authorization: Bearer ${token}`) && curl.includes(`${h.base}/api/v1/ingest/raw`));
    await h.check("empty-repo", { full: false });
    // The line works: send what it sends, then search again.
    await h.api("/api/v1/ingest/raw", { token, body: 'level=INFO msg="my first event"', json: false });
    await waitCount("fresh", "", 1);
    const prev = await h.searchGen();
    await page.click("[data-testid=check-again]");
    await h.searchDone(prev);
    await page.locator("[data-testid=event]").waitFor();
    assert.equal(await page.locator("[data-testid=empty-repo]").count(), 0);
  });

  it("has keyboard shortcuts and every control within Tab's reach", async () => {
    await open("/search?repo=ctx&start=1h");
    await page.locator("body").click({ position: { x: 5, y: 300 } });
    await page.keyboard.press("/");
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), "query");
    const prev = await h.searchGen();
    await page.keyboard.press("Control+Enter");
    await h.searchDone(prev);
    await page.locator("body").click({ position: { x: 5, y: 300 } });
    await page.keyboard.press("Alt+KeyL");
    await page.waitForURL(/live=1/);
    await page.keyboard.press("Alt+KeyL");
    await page.waitForURL((u) => !u.search.includes("live=1"));
    await h.searchDone(0);
    await page.keyboard.press("?");
    await page.locator("[data-testid=shortcuts]").waitFor();
    await h.check("shortcuts", { full: false });
    await page.keyboard.press("Escape");
    await page.locator("[data-testid=shortcuts]").waitFor({ state: "detached" });
    // Tab from the top of a fresh page: the search controls, the sidebar's toggles, the list's.
    await open("/search?repo=ctx&start=1h");
    const reached = new Set();
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press("Tab");
      const t = await page.evaluate(() => {
        const a = document.activeElement;
        return a?.dataset.testid ?? (a?.classList.contains("expander") ? "expander" : a?.getAttribute("role") ?? a?.tagName);
      });
      reached.add(t);
    }
    for (const want of ["repo", "query", "timepicker", "live", "run", "timezone", "history", "export", "save-search", "column-toggle", "separator", "expander"])
      assert.ok(reached.has(want), `Tab never reaches ${want}: ${[...reached].join(", ")}`);
  });
});
