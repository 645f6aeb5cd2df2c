//! The true peak of a stream, as the `ebur128` crate measures it (its 4× interpolation, in its own code), worked
//! out only where it can change the answer: an interpolated sample is a weighted sum of the last few input
//! samples, so it is at most the largest of them times the sum of the filter's weights. A stretch whose samples
//! are all too small to beat the peak found so far is passed over; the others go through the crate's
//! interpolator, with the samples before them first, so the interpolator holds what it would hold had it seen
//! the whole stream. The figure is the crate's, bit for bit (a test compares them), at a fraction of the work:
//! speech reaches near its peak in a few places.

use ebur128::{EbuR128, Mode};

/// Samples judged at a time.
const STRETCH: usize = 64;
/// Input samples before a stretch that the interpolator's outputs for it depend on: its filter is 48 taps at 4×
/// (12 input samples) or 2× (24); 32 covers both.
const HISTORY: usize = 32;
/// Room for rounding (the crate's sums are in f32) and for the input's scale (÷ 32,768).
const MARGIN: f64 = 1.001;

/// Streams 16-bit samples into a true-peak measurement.
pub(crate) struct TruePeak {
    /// The crate's meter, true peak only.
    ebu: EbuR128,
    /// The most an interpolated sample can be, per unit of the largest input sample in its window (with margin).
    gain: f64,
    /// The largest sample seen (as a fraction of full scale).
    sample_peak: f64,
    /// The largest interpolated sample worked out.
    true_peak: f64,
    /// The last `HISTORY` samples before the next stretch, oldest first (fewer at the start).
    before: Vec<i16>,
    /// Samples seen so far, and how far the interpolator has been fed without a gap.
    seen: u64,
    fed: u64,
    /// Samples given to the interpolator (with the samples before them).
    interpolated: u64,
}

impl TruePeak {
    pub(crate) fn new(rate: u32) -> Result<TruePeak, ebur128::Error> {
        let ebu = EbuR128::new(1, rate, Mode::TRUE_PEAK)?;
        let gain = weights(rate)? * MARGIN;
        Ok(TruePeak {
            ebu,
            gain,
            sample_peak: 0.0,
            true_peak: 0.0,
            before: Vec::with_capacity(2 * HISTORY),
            seen: 0,
            fed: 0,
            interpolated: 0,
        })
    }

    pub(crate) fn push_all(&mut self, samples: &[i16]) -> Result<(), ebur128::Error> {
        for stretch in samples.chunks(STRETCH) {
            let loudest = super::peak(stretch);
            let largest = f64::from(loudest.max(super::peak(&self.before))) / 32_768.0;
            self.sample_peak = self.sample_peak.max(f64::from(loudest) / 32_768.0);
            let start = self.seen;
            if largest * self.gain > self.sample_peak.max(self.true_peak) {
                if self.fed != start {
                    // The samples before, so that the interpolator's state is the whole stream's; its outputs
                    // for them are not this stretch's and are not counted.
                    self.ebu.add_frames_i16(&self.before)?;
                    self.interpolated += self.before.len() as u64;
                }
                self.interpolated += stretch.len() as u64;
                self.ebu.add_frames_i16(stretch)?;
                self.true_peak = self.true_peak.max(self.ebu.prev_true_peak(0)?);
                self.fed = start + stretch.len() as u64;
            }
            self.seen += stretch.len() as u64;
            self.before.extend_from_slice(stretch);
            let over = self.before.len().saturating_sub(HISTORY);
            self.before.drain(..over);
        }
        Ok(())
    }

    /// The true peak, as a fraction of full scale: the crate's `true_peak` (which is never below the sample
    /// peak).
    pub(crate) fn peak(&self) -> f64 {
        self.sample_peak.max(self.true_peak)
    }
}

/// The crate's interpolator at `rate` (a Hann-windowed sinc of 48 taps, 4× below 96 kHz, else 2×):
/// `filter[k][p]`, the weight of the input sample `k` samples back in the output of phase `p` (one per step of
/// the factor). The output of every phase stands for the signal at the middle tap, a fraction of a sample on.
pub(crate) fn interpolator(rate: u32) -> Vec<Vec<f64>> {
    const TAPS: usize = 48;
    let factor = if rate < 96_000 { 4 } else { 2 };
    let coeff = |j: usize| -> f32 {
        let j = j as f64;
        let window = TAPS as f64;
        let w = 0.5 * (1.0 - (std::f64::consts::TAU * j / window).cos());
        let m = j - window / 2.0;
        let x = m * std::f64::consts::PI / f64::from(factor as u32);
        (if m.abs() > 1e-6 { w * x.sin() / x } else { w }) as f32
    };
    (0..TAPS / factor)
        .map(|k| {
            (0..factor)
                .map(|p| f64::from(coeff(k * factor + p)))
                .collect()
        })
        .collect()
}

/// The most an output of `filter` (as [`interpolator`] gives it) can be per unit of the largest input sample in
/// its window: the largest sum of absolute weights over its phases.
pub(crate) fn largest_gain(filter: &[Vec<f64>]) -> f64 {
    let phases = filter.first().map_or(0, Vec::len);
    (0..phases)
        .map(|p| filter.iter().map(|w| w[p].abs()).sum::<f64>())
        .fold(0.0, f64::max)
}

/// The most an interpolated sample of the crate's interpolator at `rate` can be, per unit of the largest input
/// sample in its window: the largest sum of absolute weights over its phases.
///
/// The weights are the crate's documented filter (a Hann-windowed sinc of 48 taps, 4× below 96 kHz, else 2×),
/// worked out here as it does, and checked against the crate itself through its interface: an impulse, then one
/// silent sample at a time, each call's true peak being the largest weight of the tap that sample meets. Should
/// they ever differ (another version of the crate), the bound is the sum of those measured largest weights
/// instead, which holds whatever the filter is (looser: fewer stretches are passed over).
fn weights(rate: u32) -> Result<f64, ebur128::Error> {
    let filter = interpolator(rate);
    let mut ebu = EbuR128::new(1, rate, Mode::TRUE_PEAK)?;
    ebu.add_frames_f32(&[1.0])?;
    let mut measured = vec![ebu.prev_true_peak(0)?];
    for _ in 0..HISTORY {
        ebu.add_frames_f32(&[0.0])?;
        measured.push(ebu.prev_true_peak(0)?);
    }
    let largest = |k: usize| {
        filter
            .get(k)
            .map_or(0.0, |w| w.iter().map(|c| c.abs()).fold(0.0, f64::max))
    };
    let same = measured
        .iter()
        .enumerate()
        .skip(1)
        .all(|(k, &m)| m == largest(k));
    Ok(if same {
        largest_gain(&filter)
    } else {
        measured.iter().sum()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(samples: &[i16], rate: u32) -> f64 {
        let mut ebu = EbuR128::new(1, rate, Mode::TRUE_PEAK).unwrap();
        ebu.add_frames_i16(samples).unwrap();
        ebu.true_peak(0).unwrap()
    }

    fn ours(samples: &[i16], rate: u32, chunk: usize) -> f64 {
        let mut tp = TruePeak::new(rate).unwrap();
        for c in samples.chunks(chunk) {
            tp.push_all(c).unwrap();
        }
        tp.peak()
    }

    /// A signal that looks like speech to the measurement: bursts of tones and noise of different levels, in
    /// silence, with inter-sample peaks over full scale (a clipped square wave and a sine at a quarter of the
    /// rate, sampled 45° off its peaks) placed at `late`.
    fn bursts(rate: u32, seed: u64, late: usize) -> Vec<i16> {
        let mut state = seed;
        let mut noise = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f64 / (1u64 << 24) as f64 - 0.5
        };
        let mut out = vec![0i16; rate as usize * 4];
        for (n, burst) in out.chunks_mut(rate as usize / 5).enumerate() {
            let level = 0.05 + 0.6 * ((n * 37) % 11) as f64 / 11.0;
            let freq = 150.0 + 90.0 * (n % 7) as f64;
            let quiet = burst.len() / 4;
            for (i, s) in burst.iter_mut().enumerate().skip(quiet) {
                let t = i as f64 / f64::from(rate);
                let v = level * (0.7 * (std::f64::consts::TAU * freq * t).sin() + 0.3 * noise());
                *s = (v * 32_767.0) as i16;
            }
        }
        for i in 0..400 {
            let phase = std::f64::consts::FRAC_PI_4 + std::f64::consts::FRAC_PI_2 * i as f64;
            out[late + i] = (phase.sin() * 32_767.0) as i16;
            out[late + 2000 + i] = if (i / 5) % 2 == 0 { 32_767 } else { -32_768 };
        }
        out
    }

    #[test]
    fn the_true_peak_is_the_crates_bit_for_bit() {
        for rate in [16_000, 22_050, 24_000, 44_100, 48_000, 96_000] {
            for (seed, late) in [(1u64, 2_000usize), (7, 30_000), (99, rate as usize * 3)] {
                let mut signal = bursts(rate, seed, late);
                let want = reference(&signal, rate);
                assert!(want > 1.0, "an inter-sample peak over full scale: {want}");
                for chunk in [1, 13, 64, 300, 2_400, 4_097, signal.len()] {
                    assert_eq!(
                        ours(&signal, rate, chunk).to_bits(),
                        want.to_bits(),
                        "rate {rate}, seed {seed}, chunks of {chunk}"
                    );
                }
                // Without the overs: the peak is the loudest burst's, found among the stretches passed over.
                signal[late..late + 2_400].fill(0);
                let want = reference(&signal, rate);
                assert!(want < 1.0);
                assert_eq!(ours(&signal, rate, 2_400).to_bits(), want.to_bits());
                // Quiet throughout, and silence.
                let quiet: Vec<i16> = signal.iter().map(|s| s / 64).collect();
                assert_eq!(
                    ours(&quiet, rate, 999).to_bits(),
                    reference(&quiet, rate).to_bits()
                );
                let silence = vec![0i16; 5_000];
                assert_eq!(ours(&silence, rate, 999), 0.0);
                assert_eq!(reference(&silence, rate), 0.0);
            }
        }
    }

    #[test]
    fn most_of_speech_like_audio_is_passed_over() {
        let signal = bursts(24_000, 3, 50_000);
        let mut tp = TruePeak::new(24_000).unwrap();
        tp.push_all(&signal).unwrap();
        let worked = tp.interpolated;
        assert!(
            worked * 2 < signal.len() as u64,
            "{worked} of {} samples interpolated",
            signal.len()
        );
        // The bound holds for every weight: it is over 1 (the interpolator passes samples through on one phase)
        // and not loose by much.
        let gain = weights(24_000).unwrap();
        assert!((1.0..2.0).contains(&gain), "{gain}");
    }
}
