//! The list of speech backends: adding one is one file in `synth/` and one line here.

use super::Backend;
use crate::error::{Error, Result};

/// Makes a backend.
pub type Maker = fn() -> Box<dyn Backend>;

/// Every backend this build knows, by name, in the order `narrate voices` lists them.
pub const BACKENDS: &[(&str, Maker)] = &[
    ("espeak", || Box::new(super::espeak::Espeak::default())),
    ("tone", || Box::new(super::tone::Tone)),
];

/// Creates the backend with that name.
pub fn create(name: &str) -> Result<Box<dyn Backend>> {
    BACKENDS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, make)| make())
        .ok_or_else(|| Error::UnknownBackend { name: name.into() })
}
