//! The `system` backend: the desktop's own voices through speech-dispatcher (the `tts` crate).
//!
//! Preview only: speech-dispatcher speaks to the sound device and has no way to hand the audio back, so this
//! backend lists voices and speaks aloud (`narrate say`) but cannot render segments into an edition. It says so
//! rather than pretending.

use std::time::{Duration, Instant};

use super::{Audio, Backend, SpeechRequest, SynthError, VoiceInfo};
use crate::error::{Error, Result};

pub(crate) struct System;

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

/// Runs `work` on a connection to speech-dispatcher (spawned by libspeechd if it is not running), on its own
/// thread: `tts::Tts` is not `Send`, and a wedged daemon blocks libspeechd forever, which must become an error
/// rather than a hang.
fn with_connection<T: Send + 'static>(
    limit: Duration,
    work: impl FnOnce(&mut tts::Tts) -> Result<T> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = tts::Tts::default()
            .map_err(|e| {
                unavailable(format!(
                    "cannot talk to speech-dispatcher ({e}); install it (apt-get install speech-dispatcher \
                     speech-dispatcher-espeak-ng) or start it with `speech-dispatcher -d`"
                ))
            })
            .and_then(|mut tts| work(&mut tts));
        let _ = tx.send(result);
    });
    rx.recv_timeout(limit).unwrap_or_else(|_| {
        Err(unavailable(format!(
            "speech-dispatcher did not answer within {} s; restart it (`pkill -f speech-dispatcher`; it starts again \
             on demand)",
            limit.as_secs()
        )))
    })
}

/// How long listing voices or connecting may take.
const ANSWER_LIMIT: Duration = Duration::from_secs(20);

/// Speaks the text aloud, waiting until speech-dispatcher reports the end (or a time that the text could not
/// take), so the program does not exit mid-sentence.
fn speak(request: &SpeechRequest) -> Result<()> {
    let (text, voice, rate) = (
        request.text.to_string(),
        request.voice.to_string(),
        request.rate,
    );
    // Even slow speech (100 words a minute) says a character in 120 ms; past that, nothing is playing.
    let slow = 175.0 / rate.map_or(100.0, |wpm| wpm.min(100) as f32);
    let limit =
        Duration::from_secs(2) + Duration::from_millis(70).mul_f32(slow) * text.len() as u32;
    with_connection(ANSWER_LIMIT + limit, move |tts| {
        speak_on(tts, &text, &voice, rate, limit)
    })
}

fn speak_on(
    tts: &mut tts::Tts,
    text: &str,
    voice: &str,
    rate: Option<u32>,
    limit: Duration,
) -> Result<()> {
    if voice != DEFAULT_VOICE {
        let voices = tts.voices().map_err(unavailable)?;
        let voice = voices
            .iter()
            .find(|v| v.name() == voice || v.id() == voice)
            .ok_or_else(|| {
                unavailable(format!(
                    "no system voice `{voice}`; run `narrate voices --backend system`"
                ))
            })?;
        tts.set_voice(voice).map_err(unavailable)?;
    }
    if let Some(wpm) = rate {
        let rate = (wpm as f32 / WPM_AT_RATE_0 - 1.0) * 100.0;
        tts.set_rate(rate.clamp(tts.min_rate(), tts.max_rate()))
            .map_err(unavailable)?;
    }
    tts.speak(text, false).map_err(unavailable)?;
    // Speech begins a moment later (libspeechd reports it on its own thread); then wait for it to end.
    let start = Instant::now();
    while !tts.is_speaking().unwrap_or(false) && start.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(20));
    }
    while tts.is_speaking().unwrap_or(false) {
        if start.elapsed() > limit {
            let _ = tts.stop();
            return Err(unavailable(format!(
                "speech-dispatcher did not finish speaking within {} s; is there a sound device? \
                 (its log is in ~/.cache/speech-dispatcher/log)",
                limit.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

impl Backend for System {
    fn name(&self) -> &'static str {
        "system"
    }
    fn describe(&self) -> &'static str {
        "the system's voices through speech-dispatcher — preview only (`narrate say`): it cannot render to a file"
    }
    fn check(&self) -> Result<()> {
        with_connection(ANSWER_LIMIT, |_| Ok(()))
    }
    fn renders(&self) -> bool {
        false
    }
    fn speak(&self, request: &SpeechRequest) -> Option<Result<()>> {
        Some(speak(request))
    }
    fn default_voice(&self) -> String {
        DEFAULT_VOICE.into()
    }
    fn voices(&self) -> Result<Vec<VoiceInfo>> {
        with_connection(ANSWER_LIMIT, |tts| {
            let voices = tts.voices().map_err(unavailable)?;
            Ok(voices
                .iter()
                .map(|v| VoiceInfo {
                    name: v.name(),
                    language: v.language().to_string(),
                    description: format!("speech-dispatcher, {}", v.language()),
                })
                .collect())
        })
    }
    fn fingerprint(&self, voice: &str) -> Result<String> {
        Ok(format!("speech-dispatcher voice={voice}"))
    }
    fn synthesize(&self, _request: &SpeechRequest) -> std::result::Result<Audio, SynthError> {
        Err(NO_RENDER.into())
    }
}

/// Why a build cannot use this backend.
pub(crate) const NO_RENDER: &str =
    "speech-dispatcher only speaks aloud; it cannot render audio to a file. \
Preview with `narrate say`, and build with espeak or piper";
