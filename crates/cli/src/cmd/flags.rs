//! The build options as command-line arguments, made from the engine's
//! descriptions of them (`factory::options`): one `--flag` per option under
//! its group's heading, its doc comment as help. What the command line gives
//! becomes the options' flat serde object, read back as the engine's struct
//! (`BuildRequest`, `BuildFlags`): the same path as the desktop app's form
//! and a preset's file. A preset is the base the command line's values
//! override.

use std::marker::PhantomData;
use std::path::Path;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches};
use factory::options::{OptionKind, OptionSpec};
use factory::pipeline::BuildFlags;
use factory::request::presets::Preset;
use factory::request::BuildRequest;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// Which of the build options a command takes, and the struct they fill.
pub trait Selection {
    type Values: Serialize + DeserializeOwned + Default + Clone + std::fmt::Debug;
    fn options() -> Vec<&'static OptionSpec>;
}

/// What is built: `plan`, `build` and `mirror`.
#[derive(Debug, Clone)]
pub struct Request;

impl Selection for Request {
    type Values = BuildRequest;
    fn options() -> Vec<&'static OptionSpec> {
        BuildRequest::all_options()
    }
}

/// Every build flag: `build` and `plan`.
#[derive(Debug, Clone)]
pub struct All;

impl Selection for All {
    type Values = BuildFlags;
    fn options() -> Vec<&'static OptionSpec> {
        BuildFlags::all_options()
    }
}

/// What each build of a matrix takes: how it runs and what its package
/// keeps (no publishing, no kept instances).
#[derive(Debug, Clone)]
pub struct ForMatrix;

impl Selection for ForMatrix {
    type Values = BuildFlags;
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
pub struct OptionArgs<S: Selection> {
    pub values: S::Values,
    /// Only what the command line gave (not the defaults), by option name.
    pub given: Map<String, Value>,
    selection: PhantomData<S>,
}

impl<S: Selection> Default for OptionArgs<S> {
    /// No option given.
    fn default() -> Self {
        OptionArgs {
            values: S::Values::default(),
            given: Map::new(),
            selection: PhantomData,
        }
    }
}

pub type FlagArgs<S = All> = OptionArgs<S>;
pub type RequestArgs = OptionArgs<Request>;

/// A request and its flags as a command line gives them, over a preset's
/// when it names one.
pub fn with_preset<S: Selection<Values = BuildFlags>>(
    request: &RequestArgs,
    flags: &OptionArgs<S>,
    preset: Option<&Path>,
) -> factory::Result<Preset> {
    let Some(path) = preset else {
        return Ok(Preset {
            request: request.values.clone(),
            flags: flags.values.clone(),
        });
    };
    let mut values = factory::request::presets::load(path)?.values();
    values.extend(request.given.clone());
    values.extend(flags.given.clone());
    Preset::from_values(values).map_err(|message| factory::Error::PresetInvalid {
        path: path.to_path_buf(),
        message,
    })
}

impl<S: Selection> clap::Args for OptionArgs<S> {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let defaults = serde_json::to_value(S::Values::default()).expect("options serialize");
        let options = S::options();
        cmd.args(options.iter().map(|o| arg_of(o, &options, &defaults)))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl<S: Selection> clap::FromArgMatches for OptionArgs<S> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let given = given(&S::options(), matches);
        let values = serde_json::from_value(Value::Object(given.clone()))
            .map_err(|e| clap::Error::raw(clap::error::ErrorKind::InvalidValue, e))?;
        Ok(OptionArgs {
            values,
            given,
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
    // What only the running program knows: the releases supported today,
    // the built-in toolchains.
    let known = match option.name {
        "slurm_version" => Some(slurm_version_help()),
        "toolchain" => Some(toolchain_help()),
        _ => None,
    };
    if let Some(known) = known {
        help = format!("{help} {known}");
    }
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
    if let Some(short) = option.short {
        arg = arg.short(short);
    }
    arg = match option.kind {
        OptionKind::Switch => arg.action(ArgAction::SetTrue),
        OptionKind::Value => arg.action(ArgAction::Set).value_name(option.value_name),
        OptionKind::List => arg.action(ArgAction::Append).value_name(option.value_name),
        OptionKind::Number => arg
            .action(ArgAction::Set)
            .value_name(option.value_name)
            .value_parser(clap::value_parser!(u32)),
        OptionKind::Choice => arg
            .action(ArgAction::Set)
            .value_name(option.value_name)
            .value_parser(PossibleValuesParser::new(
                option
                    .choices
                    .iter()
                    .map(|c| PossibleValue::new(c.value).help(c.help)),
            )),
    };
    // A choice that may be left out (`--gpu`) has no default to show.
    if let (OptionKind::Choice, Some(default)) = (option.kind, defaults[option.name].as_str()) {
        arg = arg.default_value(default.to_string());
    }
    // What an option requires may come from a preset: the engine checks
    // that once they are merged. What it excludes may not be given with it.
    if let Some(other) = option.conflicts {
        arg = arg.conflicts_with(other);
    }
    arg
}

/// The options the command line gave (not their defaults), by name.
fn given(options: &[&'static OptionSpec], matches: &ArgMatches) -> Map<String, Value> {
    let mut given = Map::new();
    for option in options {
        if matches.value_source(option.name) != Some(ValueSource::CommandLine) {
            continue;
        }
        let value = match option.kind {
            OptionKind::Switch => Value::Bool(!option.inverted),
            OptionKind::Number => serde_json::json!(matches.get_one::<u32>(option.name)),
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

/// The catalogue's releases, for `--slurm-version`'s help: which are supported today, which
/// the default (a templates dir's releases.toml adds its own; `plan` shows them).
fn slurm_version_help() -> String {
    let catalog = factory::request::catalog::Catalog::builtin();
    format!(
        "Supported: {}; past end of support, with a warning: {}. Default: {}.",
        catalog.supported_versions().join(", "),
        catalog.ended_versions().join(", "),
        catalog.default_release().slurm
    )
}

/// The built-in toolchains, for `--toolchain`'s help.
fn toolchain_help() -> String {
    let names: Vec<String> = factory::recipe::Templates::builtin_toolchains()
        .map(|all| {
            all.into_iter()
                .map(|t| format!("{} (glibc {})", t.name, t.glibc))
                .collect()
        })
        .unwrap_or_default();
    format!("Built in: {}.", names.join(", "))
}
