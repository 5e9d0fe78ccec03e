// End-to-end test of alerts in headless Chromium against a real node (harness.mjs) and a real
// HTTP receiver started here: a webhook action is created and tested on the Actions tab, a
// filter alert is created from the search page ("Create alert") and a legacy alert and a
// scheduled search on their forms; events are ingested over the HTTP API, the receiver gets
// the alerts' webhooks, and the list shows when each last triggered. Enabling, disabling and
// deleting go through the UI too. Screenshots and axe reports go to e2e/artifacts/alerts/.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { harness } from "./harness.mjs";

// The node under test evaluates alerts every 300 ms and waits 500 ms for events to become
// searchable (the defaults, 10 s and 5 s, would only make the test slower).
process.env.STRATA_ALERT_POLL_INTERVAL_MS = "300";
process.env.STRATA_ALERT_INGEST_DELAY_MS = "500";

const h = harness("alerts");
let page;
/** Every request the receiver got: { path, body }. */
const got = [];
let receiver;
let hookUrl;

async function until(what, f, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const bodiesOf = (alert) => got.filter((g) => g.body.startsWith(`${alert}|`));

describe("alerts, scheduled searches and actions", () => {
  before(async () => {
    page = h.page;
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        got.push({ path: req.url, body });
        res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      });
    });
    await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
    hookUrl = `http://127.0.0.1:${receiver.address().port}/hook`;
    await h.gql(`mutation { createRepository(name: "app") { repository { name } } }`);
    await h.signIn();
  });
  after(() => receiver?.close());

  it("creates a webhook action and tests it", async () => {
    await page.click("nav >> text=Alerts");
    await page.locator("[data-testid=alert-list]").waitFor();
    await page.click("nav.view-tabs >> text=Actions");
    await page.click("[data-testid=new-action]");
    await page.fill("[data-testid=action-name]", "hook");
    await page.fill("[data-testid=action-url]", hookUrl);
    await page.fill("[data-testid=action-body]", "{alert_name}|{event_count}|{events_str}");
    await h.check("action-form");
    await page.click("[data-testid=save-action]");
    const row = page.locator("tr[data-action=hook]");
    await row.waitFor();
    assert.match(await row.textContent(), /Webhook/);
    await row.locator("[data-testid=test]").click();
    await row.locator("[data-testid=test-result] .ok").waitFor();
    await until("the test webhook", () => bodiesOf("Test action").length === 1);
    assert.match(bodiesOf("Test action")[0].body, /this is a test event/);
    await h.check("actions");
  });

  it("creates a filter alert from the search page and sees it trigger", async () => {
    await page.goto(`${h.base}/search?repo=app&query=${encodeURIComponent("level=ERROR")}&start=1h`);
    await page.click("[data-testid=create-alert]");
    const form = page.locator("[data-testid=alert-form]");
    await form.waitFor();
    assert.equal(await page.locator("[data-testid=alert-kind]").inputValue(), "filter");
    assert.equal(await page.locator("[data-testid=query]").inputValue(), "level=ERROR");
    await page.fill("[data-testid=alert-name]", "errors");
    await page.check("[data-action=hook]");
    // Nothing ingested yet: the preview says it would not trigger.
    await page.click("[data-testid=preview]");
    await page.locator("[data-testid=preview-result][data-done='1'][data-count='0']").waitFor();
    await h.check("alert-form");
    await page.click("[data-testid=save-alert]");
    const row = page.locator("tr[data-alert=errors]");
    await row.waitFor();
    assert.equal(await row.locator("[data-testid=last-triggered]").textContent(), "never");

    const now = Date.now();
    await h.api("/api/v1/repositories/app/ingest", {
      body: [
        {
          tags: { host: "web1" },
          events: [
            { timestamp: now, attributes: { level: "ERROR" }, rawstring: "level=ERROR msg=disk-full" },
            { timestamp: now + 1, attributes: { level: "INFO" }, rawstring: "level=INFO msg=ok" },
            { timestamp: now + 2, attributes: { level: "ERROR" }, rawstring: "level=ERROR msg=timeout" },
          ],
        },
      ],
    });
    // A filter alert triggers once per matching event: two webhooks, one event each.
    await until("two filter-alert webhooks", () => bodiesOf("errors").length >= 2);
    await new Promise((r) => setTimeout(r, 1500));
    const bodies = bodiesOf("errors").map((g) => g.body);
    assert.equal(bodies.length, 2, bodies.join("\n"));
    assert.ok(bodies.every((b) => b.startsWith("errors|1|")), bodies.join("\n"));
    assert.ok(bodies.some((b) => b.includes("disk-full")) && bodies.some((b) => b.includes("timeout")));
    assert.ok(!bodies.some((b) => b.includes("msg=ok")));
    // The list (refreshed while shown) says when it last triggered.
    await until("last triggered in the list", async () => (await row.locator("[data-testid=last-triggered]").textContent()) !== "never");
    assert.match(await row.locator("[data-testid=last-triggered]").textContent(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    assert.equal((await row.locator("[data-testid=last-error]").textContent()).trim(), "none");
    await h.check("alerts-triggered");
  });

  it("creates a legacy alert that triggers on its window's result, throttled", async () => {
    await page.click("[data-testid=new-alert]");
    await page.selectOption("[data-testid=alert-kind]", "legacy");
    await page.fill("[data-testid=alert-name]", "legacy-errors");
    await page.fill("[data-testid=query]", "level=ERROR");
    await page.fill("[data-testid=alert-window]", "1h");
    await page.fill("[data-testid=alert-throttle]", "1h");
    await page.check("[data-action=hook]");
    await page.click("[data-testid=preview]");
    await page.locator("[data-testid=preview-result][data-done='1'][data-count='2']").waitFor();
    await page.click("[data-testid=save-alert]");
    const row = page.locator("tr[data-alert=legacy-errors]");
    await row.waitFor();
    assert.match(await row.textContent(), /Legacy alert/);
    // One trigger with both events in the window; the throttle holds back the next polls.
    await until("the legacy alert's webhook", () => bodiesOf("legacy-errors").length >= 1);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(bodiesOf("legacy-errors").length, 1);
    assert.match(bodiesOf("legacy-errors")[0].body, /^legacy-errors\|2\|/);
    await until("throttle shown", async () => /throttled until/.test(await row.locator("[data-testid=throttle]").textContent()));
    const listed = await h.gql(`{ searchDomain(name: "app") { alerts { name queryStart throttleTimeMillis enabled timeOfLastTrigger } } }`);
    assert.deepEqual(
      listed.searchDomain.alerts.map(({ timeOfLastTrigger, ...a }) => ({ ...a, triggered: timeOfLastTrigger !== null })),
      [{ name: "legacy-errors", queryStart: "1h", throttleTimeMillis: 3_600_000, enabled: true, triggered: true }],
    );

    // Disable it in the list (updateAlert), then delete it.
    await row.locator("[data-testid=enabled]").click();
    await until("disabled", async () => (await h.gql(`{ searchDomain(name: "app") { alerts { enabled } } }`)).searchDomain.alerts[0].enabled === false);
    await until("the list shows it disabled", async () => !(await row.locator("[data-testid=enabled]").isChecked()));
    page.once("dialog", (d) => d.accept());
    await row.locator("[data-testid=delete]").click();
    await row.waitFor({ state: "detached" });
    assert.equal((await h.gql(`{ searchDomain(name: "app") { alerts { id } } }`)).searchDomain.alerts.length, 0);
  });

  it("disables and enables a filter alert from the list", async () => {
    const row = page.locator("tr[data-alert=errors]");
    await row.locator("[data-testid=enabled]").click();
    await until("disabled", async () => (await h.gql(`{ searchDomain(name: "app") { filterAlerts { enabled } } }`)).searchDomain.filterAlerts[0].enabled === false);
    await row.locator("[data-testid=enabled]").click();
    await until("enabled", async () => (await h.gql(`{ searchDomain(name: "app") { filterAlerts { enabled } } }`)).searchDomain.filterAlerts[0].enabled === true);
  });

  it("creates a scheduled search and lists its next run", async () => {
    await page.click("nav.view-tabs >> text=Scheduled searches");
    await page.click("[data-testid=new-scheduled]");
    await page.fill("[data-testid=scheduled-name]", "hourly errors");
    await page.fill("[data-testid=query]", "level=ERROR | count()");
    await page.fill("[data-testid=scheduled-cron]", "not cron");
    await page.click("[data-testid=save-scheduled]");
    // A bad schedule is refused with the server's message naming it.
    assert.match(await page.locator("[data-testid=form-error]").textContent(), /schedule "not cron"/);
    await page.fill("[data-testid=scheduled-cron]", "0 * * * *");
    await page.check("[data-action=hook]");
    await page.click("[data-testid=save-scheduled]");
    const row = page.locator("tr[data-scheduled='hourly errors']");
    await row.waitFor();
    assert.match(await row.textContent(), /0 \* \* \* \*/);
    assert.match(await row.textContent(), /\d\d:00:00 UTC/);
    await h.check("scheduled");
    page.once("dialog", (d) => d.accept());
    await row.locator("[data-testid=delete]").click();
    await row.waitFor({ state: "detached" });
  });
});
