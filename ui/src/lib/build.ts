// Starting and cancelling builds. Events arrive over a Tauri channel in
// batches (every ~40 ms, log lines as bare strings), so a chatty compile
// costs one message per batch, not one per line.
import { Channel } from "@tauri-apps/api/core";
import { api } from "./api";
import type { BatchItem, BuildFlags, BuildRequest, PublishOptions } from "./bindings";
import { ingest, runs } from "./runs.svelte";

/**
 * A channel for a build's event batches. Each batch is acknowledged once the
 * page has drawn it (the next animation frame), and the backend holds the
 * next batch until then: a busy page gets fewer, larger batches instead of
 * a backlog.
 */
export function eventsChannel(onBatch: (batch: BatchItem[]) => void): Channel<BatchItem[]> {
  const channel = new Channel<BatchItem[]>();
  channel.onmessage = (batch) => {
    onBatch(batch);
    // A lost acknowledgement only slows the next batch to the backend's 1 s timeout.
    requestAnimationFrame(() => void api.eventsAck(channel.id).catch(() => {}));
  };
  return channel;
}

let counter = 0;

/**
 * Starts an engine run (a build, a publish) shown live on the Runs page as
 * `label`; resolves with its run id once the engine has created the run.
 */
async function startRun(label: string, start: (channel: Channel<BatchItem[]>) => Promise<string>): Promise<string> {
  const key = `pending-${++counter}`;
  const entry = runs.addLive(key, label);
  const channel = eventsChannel((batch) => {
    const before = entry.view.id;
    ingest(entry, batch);
    if (entry.view.id !== before) {
      // The Runs page may have read the new run from disk already: keep the live one.
      runs.entries = runs.entries.filter((e) => e === entry || e.view.id !== entry.view.id);
      if (runs.selected === before) runs.selected = entry.view.id;
    }
  });
  try {
    return await start(channel);
  } catch (e) {
    runs.entries = runs.entries.filter((x) => x.view.id !== key);
    throw e;
  }
}

/** Starts a build; resolves with its run id once the engine has created the run. */
export function startBuild(request: BuildRequest, flags: BuildFlags, artifactName: string): Promise<string> {
  return startRun(artifactName, (channel) => api.startBuild(request, flags, channel));
}

/** Publishes a stored artifact (`slurm-factory publish`), live like a build. */
export function startPublish(id: string, options: PublishOptions, offline: boolean, artifactName: string): Promise<string> {
  return startRun(artifactName, (channel) => api.artifactPublish(id, options, offline, channel));
}

export function cancelBuild(id: string): Promise<void> {
  return api.cancelBuild(id);
}
