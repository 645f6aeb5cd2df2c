//! Where every chapter and segment sits in the joined edition, in samples: the one source every export reads.

use serde::{Deserialize, Serialize};

/// A span of samples, `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Span {
    pub start: u64,
    pub end: u64,
}

impl Span {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chapter {
    pub title: String,
    pub span: Span,
}

/// The layout of a joined edition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeline {
    pub sample_rate: u32,
    pub total_samples: u64,
    /// Contiguous: each chapter ends where the next begins, the last at the end of the file.
    pub chapters: Vec<Chapter>,
    /// One per plan segment, in plan order: where its (trimmed) speech is.
    pub segments: Vec<Span>,
    /// One per plan segment, in plan order: where its words are, on the edition's clock (inside its span).
    pub words: Vec<Words>,
}

/// One spoken word's place in some audio: samples `start_sample..end_sample` say `text` (the word of the
/// spoken text, punctuation around it trimmed). In a backend's `Audio` the samples count from the start of that
/// audio; in a `Timeline`, an `Edition` and the manifest, from the start of the edition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordSpan {
    pub text: String,
    pub start_sample: u64,
    pub end_sample: u64,
}

/// A segment's words on the edition's clock, in order, and whether they are estimated (an even spread over the
/// speech by characters, from a backend that does not say where its words are) rather than the voice's own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Words {
    pub spans: Vec<WordSpan>,
    pub estimated: bool,
}

/// The words of a spoken text as word spans name them: split at white space, punctuation around each trimmed,
/// those with no letter or digit left out.
pub(crate) fn spoken_words(spoken: &str) -> Vec<&str> {
    spoken
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect()
}

impl Timeline {
    pub fn seconds(&self, samples: u64) -> f64 {
        samples as f64 / f64::from(self.sample_rate)
    }

    pub fn duration(&self) -> f64 {
        self.seconds(self.total_samples)
    }
}
