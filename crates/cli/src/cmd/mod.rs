pub mod completions;
pub mod config;
pub mod detect;
pub mod doctor;
pub mod plan;
