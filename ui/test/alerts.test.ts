import { describe, expect, it } from "vitest";
import { fmtSecs } from "../src/pages/AlertsCommon";
import { alertInput, newDraft } from "../src/pages/AlertsForm";

describe("alert form inputs", () => {
  it("builds each kind's GraphQL input with LogScale's field names", () => {
    const d = { ...newDraft("filter", "level=ERROR"), name: " errors ", throttle: "10m", actionIds: ["a1"] };
    expect(alertInput("app", d)).toEqual({
      viewName: "app",
      name: "errors",
      description: "",
      queryString: "level=ERROR",
      throttleField: null,
      enabled: true,
      actionIdsOrNames: ["a1"],
      throttleTimeSeconds: 600,
    });
    const a = { ...newDraft("aggregate", "count()"), id: "x", name: "n", window: "1h", throttle: "0", throttleField: "user", triggerMode: "ImmediateMode" as const };
    expect(alertInput("app", a)).toMatchObject({ id: "x", searchIntervalSeconds: 3600, throttleTimeSeconds: 0, throttleField: "user", triggerMode: "ImmediateMode", actionIdsOrNames: [] });
    const l = { ...newDraft("legacy", "x"), name: "n", window: "2h", throttle: "90s", actionIds: ["a"] };
    const li = alertInput("app", l);
    expect(li).toMatchObject({ queryStart: "2h", throttleTimeMillis: 90_000, actions: ["a"] });
    expect(li).not.toHaveProperty("actionIdsOrNames");
  });

  it("refuses a throttle that is not a duration, naming the field", () => {
    expect(() => alertInput("app", { ...newDraft("filter"), throttle: "soon" })).toThrow(/Throttle: "soon"/);
  });

  it("shows seconds in the largest whole unit", () => {
    expect([fmtSecs(0), fmtSecs(90), fmtSecs(300), fmtSecs(7200), fmtSecs(86400)]).toEqual(["none", "90s", "5m", "2h", "1d"]);
  });
});
