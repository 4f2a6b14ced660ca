//! The Slurm Factory engine: everything the CLI and the desktop app share.
//!
//! No Tauri and no clap here: front ends render [`error::Error`] hints, drive
//! [`request::BuildRequest`] validation and read [`settings::Settings`].

pub mod artifacts;
#[cfg(feature = "ts")]
pub mod bindings;
pub mod buildcache;
pub mod cache;
pub mod catalog;
pub mod doctor;
pub mod error;
pub mod events;
pub mod fsutil;
pub mod hardware;
pub mod history;
pub mod kinds;
pub mod layout;
pub mod lxd;
pub mod matrix;
pub mod mirror;
pub mod options;
pub mod package;
pub mod pipeline;
pub mod plan;
pub mod presets;
pub mod progress;
pub mod protocol;
pub mod publish;
pub mod recipe;
pub mod remedy;
pub mod remotes;
pub mod request;
pub mod runs;
pub mod settings;
pub mod sources;
pub mod spack_source;
pub mod toolchain;
pub mod units;

pub use error::{Error, ExitKind, Result};
