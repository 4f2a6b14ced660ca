//! The files generated from the command list (command_list.rs): the page's
//! typed wrappers and the capability that grants exactly these commands. A
//! test fails when either is stale; `UPDATE_BINDINGS=1` rewrites them.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::COMMANDS;

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// The type names of bindings.ts a TypeScript type mentions.
fn type_names(ts: &str) -> Vec<String> {
    ts.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| w.starts_with(|c: char| c.is_ascii_uppercase()))
        .filter(|w| !["Channel", "Record"].contains(w))
        .map(String::from)
        .collect()
}

/// ui/src/lib/commands.ts.
fn commands_ts() -> String {
    let mut imports = BTreeSet::new();
    let mut body = String::new();
    for c in COMMANDS {
        let params: Vec<String> = c
            .args
            .iter()
            .map(|(name, ty)| format!("{}: {ty}", camel(name)))
            .collect();
        let names: Vec<String> = c.args.iter().map(|(name, _)| camel(name)).collect();
        let payload = if names.is_empty() {
            String::new()
        } else {
            format!(", {{ {} }}", names.join(", "))
        };
        for (_, ty) in c.args {
            imports.extend(type_names(ty));
        }
        imports.extend(type_names(c.returns));
        body.push_str(&format!(
            "  {}: ({}) => invoke<{}>(\"{}\"{payload}),\n",
            camel(c.name),
            params.join(", "),
            c.returns,
            c.name
        ));
    }
    let channel = COMMANDS
        .iter()
        .any(|c| c.args.iter().any(|(_, ty)| ty.contains("Channel<")));
    format!(
        "// Generated from src-tauri/src/command_list.rs, the app's one list of commands.\n\
         // Do not edit: run `UPDATE_BINDINGS=1 cargo test -p slurm-factory-app generated`.\n\
         import {{ {}invoke }} from \"@tauri-apps/api/core\";\n\
         import type {{ {} }} from \"./bindings\";\n\n\
         export const commands = {{\n{body}}};\n",
        if channel { "type Channel, " } else { "" },
        imports.into_iter().collect::<Vec<_>>().join(", ")
    )
}

/// capabilities/default.json.
fn capability_json() -> String {
    let mut permissions = vec!["core:default".to_string()];
    permissions.extend(
        COMMANDS
            .iter()
            .map(|c| format!("allow-{}", c.name.replace('_', "-"))),
    );
    let value = serde_json::json!({
        "identifier": "default",
        "description": "The main window may call the app's own commands and nothing else: no \
            shell, no file system access, no plugin APIs. Dialogs and reveal-in-file-manager run \
            on the Rust side, so the web page never names a path to read. Generated from \
            src/command_list.rs.",
        "windows": ["main"],
        "permissions": permissions,
    });
    serde_json::to_string_pretty(&value).expect("JSON") + "\n"
}

fn check(path: PathBuf, wanted: String) {
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, wanted).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == wanted,
        "{} is stale: run `UPDATE_BINDINGS=1 cargo test -p slurm-factory-app generated`",
        path.display()
    );
}

#[test]
fn generated_files_follow_the_command_list() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    check(root.join("../ui/src/lib/commands.ts"), commands_ts());
    check(root.join("capabilities/default.json"), capability_json());
}

#[test]
fn names_become_camel_case_and_types_are_imported() {
    assert_eq!(camel("run_log"), "runLog");
    assert_eq!(camel("max_bytes"), "maxBytes");
    assert_eq!(type_names("Channel<BatchItem[]>"), ["BatchItem"]);
    assert_eq!(type_names("ExportResult | null"), ["ExportResult"]);
    let ts = commands_ts();
    assert!(ts.contains(
        "  runLog: (id: string, offset: number, maxBytes: number) => \
         invoke<LogPage>(\"run_log\", { id, offset, maxBytes }),"
    ));
    assert!(capability_json().contains("\"allow-cache-clean-all\""));
}
