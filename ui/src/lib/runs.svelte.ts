// Every run the Runs page shows: live ones fed by the build channel, past
// ones read back from their run directories.
import { api } from "./api";
import type { BatchItem, RunSummary } from "./bindings";
import { LogBuffer } from "./logbuffer.svelte";
import { applyEvent, newRun, type RunView } from "./runstate";

export interface RunEntry {
  view: RunView;
  log: LogBuffer;
  /** Started by this window: events arrive live. */
  live: boolean;
  /** Where the next page of build.log starts (past runs). */
  logOffset: number;
  loaded: boolean;
}

/** Feeds a batch into a run: events to the view, log lines to the log. */
export function ingest(entry: RunEntry, batch: BatchItem[]): void {
  for (const item of batch) {
    if ("lines" in item) entry.log.push(item.lines);
    else applyEvent(entry.view, item);
  }
}

class RunsStore {
  entries = $state<RunEntry[]>([]);
  selected = $state<string | null>(null);

  get(id: string): RunEntry | undefined {
    return this.entries.find((e) => e.view.id === id);
  }

  /** A run started here; `key` names it until the engine's run id arrives. */
  addLive(key: string, artifactName: string): RunEntry {
    const entry: RunEntry = {
      view: newRun(key, artifactName),
      log: new LogBuffer(),
      live: true,
      logOffset: 0,
      loaded: true,
    };
    this.entries.unshift(entry);
    this.selected = key;
    return this.entries[0];
  }

  /** Merges the run records on disk with the runs known here. */
  async refresh(): Promise<void> {
    const records = await api.runsList();
    for (const r of records) {
      if (!this.get(r.id)) this.entries.push(pastEntry(r));
    }
    this.entries.sort((a, b) => (a.live === b.live ? (a.view.id < b.view.id ? 1 : -1) : a.live ? -1 : 1));
  }

  /** Reads a past run's events and its log, page by page. */
  async load(entry: RunEntry): Promise<void> {
    if (entry.live || entry.loaded) return;
    entry.loaded = true;
    const events = await api.runEvents(entry.view.id);
    const view = newRun(entry.view.id, entry.view.artifact_name);
    for (const e of events) applyEvent(view, e);
    if (view.status === "queued" || view.status === "running") view.status = entry.view.status;
    entry.view = view;
    for (;;) {
      const page = await api.runLog(entry.view.id, entry.logOffset, 4 << 20);
      entry.log.push(page.lines);
      if (page.next_offset === entry.logOffset || page.next_offset >= page.size) {
        entry.logOffset = page.next_offset;
        break;
      }
      entry.logOffset = page.next_offset;
    }
  }
}

function pastEntry(r: RunSummary): RunEntry {
  const view = newRun(r.id, r.artifact_name);
  view.status = r.status;
  view.artifact_id = r.artifact_id ?? null;
  return { view, log: new LogBuffer(), live: false, logOffset: 0, loaded: false };
}

export const runs = new RunsStore();
