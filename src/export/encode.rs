//! Compressed editions made by ffmpeg from the finished WAV: M4B (AAC in MP4, chapters and tags from the
//! ffmetadata export) and MP3 (ID3v2 tags with CHAP/CTOC chapter frames, which ffmpeg's MP3 muxer writes).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::FFMETADATA;
use crate::audio::master::Preset;
use crate::edition::Edition;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    M4b,
    Mp3,
}

crate::values::named_enum!(Encoding, "format", [
    Encoding::M4b => "m4b",
    Encoding::Mp3 => "mp3",
]);

impl Encoding {
    pub fn extension(self) -> &'static str {
        self.name()
    }

    /// The media type a web page gives the file (`<source type=…>`).
    pub(crate) fn mime(self) -> &'static str {
        match self {
            Encoding::M4b => "audio/mp4",
            Encoding::Mp3 => "audio/mpeg",
        }
    }

    /// ffmpeg's arguments for the codec and container.
    fn args(self) -> &'static [&'static str] {
        match self {
            Encoding::M4b => &[
                "-c:a",
                "aac",
                "-b:a",
                "64k",
                "-f",
                "mp4",
                "-movflags",
                "+faststart",
            ],
            Encoding::Mp3 => &[
                "-c:a",
                "libmp3lame",
                "-b:a",
                "64k",
                "-f",
                "mp3",
                "-id3v2_version",
                "3",
            ],
        }
    }
}

/// Decibels a re-encode lowers the peaks beyond the measured overshoot: ffmpeg reports the true peak to 0.1 dB,
/// and the encoder's overshoot moves a little with the audio.
const PEAK_MARGIN_DB: f64 = 0.2;
/// How much quieter than a plain encode a limited one may be before a pass makes up the difference.
const LOUDNESS_SLACK_LU: f64 = 0.25;
/// Encodes of one edition before giving up on staying under the ceiling.
const MAX_PASSES: usize = 5;
/// The lowest limit ffmpeg's `alimiter` takes, 0.0625, in dBFS.
const MIN_LIMIT_DB: f64 = -24.08;

/// Encodes `wav` into `<stem>.m4b` / `<stem>.mp3` beside it, with the edition's chapters and tags. Each file is
/// written under a temporary name and renamed.
///
/// AAC and MP3 overshoot the peaks of what they encode (ffmpeg's AAC encoder at 64 kb/s by up to 1.5 dB on
/// speech limited at −1.5 dBFS). For a WAV mastered with `preset`, each encoded file's true peak and loudness
/// are measured as ffmpeg measures them (its `ebur128` filter). While the peak is not under the preset's ceiling, the
/// edition is encoded again through ffmpeg's `alimiter` (look-ahead, delay compensated, no auto level) holding
/// the peaks further under the WAV's own by the overshoot plus [`PEAK_MARGIN_DB`]; while limiting leaves it more
/// than [`LOUDNESS_SLACK_LU`] quieter than the plain encode, a gain in front of the limiter makes up the loss.
/// Lowering the whole level instead would cost loudness and not even work: the overshoot does not fall with
/// the level. The same WAV always gives the same passes and the same file. Unmastered editions are encoded once,
/// as they are.
pub(crate) fn encode(
    wav: &Path,
    edition: &Edition,
    encodings: &[Encoding],
    preset: Preset,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for &enc in encodings {
        let target = wav.with_extension(enc.extension());
        encode_into(wav, edition, enc, preset, &target)?;
        written.push(target);
    }
    Ok(written)
}

/// Encodes `wav` as `enc` into `target` (written under a temporary name beside it and renamed), with the
/// edition's chapters, tags and cover, and the peaks under `preset`'s ceiling as [`encode`] says. The read-along
/// EPUB uses it for its audio when the settings made no M4B to take.
pub(crate) fn encode_into(
    wav: &Path,
    edition: &Edition,
    enc: Encoding,
    preset: Preset,
    target: &Path,
) -> Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let out_err = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Output {
            path: path.clone(),
            source,
        }
    };
    let mut metadata = tempfile::Builder::new()
        .prefix(".narrate-chapters.")
        .tempfile_in(dir)
        .map_err(out_err(dir))?;
    std::io::Write::write_all(
        metadata.as_file_mut(),
        FFMETADATA.render(edition).as_bytes(),
    )
    .map_err(out_err(dir))?;
    // The book's cover, attached as a picture (MP4's `covr`, ID3's APIC).
    let cover = match edition.book.as_ref().and_then(|b| b.cover.as_ref()) {
        Some(c) if !c.bytes.is_empty() => {
            let suffix = if c.media_type == "image/png" {
                ".png"
            } else {
                ".jpg"
            };
            let mut file = tempfile::Builder::new()
                .prefix(".narrate-cover.")
                .suffix(suffix)
                .tempfile_in(dir)
                .map_err(out_err(dir))?;
            std::io::Write::write_all(file.as_file_mut(), &c.bytes).map_err(out_err(dir))?;
            Some(file)
        }
        _ => None,
    };
    let cover = cover.as_ref().map(|f| f.path());
    let mut wav_peak = None;
    let partial = crate::atomic::temp_beside(target).map_err(out_err(dir))?;
    let mut shape = Shape::default();
    let mut plain_loudness = None;
    for pass in 1.. {
        run_encoder(
            wav,
            metadata.path(),
            cover,
            enc,
            &shape,
            partial.path(),
            target,
        )?;
        let Some(ceiling) = preset.ceiling_db() else {
            break;
        };
        let (loudness, peak) = ffmpeg_loudness(partial.path(), target)?;
        let reference = *plain_loudness.get_or_insert(loudness);
        // Strictly under: ffmpeg rounds to 0.1 dB, so −1.0 may be a little over −1.
        let under = peak.is_nan() || peak < ceiling;
        let quiet = loudness < reference - LOUDNESS_SLACK_LU;
        if under && (!quiet || pass == MAX_PASSES) {
            break;
        }
        if !under {
            let wav_peak = match wav_peak {
                Some(p) => p,
                None => *wav_peak.insert(sample_peak_db(wav)?),
            };
            let lowered = shape.lowered_db + peak - ceiling + PEAK_MARGIN_DB;
            if pass == MAX_PASSES || wav_peak - lowered < MIN_LIMIT_DB {
                return Err(Error::Invalid(format!(
                    "{}: the {} encoder keeps the true peak at {peak:.1} dBTP, over the ceiling of \
                     {ceiling:.1} dBTP of `--master {}`, even with the peaks limited {:.1} dB lower; \
                     make the edition without --format and encode it yourself",
                    target.display(),
                    enc.extension(),
                    format!("{preset:?}").to_lowercase(),
                    shape.lowered_db,
                )));
            }
            shape.lowered_db = lowered;
            shape.limit_db = Some(wav_peak - lowered);
        }
        if quiet {
            shape.gain_db += reference - loudness;
        }
    }
    partial.persist(target).map_err(|e| Error::Output {
        path: target.to_owned(),
        source: e.error,
    })?;
    Ok(())
}

/// What a pass does to the WAV before the encoder: a gain, then a look-ahead limiter (none at first).
#[derive(Debug, Default)]
struct Shape {
    gain_db: f64,
    /// How far under the WAV's sample peak the limiter holds the peaks.
    lowered_db: f64,
    /// The limiter's level in dBFS.
    limit_db: Option<f64>,
}

impl Shape {
    /// ffmpeg's audio filter for it, if it does anything.
    fn filter(&self) -> Option<String> {
        let limit = self.limit_db?;
        let mut filter = String::new();
        if self.gain_db != 0.0 {
            filter.push_str(&format!("volume={:.2}dB,", self.gain_db));
        }
        filter.push_str(&format!(
            "alimiter=limit={:.6}:attack=2:release=20:level=false:latency=true",
            10f64.powf(limit / 20.0)
        ));
        Some(filter)
    }
}

/// Runs ffmpeg once: `wav` through `shape` with the chapters and tags of `metadata` (and `cover` as an attached
/// picture), encoded as `enc` into `out`. `target` names the edition in messages.
fn run_encoder(
    wav: &Path,
    metadata: &Path,
    cover: Option<&Path>,
    enc: Encoding,
    shape: &Shape,
    out: &Path,
    target: &Path,
) -> Result<()> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-loglevel", "error", "-y", "-i"])
        .arg(wav)
        .arg("-i")
        .arg(metadata);
    if let Some(cover) = cover {
        cmd.arg("-i").arg(cover);
    }
    cmd.args(["-map", "0:a", "-map_metadata", "1", "-map_chapters", "1"]);
    if cover.is_some() {
        cmd.args([
            "-map",
            "2:v",
            "-c:v",
            "copy",
            "-disposition:v:0",
            "attached_pic",
        ]);
    }
    if let Some(filter) = shape.filter() {
        cmd.arg("-af").arg(filter);
    }
    let output = cmd
        .args(enc.args())
        .arg(out)
        .output()
        .map_err(ffmpeg_missing)?;
    if !output.status.success() {
        let msg = String::from_utf8_lossy(&output.stderr);
        return Err(Error::Invalid(format!(
            "{}: ffmpeg could not encode: {}",
            target.display(),
            msg.lines().next().unwrap_or("no message")
        )));
    }
    Ok(())
}

/// The highest sample of a 16-bit WAV, in dBFS.
fn sample_peak_db(wav: &Path) -> Result<f64> {
    let read_err = |e| Error::Output {
        path: wav.to_owned(),
        source: crate::audio::wav::io_error(e),
    };
    let mut reader = hound::WavReader::open(wav).map_err(read_err)?;
    let mut peak = 0u16;
    for s in reader.samples::<i16>() {
        peak = peak.max(s.map_err(read_err)?.unsigned_abs());
    }
    Ok(crate::audio::master::db(f64::from(peak) / 32768.0))
}

/// The integrated loudness (LUFS) and true peak (dBTP) of a media file as ffmpeg's `ebur128=peak=true` filter
/// reports them in its summary (its per-frame lines go to the verbose log level, which is not shown).
fn ffmpeg_loudness(file: &Path, target: &Path) -> Result<(f64, f64)> {
    let output = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-nostats", "-i"])
        .arg(file)
        .args([
            "-af",
            "ebur128=peak=true:framelog=verbose",
            "-f",
            "null",
            "-",
        ])
        .output()
        .map_err(ffmpeg_missing)?;
    let log = String::from_utf8_lossy(&output.stderr);
    let values = match output.status.success() {
        true => summary_value(&log, "I:").zip(summary_value(&log, "Peak:")),
        false => None,
    };
    values.ok_or_else(|| {
        Error::Invalid(format!(
            "{}: ffmpeg could not measure the loudness of the encoded edition: {}",
            target.display(),
            log.lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no message")
        ))
    })
}

/// A value from the summary ffmpeg's `ebur128` filter logs at the end, e.g. `Peak:` in `    Peak:  -1.3 dBFS`.
fn summary_value(log: &str, key: &str) -> Option<f64> {
    let summary = &log[log.rfind("Summary:")?..];
    let line = summary.lines().find(|l| l.trim_start().starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Checks, before any work, that ffmpeg can run when compressed editions are asked for.
pub(crate) fn check_available(encodings: &[Encoding]) -> Result<()> {
    if encodings.is_empty() {
        return Ok(());
    }
    Command::new("ffmpeg")
        .arg("-version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(ffmpeg_missing)
        .map(|_| ())
}

fn ffmpeg_missing(e: std::io::Error) -> Error {
    Error::BackendUnavailable {
        backend: "ffmpeg".into(),
        reason: match e.kind() {
            std::io::ErrorKind::NotFound => {
                "ffmpeg is not installed; install it with `apt-get install ffmpeg` to make M4B or MP3 editions"
                    .into()
            }
            _ => format!("cannot run ffmpeg: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_ebur128_summary() {
        // A frame line (at the verbose level) before the summary must not be taken for it.
        let log = concat!(
            "[Parsed_ebur128_0 @ 0x5] t: 9.9  M: -15.0 S: -16.0     I: -16.4 LUFS\n",
            "[Parsed_ebur128_0 @ 0x5] Summary:\n\n",
            "  Integrated loudness:\n    I:         -16.1 LUFS\n    Threshold: -26.4 LUFS\n\n",
            "  True peak:\n    Peak:       -0.5 dBFS\n",
        );
        assert_eq!(summary_value(log, "Peak:"), Some(-0.5));
        assert_eq!(summary_value(log, "I:"), Some(-16.1));
        assert_eq!(summary_value("no summary here", "Peak:"), None);
        assert_eq!(
            summary_value("Summary:\n    Peak:  -inf dBFS", "Peak:"),
            Some(f64::NEG_INFINITY)
        );
    }

    #[test]
    fn a_shape_is_an_ffmpeg_filter_only_once_it_limits() {
        assert_eq!(Shape::default().filter(), None);
        let limited = Shape {
            gain_db: 0.0,
            lowered_db: 1.2,
            limit_db: Some(-2.7),
        };
        assert_eq!(
            limited.filter().unwrap(),
            "alimiter=limit=0.732825:attack=2:release=20:level=false:latency=true"
        );
        let made_up = Shape {
            gain_db: 0.4,
            ..limited
        };
        assert!(made_up
            .filter()
            .unwrap()
            .starts_with("volume=0.40dB,alimiter=limit=0.732825:"));
    }
}
