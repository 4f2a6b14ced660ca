//! What fixes an error, as data: text, and the option, command or setting
//! to use. The CLI renders an option as its flag and a command as
//! `slurm-factory …`; the app names its own field, page or button for each
//! (ui/src/lib/remedy.ts, which must have one for every [`Flag`] and
//! [`Command`]).

use serde::{Deserialize, Serialize};

/// A choice the user makes for one run: a flag of the CLI, a field of the
/// app's forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    Minimal,
    Gpu,
    Jobs,
    Keep,
    Force,
    Yes,
    Sign,
    Key,
    From,
    Trust,
    FromCredentials,
    FromRegistryCa,
    Remote,
    Help,
}

impl Flag {
    pub fn cli(self) -> &'static str {
        match self {
            Flag::Minimal => "--minimal",
            Flag::Gpu => "--gpu",
            Flag::Jobs => "--jobs",
            Flag::Keep => "--keep",
            Flag::Force => "--force",
            Flag::Yes => "--yes",
            Flag::Sign => "--sign",
            Flag::Key => "--key",
            Flag::From => "--from",
            Flag::Trust => "--trust",
            Flag::FromCredentials => "--from-credentials",
            Flag::FromRegistryCa => "--from-registry-ca",
            Flag::Remote => "--remote",
            Flag::Help => "--help",
        }
    }

    /// The flag with its value, as in `--jobs N`.
    pub fn with(self, value: impl Into<String>) -> RemedyPart {
        RemedyPart::Flag {
            flag: self,
            value: Some(value.into()),
        }
    }
}

/// Something the product does that fixes or shows the problem: a command of
/// the CLI, a page or button of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Command {
    Detect,
    Doctor,
    ConfigShow,
    Clean,
    CacheClean,
    CacheStatus,
    ArtifactsList,
    ArtifactsDelete,
    RunsList,
    TemplatesExport,
    PlanOutput,
    PlanSavePreset,
    MirrorCheck,
    MirrorCreate,
    MirrorExport,
    MirrorImport,
    MatrixResume,
    MatrixDryRun,
}

impl Command {
    pub fn cli(self) -> &'static str {
        match self {
            Command::Detect => "slurm-factory detect",
            Command::Doctor => "slurm-factory doctor",
            Command::ConfigShow => "slurm-factory config show",
            Command::Clean => "slurm-factory clean",
            Command::CacheClean => "slurm-factory cache clean",
            Command::CacheStatus => "slurm-factory cache status",
            Command::ArtifactsList => "slurm-factory artifacts list",
            Command::ArtifactsDelete => "slurm-factory artifacts delete ID",
            Command::RunsList => "slurm-factory runs list",
            Command::TemplatesExport => "slurm-factory templates export DIR",
            Command::PlanOutput => "slurm-factory plan --output DIR",
            Command::PlanSavePreset => "slurm-factory plan --save-preset FILE",
            Command::MirrorCheck => "slurm-factory mirror check --offline",
            Command::MirrorCreate => "slurm-factory mirror create",
            Command::MirrorExport => "slurm-factory mirror export FILE",
            Command::MirrorImport => "slurm-factory mirror import FILE",
            Command::MatrixResume => "slurm-factory matrix FILE --resume",
            Command::MatrixDryRun => "slurm-factory matrix FILE --dry-run",
        }
    }

    /// The command with its arguments, as in `slurm-factory doctor --remote R`.
    pub fn with(self, args: impl Into<String>) -> RemedyPart {
        RemedyPart::Command {
            command: self,
            args: Some(args.into()),
        }
    }
}

/// One piece of a remedy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RemedyPart {
    Text {
        text: String,
    },
    Flag {
        flag: Flag,
        value: Option<String>,
    },
    Command {
        command: Command,
        args: Option<String>,
    },
    /// A key of the settings (config file, the app's Settings page).
    Setting {
        key: String,
    },
    /// A command outside the product (`lxc`, `gpg`, `apt`), a value or a
    /// variable, shown as it is everywhere.
    Code {
        code: String,
    },
}

impl From<&str> for RemedyPart {
    fn from(text: &str) -> RemedyPart {
        RemedyPart::Text { text: text.into() }
    }
}

impl From<String> for RemedyPart {
    fn from(text: String) -> RemedyPart {
        RemedyPart::Text { text }
    }
}

impl From<Flag> for RemedyPart {
    fn from(flag: Flag) -> RemedyPart {
        RemedyPart::Flag { flag, value: None }
    }
}

impl From<Command> for RemedyPart {
    fn from(command: Command) -> RemedyPart {
        RemedyPart::Command {
            command,
            args: None,
        }
    }
}

/// A setting's key, as a remedy names it.
pub fn setting(key: &str) -> RemedyPart {
    RemedyPart::Setting { key: key.into() }
}

/// Code shown as it is: `lxc storage create fast dir`, `80,90`, a variable.
pub fn code(code: impl Into<String>) -> RemedyPart {
    RemedyPart::Code { code: code.into() }
}

/// What fixes an error, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Remedy(pub Vec<RemedyPart>);

impl Remedy {
    /// The remedy as the CLI says it: flags, commands and code in backticks.
    pub fn cli(&self) -> String {
        let quoted = |head: &str, tail: &Option<String>| match tail {
            Some(tail) => format!("`{head} {tail}`"),
            None => format!("`{head}`"),
        };
        self.0
            .iter()
            .map(|part| match part {
                RemedyPart::Text { text } => text.clone(),
                RemedyPart::Flag { flag, value } => quoted(flag.cli(), value),
                RemedyPart::Command { command, args } => quoted(command.cli(), args),
                RemedyPart::Setting { key: code } | RemedyPart::Code { code } => {
                    quoted(code, &None)
                }
            })
            .collect()
    }
}

/// `remedy!["pass ", Flag::Jobs.with("N"), " with N between 1 and 1024"]`.
macro_rules! remedy {
    ($($part:expr),* $(,)?) => {
        $crate::remedy::Remedy(vec![$($crate::remedy::RemedyPart::from($part)),*])
    };
}
pub(crate) use remedy;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_says_flags_commands_and_code_in_backticks() {
        let r = remedy![
            "pass ",
            Flag::Jobs.with("N"),
            " or ",
            Flag::Minimal,
            "; ",
            Command::Doctor.with("--remote b"),
            " and ",
            Command::CacheClean,
            ", set ",
            setting("image"),
            " (",
            code("lxc image list"),
            ")"
        ];
        assert_eq!(
            r.cli(),
            "pass `--jobs N` or `--minimal`; `slurm-factory doctor --remote b` and \
             `slurm-factory cache clean`, set `image` (`lxc image list`)"
        );
    }
}
