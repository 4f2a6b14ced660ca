import { describe, expect, it } from "vitest";
import { BUILD_OPTIONS } from "./bindings";
import { groupsOf, isGiven } from "./options";

describe("build options", () => {
  it("groups the engine's options in its order, each group once", () => {
    const groups = groupsOf(BUILD_OPTIONS);
    expect(groups.map((g) => g.group)).toEqual(["build", "package", "publishing", "install-from"]);
    expect(groups.flatMap((g) => g.options).length).toBe(BUILD_OPTIONS.length);
  });

  it("every option it relates to exists", () => {
    const names = new Set(BUILD_OPTIONS.map((o) => o.name));
    for (const o of BUILD_OPTIONS) {
      if (o.requires) expect(names).toContain(o.requires);
      if (o.conflicts) expect(names).toContain(o.conflicts);
    }
  });

  it("counts a switch on, a value or a list not empty as given", () => {
    const values = { a: true, b: false, c: "", d: "x", e: [], f: ["u"], g: null };
    expect(["a", "b", "c", "d", "e", "f", "g"].filter((n) => isGiven(values, n))).toEqual(["a", "d", "f"]);
  });
});
