//! Reading and writing mono 16-bit WAV files with hound.

use std::io::{Seek, Write};
use std::path::Path;

use super::{Audio, WordSpan};

/// The format of every segment and edition narrate writes.
pub(crate) fn spec(sample_rate: u32) -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

/// Reads a WAV file into mono 16-bit samples (other channel counts are mixed down; other sample formats are
/// converted), with the words its `wrds` chunk places (a segment from the cache), or `None` when it has none.
pub(crate) fn read(path: &Path) -> Result<Audio, hound::Error> {
    let bytes = std::fs::read(path)?;
    let words = read_words(&bytes).map_err(hound::Error::FormatError)?;
    let mut audio = decode(hound::WavReader::new(std::io::Cursor::new(bytes))?)?;
    audio.words = words;
    Ok(audio)
}

/// The RIFF chunk that holds a segment's word spans: JSON, `[{"text", "start_sample", "end_sample"}, …]`.
pub(crate) const WORDS_CHUNK: &[u8; 4] = b"wrds";

/// The `wrds` chunk of `words` (header, JSON body, a pad byte to an even length).
pub(crate) fn words_chunk(words: &[WordSpan]) -> Vec<u8> {
    let body = serde_json::to_vec(words).expect("plain data serializes");
    let mut out = Vec::with_capacity(body.len() + 9);
    out.extend_from_slice(WORDS_CHUNK);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
    out
}

/// The word spans in a WAV's `wrds` chunk; `None` when it has none.
pub(crate) fn read_words(bytes: &[u8]) -> Result<Option<Vec<WordSpan>>, &'static str> {
    let Some((at, size)) = find_chunk(bytes, WORDS_CHUNK) else {
        return Ok(None);
    };
    let body = bytes
        .get(at + 8..at + 8 + size as usize)
        .ok_or("the word spans are cut off")?;
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|_| "the word spans cannot be read")
}

/// Decodes a WAV held in memory (e.g. an HTTP response body or a program's output), like [`read`]. A streaming
/// writer puts the header out before it knows the length, with a placeholder size (0, 0xFFFFFFFF, or espeak-ng's
/// 0x7FFFF000 and nearby): such a header is set to the body's real length. Any other size larger than the body
/// means the audio was cut off, and is an error: it is never "repaired" into a shorter segment.
pub fn read_bytes(mut bytes: Vec<u8>) -> Result<Audio, hound::Error> {
    fix_streamed_sizes(&mut bytes)?;
    decode(hound::WavReader::new(std::io::Cursor::new(bytes))?)
}

/// The error of a WAV whose body is shorter than its header says.
pub(crate) const CUT_OFF: &str =
    "the audio is cut off: its header promises more than the answer holds";

/// Whether a chunk size is a streaming writer's placeholder rather than a length.
fn placeholder(size: u32) -> bool {
    size == 0 || size >= 0x7FFF_0000
}

/// A little-endian `u32` at `at`.
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Where the RIFF chunk `id` of a WAV's bytes starts (its header) and the size its header declares, walking the
/// chunks after `RIFF….WAVE`. The declared size may run past the bytes.
pub(crate) fn find_chunk(bytes: &[u8], id: &[u8; 4]) -> Option<(usize, u32)> {
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let size = u32_at(bytes, at + 4);
        if &bytes[at..at + 4] == id {
            return Some((at, size));
        }
        at += 8 + size as usize + (size as usize & 1);
    }
    None
}

/// Sets the RIFF and `data` sizes of a streamed WAV (written as a placeholder) to what the bytes hold; refuses
/// a `data` size the bytes fall short of.
fn fix_streamed_sizes(bytes: &mut [u8]) -> Result<(), hound::Error> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Ok(());
    }
    let len = bytes.len();
    let Some((at, size)) = find_chunk(bytes, b"data") else {
        return Ok(());
    };
    let real = (len - at - 8) as u32;
    if placeholder(size) {
        bytes[at + 4..at + 8].copy_from_slice(&(real & !1).to_le_bytes());
        bytes[4..8].copy_from_slice(&((len - 8) as u32).to_le_bytes());
    } else if size > real {
        return Err(hound::Error::FormatError(CUT_OFF));
    }
    Ok(())
}

fn decode(reader: hound::WavReader<std::io::Cursor<Vec<u8>>>) -> Result<Audio, hound::Error> {
    let s = reader.spec();
    let channels = usize::from(s.channels.max(1));
    if channels == 1 && s.sample_format == hound::SampleFormat::Int && s.bits_per_sample == 16 {
        // What narrate writes: the data chunk's bytes decoded in one go (hound's sample-by-sample iterator
        // was most of the join), ending where hound's would, with its error.
        let len = reader.len() as usize;
        let cursor = reader.into_inner();
        let at = usize::try_from(cursor.position()).unwrap_or(usize::MAX);
        let bytes = cursor.get_ref();
        let Some(data) = at.checked_add(2 * len).and_then(|end| bytes.get(at..end)) else {
            return Err(hound::Error::IoError(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "Failed to read enough bytes.",
            )));
        };
        let samples = data
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        return Ok(Audio {
            sample_rate: s.sample_rate,
            samples,
            words: None,
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
        words: None,
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
pub(crate) fn io_error(e: hound::Error) -> std::io::Error {
    match e {
        hound::Error::IoError(e) => e,
        other => std::io::Error::other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav_bytes(audio: &Audio) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        write_to(&mut out, audio).unwrap();
        out.into_inner()
    }

    #[test]
    fn streamed_headers_are_repaired() {
        let audio = Audio {
            sample_rate: 24_000,
            samples: (0..4800).map(|n| (n % 200) as i16 * 100).collect(),
            words: None,
        };
        let bytes = wav_bytes(&audio);
        assert_eq!(read_bytes(bytes.clone()).unwrap(), audio);
        let data = bytes.windows(4).position(|w| w == b"data").unwrap();
        for unknown in [0u32, u32::MAX, 0x7FFF_F000] {
            // As a streaming server writes it: sizes unknown when the header went out.
            let mut streamed = bytes.clone();
            streamed[4..8].copy_from_slice(&unknown.to_le_bytes());
            streamed[data + 4..data + 8].copy_from_slice(&unknown.to_le_bytes());
            assert_eq!(read_bytes(streamed).unwrap(), audio, "size {unknown:#x}");
        }
        // A header that states its length, and a body cut short of it: an error, not a shorter segment.
        let mut cut = bytes.clone();
        cut.truncate(bytes.len() - 1000);
        assert!(read_bytes(cut).is_err());
    }

    #[test]
    fn stereo_float_is_mixed_to_mono_16_bit() {
        let mut out = std::io::Cursor::new(Vec::new());
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 44_100,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
        for (l, r) in [(0.5f32, 0.0f32), (-0.25, -0.25), (1.0, 1.0)] {
            w.write_sample(l).unwrap();
            w.write_sample(r).unwrap();
        }
        w.finalize().unwrap();
        let audio = read_bytes(out.into_inner()).unwrap();
        assert_eq!(audio.sample_rate, 44_100);
        assert_eq!(audio.samples, vec![8192, -8192, 32767]);
    }
}
