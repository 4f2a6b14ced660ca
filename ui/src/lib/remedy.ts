// An error's remedy in the app's words: the field, page or button to use for
// each option and command the engine names (crates/factory/src/error/remedy.rs).
// A build flag is named by its label in the options' table (BUILD_OPTIONS), a
// request option by its field on the Build page; the records are exhaustive:
// a new request option, Flag or Command fails the type check until it has
// its words here.
import { BUILD_OPTIONS, type BuildRequest, type Command, type Flag, type Remedy } from "./bindings";

/** The Build page's fields for the request's options. */
export const REQUEST_WORDS: Record<keyof BuildRequest, string> = {
  slurm_version: "the Slurm version (Build page)",
  gpu: "the GPU package type (Build page)",
  minimal: "the Minimal package type (Build page)",
  target: "the Target field (Build page)",
  gpu_arch: "the GPU architectures field (Build page)",
  jobs: "Build jobs (Build page)",
  compiler: "the Compiler (Build page)",
  toolchain: "the Toolchain (Build page)",
};

export const FLAG_WORDS: Record<Flag, string> = {
  force: "replacing what is there when asked",
  yes: "confirming when asked",
  key: "the signer's public key file (Artifacts page, signatures)",
  remote: "the remotes setting (Settings page)",
  help: "the field's description",
};

/** A build option as the app names it: its label and where it is. */
export function optionWords(name: string, value: string | null): string {
  if (name === "gpu" && value) return `the GPU package type with vendor ${value.toUpperCase()} (Build page)`;
  if (name in REQUEST_WORDS) return REQUEST_WORDS[name as keyof BuildRequest];
  const option = BUILD_OPTIONS.find((o) => o.name === name);
  return option ? `“${option.label}” (Build page, Advanced: ${option.heading})` : name;
}

export const COMMAND_WORDS: Record<Command, string> = {
  detect: "the Host panel on the Build page",
  doctor: "the Doctor page",
  config_show: "the Settings page",
  clean: "Clean on the Caches page",
  cache_clean: "Clean on the Caches page",
  cache_status: "the Caches page",
  artifacts_list: "the Artifacts page",
  artifacts_delete: "Delete on the Artifacts page",
  runs_list: "the Runs page",
  templates_export: "the CLI's slurm-factory templates export DIR",
  plan_output: "the CLI's slurm-factory plan --output DIR",
  plan_save_preset: "Save preset… (Build page)",
  mirror_check: "Check sources (Caches page)",
  mirror_create: "Fill mirror (Caches page)",
  mirror_export: "Export bundle… (Caches page)",
  mirror_import: "Import bundle… (Caches page)",
  matrix_resume: "Run on the Matrix page, with “Skip packages already verified”",
  matrix_dry_run: "Check on the Matrix page",
};

/** One piece of a remedy as the app shows it: words, or code. */
export interface Shown {
  text: string;
  code: boolean;
}

export function showRemedy(remedy: Remedy): Shown[] {
  return remedy.map((p): Shown => {
    switch (p.kind) {
      case "text":
        return { text: p.text, code: false };
      case "flag":
        return { text: FLAG_WORDS[p.flag], code: false };
      case "option":
        return { text: optionWords(p.option, p.value), code: false };
      case "command":
        return { text: COMMAND_WORDS[p.command], code: false };
      case "setting":
        return { text: `the ${p.key} setting (Settings page)`, code: false };
      case "code":
        return { text: p.code, code: true };
    }
  });
}
