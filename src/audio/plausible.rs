//! Whether audio a backend returned can be speech of a given text, judged before it is cached: a sane sample
//! rate, a length the text allows, not silent, not clipped throughout, not noise.
//!
//! The bounds are wide on purpose (any voice at any rate narrate allows passes); they catch what goes wrong
//! outside the voice: a file cut off by a full disk or a dropped connection, a header with the wrong rate, an
//! empty or garbage answer. `narrate check` judges a finished edition more finely, against its own pace.

use super::Audio;

/// Seconds per letter or digit at 175 words a minute, a middle pace for narration voices.
const SECONDS_PER_CHAR: f64 = 0.065;
/// Speech shorter than this share of what its text predicts is cut off (a fast voice at 500 wpm says a text in
/// about 0.35 of its 175-wpm time; the slack covers terse voices).
const SHORTEST: f64 = 0.25;
/// Longer than this many times the prediction, plus a few seconds, is a runaway (or a rate far too low).
const LONGEST: f64 = 5.0;
const LONGEST_PLUS_SECONDS: f64 = 3.0;
/// Quieter than this RMS (dBFS) is silence.
const SILENT_DB: f64 = -50.0;
/// More than this share of samples at full scale is clipping throughout.
const CLIPPED_SHARE: f64 = 0.01;
/// Speech crosses zero on far fewer than half of its loud samples; white noise on half.
const NOISE_ZCR: f64 = 0.4;

/// How long speech of `text` takes at `rate` words a minute (175 when unset), from its letters and digits.
pub fn expected_seconds(text: &str, rate: Option<u32>) -> f64 {
    let chars = text.chars().filter(|c| c.is_alphanumeric()).count();
    chars as f64 * SECONDS_PER_CHAR * 175.0 / f64::from(rate.unwrap_or(175).max(1))
}

/// Why `audio` cannot be speech of `text` at `rate` words a minute, or `None` when it can be.
pub fn judge(audio: &Audio, text: &str, rate: Option<u32>) -> Option<String> {
    if !(4_000..=384_000).contains(&audio.sample_rate) {
        return Some(format!(
            "its audio claims {} Hz, not a speech sample rate",
            audio.sample_rate
        ));
    }
    if audio.samples.is_empty() {
        return Some("the backend returned no audio".into());
    }
    let seconds = audio.seconds();
    let chars = text.chars().filter(|c| c.is_alphanumeric()).count();
    let expected = expected_seconds(text, rate);
    if chars >= 12 && seconds < expected * SHORTEST {
        return Some(format!(
            "its audio lasts {seconds:.2} s, far less than its text needs (about {expected:.1} s): cut off, or a wrong sample rate"
        ));
    }
    if seconds > expected * LONGEST + LONGEST_PLUS_SECONDS {
        return Some(format!(
            "its audio lasts {seconds:.1} s, far more than its text needs (about {expected:.1} s)"
        ));
    }
    let n = audio.samples.len() as f64;
    let squares: f64 = audio
        .samples
        .iter()
        .map(|&s| (f64::from(s) / 32768.0).powi(2))
        .sum();
    let level = 10.0 * (squares / n).max(1e-20).log10();
    if level < SILENT_DB {
        return Some(format!("its audio is silent ({level:.0} dBFS)"));
    }
    let clipped = audio
        .samples
        .iter()
        .filter(|s| s.unsigned_abs() >= 32_700)
        .count();
    if clipped as f64 > n * CLIPPED_SHARE {
        return Some(format!(
            "its audio is clipped ({:.1} % of samples at full scale)",
            100.0 * clipped as f64 / n
        ));
    }
    // Zero crossings among loud samples: voiced speech crosses rarely, fricatives more, noise on every other one.
    let (mut loud, mut crossings) = (0usize, 0usize);
    for w in audio.samples.windows(2) {
        if w[0].unsigned_abs() > 300 || w[1].unsigned_abs() > 300 {
            loud += 1;
            crossings += usize::from((w[0] >= 0) != (w[1] >= 0));
        }
    }
    let zcr = crossings as f64 / loud.max(1) as f64;
    if loud > 1000 && zcr > NOISE_ZCR {
        return Some(format!(
            "its audio is noise, not speech (it crosses zero on {:.0} % of samples)",
            zcr * 100.0
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "A calm river runs slowly past the old mill this afternoon.";

    fn tone(seconds: f64, rate: u32, level: f64) -> Audio {
        let n = (seconds * f64::from(rate)) as usize;
        Audio {
            sample_rate: rate,
            samples: (0..n)
                .map(|i| {
                    let t = i as f64 / f64::from(rate);
                    (level * 32767.0 * (2.0 * std::f64::consts::PI * 180.0 * t).sin()) as i16
                })
                .collect(),
            words: None,
        }
    }

    #[test]
    fn speech_like_audio_of_a_plausible_length_passes() {
        assert_eq!(judge(&tone(3.0, 22_050, 0.3), TEXT, None), None);
        // As fast and as slow as narrate's rates allow.
        assert_eq!(judge(&tone(1.2, 22_050, 0.3), TEXT, Some(500)), None);
        assert_eq!(judge(&tone(9.0, 24_000, 0.3), TEXT, Some(60)), None);
    }

    #[test]
    fn cut_off_silent_clipped_noisy_and_mislabelled_audio_is_refused() {
        let says = |a: &Audio| judge(a, TEXT, None).unwrap_or_default();
        assert!(says(&tone(0.4, 22_050, 0.3)).contains("cut off"));
        assert!(says(&tone(3.0, 22_050, 0.001)).contains("silent"));
        assert!(says(&tone(3.0, 22_050, 1.5)).contains("clipped"));
        assert!(says(&tone(40.0, 22_050, 0.3)).contains("far more"));
        let mut noise = tone(3.0, 22_050, 0.0);
        let mut x = 12345u32;
        for s in &mut noise.samples {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            *s = ((x >> 16) as i16) / 4;
        }
        assert!(says(&noise).contains("noise"), "{}", says(&noise));
        // 22,050 Hz audio labelled as 96 kHz: a quarter of its length.
        let mut mislabelled = tone(3.0, 22_050, 0.3);
        mislabelled.sample_rate = 96_000;
        assert!(says(&mislabelled).contains("wrong sample rate"));
        mislabelled.sample_rate = 0;
        assert!(says(&mislabelled).contains("not a speech sample rate"));
    }
}
