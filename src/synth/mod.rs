//! Speech backends: one trait, one file per backend, one line each in the registry.

pub(crate) mod espeak;
#[cfg(feature = "hibari")]
pub(crate) mod hibari;
pub(crate) mod http;
pub(crate) mod libespeak;
#[cfg(feature = "piper")]
pub(crate) mod onnx;
#[cfg(feature = "piper")]
pub(crate) mod piper;
pub(crate) mod registry;
#[cfg(feature = "system")]
pub(crate) mod system;
pub(crate) mod tone;

pub(crate) use registry::{create, BackendName, BACKENDS};

pub(crate) use crate::audio::Audio;

/// Settings of the backends that need more than a voice (from `narrate.toml` and flags).
#[derive(Debug, Clone, Default)]
pub struct BackendConfig {
    pub http: http::Config,
}

/// Checks that a backend can run here and render audio files, before a build sends it work.
pub(crate) fn check_renders(backend: &dyn Backend) -> crate::error::Result<()> {
    if !backend.renders() {
        return Err(crate::error::Error::BackendUnavailable {
            backend: backend.name().into(),
            reason: "it is preview only: `narrate say` speaks with it, but it cannot render audio for an edition; \
                     build with another backend (`narrate voices` lists them)"
                .into(),
        });
    }
    backend.check()
}

/// One thing to say.
#[derive(Debug, Clone)]
pub struct SpeechRequest<'a> {
    /// The spoken text (already normalized).
    pub text: &'a str,
    pub voice: &'a str,
    /// Speaking rate in words per minute; `None` for the backend's default.
    pub rate: Option<u32>,
    /// Take number, from 1. A backend makes each take sound a little different.
    pub take: u32,
}

/// A voice a backend offers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VoiceInfo {
    pub name: String,
    pub language: String,
    pub description: String,
}

/// A speech engine. Implementations must be safe to call from many threads at once.
pub trait Backend: Send + Sync {
    /// The name used on the command line and in cache keys.
    fn name(&self) -> &'static str;
    /// One line saying what it is.
    fn describe(&self) -> &'static str;
    /// Checks that the backend can run here (its program or model is installed).
    fn check(&self) -> crate::error::Result<()>;
    fn default_voice(&self) -> String;
    fn voices(&self) -> crate::error::Result<Vec<VoiceInfo>>;
    /// What identifies the engine's exact version and voice data, so an upgrade invalidates the cache.
    fn fingerprint(&self, voice: &str) -> crate::error::Result<String>;
    /// One line on how this backend runs here and why (`narrate voices` prints it), if that varies.
    fn status(&self) -> Option<String> {
        None
    }
    /// Whether it can run here with its default voice (the default backend is the first one that can).
    fn installed(&self) -> bool {
        self.check().is_ok()
    }
    /// Whether another take is another reading, its timing and pauses drawn anew (hibari's durations, Piper's
    /// seeded noise, a server's other speed), so `narrate regen` can fix a pause. espeak-ng's takes change only
    /// the pitch, tone's the pitch and length: a pause found in them needs an edit or another voice.
    fn takes_differ(&self) -> bool {
        false
    }
    /// Whether it can render audio for an edition (a preview-only backend only speaks aloud).
    fn renders(&self) -> bool {
        true
    }
    /// Speaks aloud on this machine's sound device, for backends that can (`narrate say`); `None` for the rest,
    /// whose audio `narrate say` renders and plays.
    fn speak(&self, _request: &SpeechRequest) -> Option<crate::error::Result<()>> {
        None
    }
    /// The language tag of a voice (`en-GB`, `en-US`, `fr`), when the backend knows it without asking a server:
    /// it picks British or American readings when neither the settings nor the essay say.
    fn voice_language(&self, _voice: &str) -> Option<String> {
        None
    }
    /// The licence and notice of the voice data, when its licence asks for them to be shown
    /// (`narrate voices --backend NAME`).
    fn attribution(&self) -> Option<crate::error::Result<String>> {
        None
    }
    /// How to install it when it cannot run here (the `hint:` line under the error).
    fn install_hint(&self) -> Option<&'static str> {
        None
    }
    /// The voice one of OpenAI's voice names (`alloy`, `nova`…) stands for on this backend, for `narrate serve`
    /// when narrate.toml's `[voices]` says nothing (`None`: the backend's default voice).
    fn openai_voice(&self, _openai: &str) -> Option<&'static str> {
        None
    }
    /// Told how many requests will run at once, before the first one.
    fn prepare(&self, _jobs: usize) {}
    /// Told that a synthesis with `voice` is probably coming (a build has to plan its essay): opens what the
    /// first request needs (for a model, a session), on the calling thread, while the caller plans on another.
    /// Requests made meanwhile wait for it rather than open another. Does nothing where nothing is slow to open.
    fn warm_up(&self, _voice: &str) {}
    /// Most requests it takes at once (`None`: as many as there are jobs).
    fn max_parallel(&self) -> Option<usize> {
        None
    }
    /// Synthesizes one request. The error says why and whether trying again can help; the caller adds the
    /// segment and decides about retries (one policy for every backend: `pipeline::schedule`).
    fn synthesize(&self, request: &SpeechRequest) -> Result<Audio, SynthError>;
}

/// Why a backend could not synthesize a request, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthError {
    /// One line: what went wrong.
    pub message: String,
    /// Whether the same request may succeed later (timeouts, a busy or restarting server).
    pub transient: bool,
    /// How long the backend asked to wait before trying again (an HTTP `Retry-After`).
    pub retry_after: Option<std::time::Duration>,
}

impl SynthError {
    /// A failure that the same request will meet again (bad voice, bad answer, engine error).
    pub fn permanent(message: impl Into<String>) -> SynthError {
        SynthError {
            message: message.into(),
            transient: false,
            retry_after: None,
        }
    }

    /// A failure that may pass: try again after a while (or after `retry_after`).
    pub fn transient(
        message: impl Into<String>,
        retry_after: Option<std::time::Duration>,
    ) -> SynthError {
        SynthError {
            message: message.into(),
            transient: true,
            retry_after,
        }
    }
}

impl From<String> for SynthError {
    fn from(message: String) -> SynthError {
        SynthError::permanent(message)
    }
}

impl From<&str> for SynthError {
    fn from(message: &str) -> SynthError {
        SynthError::permanent(message)
    }
}

impl std::fmt::Display for SynthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Whether backends may write notes on stderr (a voice being prepared on its first use); `--quiet` turns them
/// off for the whole run.
static NOTES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Lets backends write notes on stderr, or not (`--quiet`). Set once, by `commands::run`.
pub(crate) fn set_notes(on: bool) {
    NOTES.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// A backend's note on stderr, one line, unless the run is quiet.
#[cfg_attr(not(feature = "piper"), allow(dead_code))]
pub(crate) fn note(line: &str) {
    if NOTES.load(std::sync::atomic::Ordering::Relaxed) {
        eprintln!("{line}");
    }
}

/// Where narrate keeps voice data and runtimes: `$XDG_DATA_HOME/narrate`, else `~/.local/share/narrate`.
#[cfg(feature = "piper")]
pub fn data_dir() -> std::path::PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return std::path::PathBuf::from(x).join("narrate");
    }
    let home = std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_default();
    home.join(".local/share/narrate")
}
