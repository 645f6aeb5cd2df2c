//! A deterministic test backend: a tone whose length follows the text; each take changes its pitch and length.
//!
//! It exists so tests and benchmarks of the pipeline run fast and repeatably; it is never a narration voice.

use super::{Audio, Backend, SpeechRequest, SynthError, VoiceInfo};

pub(crate) struct Tone;

pub(crate) const SAMPLE_RATE: u32 = 22_050;
/// Milliseconds of tone per character of text.
const MS_PER_CHAR: u32 = 40;
/// Silence the tone is wrapped in, as real engines do, so the join's trimming is exercised.
const PAD_MS: u32 = 60;

impl Backend for Tone {
    fn name(&self) -> &'static str {
        "tone"
    }
    fn describe(&self) -> &'static str {
        "test tones (length follows the text; for tests, not narration)"
    }
    fn check(&self) -> crate::error::Result<()> {
        Ok(())
    }
    fn default_voice(&self) -> String {
        "sine".into()
    }
    fn voices(&self) -> crate::error::Result<Vec<VoiceInfo>> {
        Ok(vec![
            VoiceInfo {
                name: "sine".into(),
                language: "none".into(),
                description: "a sine tone, 40 ms per character".into(),
            },
            VoiceInfo {
                name: "abrupt".into(),
                language: "none".into(),
                description: "a cosine tone that starts and stops at full level, no silence: tests click-free joins"
                    .into(),
            },
        ])
    }
    fn fingerprint(&self, voice: &str) -> crate::error::Result<String> {
        if voice != "sine" && voice != "abrupt" {
            return Err(crate::error::Error::BackendUnavailable {
                backend: "tone".into(),
                reason: format!("no voice `{voice}`; the tone voices are sine and abrupt"),
            });
        }
        Ok(format!("tone-1 {voice} {MS_PER_CHAR}ms/char"))
    }
    fn synthesize(&self, request: &SpeechRequest) -> std::result::Result<Audio, SynthError> {
        let chars = request.text.chars().filter(|c| !c.is_whitespace()).count() as u32;
        if chars == 0 {
            return Err("nothing to say".into());
        }
        hold(request.text)?;
        let rate_factor = request.rate.map_or(1.0, |wpm| 175.0 / wpm.max(1) as f64);
        // Takes 1, 2, 3, 4 are 0 %, 10 %, 20 %, 30 % longer, then the cycle repeats, as a new human take would be.
        let take_factor = 1.0 + 0.1 * f64::from(request.take.saturating_sub(1) % 4);
        let ms = f64::from(chars * MS_PER_CHAR) * rate_factor * take_factor;
        let tone_len = (ms * f64::from(SAMPLE_RATE) / 1000.0) as usize;
        let pad = (PAD_MS * SAMPLE_RATE / 1000) as usize;
        let seed = blake3::hash(request.text.as_bytes()).as_bytes()[0] as f64;
        let freq = 200.0 + seed + 40.0 * f64::from(request.take.saturating_sub(1) % 8);
        if request.voice == "abrupt" {
            // Full level from the first sample to the last: the join alone must keep it from clicking.
            let samples = (0..tone_len)
                .map(|n| {
                    let t = n as f64 / f64::from(SAMPLE_RATE);
                    (8000.0 * (2.0 * std::f64::consts::PI * freq * t).cos()) as i16
                })
                .collect();
            return Ok(Audio {
                sample_rate: SAMPLE_RATE,
                samples,
                words: None,
            });
        }
        let ramp = (SAMPLE_RATE / 200) as usize; // 5 ms in and out
        let mut samples = vec![0i16; pad];
        samples.extend((0..tone_len).map(|n| {
            let envelope = (n.min(tone_len - 1 - n).min(ramp) as f64) / ramp as f64;
            let t = n as f64 / f64::from(SAMPLE_RATE);
            (8000.0 * envelope * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
        }));
        samples.extend(std::iter::repeat_n(0, pad));
        Ok(Audio {
            sample_rate: SAMPLE_RATE,
            samples,
            words: None,
        })
    }
}

/// The word that marks a sentence for [`hold`].
pub(crate) const HOLD_WORD: &str = "Holdfast";
/// The environment variable naming the file a held sentence waits for.
pub(crate) const HOLD_ENV: &str = "NARRATE_TONE_HOLD";
/// Longest wait for that file before the sentence fails (a test that never creates it fails instead of hanging).
const HOLD_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

/// A hook for tests of ordering: with `NARRATE_TONE_HOLD=FILE` set, a sentence holding the word `Holdfast` is
/// synthesized only once FILE exists, so a client can prove it heard the first sentences before this one was made.
fn hold(text: &str) -> std::result::Result<(), SynthError> {
    let Some(file) = std::env::var_os(HOLD_ENV) else {
        return Ok(());
    };
    if !text.contains(HOLD_WORD) {
        return Ok(());
    }
    let started = std::time::Instant::now();
    while !std::path::Path::new(&file).exists() {
        if started.elapsed() > HOLD_LIMIT {
            return Err(SynthError::permanent(format!(
                "held sentence: {} never appeared",
                std::path::Path::new(&file).display()
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn say(text: &str, take: u32) -> Audio {
        Tone.synthesize(&SpeechRequest {
            text,
            voice: "sine",
            rate: None,
            take,
        })
        .unwrap()
    }

    #[test]
    fn length_follows_text_and_takes_differ() {
        let short = say("Hi there.", 1);
        let long = say("Hi there, this is a much longer sentence.", 1);
        assert!(long.samples.len() > 3 * short.samples.len() / 2);
        assert_eq!(say("Hi there.", 1), short);
        let take2 = say("Hi there.", 2);
        assert!(take2.samples.len() > short.samples.len());
        assert_ne!(take2.samples[..short.samples.len()], short.samples[..]);
    }
}
