//! How long each phoneme lasts: the host's say over the model's duration predictor (opened by `graph`), per
//! phoneme ID of one model run, as a multiplier applied before rounding and a cap applied after, in the
//! predictor's steps of 25 ms (two of the model's 12.5 ms output frames, `graph::FRAMES_PER_STEP`).
//!
//! - **The cap, in every take**: where the text has no punctuation between two words, the model sometimes
//!   stretches the first word's last phoneme into a pause of a third of a second or more ("licenses of parties ‸
//!   who have received": 16 steps, 0.4 s, on the `z` of "parties"). Such a phoneme is held to [`FINAL_CAP`]
//!   steps (150 ms: a word's last phoneme takes 25–100 ms where the model reads on without a pause) and the
//!   space after it to [`SPACE_CAP`] (75 ms), so the silence between the words stays around 0.1 s, and well
//!   under 0.3 s. Nothing else is capped; a sentence with no such stretch is rendered exactly as the model
//!   predicts it.
//! - **Takes**: take 1 is the model's own reading. A later take is another reading within natural bounds, drawn
//!   from the request's seed (`noise::seed`: voice, rate, spoken text, take) so it is the same every time:
//!   a tempo per phrase (between punctuation) [`TEMPO_MIN`] to [`TEMPO`] faster or slower than the model's
//!   (never the same pace: the predictor's 25 ms steps round a change of a percent or two away), each word
//!   within ±[`WORD`] of that, and each pause at punctuation (the word's last phoneme, the punctuation and the
//!   space after it) within ±[`PAUSE`]. The predictor's durations sit within a few hundredths of whole 25 ms
//!   steps, so a take also adds a dither uniform on ±0.5 step to each phoneme before rounding: rounding then
//!   keeps each change on average (a phoneme of 2 steps made 5 % longer is 3 steps one time in ten) instead of
//!   rounding it away.
//!
//! The rule is part of the fingerprint as [`RULE`]; change them together.

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What the fingerprint says about the durations.
pub(crate) const RULE: &str =
    "hibari-durations-v1 (cap 6+3, tempo 0.02-0.05, word 0.06, pause 0.15, dither 0.5)";

/// The most steps (25 ms each) the last phoneme of a word may take when no punctuation follows the word.
pub(crate) const FINAL_CAP: f32 = 6.0;
/// The most steps the space between two words may take when no punctuation is between them.
pub(crate) const SPACE_CAP: f32 = 3.0;
/// How far a later take's phrase tempo, word lengths and pauses may go from the model's (a fraction).
pub(crate) const TEMPO: f32 = 0.05;
pub(crate) const TEMPO_MIN: f32 = 0.02;
pub(crate) const WORD: f32 = 0.06;
pub(crate) const PAUSE: f32 = 0.15;

/// The BLAKE3 key-derivation context of a take's duration stream (from the request's noise seed).
const CONTEXT: &str = "narrate hibari durations v1 (from the noise seed)";

/// One word of a model run, as token indices: its phonemes are `tokens`, and `pause_after` says the text has
/// punctuation after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenWord {
    pub tokens: std::ops::Range<usize>,
    pub pause_after: bool,
}

/// The inputs the edited graph takes: a multiplier and a cap for each of `len` IDs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    pub scale: Vec<f32>,
    pub offset: Vec<f32>,
    pub cap: Vec<f32>,
}

/// Uniform on [-1, 1) from 24 bits of the stream.
fn symmetric(rng: &mut ChaCha8Rng) -> f32 {
    const UNIT: f32 = 1.0 / (1u32 << 24) as f32;
    (rng.next_u32() >> 8) as f32 * UNIT * 2.0 - 1.0
}

/// The plan for one run of `len` IDs (padding included) whose words are `words` (in order) and whose ID at
/// index i is a space when `space[i]`: the caps always, and for `take` > 1 the take's variation, drawn from
/// `seed` and run `chunk`.
pub(crate) fn plan(
    len: usize,
    words: &[TokenWord],
    space: &[bool],
    take: u32,
    seed: &[u8; 32],
    chunk: usize,
) -> Plan {
    let mut scale = vec![1.0f32; len];
    let mut offset = vec![0.0f32; len];
    let mut cap = vec![f32::INFINITY; len];
    let is_space = |i: usize| space.get(i).copied().unwrap_or(false);
    for (k, w) in words.iter().enumerate() {
        if w.pause_after || w.tokens.is_empty() {
            continue;
        }
        // Only between two words with nothing but spaces between them.
        let Some(next) = words.get(k + 1) else {
            continue;
        };
        let gap = w.tokens.end..next.tokens.start;
        if gap.is_empty() || !gap.clone().all(is_space) {
            continue;
        }
        cap[w.tokens.end - 1] = FINAL_CAP;
        for i in gap {
            cap[i] = SPACE_CAP;
        }
    }
    if take > 1 {
        let mut rng = ChaCha8Rng::from_seed(blake3::derive_key(CONTEXT, seed));
        rng.set_stream(chunk as u64);
        let mut tempo = None;
        for (k, w) in words.iter().enumerate() {
            let t = *tempo.get_or_insert_with(|| {
                let u = symmetric(&mut rng);
                1.0 + u.signum() * (TEMPO_MIN + (TEMPO - TEMPO_MIN) * u.abs())
            });
            let here = t * (1.0 + WORD * symmetric(&mut rng));
            for i in w.tokens.clone() {
                scale[i] = here;
            }
            let gap_end = words.get(k + 1).map_or(len - 1, |n| n.tokens.start);
            let gap = w.tokens.end..gap_end.max(w.tokens.end);
            if w.pause_after {
                let pause = 1.0 + PAUSE * symmetric(&mut rng);
                if !w.tokens.is_empty() {
                    scale[w.tokens.end - 1] = here * pause;
                }
                for i in gap {
                    scale[i] = t * pause;
                }
                tempo = None;
            } else {
                for i in gap {
                    scale[i] = t;
                }
            }
        }
        for o in offset.iter_mut().take(len.saturating_sub(1)).skip(1) {
            *o = 0.5 * symmetric(&mut rng);
        }
    }
    Plan { scale, offset, cap }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `^ ab_cd, ef_gh $`: IDs 0 pad, 1-2 "ab", 3 space, 4-5 "cd", 6 ",", 7 space, 8-9 "ef", 10 space, 11-12 "gh",
    /// 13 pad.
    fn layout() -> (Vec<TokenWord>, Vec<bool>) {
        let w = |a, b, pause_after| TokenWord {
            tokens: a..b,
            pause_after,
        };
        let words = vec![
            w(1, 3, false),
            w(4, 6, true),
            w(8, 10, false),
            w(11, 13, true),
        ];
        let mut space = vec![false; 14];
        for i in [3, 7, 10] {
            space[i] = true;
        }
        (words, space)
    }

    #[test]
    fn take_one_only_caps_the_ends_of_words_with_no_punctuation_after_them() {
        let (words, space) = layout();
        let seed = [7u8; 32];
        let p = plan(14, &words, &space, 1, &seed, 0);
        assert!(p.scale.iter().all(|&s| s == 1.0));
        assert!(p.offset.iter().all(|&o| o == 0.0));
        let capped: Vec<usize> = (0..14).filter(|&i| p.cap[i].is_finite()).collect();
        assert_eq!(capped, [2, 3, 9, 10]);
        assert_eq!((p.cap[2], p.cap[3]), (FINAL_CAP, SPACE_CAP));
    }

    #[test]
    fn a_later_take_varies_within_bounds_the_same_way_every_time() {
        let (words, space) = layout();
        let seed = [7u8; 32];
        let one = plan(14, &words, &space, 1, &seed, 0);
        let two = plan(14, &words, &space, 2, &seed, 0);
        assert_eq!(two, plan(14, &words, &space, 2, &seed, 0));
        assert_eq!(two.cap, one.cap, "the cap is the same in every take");
        assert_ne!(two, plan(14, &words, &space, 2, &seed, 1));
        assert_ne!(two, plan(14, &words, &space, 2, &[8u8; 32], 0));
        assert_eq!((two.scale[0], two.scale[13]), (1.0, 1.0), "padding");
        assert_eq!((two.offset[0], two.offset[13]), (0.0, 0.0), "padding");
        assert!(two.offset.iter().all(|o| (-0.5..0.5).contains(o)));
        assert!(two.offset[1..13].iter().any(|&o| o != 0.0));
        let most = (1.0 + TEMPO) * (1.0 + WORD) * (1.0 + PAUSE);
        let least = (1.0 - TEMPO) * (1.0 - WORD) * (1.0 - PAUSE);
        for s in &two.scale {
            assert!((least..=most).contains(s), "{s}");
        }
        // Within a word, one factor; the punctuation and the space after it share the pause's.
        assert_eq!(two.scale[1], two.scale[2]);
        assert_eq!(two.scale[6], two.scale[7]);
        assert_ne!(two.scale[6], two.scale[3]);
        // Over many seeds, the factors fill their ranges.
        let (mut lo, mut hi) = (f32::MAX, f32::MIN);
        for s in 0..200u8 {
            let p = plan(14, &words, &space, 2, &[s; 32], 0);
            lo = lo.min(p.scale[6]);
            hi = hi.max(p.scale[6]);
        }
        assert!(lo < 0.9 && hi > 1.1, "{lo} {hi}");
    }
}
