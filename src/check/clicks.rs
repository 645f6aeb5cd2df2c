//! Clicks anywhere in the file: a sample whose second difference (x[n] − 2x[n−1] + x[n−2], the part of the
//! signal a smooth waveform does not predict) stands far above that of the samples around it. One streaming
//! pass with a ring of 2W+1 residuals (W = 5 ms): memory does not grow with the edition.

use std::collections::VecDeque;

/// A residual this many times the local RMS residual (plus the floor) is a click. Clean espeak-ng editions
/// reach 8.9 (its plosive bursts), Piper joe 6.3, tone 0.5 (measured on audio/samples and tests/data).
pub(crate) const RATIO: f64 = 10.0;
/// Added to the local RMS residual (16-bit units) so near-silence does not make dither a click.
const FLOOR: f64 = 300.0;
/// Samples either side of the one judged that are left out of its local level (a click spreads over 3).
const GUARD: usize = 3;

/// The streaming detector.
pub(crate) struct Clicks {
    half: usize,
    /// The last two samples, for the second difference.
    prev: [i32; 2],
    residuals: VecDeque<i32>,
    squares: i64,
    /// The sample the next full window is centred on.
    centre: u64,
    /// Where the last click was reported, so one click is reported once.
    last: Option<u64>,
    gap: u64,
}

impl Clicks {
    pub(crate) fn new(rate: u32) -> Clicks {
        let half = (rate as usize / 200).max(GUARD + 4);
        Clicks {
            half,
            prev: [0, 0],
            // The file is taken as preceded by silence, so its first samples are judged too.
            residuals: std::iter::repeat_n(0, half).collect(),
            squares: 0,
            centre: 0,
            last: None,
            gap: u64::from(rate / 100),
        }
    }

    /// Takes the next sample; returns a click (its sample position and how many times the local level it is)
    /// found `W` samples back.
    pub(crate) fn push(&mut self, s: i16) -> Option<(u64, f64)> {
        let x = i32::from(s);
        let e = x - 2 * self.prev[1] + self.prev[0];
        self.prev = [self.prev[1], x];
        self.take(e)
    }

    /// Judges the last samples (the file is taken as followed by silence).
    pub(crate) fn finish(&mut self) -> Vec<(u64, f64)> {
        (0..self.half).filter_map(|_| self.take(0)).collect()
    }

    fn take(&mut self, e: i32) -> Option<(u64, f64)> {
        self.residuals.push_back(e);
        self.squares += i64::from(e) * i64::from(e);
        let window = 2 * self.half + 1;
        if self.residuals.len() > window {
            let old = self.residuals.pop_front().unwrap_or(0);
            self.squares -= i64::from(old) * i64::from(old);
        }
        if self.residuals.len() < window {
            return None;
        }
        let at = self.centre;
        self.centre += 1;
        let centre = self.residuals[self.half];
        if f64::from(centre.unsigned_abs()) < RATIO * FLOOR {
            return None;
        }
        let guard: i64 = (self.half - GUARD..=self.half + GUARD)
            .map(|i| i64::from(self.residuals[i]) * i64::from(self.residuals[i]))
            .sum();
        let local = ((self.squares - guard) as f64 / (window - 2 * GUARD - 1) as f64).sqrt();
        let ratio = f64::from(centre.unsigned_abs()) / (local + FLOOR);
        if ratio > RATIO && self.last.is_none_or(|l| at > l + self.gap) {
            self.last = Some(at);
            return Some((at, ratio));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clicks(signal: &[i16]) -> Vec<(u64, f64)> {
        let mut d = Clicks::new(22_050);
        let mut found: Vec<(u64, f64)> = signal.iter().filter_map(|&s| d.push(s)).collect();
        found.extend(d.finish());
        found
    }

    fn tone(n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                ((i as f64 * 2.0 * std::f64::consts::PI * 220.0 / 22_050.0).sin() * 8000.0) as i16
            })
            .collect()
    }

    #[test]
    fn a_smooth_tone_has_no_click_and_one_step_of_a_fifth_of_full_scale_is_found_where_it_is() {
        let clean = tone(22_050);
        assert!(clicks(&clean).is_empty());
        for at in [30usize, 5_000, 11_025, 22_000] {
            let mut s = clean.clone();
            s[at] = s[at].saturating_add(6_554);
            let found = clicks(&s);
            assert_eq!(found.len(), 1, "{at}: {found:?}");
            assert!(found[0].0.abs_diff(at as u64) <= 2, "{at}: {found:?}");
        }
    }
}
