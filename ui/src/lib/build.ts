// Starting and cancelling builds. Events arrive over a Tauri channel in
// batches (the backend flushes every ~40 ms, log lines as bare strings), so a chatty compile costs one
// message per batch, not one per line.
import { Channel, invoke } from "@tauri-apps/api/core";
import type { BatchItem, BuildRequest } from "./bindings";
import { ingest, runs } from "./runs.svelte";

export interface BuildFlags {
  keep_on_failure: boolean;
  offline: boolean;
  verify: boolean;
}

let counter = 0;

/** Starts a build; resolves with its run id once the engine has created the run. */
export async function startBuild(request: BuildRequest, flags: BuildFlags, artifactName: string): Promise<string> {
  const key = `pending-${++counter}`;
  const entry = runs.addLive(key, artifactName);
  const channel = new Channel<BatchItem[]>();
  channel.onmessage = (batch) => {
    const before = entry.view.id;
    ingest(entry, batch);
    if (entry.view.id !== before) {
      // The Runs page may have read the new run from disk already: keep the live one.
      runs.entries = runs.entries.filter((e) => e === entry || e.view.id !== entry.view.id);
      if (runs.selected === before) runs.selected = entry.view.id;
    }
  };
  try {
    return await invoke<string>("start_build", {
      request,
      keepOnFailure: flags.keep_on_failure,
      offline: flags.offline,
      verify: flags.verify,
      onEvents: channel,
    });
  } catch (e) {
    runs.entries = runs.entries.filter((x) => x.view.id !== key);
    throw e;
  }
}

export function cancelBuild(id: string): Promise<void> {
  return invoke("cancel_build", { id });
}
