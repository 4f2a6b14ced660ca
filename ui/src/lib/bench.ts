// Benchmark only (built with VITE_BENCH=1 against an app built with the
// `bench` feature): streams synthetic log lines into a live run on the Runs
// page, through the same channel, ingest and log viewer as a real build,
// and measures how far the page lags behind the backend.
import { invoke } from "@tauri-apps/api/core";
import { api } from "./api";
import { eventsChannel } from "./build";
import { PAGES, type PageId } from "./pages";
import { router } from "./router.svelte";
import { ingest, runs } from "./runs.svelte";

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  const r = (v: number) => Math.round(v);
  return { n: s.length, p50: r(at(0.5)), p95: r(at(0.95)), p99: r(at(0.99)), max: r(s[s.length - 1] ?? 0) };
}

/** The median of each tenth of the run, to show whether lag grows with the log. */
function tenths(xs: number[]) {
  const n = Math.max(1, Math.floor(xs.length / 10));
  return Array.from({ length: 10 }, (_, i) => stats(xs.slice(i * n, (i + 1) * n)).p50);
}

declare global {
  interface Window {
    sfBench?: (
      lines: number,
      rate: number,
      page?: PageId | "busy",
      periodMs?: number,
      exportDir?: string,
    ) => Promise<unknown>;
  }
}

/**
 * What a user does meanwhile on a "busy" round: every 250 ms the next page
 * (the Doctor's, which calls LXD, left out) and one of the commands those
 * pages call, cleaning a cache layer among them and, given `exportDir`,
 * exporting the first package there (the Artifacts page's export past its
 * save dialog).
 */
function busyUser(exportDir?: string): { stop: () => number; exports: number[] } {
  const pages = PAGES.map((p) => p.id).filter((p) => p !== "doctor");
  const exports: number[] = [];
  const exportOne = async () => {
    const [first] = await api.artifactsList();
    if (!exportDir || !first) return;
    const t = performance.now();
    await invoke("bench_export", { id: first.id, to: `${exportDir}/export-${exports.length % 2}.tar.zst` });
    exports.push(performance.now() - t);
  };
  const actions = [
    exportOne,
    () => api.runsStats(60),
    () => api.cacheStatus(),
    () => api.cacheHits(),
    () => api.artifactsList(),
    () => api.cacheClean("ccache"),
    () => api.runsList(),
  ];
  let n = 0;
  const timer = setInterval(() => {
    router.go(pages[n % pages.length]);
    void actions[n % actions.length]().catch(() => undefined);
    n++;
  }, 250);
  return {
    stop: () => {
      clearInterval(timer);
      router.go("runs");
      return n;
    },
    exports,
  };
}

window.sfBench = async (
  lines: number,
  rate: number,
  page: PageId | "busy" = "runs",
  periodMs?: number,
  exportDir?: string,
) => {
  const busy = page === "busy" ? busyUser(exportDir) : null;
  if (!busy) router.go(page as PageId);
  const entry = runs.addLive(`bench-${runs.entries.length}`, "benchmark: synthetic build log");
  entry.view.status = "running";
  // Per batch: the age of its oldest line when it arrived, and when painted
  // (after Svelte's update and the browser's paint of the new rows).
  const arrival: number[] = [];
  const painted: number[] = [];
  const ingestMs: number[] = [];
  let batches = 0;
  const t0 = performance.now();
  const channel = eventsChannel((batch) => {
    batches++;
    const oldest = batch[0].t_ms;
    arrival.push(performance.now() - t0 - oldest);
    const a = performance.now();
    ingest(entry, batch);
    ingestMs.push(performance.now() - a);
    requestAnimationFrame(() => painted.push(performance.now() - t0 - oldest));
  });
  // The longest time between two frames: what a user feels as a stall.
  const gaps: number[] = [];
  let last = performance.now();
  let framing = true;
  const frame = (t: number) => {
    gaps.push(t - last);
    last = t;
    if (framing) requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  const backend = await invoke("bench_stream", { lines, rate, periodMs, onEvents: channel });
  const actions = busy?.stop() ?? 0;
  framing = false;
  await new Promise((r) => setTimeout(r, 300));
  const received = entry.log.count;
  entry.view.status = "succeeded";
  // The next round starts with an empty log, as a new build would.
  entry.log.clear();
  return {
    backend,
    batches,
    received,
    arrival_ms: stats(arrival),
    painted_ms: stats(painted),
    painted_p50_by_tenth: tenths(painted),
    ingest_ms: stats(ingestMs),
    frame_gap_ms: stats(gaps),
    user_actions: actions,
    export_ms: stats(busy?.exports ?? []),
    js_heap_mib: heapMiB(),
  };
};

function heapMiB(): number | null {
  const m = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory;
  return m ? Math.round(m.usedJSHeapSize / 2 ** 20) : null;
}
