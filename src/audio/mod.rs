//! Audio: the `Audio` value backends produce, WAV I/O, resampling, the streaming join and mastering.

pub(crate) mod join;
pub(crate) mod master;
pub(crate) mod plausible;
pub(crate) mod resample;
pub(crate) mod true_peak;
pub(crate) mod wav;

/// Mono 16-bit audio at a given sample rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audio {
    pub sample_rate: u32,
    pub samples: Vec<i16>,
    /// Where each spoken word is in `samples`, in order, from a backend that knows (hibari, Piper, espeak-ng
    /// through libespeak-ng); `None` from the others.
    pub words: Option<Vec<WordSpan>>,
}

pub(crate) use crate::timeline::WordSpan;

/// The largest magnitude among `samples` (0 for none).
pub(crate) fn peak(samples: &[i16]) -> u16 {
    samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0)
}

impl Audio {
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / self.sample_rate as f64
    }
}
