// The History page's plots, as data: every figure comes from the engine's
// History (crates/factory/src/store/history.rs, the same `runs stats --json` prints);
// these only arrange it into the columns uPlot draws.
import { LAYERS, STAGES } from "./bindings";
import type { History, Layer, RunStats, Stage } from "./bindings";
import { stageLabel } from "./format";

/** uPlot's data: x values first, then one array per series (null = no point). */
export type Columns = [number[], ...(number | null)[][]];

/** A run's x position is its index, oldest first. */
function xs(h: History): number[] {
  return h.runs.map((_, i) => i);
}

/** "07:48:54" from a run id `20261203-074854-4d9c` (UTC, as the id is). */
export function runTime(id: string): string {
  const m = /^\d{8}-(\d{2})(\d{2})(\d{2})/.exec(id);
  return m ? `${m[1]}:${m[2]}:${m[3]}` : id;
}

export interface Stacked {
  /** The stages that took time in any run, in pipeline order. */
  stages: Stage[];
  /** Seconds, cumulative: series i is the top of stage i's segment. */
  data: Columns;
}

/**
 * Stage times as stacked bars: bars are drawn tallest first, so each stage's
 * cumulative top hides the ones below only where they belong.
 */
export function stageStack(h: History): Stacked {
  const stages = STAGES.filter((s) => h.runs.some((r) => r.stages.some((t) => t.stage === s)));
  const tops = stages.map(() => [] as (number | null)[]);
  for (const run of h.runs) {
    let sum = 0;
    stages.forEach((stage, i) => {
      const t = run.stages.filter((x) => x.stage === stage).reduce((a, x) => a + x.elapsed_ms, 0);
      sum += t;
      tops[i].push(run.stages.length ? sum / 1000 : null);
    });
  }
  return { stages, data: [xs(h), ...tops] };
}

/** The seconds a run spent in one stage. */
export function stageSeconds(run: RunStats, stage: Stage): number {
  return run.stages.filter((x) => x.stage === stage).reduce((a, x) => a + x.elapsed_ms, 0) / 1000;
}

export interface Rates {
  layers: Layer[];
  /** Percent of lookups served, per layer; null where a run did not look. */
  data: Columns;
}

/** Cache hit rate per layer and run. */
export function cacheRates(h: History): Rates {
  const layers = LAYERS.filter((l) => h.runs.some((r) => r.cache.some((u) => u.layer === l)));
  const series = layers.map((layer) =>
    h.runs.map((r) => {
      const u = r.cache.find((c) => c.layer === layer);
      return u && u.lookups > 0 ? (100 * u.hits) / u.lookups : null;
    }),
  );
  return { layers, data: [xs(h), ...series] };
}

export interface Sizes {
  names: string[];
  /** "MiB", or "KiB" when every package is under 1 MiB. */
  unit: string;
  /** Package size in `unit` per artifact name; null for runs of other names. */
  data: Columns;
}

/** Package size over builds, one series per artifact name. */
export function packageSizes(h: History): Sizes {
  const sized = h.runs.filter((r) => r.package_bytes != null);
  const names = [...new Set(sized.map((r) => r.artifact_name))];
  const small = sized.every((r) => r.package_bytes! < 2 ** 20);
  const div = small ? 2 ** 10 : 2 ** 20;
  const series = names.map((name) =>
    h.runs.map((r) => (r.artifact_name === name && r.package_bytes != null ? r.package_bytes / div : null)),
  );
  return { names, unit: small ? "KiB" : "MiB", data: [xs(h), ...series] };
}

export interface Failures {
  stages: string[];
  data: Columns;
}

/** Failed runs by the stage they stopped at. */
export function failuresByStage(h: History): Failures {
  return {
    stages: h.failures.map((f) => stageLabel(f.stage)),
    data: [h.failures.map((_, i) => i), h.failures.map((f) => f.failed)],
  };
}

/** Colours for series: distinct in light and dark themes. */
export const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#e15759",
  "#76b7b2",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
  "#2f4b7c",
];
