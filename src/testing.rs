//! The few internals the integration tests reach: the tone backend as a reference rendering, WAV bytes in and
//! out, and Piper's phonemizer pieces. Everything else is tested through the binary.

pub use crate::audio::wav::{read_bytes, write_to};
pub use crate::audio::Audio;
pub use crate::synth::{Backend, SpeechRequest, SynthError};

/// The deterministic tone backend.
pub fn tone() -> impl Backend {
    crate::synth::tone::Tone
}

/// The espeak-ng backend, its synthesis servers started as `narrate __espeak-server` from `narrate` (the binary
/// under test: the test's own program is not narrate).
pub fn espeak(narrate: &std::path::Path) -> impl Backend {
    crate::synth::espeak::Espeak::with_server(narrate.into())
}

/// One request spoken by one `espeak-ng` process, as the backend does where libespeak-ng cannot be loaded.
pub fn espeak_program(request: &SpeechRequest) -> Result<Audio, SynthError> {
    crate::synth::espeak::program(request)
}

#[cfg(feature = "piper")]
pub use crate::synth::piper::{phoneme_ids, phonemize, voice};

/// The spoken form of one line of text, as the default normalizer makes it (`heading`: read as a heading).
pub fn spoken(text: &str, heading: bool) -> String {
    crate::essay::normalize::Normalizer::default().spoken(text, heading)
}
