//! The streaming join: segment WAVs in plan order, trimmed of silence, faded at the edges, with pauses between,
//! written straight to the output so memory holds one segment at a time however long the essay is. Each
//! segment's words go with it: scaled when it is resampled, shifted by its trim and placed on the edition's clock
//! (or, from a voice that does not say where its words are, spread over its speech and marked estimated).

use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::timeline::{Chapter, Span, Timeline, WordSpan, Words};

/// One segment to join.
#[derive(Debug, Clone)]
pub(crate) struct Piece {
    pub id: String,
    /// The segment's audio file (from the cache).
    pub path: PathBuf,
    pub chapter: usize,
    /// What it says (its words' places are spread over its speech when the audio does not carry them).
    pub spoken: String,
    /// Silence written after it.
    pub pause_after_ms: u32,
}

/// Samples quieter than this (about -40 dBFS) count as silence when trimming.
const SILENCE: i16 = 328;
/// Silence kept before and after the speech so consonants are not clipped.
const MARGIN_MS: u32 = 20;
/// Fade at each edge so no join clicks.
const FADE_MS: u32 = 10;

/// The part of `samples` to keep: the speech plus a margin either side. `None` when all of it is silence.
pub(crate) fn trim_bounds(samples: &[i16], sample_rate: u32) -> Option<(usize, usize)> {
    let loud = |s: &i16| s.unsigned_abs() > SILENCE as u16;
    let first = samples.iter().position(loud)?;
    let last = samples.iter().rposition(loud)?;
    let margin = (MARGIN_MS * sample_rate / 1000) as usize;
    Some((
        first.saturating_sub(margin),
        (last + 1 + margin).min(samples.len()),
    ))
}

/// Applies a linear fade-in and fade-out of `FADE_MS` (or half the length, if shorter).
fn fade_edges(samples: &mut [i16], sample_rate: u32) {
    let n = ((FADE_MS * sample_rate / 1000) as usize).min(samples.len() / 2);
    let len = samples.len();
    for i in 0..n {
        let g = i as f32 / n as f32;
        samples[i] = (f32::from(samples[i]) * g) as i16;
        samples[len - 1 - i] = (f32::from(samples[len - 1 - i]) * g) as i16;
    }
}

/// What the join produced.
pub(crate) struct Joined {
    pub timeline: Timeline,
    /// Notes for the user (a segment that was all silence, say).
    pub warnings: Vec<String>,
}

/// Joins `pieces` into a 16-bit mono WAV written to `out`. Chapter `i` starts at the first sample of its first
/// piece (chapter 0 at sample 0) and runs to the start of the next.
/// `out_path` names the file in error messages. The edition is at `rate` Hz, or at the first segment's rate;
/// segments at another rate are resampled.
pub(crate) fn join<W: Write + Seek>(
    out: W,
    out_path: &Path,
    pieces: &[Piece],
    chapter_titles: &[String],
    rate: Option<u32>,
) -> Result<Joined> {
    let mut writer: Option<hound::WavWriter<W>> = None;
    let mut out = Some(out);
    let mut position = 0u64;
    let mut sample_rate = 0u32;
    let mut segments = Vec::with_capacity(pieces.len());
    let mut words = Vec::with_capacity(pieces.len());
    let mut chapter_starts: Vec<Option<u64>> = vec![None; chapter_titles.len()];
    let mut warnings = Vec::new();
    let write_err = |e: hound::Error| Error::Output {
        path: out_path.to_owned(),
        source: super::wav::io_error(e),
    };

    for piece in pieces {
        let mut audio = super::wav::read(&piece.path).map_err(|e| Error::CorruptCache {
            path: piece.path.clone(),
            reason: e.to_string(),
        })?;
        if writer.is_none() {
            sample_rate = rate.unwrap_or(audio.sample_rate);
            let w = hound::WavWriter::new(
                out.take().expect("writer made once"),
                super::wav::spec(sample_rate),
            )
            .map_err(write_err)?;
            writer = Some(w);
        }
        if audio.sample_rate != sample_rate {
            audio.samples =
                super::resample::resample(&audio.samples, audio.sample_rate, sample_rate).map_err(
                    |e| Error::Invalid(format!("segment {}: cannot resample: {e}", piece.id)),
                )?;
            if let Some(words) = &mut audio.words {
                rescale(words, audio.sample_rate, sample_rate);
            }
            audio.sample_rate = sample_rate;
        }
        let (from, to) = match trim_bounds(&audio.samples, sample_rate) {
            Some(b) => b,
            None => {
                warnings.push(format!(
                    "segment {} is silent; listen to it and run `narrate regen` on it",
                    piece.id
                ));
                (0, audio.samples.len())
            }
        };
        let speech = &mut audio.samples[from..to];
        fade_edges(speech, sample_rate);
        let w = writer.as_mut().expect("writer exists");
        let start = position;
        write_samples(w, speech).map_err(write_err)?;
        position += speech.len() as u64;
        segments.push(Span {
            start,
            end: position,
        });
        words.push(place_words(
            audio.words.as_deref(),
            &piece.spoken,
            from as u64,
            start,
            position - start,
            sample_rate,
        ));
        if let Some(slot) = chapter_starts.get_mut(piece.chapter) {
            slot.get_or_insert(if piece.chapter == 0 { 0 } else { start });
        }
        let pause = u64::from(piece.pause_after_ms) * u64::from(sample_rate) / 1000;
        write_silence(w, pause).map_err(write_err)?;
        position += pause;
    }
    let Some(writer) = writer else {
        return Err(Error::Invalid(
            "nothing to join: the plan has no segments".into(),
        ));
    };
    writer.finalize().map_err(write_err)?;

    let starts: Vec<u64> = chapter_starts
        .iter()
        .map(|s| s.ok_or_else(|| Error::Invalid("a chapter has no segments".into())))
        .collect::<Result<_>>()?;
    let chapters = chapter_titles
        .iter()
        .enumerate()
        .map(|(i, title)| Chapter {
            title: title.clone(),
            span: Span {
                start: starts[i],
                end: starts.get(i + 1).copied().unwrap_or(position),
            },
        })
        .collect();
    Ok(Joined {
        timeline: Timeline {
            sample_rate,
            total_samples: position,
            chapters,
            segments,
            words,
        },
        warnings,
    })
}

/// Moves word spans from a segment at `from` Hz to the same places at `to` Hz.
fn rescale(words: &mut [WordSpan], from: u32, to: u32) {
    let at = |s: u64| (u128::from(s) * u128::from(to) / u128::from(from.max(1))) as u64;
    for w in words {
        w.start_sample = at(w.start_sample);
        w.end_sample = at(w.end_sample);
    }
}

/// A segment's words on the edition's clock: `words` (in the segment's own samples) shifted by its trim (`from`,
/// the first sample kept) to where it starts (`start`), held inside its `len` samples and in order. Without
/// `words`, the words of `spoken` spread over the speech (inside the trim's margins) by their characters, marked
/// estimated.
pub(crate) fn place_words(
    words: Option<&[WordSpan]>,
    spoken: &str,
    from: u64,
    start: u64,
    len: u64,
    sample_rate: u32,
) -> Words {
    let Some(words) = words else {
        let margin = (u64::from(MARGIN_MS * sample_rate / 1000)).min(len / 4);
        let spans = spread(spoken, margin, len - margin)
            .into_iter()
            .map(|w| WordSpan {
                start_sample: start + w.start_sample,
                end_sample: start + w.end_sample,
                ..w
            })
            .collect();
        return Words {
            spans,
            estimated: true,
        };
    };
    let mut last = 0;
    let spans = words
        .iter()
        .map(|w| {
            let a = w.start_sample.saturating_sub(from).min(len).max(last);
            let b = w.end_sample.saturating_sub(from).min(len).max(a);
            last = a;
            WordSpan {
                text: w.text.clone(),
                start_sample: start + a,
                end_sample: start + b,
            }
        })
        .collect();
    Words {
        spans,
        estimated: false,
    }
}

/// The words of `spoken` spread over samples `from..to` by their characters (a word's letters, and one for the
/// space after it).
fn spread(spoken: &str, from: u64, to: u64) -> Vec<WordSpan> {
    let words = crate::timeline::spoken_words(spoken);
    let weight = |w: &str| w.chars().count() as u64;
    let total: u64 = words
        .iter()
        .map(|w| weight(w) + 1)
        .sum::<u64>()
        .saturating_sub(1);
    let span = to.saturating_sub(from);
    let at = |chars: u64| from + span * chars / total.max(1);
    let mut chars = 0;
    words
        .into_iter()
        .map(|w| {
            let start = at(chars);
            chars += weight(w);
            let end = at(chars);
            chars += 1;
            WordSpan {
                text: w.to_owned(),
                start_sample: start,
                end_sample: end,
            }
        })
        .collect()
}

/// Writes 16-bit samples through hound's buffered 16-bit writer (a sample at a time through `write_sample` was
/// most of a join's time).
fn write_samples<W: Write + Seek>(
    w: &mut hound::WavWriter<W>,
    samples: &[i16],
) -> Result<(), hound::Error> {
    for chunk in samples.chunks(1 << 16) {
        let mut out = w.get_i16_writer(chunk.len() as u32);
        for &s in chunk {
            out.write_sample(s);
        }
        out.flush()?;
    }
    Ok(())
}

/// Writes `n` samples of silence.
fn write_silence<W: Write + Seek>(w: &mut hound::WavWriter<W>, n: u64) -> Result<(), hound::Error> {
    const ZEROS: [i16; 4096] = [0; 4096];
    let mut left = n;
    while left > 0 {
        let now = left.min(ZEROS.len() as u64) as usize;
        write_samples(w, &ZEROS[..now])?;
        left -= now as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_to_speech_plus_margin() {
        let mut s = vec![0i16; 1000];
        s[400..600].fill(5000);
        let (a, b) = trim_bounds(&s, 10_000).unwrap(); // margin = 200 samples
        assert_eq!((a, b), (200, 800));
        assert!(trim_bounds(&[0, 10, -10], 10_000).is_none());
    }

    #[test]
    fn words_follow_the_trim_and_the_clock_and_stay_inside() {
        let w = |t: &str, a, b| WordSpan {
            text: t.into(),
            start_sample: a,
            end_sample: b,
        };
        // Trimmed from sample 100, placed at 5000, 800 samples kept: the last word is held inside.
        let own = [w("one", 150, 400), w("two", 420, 950)];
        let placed = place_words(Some(&own), "one two", 100, 5000, 800, 8000);
        assert!(!placed.estimated);
        assert_eq!(placed.spans, [w("one", 5050, 5300), w("two", 5320, 5800)]);
        // No words from the voice: spread by characters inside the margins.
        let spread = place_words(None, "Hi, there!", 0, 1000, 1000, 8000);
        assert!(spread.estimated);
        assert_eq!(spread.spans, [w("Hi", 1160, 1330), w("there", 1415, 1840)]);
        let mut scaled = own.to_vec();
        rescale(&mut scaled, 22_050, 44_100);
        assert_eq!(scaled, [w("one", 300, 800), w("two", 840, 1900)]);
    }

    #[test]
    fn fades_start_and_end_at_zero() {
        let mut s = vec![10_000i16; 1000];
        fade_edges(&mut s, 22_050);
        assert_eq!(s[0], 0);
        assert_eq!(s[999], 0);
        assert_eq!(s[500], 10_000);
    }
}
