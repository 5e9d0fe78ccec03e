// End-to-end test of views in headless Chromium against a real node (harness.mjs): root creates
// a view over two repositories with a filter on one, on the Views page; searching the view
// lists exactly the events its filters keep; editing its connections changes what it finds;
// deleting it asks for its name. A reader of one repository sees no create or delete buttons
// on the Repositories and Views pages. Screenshots and axe reports go to e2e/artifacts/views/.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { harness } from "./harness.mjs";

const h = harness("views");
let page;
const NOW = Date.now() - 60_000;

async function waitCount(repo, n) {
  for (let i = 0; i < 600; i++) {
    const rows = JSON.parse((await h.streamQuery(repo, { queryString: "count()", start: "24h", end: "now" }, "application/json")).toString());
    if (Number(rows[0]?._count) === n) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${repo} never reached ${n} events`);
}

describe("views", () => {
  before(async () => {
    page = h.page;
    for (const name of ["web", "app"]) await h.gql(`mutation { createRepository(name: "${name}") { repository { name } } }`);
    const events = (repo, statuses) => [
      { tags: { host: repo }, events: statuses.map((s, i) => ({ timestamp: NOW + i, attributes: { status: String(s) }, rawstring: `${repo} status=${s}` })) },
    ];
    await h.api("/api/v1/repositories/web/ingest", { body: events("web", [200, 500, 404]) });
    await h.api("/api/v1/repositories/app/ingest", { body: events("app", [200, 201]) });
    await waitCount("web", 3);
    await waitCount("app", 2);
  });

  it("root creates a view with connections and searches it", async () => {
    await h.signIn();
    await page.click("nav >> text=Views");
    await page.locator("[data-testid=view-list]").waitFor();
    await page.fill("[data-testid=new-view-name]", "both");
    const first = page.locator("[data-testid=new-view] [data-connection='0']");
    await first.locator("[data-testid=connection-repo]").selectOption("web");
    await first.locator("[data-testid=connection-filter]").fill("status=500");
    await page.click("[data-testid=new-view] [data-testid=add-connection]");
    await page.locator("[data-testid=new-view] [data-connection='1'] [data-testid=connection-repo]").selectOption("app");
    await page.click("[data-testid=create-view]");
    const row = page.locator("tr[data-view=both]");
    await row.waitFor();
    assert.match(await row.locator("[data-testid=view-connections]").textContent(), /web status=500.*app every event/);
    await h.check("views");

    await row.locator("text=Search").click();
    await h.searchDone(0);
    const raws = (await page.locator("[data-testid=event] .raw").allTextContents()).sort();
    assert.deepEqual(raws, ["app status=200", "app status=201", "web status=500"]);
    await h.check("search-view");
  });

  it("editing the connections changes what the view finds; deleting asks for the name", async () => {
    await page.click("nav >> text=Views");
    const row = page.locator("tr[data-view=both]");
    await row.locator("[data-testid=edit-view]").click();
    await row.locator("[data-connection='1'] >> text=Remove").click();
    await row.locator("[data-testid=save-view]").click();
    await row.locator("[data-testid=edit-view]").waitFor();
    assert.doesNotMatch(await row.locator("[data-testid=view-connections]").textContent(), /app/);
    const rows = JSON.parse((await h.streamQuery("both", { queryString: "count()", start: "24h", end: "now" }, "application/json")).toString());
    assert.equal(rows[0]._count, "1");

    await row.locator("[data-testid=delete-view]").click();
    assert.ok(await page.locator("[data-testid=confirm-delete-button]").isDisabled());
    await page.fill("[data-testid=confirm-name]", "both");
    await page.click("[data-testid=confirm-delete-button]");
    await page.locator("tr[data-view=both]").waitFor({ state: "detached" });
  });

  it("a reader sees no create or delete buttons", async () => {
    await h.gql(`mutation { addUserV2(input: {username: "rex", password: "rex-password-1"}) { username } }`);
    const g = (await h.gql(`mutation { addGroup(displayName: "rexes") { group { id } } }`)).addGroup.group.id;
    await h.gql(`mutation { addUsersToGroup(input: {groupId: "${g}", users: ["rex"]}) { group { id } } }`);
    const r = (await h.gql(`mutation { createRole(input: {displayName: "read", viewPermissions: [ReadAccess]}) { role { id } } }`)).createRole.role.id;
    await h.gql(`mutation { assignRoleToGroup(input: {viewId: "web", groupId: "${g}", roleId: "${r}"}) { group { id } } }`);
    await page.click("text=Sign out");
    await page.fill("input[name=username]", "rex");
    await page.fill("input[name=password]", "rex-password-1");
    await page.click("button[type=submit]");
    await page.locator("[data-testid=user]").waitFor();
    await page.click("nav >> text=Repositories");
    await page.locator("tr[data-repo=web]").waitFor();
    assert.equal(await page.locator("[data-testid=create-repo]").count(), 0);
    assert.equal(await page.locator("[data-testid=delete-repo]").count(), 0);
    await h.check("repositories-reader");
    await page.click("nav >> text=Views");
    await page.locator("[data-testid=view-list]").waitFor();
    assert.equal(await page.locator("[data-testid=create-view]").count(), 0);
  });
});
