//! What the builds leave: the artifact store (packages and their
//! manifests), the run records (events, logs) and the history drawn from them.

pub mod artifacts;
pub mod history;
pub mod runs;
