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

/// The sum of the squares of `samples`, in 16-bit units: exact (for fewer than 2^33 samples), in a sum the
/// compiler vectorizes. Divided by 2^30 it is the sum in full-scale units, exactly where that sum in f64 would be
/// exact (under 2^23 samples).
pub(crate) fn sum_squares(samples: &[i16]) -> u64 {
    samples
        .iter()
        .map(|&s| (i64::from(s) * i64::from(s)) as u64)
        .sum()
}

impl Audio {
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / self.sample_rate as f64
    }
}
