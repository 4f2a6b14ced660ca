//! The command list's TypeScript types (command_list.rs) read against the
//! Rust functions they describe: a test fails when an argument or a result
//! differs, so the page's typed wrappers (commands.ts) cannot drift from
//! what the commands take and return.

use std::path::Path;

use crate::COMMANDS;

/// Arguments the shell injects: never sent by the page, never listed.
const INJECTED: &[&str] = &["State", "AppHandle", "Window", "WebviewWindow"];

/// `ty` as the command list writes it in TypeScript; `None` for an
/// injected argument.
fn typescript(ty: &syn::Type) -> Option<String> {
    let path = match ty {
        syn::Type::Reference(r) => return typescript(&r.elem),
        syn::Type::Tuple(t) if t.elems.is_empty() => return Some("void".into()),
        syn::Type::Path(p) => &p.path,
        _ => panic!("a command type this test does not know (a slice, a tuple, a fn)"),
    };
    let last = path.segments.last().unwrap();
    let name = last.ident.to_string();
    let params: Vec<&syn::Type> = match &last.arguments {
        syn::PathArguments::AngleBracketed(a) => a
            .args
            .iter()
            .filter_map(|arg| match arg {
                syn::GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let param = |i: usize| typescript(params[i]).unwrap();
    Some(match name.as_str() {
        n if INJECTED.contains(&n) => return None,
        "String" | "str" | "PathBuf" => "string".into(),
        "bool" => "boolean".into(),
        "u8" | "u16" | "u32" | "u64" | "usize" | "i32" | "i64" | "f64" => "number".into(),
        "Option" => format!("{} | null", param(0)),
        "Vec" => format!("{}[]", param(0)),
        "BTreeMap" | "HashMap" => format!("Record<{}, {}>", param(0), param(1)),
        "Channel" => format!("Channel<{}>", param(0)),
        // What the page gets of `Ok`; an `Err` arrives as an ErrorReport.
        "CmdResult" | "Result" => param(0),
        // An engine type: bindings.ts names it as Rust does.
        _ => name,
    })
}

/// The function `name` of `src/<module>.rs`: its arguments the page sends,
/// and its result, in TypeScript.
fn signature(module: &str, name: &str) -> (Vec<(String, String)>, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("src/{module}.rs"));
    let file = syn::parse_file(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let function = file
        .items
        .iter()
        .find_map(|item| match item {
            syn::Item::Fn(f) if f.sig.ident == name => Some(f),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no fn {name} in {}", path.display()));
    let args = function
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            syn::FnArg::Typed(arg) => {
                let ts = typescript(&arg.ty)?;
                let syn::Pat::Ident(id) = &*arg.pat else {
                    panic!("{name}: an argument without a plain name")
                };
                Some((id.ident.to_string(), ts))
            }
            syn::FnArg::Receiver(_) => None,
        })
        .collect();
    let returns = match &function.sig.output {
        syn::ReturnType::Default => "void".into(),
        syn::ReturnType::Type(_, ty) => typescript(ty).unwrap(),
    };
    (args, returns)
}

#[test]
fn the_listed_types_are_the_commands_own() {
    let mut wrong = Vec::new();
    for c in COMMANDS {
        let (args, returns) = signature(c.module, c.name);
        let listed: Vec<(String, String)> = c
            .args
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        if listed != args || c.returns != returns {
            wrong.push(format!(
                "{}::{}: listed ({listed:?}) -> {}, the function takes ({args:?}) -> {returns}",
                c.module, c.name, c.returns
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "command_list.rs differs:\n{}",
        wrong.join("\n")
    );
}
