//! The list of speech backends: adding one is one file in `synth/` and one line here.

use super::{Backend, BackendConfig};
use crate::error::{Error, Result};

/// Makes a backend.
pub(crate) type Maker = fn(&BackendConfig) -> Box<dyn Backend>;

/// Every backend this build knows, by name, in the order `narrate voices` lists them.
pub(crate) const BACKENDS: &[(&str, Maker)] = &[
    #[cfg(feature = "hibari")]
    ("hibari", |_| Box::new(super::hibari::Hibari::default())),
    #[cfg(feature = "piper")]
    ("piper", |_| Box::new(super::piper::Piper::default())),
    ("espeak", |_| Box::new(super::espeak::Espeak::default())),
    ("http", |c| Box::new(super::http::Http::new(c.http.clone()))),
    #[cfg(feature = "system")]
    ("system", |_| Box::new(super::system::System)),
    ("tone", |_| Box::new(super::tone::Tone)),
];

/// Creates the backend with that name.
pub(crate) fn create(name: &str, config: &BackendConfig) -> Result<Box<dyn Backend>> {
    BACKENDS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, make)| make(config))
        .ok_or_else(|| Error::UnknownBackend { name: name.into() })
}

/// How to install the backend `name` when it cannot run here (the backend says).
pub(crate) fn install_hint(name: &str) -> Option<&'static str> {
    create(name, &BackendConfig::default()).ok()?.install_hint()
}

/// Every backend's name, in the registry's order (for help texts and messages).
pub(crate) fn names() -> Vec<&'static str> {
    BACKENDS.iter().map(|(n, _)| *n).collect()
}

/// A backend's name, checked against the registry when parsed (from a flag or a settings file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendName(pub &'static str);

impl std::str::FromStr for BackendName {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        BACKENDS
            .iter()
            .find(|(n, _)| *n == s.trim())
            .map(|(n, _)| BackendName(n))
            .ok_or_else(|| format!("unknown backend `{s}`; choose from {}", names().join(", ")))
    }
}

impl<'de> serde::Deserialize<'de> for BackendName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Backends a build uses when none is chosen, best first: the first one installed here wins.
pub(crate) const PREFERRED: &[&str] = &["hibari", "piper", "espeak"];

/// The default backend: hibari when its model is installed, else Piper when it and its default voice are,
/// else espeak-ng.
pub(crate) fn default_name() -> &'static str {
    PREFERRED
        .iter()
        .copied()
        .find(|name| create(name, &BackendConfig::default()).is_ok_and(|b| b.installed()))
        .unwrap_or("espeak")
}
