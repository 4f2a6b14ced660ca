pub mod completions;
pub mod config;
pub mod doctor;
pub mod plan;
pub mod templates;
