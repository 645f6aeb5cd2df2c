//! narrate: essays in, audio editions out. The library is the pipeline the `narrate` binary runs; its one public
//! entry is [`run`] (what `main` calls) and the small [`testing`] module the integration tests use.
//!
//! Data flows one way: essay file → [`essay`] (parse, segment, normalize) → [`plan`] (segments, takes, cache
//! keys) → [`synth`] (backends) into the [`cache`] through [`pipeline::schedule`] → [`audio`] (join, master) →
//! [`export`] (chapters, captions, compressed editions) and the [`manifest`]. Settings are made at the edge
//! ([`settings`], [`cli`]) and handed down as plain values; see docs/ARCHITECTURE.md.

#![warn(unreachable_pub)]

pub(crate) mod atomic;
pub(crate) mod audio;
pub(crate) mod cache;
pub(crate) mod check;
pub mod cli;
pub(crate) mod commands;
pub(crate) mod edition;
pub(crate) mod error;
pub(crate) mod essay;
pub(crate) mod export;
pub(crate) mod manifest;
pub(crate) mod pipeline;
pub(crate) mod plan;
pub(crate) mod serve;
pub(crate) mod settings;
pub(crate) mod studio;
pub(crate) mod synth;
pub mod testing;
pub(crate) mod timeline;
pub(crate) mod values;

pub use error::{Error, Result};
/// The espeak backend's synthesis server: `main` runs it when started with this first argument.
#[doc(hidden)]
pub use synth::espeak::server::{serve as espeak_server, ARG as ESPEAK_SERVER_ARG};

/// The second line under an error, telling the user how to fix it: the error's own, or for a backend that cannot
/// run here, how to install it (the backend says).
pub fn hint(e: &Error) -> Option<String> {
    e.hint().or_else(|| match e {
        Error::BackendUnavailable { backend, .. } => {
            synth::registry::install_hint(backend).map(str::to_string)
        }
        _ => None,
    })
}

/// Runs a parsed command line (what the `narrate` binary does).
pub fn run(cli: cli::Cli) -> Result<()> {
    commands::run(cli)
}
