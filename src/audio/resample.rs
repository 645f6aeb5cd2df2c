//! Sample-rate conversion of one segment (FFT resampler from the `rubato` crate), so an edition can have any
//! output rate and segments from backends with different rates can be joined.

use rubato::{FftFixedIn, Resampler};

/// Input frames per call to the resampler; rubato rounds its FFT size to suit the two rates. A synchronous FFT
/// resampler fits: the ratio is fixed for a whole segment, and it is exact and fast for rates with a large common
/// divisor (22050/44100, 24000/48000); rubato's sinc resamplers exist for ratios that change while running.
const CHUNK: usize = 1024;

/// The number of samples `len` samples at `from` Hz become at `to` Hz: `len × to / from`, rounded to the
/// nearest sample (halves up). `from` must not be 0.
pub(crate) fn resampled_len(len: usize, from: u32, to: u32) -> usize {
    ((len as u64 * u64::from(to) + u64::from(from) / 2) / u64::from(from)) as usize
}

/// Resamples mono 16-bit audio from `from` Hz to `to` Hz. The result has [`resampled_len`] samples, aligned
/// with the input (the resampler's delay is removed). Any length works, 0 included: the input is fed in
/// fixed chunks, the last one padded with silence here, and silence follows until the delayed output is complete.
/// (rubato 0.16's `process_partial` does that padding too, but given an empty slice, as it is when the length is
/// a multiple of the chunk, it fails with "Insufficient buffer size 0".)
pub(crate) fn resample(samples: &[i16], from: u32, to: u32) -> Result<Vec<i16>, String> {
    if from == 0 || to == 0 {
        return Err(format!("cannot resample from {from} Hz to {to} Hz"));
    }
    if from == to {
        return Ok(samples.to_vec());
    }
    let expected = resampled_len(samples.len(), from, to);
    if expected == 0 {
        return Ok(Vec::new());
    }
    let mut r = FftFixedIn::<f32>::new(from as usize, to as usize, CHUNK, 2, 1)
        .map_err(|e| e.to_string())?;
    let delay = r.output_delay();
    let mut input = r.input_buffer_allocate(true);
    let mut output = r.output_buffer_allocate(true);
    let mut out: Vec<f32> = Vec::with_capacity(delay + expected + r.output_frames_max());
    let mut pos = 0;
    while out.len() < delay + expected {
        let chunk = &mut input[0];
        chunk.resize(r.input_frames_next(), 0.0);
        let take = (samples.len() - pos).min(chunk.len());
        for (dst, &s) in chunk.iter_mut().zip(&samples[pos..pos + take]) {
            *dst = f32::from(s) / 32768.0;
        }
        chunk[take..].fill(0.0);
        pos += take;
        let (_, written) = r
            .process_into_buffer(&input, &mut output, None)
            .map_err(|e| e.to_string())?;
        out.extend_from_slice(&output[0][..written]);
    }
    Ok(out[delay..delay + expected]
        .iter()
        .map(|&v| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATES: [(u32, u32); 6] = [
        (22_050, 44_100),
        (22_050, 48_000),
        (24_000, 44_100),
        (44_100, 22_050),
        (22_050, 16_000),
        (16_000, 22_050),
    ];
    /// Lengths around the chunk size, a multiple of it, and the degenerate ones.
    const LENGTHS: [usize; 9] = [0, 1, 2, 1023, 1024, 1025, 2 * CHUNK, 4 * CHUNK, 5000];

    /// A 441 Hz sine at `rate` Hz: silence for the first `silent` samples, then amplitude 8000 from phase 0.
    fn tone(len: usize, rate: u32, silent: usize) -> Vec<i16> {
        (0..len)
            .map(|n| {
                if n < silent {
                    return 0;
                }
                let t = (n - silent) as f64 / f64::from(rate);
                (8000.0 * (2.0 * std::f64::consts::PI * 441.0 * t).sin()).round() as i16
            })
            .collect()
    }

    fn rms(s: &[i16]) -> f64 {
        (s.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
    }

    #[test]
    fn the_length_is_the_rounded_ratio() {
        assert_eq!(resampled_len(0, 22_050, 44_100), 0);
        assert_eq!(resampled_len(1, 22_050, 16_000), 1); // 0.73
        assert_eq!(resampled_len(1, 44_100, 22_050), 1); // 0.5 rounds up
        assert_eq!(resampled_len(1023, 22_050, 48_000), 2227); // 2226.9
        assert_eq!(resampled_len(5000, 24_000, 44_100), 9188); // 9187.5
        assert_eq!(resampled_len(22_050, 22_050, 44_100), 44_100);
    }

    #[test]
    fn every_length_and_rate_pair_gives_the_exact_length() {
        for (from, to) in RATES {
            for len in LENGTHS {
                let input = tone(len, from, 0);
                let out = resample(&input, from, to)
                    .unwrap_or_else(|e| panic!("{len} samples {from} -> {to}: {e}"));
                assert_eq!(
                    out.len(),
                    resampled_len(len, from, to),
                    "{len} samples {from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn a_tone_keeps_its_pitch_level_and_place() {
        for (from, to) in RATES {
            for len in [4 * CHUNK, 5000, from as usize] {
                // Silence, then the tone from the middle on: where it starts shows the delay was removed.
                let onset = len / 2;
                let out = resample(&tone(len, from, onset), from, to).unwrap();
                let what = format!("{len} samples {from} -> {to}");
                let start = resampled_len(onset, from, to);
                let first_loud = out.iter().position(|s| s.unsigned_abs() > 1000).unwrap();
                // The first loud sample is within a quarter period of the onset (the sine rises from 0).
                let quarter = to as usize / 441 / 4;
                assert!(
                    first_loud >= start && first_loud <= start + quarter + 2,
                    "{what}: tone at {first_loud}, expected {start}"
                );
                // Away from the edges, where the resampler rings: the same frequency and level.
                let margin = (out.len() - start) / 8;
                let body = &out[start + margin..out.len() - margin];
                let crossings = body.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
                let freq = crossings as f64 / 2.0 / (body.len() as f64 / f64::from(to));
                assert!((freq - 441.0).abs() < 441.0 * 0.03, "{what}: {freq} Hz");
                let level = rms(body) / (8000.0 / 2f64.sqrt());
                assert!((level - 1.0).abs() < 0.02, "{what}: level ×{level}");
                let peak = body.iter().map(|s| s.unsigned_abs()).max().unwrap();
                assert!((7800..=8200).contains(&peak), "{what}: peak {peak}");
                assert!(
                    out[..start.saturating_sub(quarter)]
                        .iter()
                        .all(|s| s.unsigned_abs() < 200),
                    "{what}: sound before the onset"
                );
            }
        }
    }

    #[test]
    fn a_zero_rate_is_an_error() {
        assert!(resample(&[1, 2, 3], 0, 44_100).is_err());
        assert!(resample(&[1, 2, 3], 22_050, 0).is_err());
    }
}
