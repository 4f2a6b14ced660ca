// The engine's build options (BUILD_OPTIONS) as the Advanced form shows them.
import type { OptionDescription, OptionGroup } from "./bindings";

/** Whether an option has a value: a switch on, a value or a list not empty. */
export function isGiven(values: Record<string, unknown>, name: string): boolean {
  const value = values[name];
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "string") return value.trim() !== "";
  return value === true;
}

export interface Group {
  group: OptionGroup;
  heading: string;
  options: OptionDescription[];
}

/** The options by group, in the engine's order. */
export function groupsOf(options: OptionDescription[]): Group[] {
  const groups: Group[] = [];
  for (const option of options) {
    const last = groups[groups.length - 1];
    if (last?.group === option.group) last.options.push(option);
    else groups.push({ group: option.group, heading: option.heading, options: [option] });
  }
  return groups;
}
