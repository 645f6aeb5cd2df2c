//! Whether audio a backend returned can be speech of a given text, judged before it is cached: a sane sample
//! rate, a length the text allows, not silent, not clipped throughout, not noise, not cut off mid-sound.
//!
//! Two kinds of verdict. A **refusal** is audio no voice makes for the text (wide bounds any voice at any rate
//! passes: a header with the wrong rate, an empty, silent or noise answer, a body far too short). A
//! **suspicion** is audio this voice would not make: it ends mid-sound, or its speech is far shorter or longer
//! than the voice's own pace gives the text. The pace is learned per backend, voice and rate from the answers
//! accepted in this run ([`Paces`]): the window tightens only after a few answers of at least a dozen letters,
//! and compares *spoken* time (from the first to the last sound, leading and trailing silence left out) with the
//! letters and digits of the spoken text. A suspicion is retried like a transient fault; the same answer twice
//! (sample for sample as long) is what the voice really says and is accepted (`confirmed`), so a voice that
//! ends loud or a sentence far off the voice's pace costs one retry, never a failure. A body cut by a dropped
//! connection (its header a streaming placeholder, so its size says nothing) ends mid-sound or is short for
//! its text, and never comes twice at the same length.

use std::collections::HashMap;
use std::sync::Mutex;

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
/// A sample at most this share of the answer's peak is quiet (the edges of speech, and its pauses).
const QUIET_SHARE: f64 = 0.01;
/// Speech ends in at least this much quiet before any answer of the voice is known (espeak-ng ends in 300 ms,
/// Piper in 70 ms or more, hibari in 370 ms, the tone backend in 60 ms).
const PRIOR_TAIL_SECONDS: f64 = 0.02;
/// Once the voice is known: at least this share of the shortest quiet ending its accepted answers had.
const TAIL_SHARE: f64 = 0.5;
/// Answers with at least this many letters and digits teach and are held to the voice's pace.
const PACE_MIN_CHARS: usize = 12;
/// The pace window applies after this many such answers.
const PACE_AFTER: usize = 4;
/// Spoken time under this share of the voice's median pace is suspect (real sentences of espeak-ng, Piper and
/// hibari lie within 0.77 to 1.46 of their voice's median; a body cut to 60 % of its length is under it).
const PACE_SHORTEST: f64 = 0.6;
/// Over this many times the median pace, plus a second, is suspect.
const PACE_LONGEST: f64 = 2.5;
/// The paces kept per voice (the most recent).
const PACE_KEPT: usize = 256;

/// How long speech of `text` takes at `rate` words a minute (175 when unset), from its letters and digits.
pub(crate) fn expected_seconds(text: &str, rate: Option<u32>) -> f64 {
    let chars = text.chars().filter(|c| c.is_alphanumeric()).count();
    chars as f64 * SECONDS_PER_CHAR * 175.0 / f64::from(rate.unwrap_or(175).max(1))
}

/// Why `audio` cannot be speech of `text` at `rate` words a minute, or `None` when it can be.
pub(crate) fn judge(audio: &Audio, text: &str, rate: Option<u32>) -> Option<String> {
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
    let squares = super::sum_squares(&audio.samples) as f64 / (32768.0 * 32768.0);
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

/// What an answer is, judged against its text and its voice.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// It can be this voice saying the text.
    Speech,
    /// No voice makes this for the text (retried; never accepted).
    Refused(String),
    /// This voice would not make it (retried; accepted when the same answer comes again).
    Suspect(String),
}

/// What is known of one voice (backend, voice, rate) from the answers accepted in this run.
#[derive(Debug, Default)]
struct Learned {
    /// Spoken seconds per letter or digit of answers with at least [`PACE_MIN_CHARS`], the most recent last.
    paces: Vec<f64>,
    /// The shortest quiet an accepted answer ended in.
    shortest_tail: Option<f64>,
}

/// The voices heard so far, learned from the answers accepted (one per process: a run, or a server's life).
#[derive(Debug, Default)]
pub(crate) struct Paces {
    voices: Mutex<HashMap<String, Learned>>,
}

static PACES: std::sync::LazyLock<Paces> = std::sync::LazyLock::new(Paces::default);

/// The paces of this process.
pub(crate) fn paces() -> &'static Paces {
    &PACES
}

/// The key a voice is learned under.
pub(crate) fn voice_key(backend: &str, voice: &str, rate: Option<u32>) -> String {
    format!("{backend}\u{1f}{voice}\u{1f}{}", rate.unwrap_or(0))
}

/// The edges of an answer's sound: seconds from its first to its last sound, and the quiet after the last.
fn edges(audio: &Audio) -> (f64, f64) {
    let peak = super::peak(&audio.samples);
    let quiet = (f64::from(peak) * QUIET_SHARE).max(16.0) as u16;
    let loud = |s: &i16| s.unsigned_abs() > quiet;
    let first = audio.samples.iter().position(loud);
    let last = audio.samples.iter().rposition(loud);
    let rate = f64::from(audio.sample_rate.max(1));
    match (first, last) {
        (Some(a), Some(b)) => (
            (b - a + 1) as f64 / rate,
            (audio.samples.len() - 1 - b) as f64 / rate,
        ),
        _ => (0.0, audio.seconds()),
    }
}

/// Letters and digits: what a voice spends its time on.
fn spoken_chars(text: &str) -> usize {
    text.chars().filter(|c| c.is_alphanumeric()).count()
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

impl Paces {
    /// Judges `audio` as voice `key` saying `text` at `rate` words a minute.
    pub(crate) fn judge(&self, key: &str, audio: &Audio, text: &str, rate: Option<u32>) -> Verdict {
        if let Some(why) = judge(audio, text, rate) {
            return Verdict::Refused(why);
        }
        let (spoken, tail) = edges(audio);
        let voices = self.voices.lock().unwrap_or_else(|e| e.into_inner());
        let learned = voices.get(key);
        let least_tail = learned
            .and_then(|l| l.shortest_tail)
            .map_or(PRIOR_TAIL_SECONDS, |t| t * TAIL_SHARE);
        if tail < least_tail {
            return Verdict::Suspect(format!(
                "its audio ends mid-sound ({:.0} ms of quiet at its end, this voice ends in {:.0} ms or more): cut off",
                tail * 1000.0,
                least_tail * 1000.0
            ));
        }
        let chars = spoken_chars(text);
        if let Some(l) = learned.filter(|l| l.paces.len() >= PACE_AFTER && chars >= PACE_MIN_CHARS)
        {
            let pace = median(&l.paces);
            let expected = pace * chars as f64;
            if spoken < expected * PACE_SHORTEST {
                return Verdict::Suspect(format!(
                    "its speech lasts {spoken:.2} s, under {:.0} % of the {expected:.2} s this voice's pace gives its text: cut off",
                    PACE_SHORTEST * 100.0
                ));
            }
            if spoken > expected * PACE_LONGEST + 1.0 {
                return Verdict::Suspect(format!(
                    "its speech lasts {spoken:.2} s, far more than the {expected:.2} s this voice's pace gives its text"
                ));
            }
        }
        Verdict::Speech
    }

    /// Whether the voice's pace is known (the window applies), from enough answers accepted in this run.
    pub(crate) fn knows(&self, key: &str) -> bool {
        let voices = self.voices.lock().unwrap_or_else(|e| e.into_inner());
        voices.get(key).is_some_and(|l| l.paces.len() >= PACE_AFTER)
    }

    /// Learns from an answer that was accepted.
    pub(crate) fn accept(&self, key: &str, audio: &Audio, text: &str) {
        let (spoken, tail) = edges(audio);
        let mut voices = self.voices.lock().unwrap_or_else(|e| e.into_inner());
        let learned = voices.entry(key.to_string()).or_default();
        learned.shortest_tail = Some(learned.shortest_tail.map_or(tail, |t| t.min(tail)));
        let chars = spoken_chars(text);
        if chars >= PACE_MIN_CHARS {
            if learned.paces.len() >= PACE_KEPT {
                learned.paces.remove(0);
            }
            learned.paces.push(spoken / chars as f64);
        }
    }
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

    /// A tone of `seconds` between `pad` seconds of silence on each side.
    fn padded(seconds: f64, pad: f64) -> Audio {
        let mut audio = tone(pad, 22_050, 0.0);
        audio.samples.extend(tone(seconds, 22_050, 0.3).samples);
        audio.samples.extend(tone(pad, 22_050, 0.0).samples);
        audio
    }

    #[test]
    fn the_voice_s_pace_is_learned_and_cut_answers_are_suspect() {
        let paces = Paces::default();
        let key = voice_key("test", "v", None);
        // Sentences of the voice at 0.06 s per letter, spread as real voices are (±20 %), each ending in silence.
        let texts = [
            "The first bridge is stone and old.",
            "The second bridge is iron and painted green.",
            "A heron waits under the plank.",
            "Gravel shifts when you step on it.",
            "Nobody hurries here at all today.",
        ];
        for (n, text) in texts.iter().enumerate() {
            let seconds = spoken_chars(text) as f64 * 0.06 * (0.8 + 0.1 * n as f64);
            let audio = padded(seconds, 0.3);
            assert_eq!(
                paces.judge(&key, &audio, text, None),
                Verdict::Speech,
                "{text}"
            );
            paces.accept(&key, &audio, text);
        }
        let text = "A calm river runs slowly past the old mill this afternoon.";
        let whole = padded(spoken_chars(text) as f64 * 0.06, 0.3);
        assert_eq!(paces.judge(&key, &whole, text, None), Verdict::Speech);
        // Cut to 80 %: it ends mid-sound. Cut to half inside a pause (ending quietly): short for the voice.
        let mut cut = whole.clone();
        cut.samples.truncate(whole.samples.len() * 8 / 10);
        let says = |a: &Audio| match paces.judge(&key, a, text, None) {
            Verdict::Suspect(why) => why,
            other => panic!("{other:?}"),
        };
        assert!(says(&cut).contains("ends mid-sound"), "{}", says(&cut));
        let mut half = padded(spoken_chars(text) as f64 * 0.06 * 0.5, 0.3);
        half.samples.truncate(half.samples.len() - 100);
        assert!(says(&half).contains("this voice's pace"), "{}", says(&half));
        // Twice as long as the voice would say it.
        let slow = padded(spoken_chars(text) as f64 * 0.06 * 3.0, 0.3);
        assert!(says(&slow).contains("far more"), "{}", says(&slow));
        // Short texts ("Yes.") are not held to the pace; another voice has its own.
        assert_eq!(
            paces.judge(&key, &padded(0.9, 0.3), "Yes.", None),
            Verdict::Speech
        );
        let other = voice_key("test", "w", None);
        assert_eq!(paces.judge(&other, &half, text, None), Verdict::Speech);
    }

    #[test]
    fn a_voice_that_ends_loud_is_learned_from_its_answers() {
        let paces = Paces::default();
        let key = voice_key("test", "abrupt", None);
        let loud = tone(3.0, 22_050, 0.3);
        // Before anything is known, an answer that ends at full level is suspect ...
        assert!(matches!(
            paces.judge(&key, &loud, TEXT, None),
            Verdict::Suspect(_)
        ));
        // ... and once one is accepted (the same answer came twice), the voice is known to end so.
        paces.accept(&key, &loud, TEXT);
        assert_eq!(paces.judge(&key, &loud, TEXT, None), Verdict::Speech);
    }
}
