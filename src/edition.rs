//! An edition as one value: its tags, its chapters and segments with where each landed in the audio, the audio
//! file's name, how it was mastered and the settings that shaped it. `pipeline` makes it from the plan and the
//! join's timeline; the exporters and encoders take it; the manifest is its validated, versioned file form.

use std::path::Path;

use crate::audio::master::Mastered;
use crate::essay::Book;
use crate::manifest::{self, Manifest, ManifestChapter, ManifestSegment};
use crate::plan::Plan;
use crate::timeline::{Timeline, WordSpan};

/// A finished edition.
#[derive(Debug, Clone, PartialEq)]
pub struct Edition {
    pub title: String,
    pub author: Option<String>,
    /// The essay file, as given on the command line.
    pub source: String,
    /// The WAV file's name (the exports and the manifest sit beside it).
    pub audio: String,
    pub sample_rate: u32,
    pub total_samples: u64,
    pub backend: String,
    pub voice: String,
    /// Contiguous, in order: each chapter ends where the next begins.
    pub chapters: Vec<Chapter>,
    /// In plan order: where each segment's (trimmed) speech is.
    pub segments: Vec<Segment>,
    /// A hash of everything that shapes the edition.
    pub plan_key: String,
    /// A hash of everything the plan is made from (narrate's build, the essay's and takes file's bytes, the
    /// settings, the engine): when it and every output are unchanged, a build need not even plan.
    pub inputs_key: String,
    /// Loudness before and after mastering, when a preset was used.
    pub loudness: Option<Mastered>,
    /// The settings that shaped it, as narrate.toml keys.
    pub settings: serde_json::Value,
    /// A book's metadata (EPUB): album, publisher, date, language, identifier and cover tags.
    pub book: Option<Book>,
    /// Caption cues (SRT, WebVTT) of at most this many words; 0 for one cue per segment (the recorded setting
    /// `caption_words`).
    pub caption_words: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chapter {
    pub title: String,
    /// 1 for the title, 2 for a chapter, 3 and more for a sub-chapter (see `PlanChapter::level`).
    pub level: u8,
    pub start_sample: u64,
    pub end_sample: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub id: String,
    pub chapter: usize,
    pub line: usize,
    pub text: String,
    pub spoken: String,
    pub take: u32,
    pub cache_key: String,
    pub start_sample: u64,
    pub end_sample: u64,
    /// Its spoken words, in order, on the edition's clock, each inside the segment's span.
    pub words: Vec<WordSpan>,
    /// The words' places are an even spread by characters (the voice did not say where its words are).
    pub words_estimated: bool,
}

impl Edition {
    /// The edition a plan became, laid out as the join's timeline says.
    pub fn new(plan: &Plan, timeline: &Timeline, source: &Path, audio: &str) -> Edition {
        Edition {
            title: plan.title.clone(),
            author: plan.author.clone(),
            source: source.display().to_string(),
            audio: audio.into(),
            sample_rate: timeline.sample_rate,
            total_samples: timeline.total_samples,
            backend: plan.backend.clone(),
            voice: plan.voice.clone(),
            chapters: timeline
                .chapters
                .iter()
                .enumerate()
                .map(|(i, c)| Chapter {
                    title: c.title.clone(),
                    level: plan.chapters.get(i).map_or(2, |p| p.level),
                    start_sample: c.span.start,
                    end_sample: c.span.end,
                })
                .collect(),
            segments: plan
                .segments
                .iter()
                .zip(&timeline.segments)
                .zip(
                    timeline
                        .words
                        .iter()
                        .map(Some)
                        .chain(std::iter::repeat(None)),
                )
                .map(|((s, span), words)| Segment {
                    id: s.id.clone(),
                    chapter: s.chapter,
                    line: s.line,
                    text: s.text.clone(),
                    spoken: s.spoken.clone(),
                    take: s.take,
                    cache_key: s.cache_key.clone(),
                    start_sample: span.start,
                    end_sample: span.end,
                    words: words.map(|w| w.spans.clone()).unwrap_or_default(),
                    words_estimated: words.is_some_and(|w| w.estimated),
                })
                .collect(),
            plan_key: String::new(),
            inputs_key: String::new(),
            loudness: None,
            settings: serde_json::Value::Null,
            book: plan.book.clone(),
            caption_words: 0,
        }
    }

    /// Its file form.
    pub fn manifest(&self) -> Manifest {
        let rate = self.sample_rate;
        Manifest {
            format: manifest::FORMAT.into(),
            version: manifest::VERSION,
            title: self.title.clone(),
            author: self.author.clone(),
            source: self.source.clone(),
            audio: self.audio.clone(),
            sample_rate: rate,
            channels: 1,
            bits_per_sample: 16,
            total_samples: self.total_samples,
            duration_seconds: seconds(self.total_samples, rate),
            backend: self.backend.clone(),
            voice: self.voice.clone(),
            plan_key: self.plan_key.clone(),
            inputs_key: self.inputs_key.clone(),
            loudness: self.loudness.clone(),
            settings: self.settings.clone(),
            book: self.book.clone(),
            chapters: self
                .chapters
                .iter()
                .enumerate()
                .map(|(index, c)| ManifestChapter {
                    index,
                    title: c.title.clone(),
                    level: c.level,
                    start_sample: c.start_sample,
                    end_sample: c.end_sample,
                    start_seconds: seconds(c.start_sample, rate),
                    end_seconds: seconds(c.end_sample, rate),
                })
                .collect(),
            segments: self
                .segments
                .iter()
                .map(|s| ManifestSegment {
                    id: s.id.clone(),
                    chapter: s.chapter,
                    line: s.line,
                    text: s.text.clone(),
                    spoken: s.spoken.clone(),
                    start_sample: s.start_sample,
                    end_sample: s.end_sample,
                    start_seconds: seconds(s.start_sample, rate),
                    end_seconds: seconds(s.end_sample, rate),
                    take: s.take,
                    cache_key: s.cache_key.clone(),
                    words: s.words.clone(),
                    words_estimated: s.words_estimated,
                })
                .collect(),
        }
    }

    /// The edition a manifest file describes (`Manifest::load` has checked it).
    pub fn from_manifest(m: Manifest) -> Edition {
        Edition {
            title: m.title,
            author: m.author,
            source: m.source,
            audio: m.audio,
            sample_rate: m.sample_rate,
            total_samples: m.total_samples,
            backend: m.backend,
            voice: m.voice,
            chapters: m
                .chapters
                .into_iter()
                .map(|c| Chapter {
                    title: c.title,
                    level: c.level,
                    start_sample: c.start_sample,
                    end_sample: c.end_sample,
                })
                .collect(),
            segments: m
                .segments
                .into_iter()
                .map(|s| Segment {
                    id: s.id,
                    chapter: s.chapter,
                    line: s.line,
                    text: s.text,
                    spoken: s.spoken,
                    take: s.take,
                    cache_key: s.cache_key,
                    start_sample: s.start_sample,
                    end_sample: s.end_sample,
                    words: s.words,
                    words_estimated: s.words_estimated,
                })
                .collect(),
            plan_key: m.plan_key,
            inputs_key: m.inputs_key,
            loudness: m.loudness,
            caption_words: m
                .settings
                .get("caption_words")
                .and_then(serde_json::Value::as_u64)
                .map_or(0, |n| n as usize),
            settings: m.settings,
            book: m.book,
        }
    }
}

/// Seconds at millisecond precision (the JSON stays readable; samples are exact).
fn seconds(samples: u64, rate: u32) -> f64 {
    (samples as f64 / f64::from(rate) * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_is_the_edition_written_down() {
        let m = crate::export::tests::manifest();
        let e = Edition::from_manifest(m.clone());
        assert_eq!(e.manifest(), m);
        assert_eq!(Edition::from_manifest(e.manifest()), e);
    }
}
