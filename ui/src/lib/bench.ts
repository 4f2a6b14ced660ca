// Benchmark only (built with VITE_BENCH=1 against an app built with the
// `bench` feature): streams synthetic log lines into a live run on the Runs
// page, through the same channel, ingest and log viewer as a real build,
// and measures how far the page lags behind the backend.
import { Channel, invoke } from "@tauri-apps/api/core";
import type { EventRecord } from "./bindings";
import { router } from "./router.svelte";
import { ingest, runs } from "./runs.svelte";

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return { n: s.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: s[s.length - 1] ?? 0 };
}

declare global {
  interface Window {
    sfBench?: (lines: number, rate: number) => Promise<unknown>;
  }
}

window.sfBench = async (lines: number, rate: number) => {
  router.go("runs");
  const entry = runs.addLive("bench", "benchmark: synthetic build log");
  entry.view.status = "running";
  const arrival: number[] = [];
  const painted: number[] = [];
  let batches = 0;
  const channel = new Channel<EventRecord[]>();
  const t0 = performance.now();
  channel.onmessage = (batch) => {
    batches++;
    const last = batch[batch.length - 1];
    arrival.push(performance.now() - t0 - last.t_ms);
    ingest(entry, batch);
    // After Svelte's update and the browser's paint of the new rows.
    requestAnimationFrame(() => painted.push(performance.now() - t0 - last.t_ms));
  };
  const backend = await invoke("bench_stream", { lines, rate, onEvents: channel });
  await new Promise((r) => setTimeout(r, 300));
  entry.view.status = "succeeded";
  return { backend, batches, received: entry.log.count, arrival_ms: stats(arrival), painted_ms: stats(painted) };
};
