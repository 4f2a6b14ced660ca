//! What the app keeps between commands.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use factory::hardware::HostReport;
use factory::request::Defaults;
use factory::settings::{Loaded, Settings};
use tokio_util::sync::CancellationToken;

use crate::batch::Acks;

pub struct AppState {
    loaded: RwLock<Loaded>,
    /// This machine's CPU and GPUs and what to build for them, detected once.
    pub host: HostReport,
    /// Host-derived defaults for requests that leave target and jobs open.
    host_defaults: Defaults,
    /// Builds in flight, by run id, with the token that stops each.
    pub builds: Mutex<HashMap<String, CancellationToken>>,
    /// The page's acknowledgements of event batches, per channel.
    pub acks: Acks,
    /// The running matrix's token, if one runs (one at a time).
    pub matrix: Mutex<Option<CancellationToken>>,
}

impl AppState {
    pub fn load() -> factory::Result<AppState> {
        let host = factory::hardware::detect();
        Ok(AppState {
            loaded: RwLock::new(Loaded::from_environment()?),
            host_defaults: Defaults::from_suggestions(&host.suggestions),
            host,
            builds: Mutex::new(HashMap::new()),
            acks: Acks::default(),
            matrix: Mutex::new(None),
        })
    }

    pub fn loaded(&self) -> Loaded {
        self.loaded.read().expect("settings lock").clone()
    }

    pub fn settings(&self) -> Settings {
        self.loaded.read().expect("settings lock").settings.clone()
    }

    /// What a request leaves open is filled from: the host's suggestions and
    /// the current settings (the `toolchain` setting, the templates dir's
    /// releases); an unreadable releases file is the error.
    pub fn defaults(&self) -> factory::Result<Defaults> {
        self.host_defaults.clone().with_settings(&self.settings())
    }

    /// Re-reads the config file and environment after the user changed settings.
    pub fn reload(&self) -> factory::Result<Loaded> {
        let fresh = Loaded::from_environment()?;
        *self.loaded.write().expect("settings lock") = fresh.clone();
        Ok(fresh)
    }
}
