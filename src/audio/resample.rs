//! Sample-rate conversion of one segment (FFT resampler from the `rubato` crate), so an edition can have any
//! output rate and segments from backends with different rates can be joined.

use rubato::{FftFixedIn, Resampler};

/// Resamples mono 16-bit audio from `from` Hz to `to` Hz. The result has `len × to / from` samples, aligned with
/// the input (the resampler's delay is removed).
pub fn resample(samples: &[i16], from: u32, to: u32) -> Result<Vec<i16>, String> {
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let mut r = FftFixedIn::<f32>::new(from as usize, to as usize, 1024, 2, 1)
        .map_err(|e| e.to_string())?;
    let delay = r.output_delay();
    let input: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32768.0).collect();
    let expected = (samples.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let mut out: Vec<f32> = Vec::with_capacity(expected + delay + 2048);
    let mut pos = 0;
    while pos + r.input_frames_next() <= input.len() {
        let n = r.input_frames_next();
        let chunk = r
            .process(&[&input[pos..pos + n]], None)
            .map_err(|e| e.to_string())?;
        out.extend_from_slice(&chunk[0]);
        pos += n;
    }
    let chunk = r
        .process_partial(Some(&[&input[pos..]]), None)
        .map_err(|e| e.to_string())?;
    out.extend_from_slice(&chunk[0]);
    while out.len() < expected + delay {
        let chunk = r
            .process_partial::<&[f32]>(None, None)
            .map_err(|e| e.to_string())?;
        if chunk[0].is_empty() {
            break;
        }
        out.extend_from_slice(&chunk[0]);
    }
    Ok(out
        .into_iter()
        .skip(delay)
        .take(expected)
        .map(|v| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_keeps_its_pitch_and_length() {
        let from = 22_050;
        let tone: Vec<i16> = (0..from)
            .map(|n| {
                (8000.0 * (2.0 * std::f64::consts::PI * 441.0 * n as f64 / from as f64).sin())
                    as i16
            })
            .collect();
        let out = resample(&tone, from, 44_100).unwrap();
        assert_eq!(out.len(), 44_100);
        // Zero crossings per second stay at twice the frequency.
        let crossings = out.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        assert!((870..=896).contains(&crossings), "{crossings}");
        let peak = out[1000..43000]
            .iter()
            .map(|s| s.unsigned_abs())
            .max()
            .unwrap();
        assert!((7800..=8200).contains(&peak), "{peak}");
    }
}
