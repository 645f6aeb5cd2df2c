//! The answer's audio as it is made, sentence by sentence: a WAV with a streaming header, raw PCM, or a
//! compressed format from an ffmpeg process reading PCM on its stdin and writing the encoded stream on its stdout.

use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::audio::Audio;

/// OpenAI's `response_format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Mp3,
    Opus,
    Aac,
    Flac,
    Wav,
    Pcm,
}

/// Every format, in OpenAI's order.
pub(crate) const ALL: [Format; 6] = [
    Format::Mp3,
    Format::Opus,
    Format::Aac,
    Format::Flac,
    Format::Wav,
    Format::Pcm,
];

/// OpenAI's `pcm` is 16-bit little-endian mono at this rate.
pub(crate) const PCM_RATE: u32 = 24_000;

impl Format {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::Mp3 => "mp3",
            Format::Opus => "opus",
            Format::Aac => "aac",
            Format::Flac => "flac",
            Format::Wav => "wav",
            Format::Pcm => "pcm",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Format> {
        ALL.into_iter().find(|f| f.name() == name)
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Mp3 => "audio/mpeg",
            Format::Opus => "audio/ogg",
            Format::Aac => "audio/aac",
            Format::Flac => "audio/flac",
            Format::Wav => "audio/wav",
            Format::Pcm => "audio/pcm",
        }
    }

    /// The ffmpeg encoder and its output arguments (a container that can be written to a pipe).
    fn ffmpeg(self) -> Option<(&'static str, &'static [&'static str])> {
        match self {
            Format::Mp3 => Some(("libmp3lame", &["-b:a", "64k", "-f", "mp3"])),
            Format::Opus => Some(("libopus", &["-b:a", "32k", "-f", "ogg"])),
            Format::Aac => Some(("aac", &["-b:a", "64k", "-f", "adts"])),
            Format::Flac => Some(("flac", &["-f", "flac"])),
            Format::Wav | Format::Pcm => None,
        }
    }

    /// Whether this machine can make it: wav and pcm always, the rest when ffmpeg has their encoder.
    pub(crate) fn available(self) -> bool {
        self.ffmpeg()
            .is_none_or(|(encoder, _)| ffmpeg_encoders().iter().any(|e| e == encoder))
    }
}

/// The encoders the installed ffmpeg offers (none without ffmpeg); asked once.
fn ffmpeg_encoders() -> &'static [String] {
    static ENCODERS: OnceLock<Vec<String>> = OnceLock::new();
    ENCODERS.get_or_init(|| {
        let Ok(out) = std::process::Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-encoders"])
            .stdin(std::process::Stdio::null())
            .output()
        else {
            return Vec::new();
        };
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut cols = l.split_whitespace();
                let flags = cols.next()?;
                (flags.starts_with('A') && flags.len() == 6)
                    .then(|| cols.next().map(str::to_string))?
            })
            .collect()
    })
}

/// The formats this machine can make, for error messages: "mp3, opus, …".
pub(crate) fn available_names() -> String {
    ALL.into_iter()
        .filter(|f| f.available())
        .map(Format::name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// How long a chunk of the answer may wait for a client that does not read before the answer is dropped.
pub(crate) const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// Where encoded bytes go: the response body.
pub(crate) type Sink = mpsc::Sender<Result<Bytes, std::io::Error>>;

/// Turns a sequence of audio pieces (all at one rate) into the answer's bytes.
pub(crate) enum Encoder {
    /// WAV or PCM, written directly.
    Raw {
        sink: Sink,
        /// Resample each piece to this rate first (pcm).
        to_rate: Option<u32>,
    },
    /// An ffmpeg process; its stdout is copied into the sink by a task of its own.
    Ffmpeg {
        child: Box<tokio::process::Child>,
        stdin: tokio::process::ChildStdin,
        copier: tokio::task::JoinHandle<Result<(), String>>,
    },
}

impl Encoder {
    /// Starts encoding audio at `rate` into `sink` (a WAV begins with its header here).
    pub(crate) async fn start(format: Format, rate: u32, sink: Sink) -> Result<Encoder, String> {
        if let Some((encoder, args)) = format.ffmpeg() {
            let mut child = tokio::process::Command::new("ffmpeg")
                .args(["-hide_banner", "-loglevel", "error", "-nostdin"])
                .args([
                    "-f",
                    "s16le",
                    "-ar",
                    &rate.to_string(),
                    "-ac",
                    "1",
                    "-i",
                    "pipe:0",
                ])
                .args(["-c:a", encoder])
                .args(args)
                // Each encoded packet leaves at once, not when ffmpeg's 32 KiB output buffer is full.
                .args(["-flush_packets", "1"])
                .arg("pipe:1")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("cannot run ffmpeg: {e}"))?;
            let stdin = child.stdin.take().ok_or("ffmpeg has no stdin")?;
            let mut stdout = child.stdout.take().ok_or("ffmpeg has no stdout")?;
            let copier = tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let n = stdout
                        .read(&mut buf)
                        .await
                        .map_err(|e| format!("reading ffmpeg's output: {e}"))?;
                    if n == 0 {
                        return Ok(());
                    }
                    let chunk = Ok(Bytes::copy_from_slice(&buf[..n]));
                    if sink.send_timeout(chunk, SEND_TIMEOUT).await.is_err() {
                        return Err("the client hung up".into());
                    }
                }
            });
            return Ok(Encoder::Ffmpeg {
                child: Box::new(child),
                stdin,
                copier,
            });
        }
        let to_rate = (format == Format::Pcm).then_some(PCM_RATE);
        if format == Format::Wav {
            send(&sink, Bytes::from(streaming_wav_header(rate))).await?;
        }
        Ok(Encoder::Raw { sink, to_rate })
    }

    /// Encodes one piece.
    pub(crate) async fn push(&mut self, audio: &Audio) -> Result<(), String> {
        match self {
            Encoder::Raw { sink, to_rate } => {
                let samples = match to_rate {
                    Some(rate) if *rate != audio.sample_rate => {
                        crate::audio::resample::resample(&audio.samples, audio.sample_rate, *rate)?
                    }
                    _ => audio.samples.clone(),
                };
                send(sink, Bytes::from(le_bytes(&samples))).await
            }
            Encoder::Ffmpeg { stdin, .. } => stdin
                .write_all(&le_bytes(&audio.samples))
                .await
                .map_err(|e| format!("ffmpeg stopped taking audio: {e}")),
        }
    }

    /// Ends the stream: ffmpeg is told the input ended and its last bytes are sent.
    pub(crate) async fn finish(self) -> Result<(), String> {
        match self {
            Encoder::Raw { .. } => Ok(()),
            Encoder::Ffmpeg {
                mut child,
                stdin,
                copier,
            } => {
                drop(stdin);
                copier
                    .await
                    .map_err(|e| format!("ffmpeg's output: {e}"))??;
                let status = child.wait().await.map_err(|e| format!("ffmpeg: {e}"))?;
                if status.success() {
                    Ok(())
                } else {
                    Err(format!("ffmpeg failed ({status})"))
                }
            }
        }
    }
}

async fn send(sink: &Sink, bytes: Bytes) -> Result<(), String> {
    sink.send_timeout(Ok(bytes), SEND_TIMEOUT)
        .await
        .map_err(|_| "the client hung up".to_string())
}

fn le_bytes(samples: &[i16]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

/// A 44-byte WAV header for 16-bit mono at `rate` whose RIFF and data sizes are 0xFFFFFFFF ("until the end of
/// the stream"), as OpenAI's streamed WAV answers have.
pub(crate) fn streaming_wav_header(rate: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // PCM
    h.extend_from_slice(&1u16.to_le_bytes()); // mono
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&(rate * 2).to_le_bytes()); // bytes per second
    h.extend_from_slice(&2u16.to_le_bytes()); // block align
    h.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    h.extend_from_slice(b"data");
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streamed_wav_reads_back_once_its_sizes_are_known() {
        let mut bytes = streaming_wav_header(22_050);
        assert_eq!(bytes.len(), 44);
        bytes.extend(le_bytes(&[1, -2, 3, -4]));
        let audio = crate::audio::wav::read_bytes(bytes).unwrap();
        assert_eq!(audio.sample_rate, 22_050);
        assert_eq!(audio.samples, vec![1, -2, 3, -4]);
    }

    #[test]
    fn every_format_has_a_name_and_a_content_type() {
        for f in ALL {
            assert_eq!(Format::parse(f.name()), Some(f));
            assert!(f.content_type().starts_with("audio/"));
        }
        assert_eq!(Format::parse("ogg"), None);
        assert!(Format::Wav.available() && Format::Pcm.available());
    }
}
