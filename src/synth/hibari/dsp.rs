//! hibari's host-side vocoder, computed as `dsp.py` of hibari-tts 0.2.1 computes it: the model predicts five
//! spectra per 12.5 ms frame and the pitch; this turns them into 24 kHz samples.
//!
//! `S = e^{min(lh,7)} e^{iπ tanh θ} STFT(pulses(f0)) + e^{min(ln,7)} Z + e^{min(lr,7)} e^{iφ}`, then one inverse
//! STFT (n_fft 1200, hop 300, periodic Hann), with `Z` complex Gaussian noise the caller supplies (seeded: that
//! is what makes a take reproducible). The operations and their float widths follow the reference step by step
//! (f32 spectra, f64 phase accumulation), so the samples agree with it to float rounding
//! (`tests/it/hibari.rs` holds them to a tolerance).

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// FFT size, hop (one model frame) and sample rate.
pub(crate) const N_FFT: usize = 1200;
pub(crate) const HOP: usize = 300;
pub(crate) const SAMPLE_RATE: u32 = 24_000;
/// Frequency bins per frame.
pub(crate) const BINS: usize = N_FFT / 2 + 1;
/// Frames below this F0 (Hz) are unvoiced; harmonics stop below `F_MAX`.
const VOICED: f32 = 40.0;
const F_MAX: f32 = 11_000.0;
/// The reference clamps every log-magnitude at 7 before `exp`.
const MAX_LOG: f32 = 7.0;

/// The model's outputs for one run: five `[BINS, frames]` arrays (bin-major, as ONNX Runtime returns them) and
/// the F0 curve, one value per frame.
pub(crate) struct Frames<'a> {
    pub lh: &'a [f32],
    pub theta: &'a [f32],
    pub ln: &'a [f32],
    pub lr: &'a [f32],
    pub phi: &'a [f32],
    pub f0: &'a [f32],
}

impl Frames<'_> {
    fn count(&self) -> usize {
        self.f0.len()
    }

    /// Whether every array has the size the F0 curve implies.
    pub(crate) fn consistent(&self) -> bool {
        let n = BINS * self.count();
        [self.lh, self.theta, self.ln, self.lr, self.phi]
            .iter()
            .all(|a| a.len() == n)
    }
}

/// The FFT plans and windows, made once.
pub(crate) struct Vocoder {
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    /// Periodic Hann window.
    window: Vec<f32>,
    /// The analysis window, scaled so that `e^{lh}` is a harmonic's magnitude.
    window_src: Vec<f32>,
}

impl Default for Vocoder {
    fn default() -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let window: Vec<f32> = (0..N_FFT)
            .map(|n| {
                (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()) as f32
            })
            .collect();
        let window_src = window.iter().map(|w| w / (N_FFT / 4) as f32).collect();
        Vocoder {
            forward: planner.plan_fft_forward(N_FFT),
            inverse: planner.plan_fft_inverse(N_FFT),
            window,
            window_src,
        }
    }
}

// The float functions are the `libm` crate's (pure Rust): the system's libm picks an FMA or a plain variant by CPU,
// and a take must give the same samples on every machine.

fn ex(x: f32) -> f32 {
    exp(x.min(MAX_LOG))
}

/// e^x for x ≤ 88, within 2 ulp: Cody–Waite reduction to |r| ≤ ln 2 / 2 and a degree-7 Taylor polynomial, in
/// plain f32 arithmetic (Rust never fuses it into FMA, so it is the same everywhere). The vocoder takes 3.6
/// million exponentials a second of audio: the `libm` crate's `expf` was a seventh of narrate's time.
fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    if x < -87.0 {
        return 0.0;
    }
    // Round to nearest by truncating a half away from zero (`f32::round` is a library call).
    let t = x * std::f32::consts::LOG2_E;
    let k = (t + 0.5f32.copysign(t)) as i32 as f32;
    let r = x - k * LN2_HI - k * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    p * f32::from_bits(((k as i32 + 127) as u32) << 23)
}

/// tanh from one exponential; within 1e-7 of it.
fn tanh(x: f32) -> f32 {
    if x.abs() > 10.0 {
        return 1f32.copysign(x);
    }
    1.0 - 2.0 / (exp(2.0 * x) + 1.0)
}

impl Vocoder {
    /// The samples for `frames` (`frames × HOP` of them). `noise` holds `BINS × 2·frames` values laid out as the
    /// reference draws them: bin-major, real and imaginary part of each frame side by side.
    pub(crate) fn synth(&self, p: &Frames, noise: &[f32]) -> Vec<f32> {
        let frames = p.count();
        assert!(
            p.consistent() && noise.len() == BINS * 2 * frames,
            "vocoder inputs of mismatched sizes"
        );
        if frames == 0 {
            return Vec::new();
        }
        // The pulse train, reflect-padded by n_fft/2 on both sides (torch.stft's centre padding).
        let x = pulses(p.f0);
        let half = N_FFT / 2;
        let n = x.len();
        let mut padded = Vec::with_capacity(n + N_FFT);
        padded.extend((0..half).map(|i| x[(half - i).min(n - 1)]));
        padded.extend_from_slice(&x);
        padded.extend((0..half).map(|k| x[(n as isize - 2 - k as isize).max(0) as usize]));

        let mut frame = vec![0.0f32; N_FFT];
        let mut spectrum = vec![Complex32::new(0.0, 0.0); BINS];
        let mut scratch_f = self.forward.make_scratch_vec();
        let mut scratch_i = self.inverse.make_scratch_vec();
        let blocks = N_FFT / HOP;
        let mut out = vec![0.0f32; (frames + blocks - 1) * HOP];
        for f in 0..frames {
            let start = f * HOP;
            for ((d, s), w) in frame
                .iter_mut()
                .zip(&padded[start..start + N_FFT])
                .zip(&self.window_src)
            {
                *d = s * w;
            }
            self.forward
                .process_with_scratch(&mut frame, &mut spectrum, &mut scratch_f)
                .expect("buffers of the planned sizes");
            for (b, e) in spectrum.iter_mut().enumerate() {
                let i = b * frames + f;
                let c = tanh(p.theta[i]) * std::f32::consts::PI;
                let mag = ex(p.lh[i]);
                let (sin, cos) = libm::sincosf(c);
                let rot = Complex32::new(cos * mag, sin * mag);
                let mut s = *e * rot;
                let g = ex(p.ln[i]);
                let z = b * 2 * frames + 2 * f;
                s.re += noise[z] * g;
                s.im += noise[z + 1] * g;
                let r = ex(p.lr[i]);
                let (sin, cos) = libm::sincosf(p.phi[i]);
                s.re += cos * r;
                s.im += sin * r;
                *e = s;
            }
            // A real signal's DC and Nyquist bins are real: the inverse ignores their imaginary parts, as numpy's
            // and scipy's do.
            spectrum[0].im = 0.0;
            spectrum[BINS - 1].im = 0.0;
            self.inverse
                .process_with_scratch(&mut spectrum, &mut frame, &mut scratch_i)
                .expect("buffers of the planned sizes");
            let scale = 1.0 / N_FFT as f32;
            for ((o, s), w) in out[start..start + N_FFT]
                .iter_mut()
                .zip(&frame)
                .zip(&self.window)
            {
                *o += (s * scale) * w;
            }
        }
        // Normalize by the summed squared window (tapered at the ends), and drop the centre padding.
        let mut wsum = vec![0.0f32; out.len()];
        for k in 0..blocks {
            for row in k..k + frames {
                for j in 0..HOP {
                    let w = self.window[k * HOP + j];
                    wsum[row * HOP + j] += w * w;
                }
            }
        }
        for (o, w) in out.iter_mut().zip(&wsum) {
            *o *= 1.0 / w.max(1e-11);
        }
        out.drain(..half);
        out.truncate(frames * HOP);
        out
    }
}

/// The band-limited pulse train of an F0 curve (one value per frame), `HOP` samples per frame: every harmonic
/// below `F_MAX` at unit amplitude, in closed form; zero where unvoiced.
pub(crate) fn pulses(f0: &[f32]) -> Vec<f32> {
    let frames = f0.len();
    let half = HOP / 2;
    // Linear interpolation weights (align_corners=False).
    let u: Vec<f32> = (0..HOP)
        .map(|j| (((j as f64 + 0.5) / HOP as f64) - 0.5).rem_euclid(1.0) as f32)
        .collect();
    let v: Vec<f32> = u.iter().map(|u| 1.0 - u).collect();
    let at = |k: isize| f0[k.clamp(0, frames as isize - 1) as usize];
    let mut out = Vec::with_capacity(frames * HOP);
    let mut phase = 0.0f64;
    for k in 0..frames as isize {
        for j in 0..HOP {
            let (a, b) = if j < half {
                (at(k - 1), at(k))
            } else {
                (at(k), at(k + 1))
            };
            let mut f = a * v[j] + b * u[j];
            let voiced = f > VOICED;
            f = f.max(VOICED);
            phase += f as f64;
            let t = ((phase * (1.0 / SAMPLE_RATE as f64)).fract() * (2.0 * std::f64::consts::PI))
                as f32;
            let h = (F_MAX / f).floor() + 0.5;
            let s = (t * 0.5).sin() * 2.0;
            let e = if s.abs() <= 2e-3 {
                h
            } else {
                (h * t).sin() / s
            };
            out.push(if voiced { e - 0.5 } else { 0.0 });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_tanh_agree_with_the_system_s() {
        assert_eq!(exp(-90.0), 0.0);
        let mut x = -86.9f32;
        while x <= 20.0 {
            let (want, got) = (x.exp(), exp(x));
            assert!(
                (got - want).abs() <= want * 3e-7 + 1e-38,
                "exp({x}) = {got}, not {want}"
            );
            if x.abs() < 12.0 {
                assert!((tanh(x) - x.tanh()).abs() < 2e-7, "tanh({x})");
            }
            x += 0.0137;
        }
    }

    #[test]
    fn a_steady_pitch_gives_pulses_at_that_rate() {
        // 200 Hz for 20 frames: 120 samples a period at 24 kHz; the peaks of the pulse train are that far apart.
        let x = pulses(&[200.0; 20]);
        assert_eq!(x.len(), 20 * HOP);
        let peaks: Vec<usize> = (1..x.len() - 1)
            .filter(|&i| x[i] > 20.0 && x[i] >= x[i - 1] && x[i] > x[i + 1])
            .collect();
        assert!(peaks.len() >= 45, "{}", peaks.len());
        assert!(
            peaks.windows(2).all(|w| (w[1] - w[0]).abs_diff(120) <= 1),
            "{peaks:?}"
        );
        // Unvoiced frames are silent.
        assert!(pulses(&[0.0; 4]).iter().all(|&s| s == 0.0));
    }

    #[test]
    fn the_free_phase_branch_alone_gives_a_steady_cosine() {
        // Only the free-phase branch at a constant magnitude in one bin: each frame is a cosine of amplitude
        // 2·e^{lr}/n_fft, windowed once and normalized by the summed squared window (Σw = 2, Σw² = 1.5 at hop
        // n_fft/4), so the inner frames carry 4/3 of it.
        let frames = 16;
        let zeros = vec![0.0f32; BINS * frames];
        let mut lr = vec![-30.0f32; BINS * frames];
        let bin = 40; // 800 Hz
        for f in 0..frames {
            lr[bin * frames + f] = (N_FFT as f32 / 2.0).ln();
        }
        let very_low = vec![-30.0f32; BINS * frames];
        let f0 = vec![0.0f32; frames];
        let p = Frames {
            lh: &very_low,
            theta: &zeros,
            ln: &very_low,
            lr: &lr,
            phi: &zeros,
            f0: &f0,
        };
        let y = Vocoder::default().synth(&p, &vec![0.0; BINS * 2 * frames]);
        assert_eq!(y.len(), frames * HOP);
        let inner = &y[4 * HOP..12 * HOP];
        let peak = inner.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((peak - 4.0 / 3.0).abs() < 0.01, "{peak}");
    }
}
