//! narrate: essays in, audio editions out. The library is the same pipeline the `narrate` binary runs.
//!
//! essay file → [`essay`] (parse, segment) → [`pipeline::plan`] → [`pipeline::run`] (parallel synthesis into the
//! [`pipeline::cache`]) → [`audio::join`] (streaming) → WAV with chapters ([`export::wav_cue`]) + [`manifest`].

pub mod atomic;
pub mod audio;
pub mod check;
pub mod cli;
pub mod commands;
pub mod error;
pub mod essay;
pub mod export;
pub mod manifest;
pub mod pipeline;
pub mod serve;
pub mod settings;
pub mod synth;
pub mod timeline;

pub use error::{Error, Result};
