//! What builds reuse: the cache layers (host directories a build instance
//! mounts), the source mirror and its sources, Spack's own tree for offline
//! builds, and the buildcaches Spack installs binaries from.

pub mod buildcache;
pub mod cache;
pub mod mirror;
pub mod sources;
pub mod spack_source;
