//! Where every chapter and segment sits in the joined edition, in samples: the one source every export reads.

use serde::Serialize;

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
}

impl Timeline {
    pub fn seconds(&self, samples: u64) -> f64 {
        samples as f64 / f64::from(self.sample_rate)
    }

    pub fn duration(&self) -> f64 {
        self.seconds(self.total_samples)
    }
}
