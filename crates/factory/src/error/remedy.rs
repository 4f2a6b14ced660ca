//! What fixes an error, as data: text, and the build option, flag, command
//! or setting to use. The CLI renders a build option as its flag (from the
//! options' table) and a command as `slurm-factory …`; the app names its own
//! field, page or button for each (ui/src/lib/remedy.ts: a build option by
//! its label, and one for every [`Flag`] and [`Command`]).

use serde::{Deserialize, Serialize};

use crate::options::OptionSpec;

/// A flag of the CLI that is not a build option (those are named by
/// [`build_option!`]), and its counterpart in the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    Force,
    Yes,
    Key,
    Remote,
    Help,
}

impl Flag {
    pub fn cli(self) -> &'static str {
        match self {
            Flag::Force => "--force",
            Flag::Yes => "--yes",
            Flag::Key => "--key",
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
    /// A build option, by its name in the options' tables (`keep_on_failure`).
    Option {
        option: String,
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

impl From<&'static OptionSpec> for RemedyPart {
    fn from(option: &'static OptionSpec) -> RemedyPart {
        RemedyPart::Option {
            option: option.name.into(),
            value: None,
        }
    }
}

/// A build option with a value, as in `--jobs N`.
pub fn option_with(option: &'static OptionSpec, value: &str) -> RemedyPart {
    RemedyPart::Option {
        option: option.name.into(),
        value: Some(value.into()),
    }
}

/// A build option a remedy names, its name checked when the engine compiles:
/// `build_option!("jobs")`, `build_option!("jobs", "N")`.
macro_rules! build_option {
    ($name:literal) => {
        $crate::error::remedy::RemedyPart::from(const { $crate::options::named($name) })
    };
    ($name:literal, $value:expr) => {
        $crate::error::remedy::option_with(const { $crate::options::named($name) }, $value)
    };
}
pub(crate) use build_option;

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
                RemedyPart::Option { option, value } => {
                    let flag = crate::options::find(option).map_or(option.clone(), |o| o.flag());
                    quoted(&format!("--{flag}"), value)
                }
                RemedyPart::Command { command, args } => quoted(command.cli(), args),
                RemedyPart::Setting { key: code } | RemedyPart::Code { code } => {
                    quoted(code, &None)
                }
            })
            .collect()
    }
}

/// `remedy!["pass ", build_option!("jobs", "N"), " with N between 1 and 1024"]`.
macro_rules! remedy {
    ($($part:expr),* $(,)?) => {
        $crate::error::remedy::Remedy(vec![$($crate::error::remedy::RemedyPart::from($part)),*])
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
            build_option!("jobs", "N"),
            " or ",
            build_option!("keep_on_failure"),
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
            "pass `--jobs N` or `--keep`; `slurm-factory doctor --remote b` and \
             `slurm-factory cache clean`, set `image` (`lxc image list`)"
        );
    }
}
