// End-to-end test of users and permissions in headless Chromium against a real node
// (harness.mjs): an admin creates a role with read access, a user with a password and a group
// giving that role on one repository, all through the admin pages; the user then signs in with
// username and password, sees only that repository, and cannot open the admin pages (the
// server refuses their admin calls too). Screenshots and axe reports go to
// e2e/artifacts/users/.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { harness } from "./harness.mjs";

const h = harness("users");
let page, base;

describe("users and permissions", () => {
  before(async () => {
    page = h.page;
    base = h.base;
    for (const name of ["web", "secret"]) await h.gql(`mutation { createRepository(name: "${name}") { repository { name } } }`);
  });

  it("an admin creates a role, a user and a group on the admin pages", async () => {
    await h.signIn();
    await page.click("nav >> text=Administration");
    await page.locator("[data-testid=user-list]").waitFor();

    await page.click("nav.view-tabs >> text=Roles");
    await page.fill("[data-testid=new-role-name]", "reader");
    await page.check("[data-permission=ReadAccess]");
    await page.click("[data-testid=create-role]");
    await page.locator("tr[data-role=reader]").waitFor();
    await h.check("roles");

    await page.click("nav.view-tabs >> text=Users");
    await page.fill("[data-testid=new-user-name]", "ann");
    await page.fill("[data-testid=new-user-password]", "ann-password-1");
    await page.click("[data-testid=add-user]");
    await page.locator("tr[data-user=ann]").waitFor();
    await h.check("users");

    await page.click("nav.view-tabs >> text=Groups");
    await page.fill("[data-testid=new-group-name]", "readers");
    await page.click("[data-testid=add-group]");
    const group = page.locator("[data-group=readers]");
    await group.waitFor();
    await group.locator("[data-testid=group-user]").selectOption("ann");
    await group.locator("[data-testid=group-add-user]").click();
    await group.locator("text=Members: ann").waitFor();
    await group.locator("[data-testid=group-role]").selectOption({ label: "reader" });
    await group.locator("[data-testid=group-repo]").selectOption("web");
    await group.locator("[data-testid=group-assign-role]").click();
    await group.locator("text=reader on web").waitFor();
    await h.check("groups");

    await page.click("text=Sign out");
    await page.locator("input[name=username]").waitFor();
  });

  it("the user signs in with a password, sees only their repository and no admin pages", async () => {
    await page.fill("input[name=username]", "ann");
    await page.fill("input[name=password]", "wrong password");
    await page.click("button[type=submit]");
    assert.match(await page.locator("[role=alert]").textContent(), /invalid username or password/);
    await page.fill("input[name=password]", "ann-password-1");
    await page.click("button[type=submit]");
    await page.locator("[data-testid=user]").waitFor();
    assert.equal(await page.locator("[data-testid=user]").textContent(), "ann");
    await h.check("signed-in");

    assert.equal(await page.locator("nav.topnav >> text=Administration").count(), 0, "no admin link");
    await page.click("nav >> text=Repositories");
    await page.locator("tr[data-repo=web]").waitFor();
    assert.equal(await page.locator("tr[data-repo=secret]").count(), 0, "the other repository is hidden");
    await h.check("repositories-as-user");

    await page.goto(base + "/admin/users");
    await page.locator("[data-testid=admin-denied]").waitFor();
    assert.equal(await page.locator("[data-testid=user-list]").count(), 0);
    await h.check("admin-denied");

    // The server refuses the admin calls themselves, not only the UI.
    const login = await fetch(`${base}/api/v1/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "ann", password: "ann-password-1" }),
    }).then((r) => r.json());
    const r = await h.api("/graphql", { token: login.token, body: { query: "{ users { username } }" } });
    assert.equal(r.errors[0].extensions.status, 403, JSON.stringify(r));
    const q = await fetch(`${base}/api/v1/repositories/secret/query`, {
      method: "POST",
      headers: { authorization: `Bearer ${login.token}`, "content-type": "application/json" },
      body: JSON.stringify({ queryString: "*" }),
    });
    assert.equal(q.status, 404);
  });
});
