//! Audio: the `Audio` value backends produce, WAV I/O, resampling, the streaming join and mastering.

pub mod join;
pub mod master;
pub mod plausible;
pub mod resample;
pub mod wav;

/// Mono 16-bit audio at a given sample rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audio {
    pub sample_rate: u32,
    pub samples: Vec<i16>,
}

impl Audio {
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / self.sample_rate as f64
    }
}
