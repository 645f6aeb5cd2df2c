//! Loudness mastering: measure the whole edition (EBU R 128 with the `ebur128` crate), apply one gain to reach
//! the preset's target, then a look-ahead peak limiter to stay under its ceiling. Two streaming passes over the
//! joined file (a third or fourth only where the limiter pulls the level off target); memory does not grow with
//! its length.

use std::collections::VecDeque;
use std::io::{Seek, Write};
use std::path::Path;

use ebur128::{EbuR128, Mode};
use serde::{Deserialize, Serialize};

use super::true_peak::TruePeak;
use crate::error::{Error, Result};

/// The version of mastering's rules, in a mastered edition's plan key: a build makes again an edition that
/// earlier rules mastered. 2: the limiter holds the peaks between samples too.
pub(crate) const RULES: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Preset {
    /// Leave the level as the backend made it.
    #[default]
    None,
    /// Audible/ACX audiobooks: RMS −23 to −18 dB (aims at −20), peaks ≤ −3 dBFS, noise floor ≤ −60 dB.
    Acx,
    /// Podcasts: −16 LUFS integrated, −1 dBTP.
    Podcast,
    /// EBU R 128 broadcast: −23 LUFS integrated, −1 dBTP.
    Ebu,
}

crate::values::named_enum!(Preset, "mastering preset", [
    Preset::None => "none",
    Preset::Acx => "acx",
    Preset::Podcast => "podcast",
    Preset::Ebu => "ebu",
]);

impl Preset {
    /// (what is measured against the target, target, peak ceiling in dB).
    fn target(self) -> Option<(Measure, f64, f64)> {
        match self {
            Preset::None => None,
            Preset::Acx => Some((Measure::Rms, -20.0, -3.0)),
            Preset::Podcast => Some((Measure::Lufs, -16.0, -1.0)),
            Preset::Ebu => Some((Measure::Lufs, -23.0, -1.0)),
        }
    }

    /// The true-peak ceiling in dBTP every edition of a mastered WAV stays under (`None`: not mastered).
    pub(crate) fn ceiling_db(self) -> Option<f64> {
        self.target().map(|(_, _, ceiling)| ceiling)
    }
}

#[derive(Clone, Copy)]
enum Measure {
    Lufs,
    Rms,
}

/// Loudness figures of a stretch of audio.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Loudness {
    pub integrated_lufs: f64,
    pub short_term_max_lufs: f64,
    pub true_peak_dbtp: f64,
    pub rms_dbfs: f64,
    /// RMS of the quietest half-second window (ACX's noise floor; the join's pauses are digital silence).
    pub noise_floor_dbfs: f64,
}

/// What mastering did, recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mastered {
    pub preset: Preset,
    pub gain_db: f64,
    pub input: Loudness,
    pub output: Loudness,
}

/// A linear amplitude in decibels (−120 dB for silence).
pub(crate) fn db(linear: f64) -> f64 {
    if linear <= 0.0 {
        -120.0
    } else {
        20.0 * linear.log10()
    }
}

/// A stretch's integrated loudness and true peak (what a chapter's level is), measured as [`Meter`] measures
/// them; samples are taken a slice at a time, in any chunks.
pub(crate) struct Level {
    ebu: EbuR128,
    /// The true peak, measured apart: only where it can change the figure (`true_peak`).
    peak: TruePeak,
}

impl Level {
    pub(crate) fn new(rate: u32) -> Result<Level> {
        let failed = |e: ebur128::Error| Error::Invalid(format!("cannot measure loudness: {e}"));
        // The short-term mode too, which `Meter` needs: it sets how much filtered audio the meter keeps, and
        // with it the order a 400 ms block's energy is summed in, so the two give the same figures.
        let ebu = EbuR128::new(1, rate, Mode::I | Mode::S | Mode::HISTOGRAM).map_err(failed)?;
        Ok(Level {
            ebu,
            peak: TruePeak::new(rate).map_err(failed)?,
        })
    }

    pub(crate) fn push_all(&mut self, samples: &[i16]) {
        // Neither fails for mono samples.
        let _ = self.ebu.add_frames_i16(samples);
        let _ = self.peak.push_all(samples);
    }

    /// Integrated loudness (LUFS, −120 for silence).
    pub(crate) fn integrated_lufs(&self) -> f64 {
        self.ebu
            .loudness_global()
            .unwrap_or(f64::NEG_INFINITY)
            .max(-120.0)
    }

    /// True peak (dBTP, −120 for silence).
    pub(crate) fn true_peak_dbtp(&self) -> f64 {
        db(self.peak.peak())
    }
}

/// The short-term window (3 s) in 100 ms hops.
const SHORT_TERM_HOPS: usize = 30;

/// Streams samples into the loudness measurements.
pub(crate) struct Meter {
    level: Level,
    rate: u32,
    hop: Vec<i16>,
    /// The K-weighted mean square of each of the last 30 hops (3 s, the short-term window), oldest first.
    hops: VecDeque<f64>,
    short_term_max: f64,
    sum_squares: f64,
    count: u64,
    window_squares: f64,
    window_len: usize,
    floor: f64,
}

impl Meter {
    pub(crate) fn new(rate: u32) -> Result<Meter> {
        Ok(Meter {
            level: Level::new(rate)?,
            rate,
            hop: Vec::with_capacity(rate as usize / 10),
            hops: VecDeque::with_capacity(SHORT_TERM_HOPS),
            short_term_max: f64::NEG_INFINITY,
            sum_squares: 0.0,
            count: 0,
            window_squares: 0.0,
            window_len: 0,
            floor: f64::INFINITY,
        })
    }

    pub(crate) fn push(&mut self, s: i16) {
        let v = f64::from(s) / 32768.0;
        self.sum_squares += v * v;
        self.count += 1;
        self.window_squares += v * v;
        self.window_len += 1;
        if self.window_len == self.rate as usize / 2 {
            self.floor = self
                .floor
                .min((self.window_squares / self.window_len as f64).sqrt());
            self.window_squares = 0.0;
            self.window_len = 0;
        }
        self.hop.push(s);
        if self.hop.len() == self.rate as usize / 10 {
            self.flush_hop();
        }
    }

    fn flush_hop(&mut self) {
        if self.hop.is_empty() {
            return;
        }
        let len = self.hop.len();
        self.level.push_all(&self.hop);
        self.hop.clear();
        // The short-term loudness (3 s) every 100 ms, from the last 30 hops' energies: asking the meter for it
        // would sum 3 s of samples at every hop, 30 sums per sample, which was a fifth of a mastered build.
        let hop_ms = (len as u64 * 1000 / u64::from(self.rate)).max(1) as u32;
        let energy = self.level.ebu.loudness_window(hop_ms).map_or(0.0, |l| {
            if l.is_finite() {
                10f64.powf((l + 0.691) / 10.0)
            } else {
                0.0
            }
        });
        if self.hops.len() == SHORT_TERM_HOPS {
            self.hops.pop_front();
        }
        self.hops.push_back(energy);
        // Like the meter's own figure, the first 3 s count the time before the start as silence.
        let mean = self.hops.iter().sum::<f64>() / SHORT_TERM_HOPS as f64;
        if mean > 0.0 {
            self.short_term_max = self.short_term_max.max(10.0 * mean.log10() - 0.691);
        }
    }

    pub(crate) fn finish(mut self) -> Loudness {
        self.flush_hop();
        let rms = (self.sum_squares / self.count.max(1) as f64).sqrt();
        Loudness {
            integrated_lufs: self.level.integrated_lufs(),
            short_term_max_lufs: self.short_term_max.max(-120.0),
            true_peak_dbtp: self.level.true_peak_dbtp(),
            rms_dbfs: db(rms),
            noise_floor_dbfs: if self.floor.is_finite() {
                db(self.floor)
            } else {
                -120.0
            },
        }
    }
}

/// Measures a mono 16-bit WAV file.
pub(crate) fn measure(path: &Path) -> Result<Loudness> {
    let mut reader = open(path)?;
    let mut meter = Meter::new(reader.spec().sample_rate)?;
    for s in reader.samples::<i16>() {
        meter.push(s.map_err(|e| read_err(path, e))?);
    }
    Ok(meter.finish())
}

fn open(path: &Path) -> Result<hound::WavReader<std::io::BufReader<std::fs::File>>> {
    hound::WavReader::open(path).map_err(|e| read_err(path, e))
}

fn read_err(path: &Path, e: hound::Error) -> Error {
    Error::Output {
        path: path.to_owned(),
        source: super::wav::io_error(e),
    }
}

/// The level a limiter holds under its ceiling: each sample's magnitude, or where the signal between it and its
/// neighbours rises higher, that peak (the true peak, interpolated as the true-peak meter interpolates: a
/// speech edition made at 24 kHz and resampled has sibilants near its top frequency, whose peaks fall between
/// samples and stand up to 3 dB over them). Samples come out `delay` samples late, each with its level.
struct Oversampled {
    /// `filter[k][p]`: the weight of the sample `k` back in phase `p` (the meter's interpolator).
    filter: Vec<Vec<f32>>,
    /// The last `taps` samples, each written twice (at `i` and `i + taps`) so that they are always one slice,
    /// oldest first, from `at`.
    ring: Vec<f32>,
    at: usize,
    taps: usize,
    /// The most an interpolated value can be per unit of the largest sample in the window.
    bound: f32,
    delay: usize,
    /// Samples taken so far, up to `delay`.
    taken: usize,
    /// For how many more samples the window holds one that could take an interpolated value over the ceiling.
    loud_for: usize,
}

impl Oversampled {
    fn new(rate: u32) -> Oversampled {
        let filter = super::true_peak::interpolator(rate);
        let bound = super::true_peak::largest_gain(&filter) as f32 * 1.001;
        let filter: Vec<Vec<f32>> = filter
            .iter()
            .map(|w| w.iter().map(|&c| c as f32).collect())
            .collect();
        let taps = filter.len();
        Oversampled {
            filter,
            ring: vec![0.0; 2 * taps],
            at: 0,
            taps,
            bound,
            // The filter is symmetric about its middle tap: every phase stands for the signal there.
            delay: taps / 2,
            taken: 0,
            loud_for: 0,
        }
    }

    /// Takes the next sample; gives the one `delay` samples before it and its level under `ceiling` (exactly
    /// when it may be over the ceiling; otherwise its own magnitude, which is enough to know it is not),
    /// `None` while the first samples are still to come.
    fn push(&mut self, x: f32, ceiling: f32) -> Option<(f32, f32)> {
        let taps = self.taps;
        self.ring[self.at] = x;
        self.ring[self.at + taps] = x;
        self.at = (self.at + 1) % taps;
        self.loud_for = if x.abs() * self.bound > ceiling {
            taps
        } else {
            self.loud_for.saturating_sub(1)
        };
        if self.taken < self.delay {
            self.taken += 1;
            return None;
        }
        // Oldest first: the sample `k` back is `window[taps - 1 - k]`.
        let window = &self.ring[self.at..self.at + taps];
        let centre = window[taps - 1 - self.delay];
        if self.loud_for == 0 {
            return Some((centre, centre.abs()));
        }
        let phases = self.filter[0].len();
        let level = (0..phases)
            .map(|p| {
                self.filter
                    .iter()
                    .zip(window.iter().rev())
                    .map(|(w, v)| w[p] * v)
                    .sum::<f32>()
                    .abs()
            })
            .fold(centre.abs(), f32::max);
        Some((centre, level))
    }

    /// The samples still inside: the last `delay`, or all of a shorter stream (taken as followed by silence).
    fn drain(&mut self, ceiling: f32) -> Vec<(f32, f32)> {
        (0..self.delay)
            .filter_map(|_| self.push(0.0, ceiling))
            .collect()
    }
}

/// A look-ahead peak limiter: output never exceeds `ceiling` (linear), nor do the peaks between its samples by
/// more than the gain moves within a few samples (each sample comes with its level, [`Oversampled`]); gain falls
/// within the look-ahead before a peak arrives and recovers with a 50 ms release.
struct Limiter {
    ceiling: f32,
    /// Each sample's level (its true peak), `levels.delay` samples late.
    levels: Oversampled,
    delay: VecDeque<f32>,
    /// (index, required gain), increasing gains: the front is the minimum over the look-ahead window.
    window: VecDeque<(u64, f32)>,
    lookahead: usize,
    index: u64,
    gain: f32,
    release: f32,
}

impl Limiter {
    fn new(ceiling: f32, rate: u32) -> Limiter {
        let lookahead = (rate / 200) as usize; // 5 ms
        Limiter {
            ceiling,
            levels: Oversampled::new(rate),
            delay: VecDeque::with_capacity(lookahead + 1),
            window: VecDeque::new(),
            lookahead,
            index: 0,
            gain: 1.0,
            release: 1.0 - (-1.0 / (0.05 * rate as f32)).exp(),
        }
    }

    /// Takes one sample, returns one the detector's delay plus `lookahead` samples late (None while they fill).
    fn push(&mut self, x: f32) -> Option<f32> {
        let (x, level) = self.levels.push(x, self.ceiling)?;
        self.limit(x, level)
    }

    /// Takes one sample and its `level` (at least its magnitude), returns one `lookahead` samples late (None
    /// while the delay line fills).
    fn limit(&mut self, x: f32, level: f32) -> Option<f32> {
        let need = if level > self.ceiling {
            self.ceiling / level
        } else {
            1.0
        };
        while self.window.back().is_some_and(|&(_, g)| g >= need) {
            self.window.pop_back();
        }
        self.window.push_back((self.index, need));
        self.index += 1;
        while self
            .window
            .front()
            .is_some_and(|&(i, _)| i + (self.lookahead as u64) < self.index - 1)
        {
            self.window.pop_front();
        }
        self.delay.push_back(x);
        if self.delay.len() <= self.lookahead {
            return None;
        }
        let target = self.window.front().map_or(1.0, |&(_, g)| g);
        if target < self.gain {
            self.gain = target;
        } else {
            self.gain += (target - self.gain) * self.release;
        }
        let y = self.delay.pop_front().expect("delay holds samples") * self.gain;
        Some(y.clamp(-self.ceiling, self.ceiling))
    }

    /// The samples still inside: the detector's, then the look-ahead's (the stream taken as followed by silence).
    fn drain(&mut self) -> Vec<f32> {
        let mut out = Vec::new();
        for (x, level) in self.levels.drain(self.ceiling) {
            out.extend(self.limit(x, level));
        }
        for _ in 0..self.lookahead {
            out.extend(self.limit(0.0, 0.0));
        }
        out
    }
}

/// Streams `raw` through the gain and the limiter into `sink`, measuring the result.
fn process(
    raw: &Path,
    gain_db: f64,
    ceiling_db: f64,
    mut sink: impl FnMut(i16) -> Result<()>,
) -> Result<Loudness> {
    let mut reader = open(raw)?;
    let rate = reader.spec().sample_rate;
    let gain = 10f32.powf(gain_db as f32 / 20.0);
    // Half a decibel under the ceiling leaves room for the gain's movement and the encoders' overshoot.
    let mut limiter = Limiter::new(10f32.powf((ceiling_db as f32 - 0.5) / 20.0), rate);
    let mut meter = Meter::new(rate)?;
    let mut emit = |y: f32| -> Result<()> {
        let s = (y * 32767.0).round() as i16;
        meter.push(s);
        sink(s)
    };
    for s in reader.samples::<i16>() {
        let x = f32::from(s.map_err(|e| read_err(raw, e))?) / 32768.0 * gain;
        if let Some(y) = limiter.push(x) {
            emit(y)?;
        }
    }
    for y in limiter.drain() {
        emit(y)?;
    }
    Ok(meter.finish())
}

/// Masters the joined WAV at `raw` into `out` (same length and rate): one gain for the whole edition, then the
/// limiter. Where the limiter pulls the level under the target, the gain is corrected and the edition written
/// again (at most twice), so it lands on target; every pass streams.
pub(crate) fn master<W: Write + Seek>(
    raw: &Path,
    out: W,
    out_path: &Path,
    preset: Preset,
) -> Result<Mastered> {
    let input = measure(raw)?;
    let Some((measure_by, target, ceiling_db)) = preset.target() else {
        return Err(Error::Invalid("mastering with preset none".into()));
    };
    let level = |l: &Loudness| match measure_by {
        Measure::Lufs => l.integrated_lufs,
        Measure::Rms => l.rms_dbfs,
    };
    if level(&input) <= -100.0 {
        return Err(Error::Invalid(format!(
            "{}: the edition is silent; nothing to master",
            out_path.display()
        )));
    }
    let write_err = |e: hound::Error| Error::Output {
        path: out_path.to_owned(),
        source: super::wav::io_error(e),
    };
    let rate = open(raw)?.spec().sample_rate;
    let mut out = out;
    let mut gain_db = target - level(&input);
    let mut output;
    // Each pass writes the edition and measures what it wrote; where the limiter pulled the level more than
    // 0.2 dB off target, the gain is corrected and the pass made again over the same bytes (at most twice).
    let mut passes = 0;
    loop {
        out.seek(std::io::SeekFrom::Start(0))
            .map_err(|e| Error::Output {
                path: out_path.to_owned(),
                source: e,
            })?;
        let mut writer =
            hound::WavWriter::new(&mut out, super::wav::spec(rate)).map_err(write_err)?;
        output = process(raw, gain_db, ceiling_db, |s| {
            writer.write_sample(s).map_err(write_err)
        })?;
        writer.finalize().map_err(write_err)?;
        passes += 1;
        let miss = target - level(&output);
        if miss.abs() < 0.2 || passes == 3 {
            break;
        }
        gain_db += miss;
    }
    Ok(Mastered {
        preset,
        gain_db: (gain_db * 100.0).round() / 100.0,
        input,
        output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_never_exceeds_its_ceiling_and_keeps_length() {
        let mut l = Limiter::new(0.5, 8000);
        let input: Vec<f32> = (0..8000)
            .map(|i| ((i as f32) * 0.05).sin() * if i < 50 { 1.0 } else { 0.3 })
            .collect();
        let mut out: Vec<f32> = input.iter().filter_map(|&x| l.push(x)).collect();
        out.extend(l.drain());
        assert_eq!(out.len(), input.len());
        assert!(out.iter().all(|y| y.abs() <= 0.5 + 1e-6));
        // The burst is brought down; once the release has run, quiet audio passes unchanged.
        assert!(out[..60].iter().any(|y| y.abs() > 0.45));
        assert!(
            (out[4000] - input[4000]).abs() < 1e-3,
            "{} vs {}",
            out[4000],
            input[4000]
        );
    }

    /// A tone at a quarter of the rate sampled 45° off its crests (a sibilant near the top of a resampled
    /// voice): its samples stand 3 dB under its peaks, under the limit, yet the peaks between them are over it.
    #[test]
    fn the_limiter_holds_the_peaks_between_samples_under_its_ceiling() {
        for rate in [24_000, 44_100, 48_000, 96_000] {
            let limit = 10f32.powf(-1.5 / 20.0);
            let mut l = Limiter::new(limit, rate);
            let input: Vec<f32> = (0..rate as usize)
                .map(|i| {
                    let on = (rate as usize / 4..rate as usize / 2).contains(&i);
                    let phase =
                        std::f32::consts::FRAC_PI_4 + std::f32::consts::FRAC_PI_2 * i as f32;
                    if on {
                        phase.sin()
                    } else {
                        0.0
                    }
                })
                .collect();
            assert!(input.iter().all(|x| x.abs() < limit));
            let mut out: Vec<f32> = input.iter().filter_map(|&x| l.push(x)).collect();
            out.extend(l.drain());
            assert_eq!(out.len(), input.len(), "{rate} Hz");
            let samples: Vec<i16> = out.iter().map(|y| (y * 32767.0).round() as i16).collect();
            let mut meter = TruePeak::new(rate).unwrap();
            meter.push_all(&samples).unwrap();
            let peak = meter.peak();
            assert!(
                peak <= f64::from(limit) * 1.01 && peak > f64::from(limit) * 0.9,
                "{rate} Hz: true peak {peak}, limit {limit}"
            );
            // The samples are where they were: the tone starts where it did.
            let first = samples.iter().position(|&s| s != 0).unwrap();
            assert_eq!(first, rate as usize / 4, "{rate} Hz");
        }
    }
}
