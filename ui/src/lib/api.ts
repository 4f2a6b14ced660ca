// The app's commands, typed: the wrappers are generated from the Rust list
// (commands.ts, from src-tauri/src/command_list.rs), the types from the engine
// (bindings.ts). Errors arrive as ErrorReport (message + hint).
import type { ErrorReport } from "./bindings";

export { commands as api } from "./commands";

export function isErrorReport(e: unknown): e is ErrorReport {
  return typeof e === "object" && e !== null && "error" in e && "hint" in e;
}

/**
 * Turns anything a command threw into a report the page can show. Tauri's own
 * refusals (arguments that do not deserialize) may quote a whole argument:
 * cut to a readable length.
 */
export function toReport(e: unknown): ErrorReport {
  if (isErrorReport(e)) return e;
  const text = String(e);
  const error = text.length > 300 ? `${text.slice(0, 300)}… (${text.length} characters)` : text;
  return { error, hint: "", remedy: [], kind: "internal", exit_code: 1 };
}
