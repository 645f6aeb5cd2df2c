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

use super::math;

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

/// The model's outputs for one run: its five spectra, frame-major (each frame's `lh`, `theta`, `ln`, `lr` and
/// `phi` rows of `BINS` values one after the other, as the model's head computes them), and the F0 curve, one
/// value per frame.
pub(crate) struct Frames<'a> {
    pub spectra: &'a [f32],
    pub f0: &'a [f32],
}

/// One frame's values in [`Frames::spectra`].
pub(crate) const ROW: usize = 5 * BINS;

impl Frames<'_> {
    fn count(&self) -> usize {
        self.f0.len()
    }

    /// Whether the spectra have the size the F0 curve implies.
    pub(crate) fn consistent(&self) -> bool {
        self.spectra.len() == ROW * self.count()
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

/// Frames whose spectra are combined at a time: each bin's row of the model's outputs is read `BLOCK` frames at
/// a stretch (contiguous, so the exponentials, tanh and sincos of a bin run in SIMD lanes), and the block's
/// spectra (`BLOCK × BINS` complex values, 300 kB) stay in cache between the forward FFTs, the combination and
/// the inverse FFTs.
const BLOCK: usize = 64;

/// The buffers of one thread's vocoder runs, kept between runs so that a segment allocates (and faults in) no
/// memory of its size after the first few.
struct Scratch {
    /// The pulse train with its centre padding.
    padded: Vec<f32>,
    /// One block's spectra, frame-major.
    block: Vec<Complex32>,
    /// One block's noise, frame-major: real and imaginary parts.
    noise: [Vec<f32>; 2],
    frame: Vec<f32>,
    /// The overlap-add of the frames not yet complete: output rows `f..f + 4` while frame `f` is added.
    acc: Vec<f32>,
    scratch_f: Vec<Complex32>,
    scratch_i: Vec<Complex32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Option<Scratch>> = const { std::cell::RefCell::new(None) };
}

// The float functions are `super::math`'s (plain f32 arithmetic): the system's libm picks an FMA or a plain
// variant by CPU, and a take must give the same samples on every machine.

#[inline(always)]
fn ex(x: f32) -> f32 {
    math::exp(x.min(MAX_LOG))
}

impl Vocoder {
    /// The samples for `frames` (`frames × HOP` of them). `noise` holds `BINS × 2·frames` values laid out as the
    /// reference draws them: bin-major, real and imaginary part of each frame side by side.
    #[cfg(test)]
    pub(crate) fn synth(&self, p: &Frames, noise: &[f32]) -> Vec<f32> {
        let mut out = Vec::with_capacity(p.count() * HOP);
        self.render(p, noise, |s| out.extend_from_slice(s));
        out
    }

    /// [`Vocoder::synth`], handing the samples to `sink` in order, `HOP` at a time.
    pub(crate) fn render(&self, p: &Frames, noise: &[f32], mut sink: impl FnMut(&[f32])) {
        let frames = p.count();
        assert!(
            p.consistent() && noise.len() == BINS * 2 * frames,
            "vocoder inputs of mismatched sizes"
        );
        if frames == 0 {
            return;
        }
        SCRATCH.with_borrow_mut(|s| {
            let s = s.get_or_insert_with(|| Scratch {
                padded: Vec::new(),
                block: vec![Complex32::new(0.0, 0.0); BLOCK * BINS],
                noise: [vec![0.0; BLOCK * BINS], vec![0.0; BLOCK * BINS]],
                frame: vec![0.0; N_FFT],
                acc: vec![0.0; N_FFT],
                scratch_f: self.forward.make_scratch_vec(),
                scratch_i: self.inverse.make_scratch_vec(),
            });
            self.render_with(p, noise, s, &mut sink);
        });
    }

    fn render_with(
        &self,
        p: &Frames,
        noise: &[f32],
        s: &mut Scratch,
        sink: &mut dyn FnMut(&[f32]),
    ) {
        let frames = p.count();
        // The pulse train, reflect-padded by n_fft/2 on both sides (torch.stft's centre padding).
        let half = N_FFT / 2;
        let n = frames * HOP;
        s.padded.clear();
        s.padded.resize(n + N_FFT, 0.0);
        pulses_into(p.f0, &mut s.padded[half..half + n]);
        for i in 0..half {
            s.padded[i] = s.padded[half + (half - i).min(n - 1)];
        }
        for k in 0..half {
            s.padded[half + n + k] = s.padded[half + (n as isize - 2 - k as isize).max(0) as usize];
        }
        s.acc.fill(0.0);
        // Output row r (HOP samples) is complete once frame r is added; the first n_fft/2 samples are the
        // padding's, and so are those after n.
        let rows = half / HOP..half / HOP + frames;
        let mut row_out = [0.0f32; HOP];
        let mut emit = |r: usize, acc: &[f32]| {
            if rows.contains(&r) {
                self.normalize(r, frames, &acc[..HOP], &mut row_out);
                sink(&row_out);
            }
        };
        let scale = 1.0 / N_FFT as f32;
        for f0 in (0..frames).step_by(BLOCK) {
            let kn = BLOCK.min(frames - f0);
            for k in 0..kn {
                let start = (f0 + k) * HOP;
                for ((d, x), w) in s
                    .frame
                    .iter_mut()
                    .zip(&s.padded[start..start + N_FFT])
                    .zip(&self.window_src)
                {
                    *d = x * w;
                }
                self.forward
                    .process_with_scratch(
                        &mut s.frame,
                        &mut s.block[k * BINS..(k + 1) * BINS],
                        &mut s.scratch_f,
                    )
                    .expect("buffers of the planned sizes");
            }
            combine(p, noise, f0, kn, &mut s.noise, &mut s.block);
            for k in 0..kn {
                let spectrum = &mut s.block[k * BINS..(k + 1) * BINS];
                // A real signal's DC and Nyquist bins are real: the inverse ignores their imaginary parts, as
                // numpy's and scipy's do.
                spectrum[0].im = 0.0;
                spectrum[BINS - 1].im = 0.0;
                self.inverse
                    .process_with_scratch(spectrum, &mut s.frame, &mut s.scratch_i)
                    .expect("buffers of the planned sizes");
                for ((o, x), w) in s.acc.iter_mut().zip(&s.frame).zip(&self.window) {
                    *o += (x * scale) * w;
                }
                emit(f0 + k, &s.acc);
                s.acc.copy_within(HOP.., 0);
                s.acc[N_FFT - HOP..].fill(0.0);
            }
        }
        for i in 0..N_FFT / HOP - 1 {
            emit(frames + i, &s.acc[i * HOP..]);
        }
    }

    /// Output row `r` of the overlap-add of `frames` frames, normalized by the summed squared window over it
    /// (tapered at the ends), in the order the reference sums it.
    fn normalize(&self, r: usize, frames: usize, acc: &[f32], out: &mut [f32; HOP]) {
        let blocks = N_FFT / HOP;
        let mut wsum = [0.0f32; HOP];
        for k in (0..blocks).filter(|&k| r >= k && r - k < frames) {
            for (s, w) in wsum.iter_mut().zip(&self.window[k * HOP..(k + 1) * HOP]) {
                *s += w * w;
            }
        }
        for ((o, a), w) in out.iter_mut().zip(acc).zip(&wsum) {
            *o = a * (1.0 / w.max(1e-11));
        }
    }
}

/// Turns the forward spectra `E` of frames `f0..f0 + kn` (frame-major in `block`) into the block's spectra
/// `S = e^{lh} e^{iπ tanh θ} E + e^{ln} Z + e^{lr} e^{iφ}`, frame by frame, each over its bins in SIMD lanes. The
/// noise is drawn bin-major (as the reference draws it): the block's share is first laid out frame-major in
/// `z`.
///
/// On an x86-64 CPU with AVX2 the same code is compiled for 8-lane vectors (no FMA, which would round
/// differently): the same operations on each lane, so the same bits (a test compares the two).
fn combine(
    p: &Frames,
    noise: &[f32],
    f0: usize,
    kn: usize,
    z: &mut [Vec<f32>; 2],
    block: &mut [Complex32],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { combine_avx2(p, noise, f0, kn, z, block) };
    }
    combine_here(p, noise, f0, kn, z, block);
}

/// [`combine`] compiled with AVX2 enabled.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn combine_avx2(
    p: &Frames,
    noise: &[f32],
    f0: usize,
    kn: usize,
    z: &mut [Vec<f32>; 2],
    block: &mut [Complex32],
) {
    combine_here(p, noise, f0, kn, z, block);
}

/// [`combine`] for whatever the code around it is compiled for.
#[inline(always)]
fn combine_here(
    p: &Frames,
    noise: &[f32],
    f0: usize,
    kn: usize,
    z: &mut [Vec<f32>; 2],
    block: &mut [Complex32],
) {
    let frames = p.count();
    let [zr, zi] = z;
    for b in 0..BINS {
        let drawn = &noise[b * 2 * frames + 2 * f0..][..2 * kn];
        for (k, pair) in drawn.chunks_exact(2).enumerate() {
            zr[k * BINS + b] = pair[0];
            zi[k * BINS + b] = pair[1];
        }
    }
    let (mut ar, mut ai, mut cr, mut ci) = ([0f32; BINS], [0f32; BINS], [0f32; BINS], [0f32; BINS]);
    for k in 0..kn {
        let row = &p.spectra[(f0 + k) * ROW..][..ROW];
        let (lh, row) = row.split_at(BINS);
        let (theta, row) = row.split_at(BINS);
        let (ln, row) = row.split_at(BINS);
        let (lr, phi) = row.split_at(BINS);
        let (zr, zi) = (&zr[k * BINS..][..BINS], &zi[k * BINS..][..BINS]);
        for b in 0..BINS {
            let mag = ex(lh[b]);
            let (sin, cos) = math::sincos(math::tanh(theta[b]) * std::f32::consts::PI);
            ar[b] = cos * mag;
            ai[b] = sin * mag;
            let g = ex(ln[b]);
            let r = ex(lr[b]);
            let (sin, cos) = math::sincos(phi[b]);
            cr[b] = zr[b] * g + cos * r;
            ci[b] = zi[b] * g + sin * r;
        }
        let spectrum = &mut block[k * BINS..][..BINS];
        for (b, e) in spectrum.iter_mut().enumerate() {
            let mut s = *e * Complex32::new(ar[b], ai[b]);
            s.re += cr[b];
            s.im += ci[b];
            *e = s;
        }
    }
}

/// The band-limited pulse train of an F0 curve (one value per frame), `HOP` samples per frame: every harmonic
/// below `F_MAX` at unit amplitude, in closed form; zero where unvoiced.
#[cfg(test)]
pub(crate) fn pulses(f0: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; f0.len() * HOP];
    pulses_into(f0, &mut out);
    out
}

/// [`pulses`] into `out` (`HOP` samples per frame). On an x86-64 CPU with AVX2 the same code is compiled for
/// 8-lane vectors (no FMA: the same operations on each lane, so the same bits; a test compares the two).
fn pulses_into(f0: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { pulses_avx2(f0, out) };
    }
    pulses_here(f0, out);
}

/// [`pulses_into`] compiled with AVX2 enabled.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pulses_avx2(f0: &[f32], out: &mut [f32]) {
    pulses_here(f0, out);
}

/// [`pulses_into`] for whatever the code around it is compiled for.
#[inline(always)]
fn pulses_here(f0: &[f32], out: &mut [f32]) {
    let frames = f0.len();
    let half = HOP / 2;
    // Linear interpolation weights (align_corners=False).
    let mut u = [0.0f32; HOP];
    let mut v = [0.0f32; HOP];
    for j in 0..HOP {
        u[j] = (((j as f64 + 0.5) / HOP as f64) - 0.5).rem_euclid(1.0) as f32;
        v[j] = 1.0 - u[j];
    }
    let at = |k: isize| f0[k.clamp(0, frames as isize - 1) as usize];
    let mut phase = 0.0f64;
    let (mut freq, mut phases, mut turn) = ([0.0f32; HOP], [0.0f64; HOP], [0.0f32; HOP]);
    for (k, out) in out.chunks_exact_mut(HOP).enumerate() {
        let k = k as isize;
        // The phase accumulates in f64, one sample after the other; the rest runs in lanes.
        for j in 0..HOP {
            let (a, b) = if j < half {
                (at(k - 1), at(k))
            } else {
                (at(k), at(k + 1))
            };
            let f = a * v[j] + b * u[j];
            freq[j] = f;
            phase += f.max(VOICED) as f64;
            phases[j] = phase;
        }
        if !freq.iter().any(|&f| f > VOICED) {
            out.fill(0.0);
            continue;
        }
        for (t, &phase) in turn.iter_mut().zip(&phases) {
            // The phase is positive: `floor` is truncation.
            let cycles = phase * (1.0 / SAMPLE_RATE as f64);
            *t = ((cycles - cycles.floor()) * (2.0 * std::f64::consts::PI)) as f32;
        }
        for ((o, &f), &t) in out.iter_mut().zip(&freq).zip(&turn) {
            let voiced = f > VOICED;
            // F_MAX / f is positive: truncation is `floor`.
            let h = (F_MAX / f.max(VOICED)) as u32 as f32 + 0.5;
            let s = math::sincos(t * 0.5).0 * 2.0;
            let e = if s.abs() <= 2e-3 {
                h
            } else {
                math::sincos(h * t).0 / s
            };
            *o = if voiced { e - 0.5 } else { 0.0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spectra_combined_with_avx2_are_the_same_bits_as_without() {
        #[cfg(target_arch = "x86_64")]
        {
            if !std::arch::is_x86_feature_detected!("avx2") {
                return;
            }
            let frames = BLOCK + 8;
            let mut seed = 0x2545_f491_4f6c_dd1du64;
            let mut value = |scale: f32| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                ((seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * scale
            };
            // Log magnitudes past the clamp (7) too, angles over several turns.
            let mut array = |scale: f32| {
                (0..BINS * frames)
                    .map(|_| value(scale))
                    .collect::<Vec<f32>>()
            };
            let rows = [
                array(20.0),
                array(8.0),
                array(20.0),
                array(20.0),
                array(40.0),
            ];
            let spectra_in: Vec<f32> = (0..frames)
                .flat_map(|f| rows.iter().flat_map(move |r| &r[f * BINS..][..BINS]))
                .copied()
                .collect();
            let noise = array(4.0)
                .into_iter()
                .chain(array(4.0))
                .collect::<Vec<f32>>();
            let f0 = vec![120.0; frames];
            let p = Frames {
                spectra: &spectra_in,
                f0: &f0,
            };
            let z = || [vec![0.0; BLOCK * BINS], vec![0.0; BLOCK * BINS]];
            let spectra: Vec<Complex32> = (0..BLOCK * BINS)
                .map(|i| Complex32::new((i % 97) as f32 - 48.0, (i % 89) as f32 * 0.5))
                .collect();
            for (f0, kn) in [(0, BLOCK), (BLOCK, frames - BLOCK)] {
                let (mut plain, mut wide) = (spectra.clone(), spectra.clone());
                combine_here(&p, &noise, f0, kn, &mut z(), &mut plain);
                // SAFETY: the CPU has AVX2.
                unsafe { combine_avx2(&p, &noise, f0, kn, &mut z(), &mut wide) };
                let bits = |v: &[Complex32]| -> Vec<(u32, u32)> {
                    v.iter().map(|c| (c.re.to_bits(), c.im.to_bits())).collect()
                };
                assert!(bits(&plain) == bits(&wide), "frames {f0}..{}", f0 + kn);
                assert!(plain != spectra);
            }
        }
    }

    #[test]
    fn the_pulses_made_with_avx2_are_the_same_bits_as_without() {
        #[cfg(target_arch = "x86_64")]
        {
            if !std::arch::is_x86_feature_detected!("avx2") {
                return;
            }
            // Voiced stretches at several pitches, glides, unvoiced frames between them and at the ends.
            let f0: Vec<f32> = (0..400)
                .map(|i| match i % 90 {
                    0..=9 => 0.0,
                    10..=49 => 95.0 + i as f32 * 0.37,
                    50..=54 => 30.0,
                    _ => 410.0 - (i % 90) as f32 * 2.9,
                })
                .collect();
            let (mut plain, mut wide) = (vec![1.0; f0.len() * HOP], vec![1.0; f0.len() * HOP]);
            pulses_here(&f0, &mut plain);
            // SAFETY: the CPU has AVX2.
            unsafe { pulses_avx2(&f0, &mut wide) };
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
            assert!(bits(&plain) == bits(&wide));
            assert!(plain[..9 * HOP].iter().all(|&x| x == 0.0));
            assert!(plain[20 * HOP..40 * HOP].iter().any(|&x| x != 0.0));
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
        // Each frame's rows: lh, theta, ln, lr, phi.
        let mut spectra = vec![0.0f32; ROW * frames];
        let bin = 40; // 800 Hz
        for row in spectra.chunks_exact_mut(ROW) {
            row[..BINS].fill(-30.0);
            row[2 * BINS..4 * BINS].fill(-30.0);
            row[3 * BINS + bin] = (N_FFT as f32 / 2.0).ln();
        }
        let f0 = vec![0.0f32; frames];
        let p = Frames {
            spectra: &spectra,
            f0: &f0,
        };
        let y = Vocoder::default().synth(&p, &vec![0.0; BINS * 2 * frames]);
        assert_eq!(y.len(), frames * HOP);
        let inner = &y[4 * HOP..12 * HOP];
        let peak = inner.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!((peak - 4.0 / 3.0).abs() < 0.01, "{peak}");
    }
}
