//! Reading and writing mono 16-bit WAV files with hound.

use std::io::{Seek, Write};
use std::path::Path;

use crate::synth::Audio;

/// The format of every segment and edition narrate writes.
pub fn spec(sample_rate: u32) -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

/// Reads a WAV file into mono 16-bit samples (other channel counts are mixed down; other sample formats are
/// converted).
pub fn read(path: &Path) -> Result<Audio, hound::Error> {
    let reader = hound::WavReader::open(path)?;
    let s = reader.spec();
    let channels = usize::from(s.channels.max(1));
    if channels == 1 && s.sample_format == hound::SampleFormat::Int && s.bits_per_sample == 16 {
        let samples = reader.into_samples::<i16>().collect::<Result<_, _>>()?;
        return Ok(Audio {
            sample_rate: s.sample_rate,
            samples,
        });
    }
    let raw: Vec<f32> = match (s.sample_format, s.bits_per_sample) {
        (hound::SampleFormat::Float, _) => {
            reader.into_samples::<f32>().collect::<Result<_, _>>()?
        }
        (hound::SampleFormat::Int, bits) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            reader
                .into_samples::<i32>()
                .map(|r| r.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()?
        }
    };
    let samples = raw
        .chunks(channels)
        .map(|frame| {
            let v = frame.iter().sum::<f32>() / frame.len() as f32;
            (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16
        })
        .collect();
    Ok(Audio {
        sample_rate: s.sample_rate,
        samples,
    })
}

/// Writes audio as a WAV to any seekable writer.
pub fn write_to<W: Write + Seek>(out: W, audio: &Audio) -> Result<(), hound::Error> {
    let mut w = hound::WavWriter::new(out, spec(audio.sample_rate))?;
    let mut samples = w.get_i16_writer(audio.samples.len() as u32);
    for &s in &audio.samples {
        samples.write_sample(s);
    }
    samples.flush()?;
    w.finalize()
}

/// Turns a hound error into an io error for the atomic writer.
pub fn io_error(e: hound::Error) -> std::io::Error {
    match e {
        hound::Error::IoError(e) => e,
        other => std::io::Error::other(other.to_string()),
    }
}
