//! The Slurm Factory engine: everything the CLI and the desktop app share.
//!
//! No Tauri and no clap here: front ends render [`error::Error`] hints, drive
//! [`request::BuildRequest`] validation and read [`settings::Settings`].

pub mod catalog;
pub mod doctor;
pub mod error;
pub mod layout;
pub mod lxd;
pub mod recipe;
pub mod request;
pub mod settings;

pub use error::{Error, ExitKind, Result};
