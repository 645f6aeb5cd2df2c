//! The list of speech backends: adding one is one file in `synth/` and one line here.

use super::{Backend, BackendConfig};
use crate::error::{Error, Result};

/// Makes a backend.
pub type Maker = fn(&BackendConfig) -> Box<dyn Backend>;

/// Every backend this build knows, by name, in the order `narrate voices` lists them.
pub const BACKENDS: &[(&str, Maker)] = &[
    #[cfg(feature = "piper")]
    ("piper", |_| Box::new(super::piper::Piper::default())),
    ("espeak", |_| Box::new(super::espeak::Espeak::default())),
    ("http", |c| Box::new(super::http::Http::new(c.http.clone()))),
    #[cfg(feature = "system")]
    ("system", |_| Box::new(super::system::System)),
    ("tone", |_| Box::new(super::tone::Tone)),
];

/// Creates the backend with that name.
pub fn create(name: &str, config: &BackendConfig) -> Result<Box<dyn Backend>> {
    BACKENDS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, make)| make(config))
        .ok_or_else(|| Error::UnknownBackend { name: name.into() })
}

/// Backends a build uses when none is chosen, best first: the first one installed here wins.
const PREFERRED: &[&str] = &["piper", "espeak"];

/// The default backend: Piper when it and its default voice are installed, else espeak-ng.
pub fn default_name() -> &'static str {
    PREFERRED
        .iter()
        .copied()
        .find(|name| create(name, &BackendConfig::default()).is_ok_and(|b| b.installed()))
        .unwrap_or("espeak")
}
