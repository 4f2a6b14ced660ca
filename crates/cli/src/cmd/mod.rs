pub mod artifacts;
pub mod build;
pub mod cache;
pub mod clean;
pub mod completions;
pub mod config;
pub mod detect;
pub mod doctor;
pub mod flags;
pub mod matrix;
pub mod mirror;
pub mod plan;
pub mod publish;
pub mod runs;
pub mod templates;

/// Asks on a terminal before deleting `what`; anywhere else (or with
/// `--json`) the answer is no, so scripts must say `--yes`.
pub fn confirm(out: &crate::output::Out, what: &str) -> factory::Result<()> {
    use std::io::{BufRead, IsTerminal, Write};
    let refused = || factory::Error::NeedsConfirmation { what: what.into() };
    if out.json || !std::io::stdin().is_terminal() {
        return Err(refused());
    }
    eprint!("{}? [y/N] ", capitalized(what));
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| factory::Error::io("reading the answer", "stdin", e))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(refused())
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
