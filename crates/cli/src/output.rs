//! How the CLI talks: text for people on stdout/stderr, or JSON on stdout.

/// `println!` that carries on quietly when stdout is gone (`slurm-factory runs
/// show ID | head`): a reader closing the pipe is its choice, not our error, and
/// a build must keep going so that it still cleans up after itself.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` with the same manners as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

use std::io::{IsTerminal, Write};

use factory::error::{Error, ErrorReport};

pub struct Out {
    pub json: bool,
    pub quiet: bool,
    color: bool,
}

impl Out {
    pub fn new(json: bool, quiet: bool) -> Out {
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Out { json, quiet, color }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn red(&self, text: &str) -> String {
        self.paint("1;31", text)
    }
    pub fn yellow(&self, text: &str) -> String {
        self.paint("1;33", text)
    }
    pub fn green(&self, text: &str) -> String {
        self.paint("1;32", text)
    }
    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }

    /// An error with its hint: text on stderr, or a JSON object on stdout.
    pub fn error(&self, err: &Error) {
        if self.json {
            self.json_line(&ErrorReport::from(err));
        } else {
            eprintln!("{} {err}", self.red("error:"));
            eprintln!("  {} {}", self.dim("hint:"), err.hint());
        }
    }

    pub fn warn(&self, message: &str) {
        if !self.quiet {
            eprintln!("{} {message}", self.yellow("warning:"));
        }
    }

    /// Pretty JSON on stdout.
    pub fn json<T: serde::Serialize>(&self, value: &T) {
        let text = serde_json::to_string_pretty(value).expect("output serializes");
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }

    /// One compact JSON line on stdout (for streams).
    pub fn json_line<T: serde::Serialize>(&self, value: &T) {
        let text = serde_json::to_string(value).expect("output serializes");
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }
}

/// Rows of `label  value` with the labels padded to one width.
pub fn table(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(l, v)| format!("  {l:width$}  {v}\n"))
        .collect()
}
