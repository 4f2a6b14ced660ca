//! The build options as command-line arguments, made from the engine's
//! descriptions of them (`factory::options`): one `--flag` per option under
//! its group's heading, its doc comment as help. What the command line gives
//! becomes the options' flat serde object, read back as `BuildFlags`: the
//! same path as the desktop app's form.

use std::marker::PhantomData;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches};
use factory::options::{OptionKind, OptionSpec};
use factory::pipeline::BuildFlags;

/// Which of the build options a command takes.
pub trait Selection {
    fn options() -> Vec<&'static OptionSpec>;
}

/// Every build option: `build` and `plan`.
#[derive(Debug, Clone)]
pub struct All;

impl Selection for All {
    fn options() -> Vec<&'static OptionSpec> {
        BuildFlags::all_options()
    }
}

/// What each build of a matrix takes: how it runs and what its package
/// keeps (no publishing, no kept instances).
#[derive(Debug, Clone)]
pub struct ForMatrix;

impl Selection for ForMatrix {
    fn options() -> Vec<&'static OptionSpec> {
        use factory::options::OptionGroup::{Build, Package};
        BuildFlags::all_options()
            .into_iter()
            .filter(|o| matches!(o.group, Build | Package) && o.name != "keep_on_failure")
            .collect()
    }
}

/// The build options a command line gave, as the engine takes them.
#[derive(Debug, Clone)]
pub struct FlagArgs<S = All> {
    pub flags: BuildFlags,
    selection: PhantomData<S>,
}

impl<S: Selection> clap::Args for FlagArgs<S> {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let defaults = serde_json::to_value(BuildFlags::default()).expect("build flags serialize");
        let options = S::options();
        cmd.args(options.iter().map(|o| arg_of(o, &options, &defaults)))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl<S: Selection> clap::FromArgMatches for FlagArgs<S> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let given = given(&S::options(), matches);
        let flags = serde_json::from_value(serde_json::Value::Object(given))
            .map_err(|e| clap::Error::raw(clap::error::ErrorKind::InvalidValue, e))?;
        Ok(FlagArgs {
            flags,
            selection: PhantomData,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

/// One option's argument; `options` are the command's (an option it
/// excludes is named by its flag), `defaults` their default values.
fn arg_of(
    option: &'static OptionSpec,
    options: &[&'static OptionSpec],
    defaults: &serde_json::Value,
) -> Arg {
    let flag = option.flag();
    let mut help = option.help();
    if option.inverted {
        help.push_str(" [on by default: this turns it off]");
    }
    if let Some(other) = option
        .conflicts
        .and_then(|name| options.iter().find(|o| o.name == name))
    {
        help.push_str(&format!(" [not with --{}]", other.flag()));
    }
    let mut arg = Arg::new(option.name)
        .long(flag)
        .help(help)
        .help_heading(option.group.heading());
    arg = match option.kind {
        OptionKind::Switch => arg.action(ArgAction::SetTrue),
        OptionKind::Value => arg.action(ArgAction::Set).value_name(option.value_name),
        OptionKind::List => arg.action(ArgAction::Append).value_name(option.value_name),
        OptionKind::Choice => arg
            .action(ArgAction::Set)
            .value_name(option.value_name)
            .value_parser(PossibleValuesParser::new(
                option
                    .choices
                    .iter()
                    .map(|c| PossibleValue::new(c.value).help(c.help)),
            ))
            .default_value(
                defaults[option.name]
                    .as_str()
                    .expect("a choice's default is one of its values")
                    .to_string(),
            ),
    };
    if let Some(needed) = option.requires {
        arg = arg.requires(needed);
    }
    if let Some(other) = option.conflicts {
        arg = arg.conflicts_with(other);
    }
    arg
}

/// The options the command line gave (not their defaults), by name.
fn given(
    options: &[&'static OptionSpec],
    matches: &ArgMatches,
) -> serde_json::Map<String, serde_json::Value> {
    let mut given = serde_json::Map::new();
    for option in options {
        if matches.value_source(option.name) != Some(ValueSource::CommandLine) {
            continue;
        }
        let value = match option.kind {
            OptionKind::Switch => serde_json::Value::Bool(!option.inverted),
            OptionKind::Value | OptionKind::Choice => {
                serde_json::json!(matches.get_one::<String>(option.name))
            }
            OptionKind::List => serde_json::json!(matches
                .get_many::<String>(option.name)
                .map(|values| values.collect::<Vec<_>>())
                .unwrap_or_default()),
        };
        given.insert(option.name.to_string(), value);
    }
    given
}
