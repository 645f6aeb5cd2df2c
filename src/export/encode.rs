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
            // ffmpeg's constant-quantizer AAC coder, not its default two-loop search: on narrated speech at
            // 64 kb/s it encoded 3.2 times as fast, overshot the true peak by 0.2 dB instead of 3.8 (so a
            // mastered edition needs almost no extra limiting) and kept the waveform 10 dB closer (SNR 30 dB
            // against 20), measured on two minutes of an espeak-ng edition (docs/BENCHMARKS.md).
            Encoding::M4b => &[
                "-c:a",
                "aac",
                "-aac_coder",
                "fast",
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
/// AAC and MP3 overshoot the peaks of what they encode (ffmpeg's AAC encoder at 64 kb/s by 0.2 dB on speech
/// limited at −1.5 dBFS with its fast coder; by up to 3.8 dB with its default one). For a WAV mastered with `preset`, each encoded file's true peak and loudness
/// are measured as ffmpeg measures them (its `ebur128` filter). While the peak is not under the preset's ceiling, the
/// edition is encoded again through ffmpeg's `alimiter` (look-ahead, delay compensated, no auto level) holding
/// the peaks further under the WAV's own by the overshoot plus [`PEAK_MARGIN_DB`]; while limiting leaves it more
/// than [`LOUDNESS_SLACK_LU`] quieter than the plain encode, a gain in front of the limiter makes up the loss.
/// Lowering the whole level costs loudness (the overshoot, in decibels, does not fall with the level), so it is
/// the last resort: only where a lower limit did not move the peak (the encoder overshoots in a bright passage
/// whose samples stand under the limit) is the level lowered by the excess, and then no gain is made up. The
/// same WAV always gives the same passes and the same file. Unmastered editions are encoded once, as they are.
pub(crate) fn encode(
    wav: &Path,
    edition: &Edition,
    encodings: &[Encoding],
    preset: Preset,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    if encodings.is_empty() {
        return Ok(written);
    }
    // The peak scan and the excerpt are made once and serve every encoding.
    let measured = Measured::of(wav, wav.parent().unwrap_or(Path::new(".")), preset)?;
    for &enc in encodings {
        let target = wav.with_extension(enc.extension());
        encode_measured(wav, edition, enc, preset, measured.as_ref(), &target)?;
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
    let measured = Measured::of(wav, target.parent().unwrap_or(Path::new(".")), preset)?;
    encode_measured(wav, edition, enc, preset, measured.as_ref(), target)
}

/// What the fit to a mastered edition's ceiling starts from, measured once per edition.
enum Measured {
    /// A long edition's excerpt (which holds its peak).
    Excerpt(Excerpt),
    /// A short edition's sample peak, in dBFS.
    Peak(f64),
}

impl Measured {
    /// `None` for an edition whose preset has no ceiling (it is encoded once, as it is).
    fn of(wav: &Path, dir: &Path, preset: Preset) -> Result<Option<Measured>> {
        if preset.ceiling_db().is_none() {
            return Ok(None);
        }
        Ok(Some(match Excerpt::of(wav, dir)? {
            Some(excerpt) => Measured::Excerpt(excerpt),
            None => Measured::Peak(sample_peak_db(wav)?),
        }))
    }
}

/// [`encode_into`] with the edition already measured.
fn encode_measured(
    wav: &Path,
    edition: &Edition,
    enc: Encoding,
    preset: Preset,
    measured: Option<&Measured>,
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
    let inputs = Inputs {
        metadata: Some(metadata.path()),
        cover,
    };
    let partial = crate::atomic::temp_beside(target).map_err(out_err(dir))?;
    match (preset.ceiling_db(), measured) {
        (Some(ceiling), Some(measured)) => {
            let fit = Fit {
                enc,
                ceiling,
                preset,
                target,
            };
            match measured {
                // A long edition is fitted to the ceiling on an excerpt first (its loudest moments and an even
                // sample of the rest), so the whole book is usually encoded once, not once per pass.
                Measured::Excerpt(excerpt) => {
                    let trial = crate::atomic::temp_beside(target).map_err(out_err(dir))?;
                    let no_tags = Inputs {
                        metadata: None,
                        cover: None,
                    };
                    let start = fit.passes(
                        &excerpt.wav,
                        no_tags,
                        excerpt.peak_db,
                        Shape::default(),
                        Makeup::Yes,
                        trial.path(),
                    )?;
                    // The gain that makes up what limiting costs was found on the excerpt; the whole book is
                    // encoded again only if its peaks still cross the ceiling.
                    fit.passes(
                        wav,
                        inputs,
                        excerpt.peak_db,
                        start,
                        Makeup::No,
                        partial.path(),
                    )?;
                }
                &Measured::Peak(peak) => {
                    fit.passes(
                        wav,
                        inputs,
                        peak,
                        Shape::default(),
                        Makeup::Yes,
                        partial.path(),
                    )?;
                }
            }
        }
        _ => run_encoder(wav, inputs, enc, &Shape::default(), partial.path(), target)?,
    }
    partial.persist(target).map_err(|e| Error::Output {
        path: target.to_owned(),
        source: e.error,
    })?;
    Ok(())
}

/// What ffmpeg is given beside the audio.
#[derive(Clone, Copy)]
struct Inputs<'a> {
    /// The chapters and tags (ffmetadata).
    metadata: Option<&'a Path>,
    /// The cover picture.
    cover: Option<&'a Path>,
}

/// Fitting one encoding of a mastered edition under its preset's ceiling.
#[derive(Clone, Copy)]
struct Fit<'a> {
    enc: Encoding,
    ceiling: f64,
    preset: Preset,
    /// The edition's file, named in messages.
    target: &'a Path,
}

impl Fit<'_> {
    /// Encodes `wav` into `out` starting from `shape`, and again with the peaks limited further while the true
    /// peak is over the ceiling; with [`Makeup::Yes`], also with gain made up while limiting leaves it more than
    /// [`LOUDNESS_SLACK_LU`] quieter than the plain encode (the first pass, when `shape` does nothing).
    /// `peak_db` is the WAV's sample peak. Returns the shape of the last pass.
    fn passes(
        &self,
        wav: &Path,
        inputs: Inputs,
        peak_db: f64,
        mut shape: Shape,
        makeup: Makeup,
        out: &Path,
    ) -> Result<Shape> {
        let (enc, ceiling, target) = (self.enc, self.ceiling, self.target);
        let mut reference = None;
        let mut last_peak = f64::INFINITY;
        // Whether the level in front of the limiter was lowered: then no gain is made up.
        let mut by_level = false;
        for pass in 1.. {
            run_encoder(wav, inputs, enc, &shape, out, target)?;
            let (loudness, peak) = ffmpeg_loudness(out, target)?;
            let reference = *reference.get_or_insert(loudness);
            // Strictly under: ffmpeg rounds to 0.1 dB, so −1.0 may be a little over −1.
            let under = peak.is_nan() || peak < ceiling;
            let quiet =
                makeup == Makeup::Yes && !by_level && loudness < reference - LOUDNESS_SLACK_LU;
            if under && (!quiet || pass == MAX_PASSES) {
                break;
            }
            if !under {
                if pass == MAX_PASSES {
                    return Err(Error::Invalid(format!(
                        "{}: the {} encoder keeps the true peak at {peak:.1} dBTP, over the ceiling of \
                         {ceiling:.1} dBTP of `--master {}`, even with the peaks limited {:.1} dB lower \
                         and the level {:.1} dB lower; make the edition without --format and encode it yourself",
                        target.display(),
                        enc.extension(),
                        format!("{:?}", self.preset).to_lowercase(),
                        shape.lowered_db,
                        -shape.gain_db.min(0.0),
                    )));
                }
                let lowered = shape.lowered_db + peak - ceiling + PEAK_MARGIN_DB;
                // A limit lowered without moving the peak does not reach where the encoder overshoots (a
                // bright passage whose samples stand under the limit, its peaks between them): the level in
                // front of the limiter comes down by the excess instead.
                let stuck = shape.limit_db.is_some() && peak > last_peak - 0.05;
                if stuck || peak_db - lowered < MIN_LIMIT_DB {
                    shape.gain_db -= peak - ceiling + PEAK_MARGIN_DB;
                    by_level = true;
                } else {
                    shape.lowered_db = lowered;
                    shape.limit_db = Some(peak_db - lowered);
                }
            } else if quiet {
                shape.gain_db += reference - loudness;
            }
            last_peak = peak;
        }
        Ok(shape)
    }
}

/// Whether a fit makes up the loudness its limiting costs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Makeup {
    Yes,
    No,
}

/// Editions at least this long are fitted on an excerpt first.
const EXCERPT_FROM_SECONDS: u64 = 180;
/// The excerpt: this many one-second windows around the loudest peaks…
const EXCERPT_PEAKS: usize = 20;
/// …and this many one-second blocks spread evenly over the edition.
const EXCERPT_SPREAD: usize = 40;

/// A short WAV standing in for a long edition while the encoder's overshoot is measured: one-second windows
/// centred on the edition's highest peaks and spread evenly through it, each faded in and out over 10 ms and
/// followed by 50 ms of silence, so no join makes a step the encoder would overshoot on.
struct Excerpt {
    wav: tempfile::TempPath,
    /// The edition's sample peak (the excerpt holds it), in dBFS.
    peak_db: f64,
}

impl Excerpt {
    /// The excerpt of the edition at `wav`, written in `dir`; `None` for an edition too short to need one.
    fn of(wav: &Path, dir: &Path) -> Result<Option<Excerpt>> {
        let read_err = |e| Error::Output {
            path: wav.to_owned(),
            source: crate::audio::wav::io_error(e),
        };
        let mut reader = hound::WavReader::open(wav).map_err(read_err)?;
        let spec = reader.spec();
        let rate = u64::from(spec.sample_rate);
        let total = u64::from(reader.duration());
        if spec.channels != 1 || total < EXCERPT_FROM_SECONDS * rate {
            return Ok(None);
        }
        // Each second's highest sample and where it is.
        let mut blocks: Vec<(u16, u64)> = Vec::with_capacity((total / rate + 1) as usize);
        for (n, s) in reader.samples::<i16>().enumerate() {
            let (n, a) = (n as u64, s.map_err(read_err)?.unsigned_abs());
            if n % rate == 0 {
                blocks.push((a, n));
            } else if let Some(b) = blocks.last_mut().filter(|b| a > b.0) {
                *b = (a, n);
            }
        }
        let peak = blocks.iter().map(|b| b.0).max().unwrap_or(0);
        let mut loudest: Vec<usize> = (0..blocks.len()).collect();
        loudest.sort_by_key(|&i| (std::cmp::Reverse(blocks[i].0), i));
        let half = rate / 2;
        let mut windows: Vec<u64> = loudest
            .iter()
            .take(EXCERPT_PEAKS)
            .map(|&i| blocks[i].1.saturating_sub(half).min(total - rate))
            .chain((0..EXCERPT_SPREAD as u64).map(|k| k * (total - rate) / EXCERPT_SPREAD as u64))
            .collect();
        windows.sort_unstable();
        windows.dedup();

        let out = tempfile::Builder::new()
            .prefix(".narrate-excerpt.")
            .suffix(".wav")
            .tempfile_in(dir)
            .map_err(|e| Error::Output {
                path: dir.to_owned(),
                source: e,
            })?;
        let write_err = |e| Error::Output {
            path: out.path().to_owned(),
            source: crate::audio::wav::io_error(e),
        };
        let mut reader = hound::WavReader::open(wav).map_err(read_err)?;
        let mut writer = hound::WavWriter::new(
            std::io::BufWriter::new(out.as_file()),
            crate::audio::wav::spec(spec.sample_rate),
        )
        .map_err(write_err)?;
        let fade = (rate / 100).max(1);
        let gap = rate / 20;
        for &start in &windows {
            reader.seek(start as u32).map_err(|e| Error::Output {
                path: wav.to_owned(),
                source: e,
            })?;
            let mut samples = reader.samples::<i16>();
            for k in 0..rate {
                let s = samples.next().transpose().map_err(read_err)?.unwrap_or(0);
                let edge = k.min(rate - 1 - k);
                let s = if edge < fade {
                    (f64::from(s) * edge as f64 / fade as f64).round() as i16
                } else {
                    s
                };
                writer.write_sample(s).map_err(write_err)?;
            }
            for _ in 0..gap {
                writer.write_sample(0i16).map_err(write_err)?;
            }
        }
        writer.finalize().map_err(write_err)?;
        Ok(Some(Excerpt {
            wav: out.into_temp_path(),
            peak_db: crate::audio::master::db(f64::from(peak) / 32768.0),
        }))
    }
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
        let mut steps = Vec::new();
        if self.gain_db != 0.0 {
            steps.push(format!("volume={:.2}dB", self.gain_db));
        }
        if let Some(limit) = self.limit_db {
            steps.push(format!(
                "alimiter=limit={:.6}:attack=2:release=20:level=false:latency=true",
                10f64.powf(limit / 20.0)
            ));
        }
        (!steps.is_empty()).then(|| steps.join(","))
    }
}

/// Runs ffmpeg once: `wav` through `shape` with the chapters and tags of `inputs.metadata` (and its cover as an
/// attached picture), encoded as `enc` into `out`. `target` names the edition in messages.
fn run_encoder(
    wav: &Path,
    inputs: Inputs,
    enc: Encoding,
    shape: &Shape,
    out: &Path,
    target: &Path,
) -> Result<()> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-loglevel", "error", "-y", "-i"])
        .arg(wav);
    // Inputs first (the WAV is 0, then the metadata and the cover), then what the output takes from each.
    for file in [inputs.metadata, inputs.cover].into_iter().flatten() {
        cmd.arg("-i").arg(file);
    }
    cmd.args(["-map", "0:a"]);
    if inputs.metadata.is_some() {
        cmd.args(["-map_metadata", "1", "-map_chapters", "1"]);
    }
    if inputs.cover.is_some() {
        let cover = if inputs.metadata.is_some() {
            "2:v"
        } else {
            "1:v"
        };
        cmd.args([
            "-map",
            cover,
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
