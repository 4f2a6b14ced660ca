// WebDriver script of gui.rs's app_commands_take_garbage_without_harm:
// garbage through every app command that takes text. Arguments: the path a
// shell would create if one ran, a real run id, and the callback.
const [marker, runId, done] = arguments;
const invoke = window.__TAURI_INTERNALS__.invoke;

// mulberry32: the same strings on every run.
let seed = 20261203;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const alphabet = [
  "a", "Z", "0", "9", "-", "_", ".", "/", "\\", "$", "(", ")", "`", ";", "|", "&", "<", ">",
  "*", "?", "~", "!", "#", "'", '"', "{", "}", "[", "]", " ", "\t", "\n", "\r", "\u0000",
  "\u001b", "\u007f", "é", "€", "𝄞", "\u202e", "\ud800", "\udfff", "%", "=", ":", "@",
];
const randomString = () => {
  const n = Math.floor(rand() ** 3 * 300);
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
  return s;
};
const shell = [
  `$(touch ${marker})`,
  "`touch " + marker + "`",
  `;touch ${marker}`,
  `| touch ${marker}`,
  `&& touch ${marker}`,
  `\ntouch ${marker}\n`,
  `' ; touch ${marker} #`,
  `" ; touch ${marker} #`,
  `-o ProxyCommand=touch ${marker}`,
  `--help; touch ${marker}`,
];
const odd = [
  "", " ", ".", "..", "../..", "../../../../../etc/passwd", "/", "/etc", "~", "*", "-rf", "--",
  "a".repeat(100000), "\u0000", "x\u0000y", "\ud800", "é".repeat(5000), "24.11; reboot",
  "zen3\nx", "x86_64_v3 ", "NaN", "null", "[]", "{}", runId, `${runId}/../..`,
];
const strings = [...shell, ...odd, ...Array.from({ length: 150 }, randomString)];
const base = {
  slurm_version: "", gpu: null, minimal: true, target: null, gpu_arch: [], jobs: null,
  compiler: "system", toolchain: null,
};
const calls = [];
for (const s of strings) {
  calls.push(
    ["settings_check", { key: s, value: s }],
    ["settings_check", { key: "image", value: s }],
    ["settings_check", { key: "data_dir", value: s }],
    ["run_events", { id: s }],
    ["run_log", { id: s, offset: 0, maxBytes: 4096 }],
    ["artifact_show", { id: s }],
    ["artifact_delete", { id: s }],
    ["cancel_build", { id: s }],
    ["cache_clean", { layer: s }],
    ["matrix_check", { text: s }],
    ["matrix_check", { text: `axes: {target: [${JSON.stringify(s)}]}` }],
    ["matrix_servers", { text: s, parallel: 1 }],
    ["plan", { request: { ...base, slurm_version: s } }],
    ["plan", { request: { ...base, target: s } }],
    ["plan", { request: { ...base, toolchain: s } }],
    ["plan", { request: { ...base, gpu: "cuda", gpu_arch: [s] } }],
  );
}
// Numbers and shapes the page never sends.
for (const n of [-1, 2 ** 53, 1e308, -0, 0.5, "7", null, [], {}]) {
  calls.push(
    ["run_log", { id: runId, offset: n, maxBytes: n }],
    ["runs_stats", { last: n }],
    ["matrix_servers", { text: "axes: {minimal: [true]}", parallel: n }],
    ["plan", { request: { ...base, jobs: n } }],
    ["plan", { request: { ...base, compiler: n } }],
  );
}
calls.push(["plan", { request: null }], ["plan", { request: "x" }], ["plan", {}], ["cache_clean", {}]);
// Settings last: a value the engine accepts changes what later calls see.
for (const s of strings) {
  calls.push(["settings_set", { updates: { [s]: s } }], ["settings_set", { updates: { storage_pool: s } }]);
}

const tally = { ok: 0, refused: 0, malformed: 0 };
const bad = [];
const hung = [];
const slowest = { ms: 0, call: "" };
// A call that settles in neither way within this is reported, not waited for.
const patience = (ms) => new Promise((resolve) => setTimeout(() => resolve(hung), ms));
// The engine's refusals must stay readable; Tauri's own refusals of
// arguments that do not deserialize (a page bug, never user input) may echo
// the input: the page cuts those (api.ts, toReport).
let longest = "";
let longestMalformed = 0;
const t0 = performance.now();
for (const [cmd, args] of calls) {
  const t = performance.now();
  try {
    const r = await Promise.race([invoke(cmd, args), patience(5000)]);
    if (r === hung) {
      hung.push([cmd, JSON.stringify(args).slice(0, 200)]);
      continue;
    }
    tally.ok++;
  } catch (e) {
    // The engine's refusals are reports; arguments that do not deserialize
    // are refused by Tauri itself with a string.
    if (e && typeof e === "object" && typeof e.error === "string" && e.error && typeof e.hint === "string") {
      tally.refused++;
      const text = `${cmd}: ${e.error}\n${e.hint}`;
      if (text.length > longest.length) longest = text;
    } else if (typeof e === "string" && e) {
      tally.malformed++;
      longestMalformed = Math.max(longestMalformed, e.length);
    } else {
      bad.push([cmd, JSON.stringify(args).slice(0, 200), String(e)]);
    }
  } finally {
    const ms = performance.now() - t;
    if (ms > slowest.ms) Object.assign(slowest, { ms: Math.round(ms), call: `${cmd} ${JSON.stringify(args).slice(0, 120)}` });
  }
}
const alive = await invoke("settings_get", {}).then(
  () => true,
  () => false,
);
done({
  calls: calls.length,
  ...tally,
  bad: bad.slice(0, 20),
  hung: hung.slice(0, 20),
  hung_count: hung.length,
  slowest,
  alive,
  longest_error: longest.length,
  longest_example: longest.slice(0, 600),
  longest_malformed: longestMalformed,
  seconds: Math.round((performance.now() - t0) / 100) / 10,
});
