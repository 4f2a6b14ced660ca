//! Every build option described once: what is built ([`BuildRequest`], in
//! `request.rs`) and how ([`BuildFlags`], in `flags.rs`).
//!
//! [`options_struct!`] declares a struct whose fields are options together
//! with its `OPTIONS` table: name, kind, default, group, help (the field's doc
//! comment) and how it relates to the others. The CLI makes its arguments from
//! the tables (`slurm-factory build`, `plan`, `matrix`), the desktop app its
//! Advanced form (exported as `BUILD_OPTIONS`), presets their keys, an error's
//! remedy the option it names ([`named`]), and the engine checks what needs or
//! excludes what ([`check_values`]). The values travel as the struct's serde
//! form, one flat object keyed by option name: what the app sends, what the
//! CLI makes of its arguments, what a preset holds.
//!
//! A leaf of the engine, but for the plain kinds: every module may name an
//! option.

use serde::Serialize;

mod flags;
mod request;

pub use flags::{BuildFlags, BuildcacheScope, ModuleLayout, PackageOptions};
pub use request::{BuildRequest, Compiler};

/// What kind of value an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum OptionKind {
    /// On or off (`--gzip`).
    Switch,
    /// One value (`--publish URL`), or none.
    Value,
    /// Any number of values (`--from URL`, repeatable).
    List,
    /// A whole number (`--jobs N`), or none.
    Number,
    /// One of its choices (`--modules flat|hierarchy`).
    Choice,
}

/// Where an option is shown: the CLI's help heading, the app's group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum OptionGroup {
    /// What is built: the request.
    Request,
    /// How the build runs.
    Build,
    /// What the package keeps, and its modules.
    Package,
    /// Where the build is published.
    Publishing,
    /// Buildcaches the build installs from.
    InstallFrom,
}

impl OptionGroup {
    /// The heading the CLI's help and the app's form show.
    pub fn heading(self) -> &'static str {
        match self {
            OptionGroup::Request => "Package",
            OptionGroup::Build => "Build",
            OptionGroup::Package => "Package contents",
            OptionGroup::Publishing => "Publishing",
            OptionGroup::InstallFrom => "Installing from published buildcaches",
        }
    }
}

/// One value of a choice, and what it means.
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Choice {
    pub value: &'static str,
    pub help: &'static str,
}

/// An option's check of its value (the value's serde form): the reason it is refused.
pub type ValueCheck = fn(&serde_json::Value) -> std::result::Result<(), String>;

/// One build option, as [`options_struct!`] describes it.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    /// The field: the key in the app's object and a preset (`keep_headers`).
    pub name: &'static str,
    /// The CLI's long flag when it is not the name in kebab case (`keep`
    /// for `keep_on_failure`).
    pub flag: Option<&'static str>,
    /// The CLI's short flag, if it has one (`-j`).
    pub short: Option<char>,
    pub group: OptionGroup,
    pub kind: OptionKind,
    /// The value's placeholder in the CLI's help (`URL`, `FILE`).
    pub value_name: &'static str,
    pub choices: &'static [Choice],
    /// A switch that is on by default; its flag (`no_` before the name)
    /// turns it off.
    pub inverted: bool,
    /// Given only together with this option (`sign` with `publish`).
    pub requires: Option<&'static str>,
    /// Not together with this option (`debug_archive` and `no_strip`).
    pub conflicts: Option<&'static str>,
    /// The app's words for it.
    pub label: &'static str,
    /// Kept in the package's manifest when given (what shaped the package,
    /// or what its builder said of it), shown with the artifact.
    pub recorded: bool,
    /// Refuses a bad value with the reason.
    pub check: Option<ValueCheck>,
    /// The field's doc comment, one line per `///` line.
    pub doc: &'static str,
}

impl OptionSpec {
    /// What [`options_struct!`] starts from; each option sets what differs.
    pub const DEFAULT: OptionSpec = OptionSpec {
        name: "",
        flag: None,
        short: None,
        group: OptionGroup::Build,
        kind: OptionKind::Switch,
        value_name: "",
        choices: &[],
        inverted: false,
        requires: None,
        conflicts: None,
        label: "",
        recorded: false,
        check: None,
        doc: "",
    };

    /// The CLI's long flag, without the dashes.
    pub fn flag(&self) -> String {
        match (self.flag, self.inverted) {
            (Some(flag), _) => flag.to_string(),
            (None, true) => format!("no-{}", self.name.replace('_', "-")),
            (None, false) => self.name.replace('_', "-"),
        }
    }

    /// The doc comment as one paragraph.
    pub fn help(&self) -> String {
        self.doc.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// What the app and the bindings see of it.
    pub fn describe(&self) -> OptionDescription {
        OptionDescription {
            name: self.name,
            flag: self.flag(),
            group: self.group,
            heading: self.group.heading(),
            kind: self.kind,
            value_name: self.value_name,
            choices: self.choices.to_vec(),
            inverted: self.inverted,
            requires: self.requires,
            conflicts: self.conflicts,
            label: self.label,
            recorded: self.recorded,
            help: self.help(),
        }
    }
}

/// An option as the app renders it (`BUILD_OPTIONS` in the bindings).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OptionDescription {
    pub name: &'static str,
    pub flag: String,
    pub group: OptionGroup,
    pub heading: &'static str,
    pub kind: OptionKind,
    pub value_name: &'static str,
    pub choices: Vec<Choice>,
    pub inverted: bool,
    pub requires: Option<&'static str>,
    pub conflicts: Option<&'static str>,
    pub label: &'static str,
    pub recorded: bool,
    pub help: String,
}

/// How a field's type is given as an option.
pub trait OptionType {
    const KIND: OptionKind;
    const VALUE_NAME: &'static str = "";
    const CHOICES: &'static [Choice] = &[];
}

impl OptionType for bool {
    const KIND: OptionKind = OptionKind::Switch;
}

impl OptionType for String {
    const KIND: OptionKind = OptionKind::Value;
    const VALUE_NAME: &'static str = "TEXT";
}

impl OptionType for Option<String> {
    const KIND: OptionKind = OptionKind::Value;
    const VALUE_NAME: &'static str = "TEXT";
}

impl OptionType for Option<u32> {
    const KIND: OptionKind = OptionKind::Number;
    const VALUE_NAME: &'static str = "N";
}

impl OptionType for Option<std::path::PathBuf> {
    const KIND: OptionKind = OptionKind::Value;
    const VALUE_NAME: &'static str = "FILE";
}

impl OptionType for Vec<String> {
    const KIND: OptionKind = OptionKind::List;
    const VALUE_NAME: &'static str = "VALUE";
}

impl OptionType for Vec<std::path::PathBuf> {
    const KIND: OptionKind = OptionKind::List;
    const VALUE_NAME: &'static str = "FILE";
}

/// Declares a struct of options and its `OPTIONS` table. Each field: its doc
/// comment (the help), `#[option(...)]` with what differs from
/// [`OptionSpec::DEFAULT`] (`group`, `label`, `value_name`, `requires`, …),
/// other attributes, then `pub name: Type = default,`. After them, `#[nested]`
/// fields hold another such struct (serde-flattened: still one flat object).
/// The struct gets `Default` from those defaults, and `all_options()`: its
/// options and its nested ones, group by group.
macro_rules! options_struct {
    (
        $(#[$attr:meta])*
        pub struct $name:ident {
            $(
                $(#[doc = $doc:literal])+
                #[option($($key:ident = $value:expr),* $(,)?)]
                $(#[$field_attr:meta])*
                pub $field:ident: $ty:ty = $default:expr,
            )*
            $(
                #[nested]
                $(#[doc = $nested_doc:literal])*
                pub $nested:ident: $nested_ty:ty,
            )*
        }
    ) => {
        $(#[$attr])*
        pub struct $name {
            $(
                $(#[doc = $doc])+
                $(#[$field_attr])*
                pub $field: $ty,
            )*
            $(
                $(#[doc = $nested_doc])*
                #[serde(flatten)]
                pub $nested: $nested_ty,
            )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    $($field: $default,)*
                    $($nested: Default::default(),)*
                }
            }
        }

        impl $name {
            /// Its own options, in the order they are declared.
            pub const OPTIONS: &'static [$crate::options::OptionSpec] = &[$(
                {
                    let mut spec = $crate::options::OptionSpec {
                        name: stringify!($field),
                        kind: <$ty as $crate::options::OptionType>::KIND,
                        value_name: <$ty as $crate::options::OptionType>::VALUE_NAME,
                        choices: <$ty as $crate::options::OptionType>::CHOICES,
                        doc: concat!($($doc, "\n"),+),
                        ..$crate::options::OptionSpec::DEFAULT
                    };
                    $(spec.$key = $value;)*
                    spec
                }
            ),*];

            /// Its options and its nested structs' ones, group by group
            /// (declaration order within a group).
            pub fn all_options() -> Vec<&'static $crate::options::OptionSpec> {
                #[allow(unused_mut)]
                let mut all: Vec<&'static $crate::options::OptionSpec> = Self::OPTIONS.iter().collect();
                $(all.extend(<$nested_ty>::all_options());)*
                all.sort_by_key(|o| o.group);
                all
            }
        }
    };
}
pub(crate) use options_struct;

/// Why options were refused: what was given, and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// `sign without publish`, `label = "…"`.
    pub value: String,
    pub reason: String,
}

/// Refuses a bad value, or options given without the one they need or
/// together with one they exclude. `given` is the values' serde form; an
/// option counts as given when it differs from `defaults`. Options are named
/// by their field, the same words for the CLI and the app.
pub fn check_values(
    options: &[&OptionSpec],
    given: &serde_json::Value,
    defaults: &serde_json::Value,
) -> std::result::Result<(), Refused> {
    let is_given = |name: &str| given.get(name) != defaults.get(name);
    for option in options.iter().filter(|o| is_given(o.name)) {
        let value = &given[option.name];
        if let Some(reason) = option.check.and_then(|check| check(value).err()) {
            return Err(Refused {
                value: format!("{} = {value}", option.name),
                reason,
            });
        }
        if let Some(needed) = option.requires.filter(|&n| !is_given(n)) {
            return Err(Refused {
                value: format!("{} without {needed}", option.name),
                reason: format!("{} goes with {needed}: give that too", option.name),
            });
        }
        if let Some(other) = option.conflicts.filter(|&n| is_given(n)) {
            return Err(Refused {
                value: format!("{} with {other}", option.name),
                reason: format!("{}; choose one of the two", option.help()),
            });
        }
    }
    Ok(())
}

/// The given options among `options` that are recorded, by name: what a
/// package's manifest keeps of them.
pub fn recorded(
    options: &[&OptionSpec],
    given: &serde_json::Value,
    defaults: &serde_json::Value,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    options
        .iter()
        .filter(|o| o.recorded && given.get(o.name) != defaults.get(o.name))
        .map(|o| (o.name.to_string(), given[o.name].clone()))
        .collect()
}

/// A short line of text: printable, at most 120 characters.
pub fn short_text(value: &serde_json::Value) -> std::result::Result<(), String> {
    let text = value.as_str().unwrap_or_default();
    if text.chars().count() > 120 {
        return Err("at most 120 characters".into());
    }
    if text.chars().any(char::is_control) {
        return Err("one line of printable text".into());
    }
    Ok(())
}

/// Every table of options: the request's, the flags', the package's.
const TABLES: [&[OptionSpec]; 3] = [
    BuildRequest::OPTIONS,
    BuildFlags::OPTIONS,
    PackageOptions::OPTIONS,
];

/// The option of that name. In a `const` (`const { named("sign") }`, as
/// remedies name options) a name no table has fails the build (`cargo
/// build`; `cargo check` does not evaluate it).
pub const fn named(name: &str) -> &'static OptionSpec {
    let mut t = 0;
    while t < TABLES.len() {
        let table = TABLES[t];
        let mut i = 0;
        while i < table.len() {
            if same(table[i].name, name) {
                return &table[i];
            }
            i += 1;
        }
        t += 1;
    }
    panic!("no build option has that name")
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The option of that name, if there is one (a name read at run time).
pub fn find(name: &str) -> Option<&'static OptionSpec> {
    TABLES
        .iter()
        .flat_map(|t| t.iter())
        .find(|o| o.name == name)
}
