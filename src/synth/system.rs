//! The `system` backend: the desktop's own voices through speech-dispatcher (the `tts` crate).
//!
//! Preview only: speech-dispatcher speaks to the sound device and has no way to hand the audio back, so this
//! backend lists voices and speaks aloud (`narrate say`) but cannot render segments into an edition. It says so
//! rather than pretending.

use std::time::{Duration, Instant};

use super::{Audio, Backend, SpeechRequest, VoiceInfo};
use crate::error::{Error, Result};

pub struct System;

/// The voice name meaning "speech-dispatcher's configured default".
const DEFAULT_VOICE: &str = "default";
/// The words per minute speech-dispatcher's rate 0 stands for (its espeak-ng module's default).
const WPM_AT_RATE_0: f32 = 175.0;

fn unavailable(reason: impl std::fmt::Display) -> Error {
    Error::BackendUnavailable {
        backend: "system".into(),
        reason: reason.to_string(),
    }
}

/// A connection to speech-dispatcher (spawned by libspeechd if it is not running). `tts::Tts` is not `Send`,
/// so each call opens its own.
fn connect() -> Result<tts::Tts> {
    tts::Tts::default().map_err(|e| {
        unavailable(format!(
            "cannot talk to speech-dispatcher ({e}); install it (apt-get install speech-dispatcher \
             speech-dispatcher-espeak-ng) or start it with `speech-dispatcher -d`"
        ))
    })
}

impl System {
    /// Speaks the text aloud, waiting until speech-dispatcher reports the end (or a time that the text
    /// could not take), so the program does not exit mid-sentence.
    pub fn speak(&self, request: &SpeechRequest) -> Result<()> {
        let mut tts = connect()?;
        if request.voice != DEFAULT_VOICE {
            let voices = tts.voices().map_err(unavailable)?;
            let voice = voices
                .iter()
                .find(|v| v.name() == request.voice || v.id() == request.voice)
                .ok_or_else(|| {
                    unavailable(format!(
                        "no system voice `{}`; run `narrate voices --backend system`",
                        request.voice
                    ))
                })?;
            tts.set_voice(voice).map_err(unavailable)?;
        }
        if let Some(wpm) = request.rate {
            let rate = (wpm as f32 / WPM_AT_RATE_0 - 1.0) * 100.0;
            tts.set_rate(rate.clamp(tts.min_rate(), tts.max_rate()))
                .map_err(unavailable)?;
        }
        tts.speak(request.text, false).map_err(unavailable)?;
        let limit = Duration::from_secs(5) + Duration::from_millis(150) * request.text.len() as u32;
        let start = Instant::now();
        std::thread::sleep(Duration::from_millis(100));
        while start.elapsed() < limit && tts.is_speaking().unwrap_or(false) {
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

impl Backend for System {
    fn name(&self) -> &'static str {
        "system"
    }
    fn describe(&self) -> &'static str {
        "the system's voices through speech-dispatcher — preview only (`narrate say`): it cannot render to a file"
    }
    fn check(&self) -> Result<()> {
        connect().map(|_| ())
    }
    fn renders(&self) -> bool {
        false
    }
    fn default_voice(&self) -> String {
        DEFAULT_VOICE.into()
    }
    fn voices(&self) -> Result<Vec<VoiceInfo>> {
        let voices = connect()?.voices().map_err(unavailable)?;
        Ok(voices
            .iter()
            .map(|v| VoiceInfo {
                name: v.name(),
                language: v.language().to_string(),
                description: format!("speech-dispatcher, {}", v.language()),
            })
            .collect())
    }
    fn fingerprint(&self, voice: &str) -> Result<String> {
        Ok(format!("speech-dispatcher voice={voice}"))
    }
    fn synthesize(&self, _request: &SpeechRequest) -> std::result::Result<Audio, String> {
        Err(NO_RENDER.into())
    }
}

/// Why a build cannot use this backend.
pub const NO_RENDER: &str =
    "speech-dispatcher only speaks aloud; it cannot render audio to a file. \
Preview with `narrate say`, and build with espeak or piper";
