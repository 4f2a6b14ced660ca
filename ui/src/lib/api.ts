// The app's commands, typed: the wrappers are generated from the Rust list
// (commands.ts, from src-tauri/src/command_list.rs), the types from the engine
// (bindings.ts). Errors arrive as ErrorReport (message + hint).
import type { ErrorReport } from "./bindings";

export { commands as api } from "./commands";

export function isErrorReport(e: unknown): e is ErrorReport {
  return typeof e === "object" && e !== null && "error" in e && "hint" in e;
}

/** Turns anything a command threw into a report the page can show. */
export function toReport(e: unknown): ErrorReport {
  if (isErrorReport(e)) return e;
  return { error: String(e), hint: "", kind: "internal", exit_code: 1 };
}
