pub mod completions;
pub mod config;
pub mod detect;
pub mod doctor;
pub mod plan;

/// Asks on the terminal; without one, refuses so scripts must say `--yes`.
pub fn confirm(question: &str) -> factory::Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(factory::Error::ConfirmationRequired {
            action: question.trim_end_matches('?').to_string(),
        });
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| factory::Error::io("reading the answer", "stdin", e))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
