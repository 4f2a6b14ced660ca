// An error's remedy in the app's words: the field, page or button to use for
// each option and command the engine names (crates/factory/src/remedy.rs).
// The records are exhaustive: a new Flag or Command fails the type check
// until it has its words here.
import type { Command, Flag, Remedy } from "./bindings";

const ADVANCED = "Build page, Advanced";

export const FLAG_WORDS: Record<Flag, string> = {
  minimal: "the Minimal package type (Build page)",
  gpu: "the GPU package type (Build page)",
  jobs: "Build jobs (Build page)",
  keep: `“Keep the build container when the build fails” (${ADVANCED})`,
  force: "replacing what is there when asked",
  yes: "confirming when asked",
  sign: `Sign with GPG key (${ADVANCED}, Publish to)`,
  key: "the signer's public key file (Artifacts page, signatures)",
  from: `Install from (${ADVANCED})`,
  trust: `Trusted public key (${ADVANCED}, Install from)`,
  from_credentials: `Login (${ADVANCED}, Install from)`,
  from_registry_ca: `CA certificate (${ADVANCED}, Install from)`,
  remote: "the remotes setting (Settings page)",
  help: "the field's description",
};

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
        return { text: p.flag === "gpu" && p.value ? `the GPU package type with vendor ${p.value.toUpperCase()} (Build page)` : FLAG_WORDS[p.flag], code: false };
      case "command":
        return { text: COMMAND_WORDS[p.command], code: false };
      case "setting":
        return { text: `the ${p.key} setting (Settings page)`, code: false };
      case "code":
        return { text: p.code, code: true };
    }
  });
}
