//! The Slurm Factory engine: everything the CLI and the desktop app share.
//!
//! No Tauri and no clap here: front ends render [`error::Error`] hints, drive
//! [`request::BuildRequest`] validation and read [`settings::Settings`].

#[cfg(feature = "ts")]
pub mod bindings;
pub mod caches;
pub mod doctor;
pub mod error;
pub mod events;
pub mod fsutil;
pub mod hardware;
pub mod kinds;
pub mod layout;
pub mod lxd;
pub mod options;
pub mod package;
pub mod pipeline;
pub mod progress;
pub mod protocol;
pub mod publish;
pub mod recipe;
pub mod remotes;
pub mod request;
pub mod settings;
pub mod store;
pub mod toolchain;
pub mod units;

pub use error::{Error, ExitKind, Result};
