//! QA of a finished edition: reads the WAV back (one streaming pass, memory independent of its length) against
//! its manifest and names what a listener would notice — silent, cut, runaway or clipped segments, dropouts and
//! gaps inside the speech, clicks anywhere, missing or misplaced chapter markers, loudness off the preset, a
//! file cut short — each with the one remedy that fixes it: `narrate regen` for a fault of one segment, the
//! `--master` preset for level across the edition, a rebuild for a damaged file. docs/CHECK.md lists them.

mod clicks;
mod listen;
mod pauses;

pub(crate) use pauses::longest_inside;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::audio::master::{db, Level, Preset};
use crate::error::{Error, Result};
use crate::manifest::{Manifest, ManifestSegment};
use crate::synth::{registry, BackendConfig};

/// What fixes a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Action {
    /// Synthesize the segment again (`narrate regen`).
    Regen,
    /// Build again with a `--master` preset (level across the edition).
    Master,
    /// Build the edition again (the file is damaged or does not match its manifest).
    Rebuild,
    /// Edit the text or the lexicon, or build with another voice: a pause of a voice whose takes all read the
    /// text the same way (espeak-ng, tone) does not go away with a new take.
    Edit,
}

/// A finding's fix: what to do and the exact command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Remedy {
    pub action: Action,
    pub command: String,
}

/// One problem found.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Finding {
    pub kind: &'static str,
    /// The segment to blame, when one is.
    pub segment: Option<String>,
    pub chapter: Option<usize>,
    /// Where it is in the edition.
    pub start_seconds: f64,
    pub end_seconds: f64,
    /// What was measured, against what threshold, in what unit.
    pub value: f64,
    pub threshold: f64,
    pub unit: &'static str,
    pub message: String,
    pub remedy: Remedy,
}

/// Per-chapter loudness.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChapterLevel {
    pub title: String,
    pub integrated_lufs: f64,
    pub true_peak_dbtp: f64,
}

/// The pauses the voice itself makes in this edition, and the silences that count as gaps.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Pauses {
    /// The median over segments of the longest silence their punctuation does not explain (between words).
    pub natural_word_seconds: f64,
    /// The median over segments with inner punctuation of their longest silence (at a comma, colon…).
    pub natural_clause_seconds: f64,
    pub word_gap_threshold_seconds: f64,
    pub clause_gap_threshold_seconds: f64,
    /// The median fraction of a segment's span that is speech.
    pub median_coverage: f64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub wav: PathBuf,
    pub manifest: PathBuf,
    pub source: String,
    pub passed: bool,
    pub findings: Vec<Finding>,
    pub chapters: Vec<ChapterLevel>,
    pub pauses: Option<Pauses>,
    /// Present when the edition was listened to.
    pub listened: Option<Listened>,
    /// Segments to redo, in order, without repeats.
    pub regenerate: Vec<String>,
    /// Every distinct fix, in the order of the findings (one `regen` for all the segments to redo).
    pub remedies: Vec<Remedy>,
}

/// Shortest chapter a player should show.
const MIN_CHAPTER_SECONDS: f64 = 0.5;
/// Segments quieter than this (RMS, dBFS) are silent.
const SILENT_DB: f64 = -50.0;
/// No silence inside speech shorter than this is a gap, however short the voice's own pauses.
const MIN_GAP_SECONDS: f64 = 0.4;
/// A silence is a gap past this many times the voice's own longest pause of its kind.
const GAP_FACTOR: f64 = 3.0;
/// A segment whose speech covers less than this fraction of the edition's median coverage has lost speech.
const COVERAGE_FACTOR: f64 = 0.7;
/// Clipping in at least this fraction of the segments (and in 3 or more) is the edition's level, not theirs.
const EDITION_CLIPPING: f64 = 0.25;
/// An edition not mastered whose median chapter loudness (LUFS) is outside this range needs mastering.
const LOUDNESS_RANGE: (f64, f64) = (-35.0, -12.0);
/// The preset offered when the edition was not mastered.
const DEFAULT_PRESET: Preset = Preset::Podcast;

/// What one segment's samples showed.
#[derive(Debug, Default)]
struct SegmentStats {
    /// The sum of the squares of its samples, in 16-bit units (exact).
    squares: u64,
    count: u64,
    clipped_runs: u32,
    first_clip: Option<u64>,
    run: u32,
    clicks: Option<clicks::SegmentClicks>,
    shape: pauses::Shape,
}

/// A sample at least this far from 0 is at full scale.
const FULL_SCALE: u16 = 32_700;

impl SegmentStats {
    /// Takes samples of the segment, the first of them number `first`: their energy, and whether they clip
    /// (3 samples in a row at full scale).
    fn push_all(&mut self, first: u64, samples: &[i16]) {
        self.squares += crate::audio::sum_squares(samples);
        self.count += samples.len() as u64;
        // Most stretches have no sample at full scale: found without a branch per sample.
        let loudest = samples.iter().fold(0u16, |m, s| m.max(s.unsigned_abs()));
        if loudest < FULL_SCALE {
            self.run = 0;
            return;
        }
        for (n, s) in (first..).zip(samples) {
            if s.unsigned_abs() >= FULL_SCALE {
                self.run += 1;
                if self.run == 3 {
                    self.clipped_runs += 1;
                    self.first_clip.get_or_insert(n);
                }
            } else {
                self.run = 0;
            }
        }
    }

    /// The segment's RMS, in dBFS.
    fn level_db(&self) -> f64 {
        db((self.squares as f64 / (32768.0 * 32768.0) / self.count.max(1) as f64).sqrt())
    }
}

/// The commands that fix an edition, as the user would type them.
struct Fixes {
    source: String,
    /// `-o DIR` and `--name NAME` when the edition is not where `build` puts it by default.
    place: String,
    /// `--backend B --voice V`, so a rebuild uses the same voice whatever narrate.toml says now.
    voice: String,
    preset: Preset,
    /// The edition's backend, and whether its takes are other readings (`Backend::takes_differ`; an unknown
    /// backend is given the benefit of the doubt).
    backend: String,
    takes_differ: bool,
}

impl Fixes {
    fn new(m: &Manifest, wav: &Path) -> Fixes {
        let dir = wav
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let stem = wav.file_stem().unwrap_or_default().to_string_lossy();
        let source_stem = Path::new(&m.source)
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy();
        let mut place = format!(" -o {}", quote(&dir.display().to_string()));
        if stem != source_stem {
            place.push_str(&format!(" --name {}", quote(&stem)));
        }
        Fixes {
            source: quote(&m.source),
            place,
            voice: format!(
                " --backend {} --voice {}",
                quote(&m.backend),
                quote(&m.voice)
            ),
            preset: m.loudness.as_ref().map_or(Preset::None, |l| l.preset),
            backend: m.backend.clone(),
            takes_differ: registry::create(&m.backend, &BackendConfig::default())
                .map_or(true, |b| b.takes_differ()),
        }
    }

    /// The fix for a pause or lost speech inside segment `id`, at line `line`: a new take where the voice's takes
    /// differ; else an edit of the text or the lexicon, or another voice (the first installed whose takes
    /// differ).
    fn pause(&self, id: &str, line: usize) -> Remedy {
        if self.takes_differ {
            return self.regen(&[id]);
        }
        let other = registry::PREFERRED.iter().find(|&&name| {
            name != self.backend
                && registry::create(name, &BackendConfig::default())
                    .is_ok_and(|b| b.takes_differ() && b.installed())
        });
        let build = format!("narrate build {}{}", self.source, self.place);
        Remedy {
            action: Action::Edit,
            command: match other {
                Some(name) => format!(
                    "edit line {line} of {} (a comma where the pause belongs, other words) or add a lexicon \
                     entry, then {build}; or use another voice: {build} --backend {name}",
                    self.source
                ),
                None => format!(
                    "edit line {line} of {} (a comma where the pause belongs, other words) or add a lexicon \
                     entry, then {build}",
                    self.source
                ),
            },
        }
    }

    fn regen(&self, ids: &[&str]) -> Remedy {
        Remedy {
            action: Action::Regen,
            command: format!(
                "narrate regen {} {}{}",
                self.source,
                ids.join(" "),
                self.place
            ),
        }
    }

    fn master(&self) -> Remedy {
        let preset = match self.preset {
            Preset::None => DEFAULT_PRESET,
            p => p,
        };
        Remedy {
            action: Action::Master,
            command: format!(
                "narrate build {}{}{} --master {}",
                self.source,
                self.place,
                self.voice,
                preset.name()
            ),
        }
    }

    fn rebuild(&self) -> Remedy {
        let master = match self.preset {
            Preset::None => String::new(),
            p => format!(" --master {}", p.name()),
        };
        Remedy {
            action: Action::Rebuild,
            command: format!(
                "narrate build {}{}{}{master}",
                self.source, self.place, self.voice
            ),
        }
    }
}

/// A word for a shell: quoted when it holds anything but plain path characters.
fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_alphanumeric() || "-_./,:=+@%".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Seconds at millisecond precision.
fn secs(samples: u64, rate: u32) -> f64 {
    (samples as f64 / f64::from(rate.max(1)) * 1000.0).round() / 1000.0
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The manifest and WAV an argument names: a WAV's manifest is beside it (`x.wav` → `x.json`); a manifest
/// names its WAV.
fn locate(input: &Path) -> Result<(Manifest, PathBuf, PathBuf)> {
    let given_manifest = input.extension().is_some_and(|e| e == "json");
    let manifest_path = if given_manifest {
        input.to_owned()
    } else {
        input.with_extension("json")
    };
    let manifest = Manifest::load(&manifest_path)?.ok_or_else(|| Error::Manifest {
        path: manifest_path.clone(),
        reason: "no such file; give the edition's .wav or its .json".into(),
    })?;
    let wav = if given_manifest {
        input.with_file_name(&manifest.audio)
    } else {
        input.to_owned()
    };
    Ok((manifest, manifest_path, wav))
}

/// What to check beyond the signal.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options {
    /// Transcribe every segment and compare the words with its text (`--listen`).
    pub listen: bool,
}

/// How the edition's segments were heard (`--listen`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Listened {
    pub segments: usize,
    /// The median word error rate over segments of 3 or more words.
    pub median_wer: f64,
    /// A segment's word error rate must reach this to be named…
    pub threshold: f64,
    /// …and its forced alignment fail, or fit its own words worse than this (acoustic score per frame).
    pub median_fit: Option<f64>,
    pub fit_threshold: Option<f64>,
    /// Whether segments were judged (always, since the forced alignment; kept for readers of the report).
    pub judged: bool,
    /// Every segment's word error rate and fit, in order.
    pub heard: Vec<SegmentHeard>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct SegmentHeard {
    pub segment: String,
    /// Words of its text the recognizer knows.
    pub words: usize,
    pub wer: f64,
    /// The forced alignment's acoustic score per 10 ms frame; null when the words cannot be aligned.
    pub fit: Option<f64>,
}

/// A segment's word error rate must reach this…
const WER_FLOOR: f64 = 0.6;
/// …and be this far above the edition's median to be named…
const WER_MARGIN: f64 = 0.25;
/// …and its text have this many words the recognizer knows (shorter ones give a noisy rate).
const WER_MIN_WORDS: usize = 5;
/// The forced alignment must also fail, or fit this many median absolute deviations below the edition's
/// median fit…
const FIT_MADS: f64 = 4.0;
/// …and at least this far below it (acoustic score per frame).
const FIT_FLOOR: f64 = 12.0;

/// Checks an edition, listening to it when asked.
pub(crate) fn check_with(input: &Path, options: Options) -> Result<Report> {
    check_as(input, None, options)
}

/// Checks the edition at `input` as if it were at `shown` (a WAV path): the report and the remedies name
/// `shown`. The build checks its staged edition this way while the compressed editions are encoded.
pub(crate) fn check_as(input: &Path, shown: Option<&Path>, options: Options) -> Result<Report> {
    let (manifest, mut manifest_path, wav) = locate(input)?;
    let reader = open_wav(&wav)?;
    let shown_wav = shown.unwrap_or(&wav).to_owned();
    if let Some(shown) = shown {
        manifest_path = shown.with_extension("json");
    }
    let cx = Context {
        manifest: &manifest,
        wav: &wav,
        rate: reader.spec().sample_rate,
        fixes: Fixes::new(&manifest, &shown_wav),
    };
    let mut findings: Vec<Finding> = length_finding(&cx, u64::from(reader.duration()))
        .into_iter()
        .collect();
    let measured = measure(reader, &wav, &manifest, cx.rate)?;
    if let Some(reason) = &measured.cut {
        findings.push(cut_finding(&cx, &measured, reason));
    }
    let pauses = segment_findings(&cx, &measured.stats[..measured.whole], &mut findings);
    let listened = if options.listen {
        Some(listen_findings(&cx, measured.whole, &mut findings)?)
    } else {
        None
    };
    stray_click_findings(&cx, &measured, &mut findings);
    if measured.cut.is_none() {
        chapter_findings(&cx, &mut findings);
    }
    level_findings(&cx, &measured.chapters, &mut findings);
    let (regenerate, remedies) = remedies(&findings, &cx.fixes);
    Ok(Report {
        manifest: manifest_path,
        source: manifest.source,
        passed: findings.is_empty(),
        findings,
        chapters: measured.chapters,
        pauses,
        listened,
        regenerate,
        remedies,
        wav: shown_wav,
    })
}

/// What every judgement of an edition reads: its manifest, its WAV, the rate the WAV was read at, and the
/// commands that fix it.
struct Context<'a> {
    manifest: &'a Manifest,
    wav: &'a Path,
    rate: u32,
    fixes: Fixes,
}

/// The edition's WAV, opened, when it holds what narrate writes (16-bit mono).
fn open_wav(wav: &Path) -> Result<hound::WavReader<std::io::BufReader<std::fs::File>>> {
    let unreadable = |reason: String| Error::ReadAudio {
        path: wav.to_owned(),
        reason,
    };
    let reader = hound::WavReader::open(wav).map_err(|e| unreadable(e.to_string()))?;
    let spec = reader.spec();
    if spec.channels != 1
        || spec.bits_per_sample != 16
        || spec.sample_format != hound::SampleFormat::Int
    {
        return Err(unreadable(format!(
            "{} channel(s) of {}-bit samples, where narrate writes 16-bit mono",
            spec.channels, spec.bits_per_sample
        )));
    }
    Ok(reader)
}

/// A WAV whose header does not hold the rate and length the manifest expects.
fn length_finding(cx: &Context, header_samples: u64) -> Option<Finding> {
    let (manifest, rate) = (cx.manifest, cx.rate);
    if rate == manifest.sample_rate && header_samples == manifest.total_samples {
        return None;
    }
    Some(Finding {
        kind: "length",
        segment: None,
        chapter: None,
        start_seconds: 0.0,
        end_seconds: secs(header_samples, rate),
        value: secs(header_samples, rate),
        threshold: secs(manifest.total_samples, manifest.sample_rate),
        unit: "s",
        message: format!(
            "the WAV holds {header_samples} samples at {rate} Hz; the manifest expects {} at {} Hz",
            manifest.total_samples, manifest.sample_rate
        ),
        remedy: cx.fixes.rebuild(),
    })
}

/// What the one pass over the samples measured.
#[derive(Debug)]
struct Measured {
    /// Per segment of the manifest, in order.
    stats: Vec<SegmentStats>,
    /// Per chapter reached.
    chapters: Vec<ChapterLevel>,
    /// Clicks outside every segment: the first few, and how many there are.
    stray: Vec<clicks::Click>,
    stray_count: u32,
    /// Samples read.
    read: u64,
    /// Why the samples stopped before the header's end, if they did.
    cut: Option<String>,
    /// Segments read to their end, which are judged; the one the file stops in, and those after, are the cut's.
    whole: usize,
}

/// One pass over the samples: per-segment statistics and shapes, clicks, per-chapter loudness. Stops at the
/// first sample that cannot be read. An edition of a minute or more whose chapters meet in silence is read in
/// two halves at once, one per core, split in the silence before a chapter near its middle (see [`Split`]);
/// what they measure is what one pass measures, and where the silence is not there the one pass is made.
fn measure(
    reader: hound::WavReader<std::io::BufReader<std::fs::File>>,
    wav: &Path,
    manifest: &Manifest,
    rate: u32,
) -> Result<Measured> {
    let total = u64::from(reader.len());
    if let Some(split) = Split::of(manifest, rate, total) {
        if let Some(measured) = measure_halves(reader, wav, manifest, rate, total, &split)? {
            return Ok(measured);
        }
        let reader = open_wav(wav)?;
        let pass = Pass::new(manifest, rate)?;
        return Ok(read_part(reader.into_inner(), 0, total, pass)?.judge(manifest));
    }
    let pass = Pass::new(manifest, rate)?;
    Ok(read_part(reader.into_inner(), 0, total, pass)?.judge(manifest))
}

/// Where an edition is read in two halves: chapter `chapter` starts the second half with segment `segment`
/// at sample `start`. The click detector's half ends and starts at `detect_from`, inside the pause before it;
/// the first half checks that the samples from `quiet_from` to `start` are silent, which makes the detector's
/// state at `detect_from` the one a pass from the start would have there (a window of residuals of silence)
/// and keeps its candidates apart. Loudness, per chapter, and segment statistics split at `start`.
struct Split {
    chapter: usize,
    segment: usize,
    start: u64,
    detect_from: u64,
    quiet_from: u64,
}

impl Split {
    /// The chapter start nearest the middle that follows enough silence, for an edition long enough to gain.
    fn of(manifest: &Manifest, rate: u32, total: u64) -> Option<Split> {
        let segs = &manifest.segments;
        let ordered = segs
            .windows(2)
            .all(|w| w[0].end_sample <= w[1].start_sample)
            && segs.iter().all(|s| s.start_sample <= s.end_sample)
            && manifest
                .chapters
                .windows(2)
                .all(|w| w[0].start_sample < w[1].start_sample);
        if total < 60 * u64::from(rate) || !ordered {
            return None;
        }
        let lead = clicks::silence_before_split(rate);
        manifest
            .chapters
            .iter()
            .enumerate()
            .skip(1)
            .filter_map(|(chapter, c)| {
                let segment = segs.partition_point(|s| s.start_sample < c.start_sample);
                let start = segs.get(segment)?.start_sample;
                let before = segs.get(segment.checked_sub(1)?)?.end_sample;
                (start == c.start_sample && start >= before + 2 * lead && start < total).then_some(
                    Split {
                        chapter,
                        segment,
                        start,
                        detect_from: start - lead,
                        quiet_from: start - 2 * lead,
                    },
                )
            })
            .min_by_key(|s| s.start.abs_diff(total / 2))
    }
}

/// The two halves of the pass, each on a thread; `None` when they cannot stand for one pass (the pause is not
/// silent, or the file stops short), for the caller to make the one pass.
fn measure_halves(
    reader: hound::WavReader<std::io::BufReader<std::fs::File>>,
    wav: &Path,
    manifest: &Manifest,
    rate: u32,
    total: u64,
    split: &Split,
) -> Result<Option<Measured>> {
    let mut second = open_wav(wav)?;
    let Ok(at) = u32::try_from(split.detect_from) else {
        return Ok(None);
    };
    if second.seek(at).is_err() {
        return Ok(None);
    }
    let mut first_pass = Pass::new(manifest, rate)?;
    first_pass.detect_until = split.detect_from;
    first_pass.quiet_from = split.quiet_from;
    let mut second_pass = Pass::new(manifest, rate)?;
    second_pass.chapter = split.chapter;
    second_pass.seg = split.segment;
    second_pass.measure_from = split.start;
    second_pass.detector = clicks::Clicks::starting_at(
        rate,
        second_pass.detector.spans().to_vec(),
        split.detect_from,
    );
    let (first, later) = std::thread::scope(|s| {
        let first = s.spawn(|| read_part(reader.into_inner(), 0, split.start, first_pass));
        let later = read_part(second.into_inner(), split.detect_from, total, second_pass);
        (first.join(), later)
    });
    let first = first.unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
    let later = later?;
    if first.cut.is_some() || later.cut.is_some() || first.loud_in_pause {
        return Ok(None);
    }
    Ok(Some(first.then(later, split.segment).judge(manifest)))
}

/// Reads samples `from..to` of the data chunk from `data` (which stands at sample `from`) into `pass`, 64 kB
/// at a time, decoded here (hound's sample-by-sample iterator was a fifth of the check), stopping where
/// hound's would, with its message.
fn read_part<R: std::io::Read>(mut data: R, from: u64, to: u64, mut pass: Pass) -> Result<Part> {
    let mut read = from;
    let mut cut: Option<String> = None;
    let mut buf = vec![0u8; 1 << 16];
    let mut samples: Vec<i16> = Vec::with_capacity(buf.len() / 2);
    // Bytes at the start of `buf` left from the last read (half a sample).
    let mut kept = 0;
    while read < to {
        let want = ((to - read) * 2).min(buf.len() as u64) as usize;
        match data.read(&mut buf[kept..want]) {
            Ok(0) => {
                cut = Some("Failed to read enough bytes.".into());
                break;
            }
            Ok(n) => {
                let end = kept + n;
                let whole = end - end % 2;
                samples.clear();
                samples.extend(
                    buf[..whole]
                        .chunks_exact(2)
                        .map(|b| i16::from_le_bytes([b[0], b[1]])),
                );
                pass.push_all(read, &samples)?;
                read += samples.len() as u64;
                kept = end - whole;
                buf.copy_within(whole..end, 0);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                cut = Some(e.to_string());
                break;
            }
        }
    }
    Ok(pass.finish(read, cut))
}

/// The state of the pass: where it is in the segments and chapters, and what it has measured so far.
struct Pass<'a> {
    manifest: &'a Manifest,
    rate: u32,
    stats: Vec<SegmentStats>,
    chapters: Vec<ChapterLevel>,
    /// The loudness of the chapter being read.
    level: Level,
    frames: pauses::Frames,
    detector: clicks::Clicks,
    seg: usize,
    chapter: usize,
    /// Whether `frames` is inside segment `seg`.
    in_segment: bool,
    /// Samples from this one on go to the detector only when they are before `detect_until`, and to the rest
    /// only from `measure_from` (a half of a pass); from `quiet_from` on, a sample that is not 0 is noted.
    detect_until: u64,
    measure_from: u64,
    quiet_from: u64,
    loud_in_pause: bool,
}

/// What a pass, or a half of one, measured before its clicks are judged.
struct Part {
    stats: Vec<SegmentStats>,
    chapters: Vec<ChapterLevel>,
    detector: clicks::Clicks,
    read: u64,
    cut: Option<String>,
    loud_in_pause: bool,
}

impl Part {
    /// The first half followed by `later`, the second, which starts with segment `segment`.
    fn then(self, later: Part, segment: usize) -> Part {
        let mut stats = self.stats;
        stats.truncate(segment);
        stats.extend(later.stats.into_iter().skip(segment));
        let mut chapters = self.chapters;
        chapters.extend(later.chapters);
        Part {
            stats,
            chapters,
            detector: self.detector.then(later.detector),
            read: later.read,
            cut: later.cut,
            loud_in_pause: self.loud_in_pause || later.loud_in_pause,
        }
    }

    /// The clicks judged against the whole edition's thresholds, each segment given its own.
    fn judge(self, manifest: &Manifest) -> Measured {
        let Part {
            mut stats,
            chapters,
            detector,
            read,
            cut,
            loud_in_pause: _,
        } = self;
        let clicks::Verdict {
            segments: segment_clicks,
            stray,
            stray_count,
        } = detector.verdict();
        for (st, c) in stats.iter_mut().zip(segment_clicks) {
            st.clicks = c;
        }
        Measured {
            stats,
            chapters,
            stray,
            stray_count,
            read,
            cut,
            whole: manifest.segments.partition_point(|s| s.end_sample <= read),
        }
    }
}

impl<'a> Pass<'a> {
    fn new(manifest: &'a Manifest, rate: u32) -> Result<Pass<'a>> {
        let segs = &manifest.segments;
        Ok(Pass {
            manifest,
            rate,
            stats: segs.iter().map(|_| SegmentStats::default()).collect(),
            chapters: Vec::with_capacity(manifest.chapters.len()),
            level: Level::new(rate)?,
            frames: pauses::Frames::new(rate),
            detector: clicks::Clicks::new(
                rate,
                segs.iter()
                    .map(|s| (s.start_sample, s.end_sample))
                    .collect(),
            ),
            seg: 0,
            chapter: 0,
            in_segment: false,
            detect_until: u64::MAX,
            measure_from: 0,
            quiet_from: u64::MAX,
            loud_in_pause: false,
        })
    }

    /// Takes the samples from number `first` on: the click detector those of them it is to measure, in one go,
    /// then every other measure run by run (a run ends where a chapter or a segment starts or ends, or where
    /// the half's bounds are), each run in one go.
    fn push_all(&mut self, first: u64, samples: &[i16]) -> Result<()> {
        let detected = self
            .detect_until
            .saturating_sub(first)
            .min(samples.len() as u64);
        self.detector.push_all(&samples[..detected as usize]);
        let end = first + samples.len() as u64;
        let mut n = first;
        while n < end {
            let until = self.enter(n)?.min(end);
            self.push_run(n, &samples[(n - first) as usize..(until - first) as usize]);
            n = until;
        }
        Ok(())
    }

    /// Moves the pass to sample number `n`: the chapters and segments that end before it are closed, the one
    /// it starts is begun. Returns where the run that `n` starts ends: the next sample where that happens
    /// again, or where a bound of the half is.
    fn enter(&mut self, n: u64) -> Result<u64> {
        let mut until = u64::MAX;
        if n < self.quiet_from {
            until = self.quiet_from;
        }
        if n < self.measure_from {
            return Ok(until.min(self.measure_from));
        }
        let manifest = self.manifest;
        let chapters = &manifest.chapters;
        while self.chapter + 1 < chapters.len() && n >= chapters[self.chapter + 1].start_sample {
            let done = std::mem::replace(&mut self.level, Level::new(self.rate)?);
            self.chapters
                .push(chapter_level(&chapters[self.chapter].title, done));
            self.chapter += 1;
        }
        if let Some(next) = chapters.get(self.chapter + 1) {
            until = until.min(next.start_sample);
        }
        let segs = &manifest.segments;
        while self.seg < segs.len() && n >= segs[self.seg].end_sample {
            if self.in_segment {
                self.stats[self.seg].shape = self.frames.finish();
                self.in_segment = false;
            }
            self.seg += 1;
        }
        if let Some(s) = segs.get(self.seg) {
            if n >= s.start_sample {
                if !self.in_segment {
                    self.frames.begin(n);
                    self.in_segment = true;
                }
                until = until.min(s.end_sample);
            } else {
                until = until.min(s.start_sample);
            }
        }
        Ok(until)
    }

    /// Takes `run`, samples from number `n` on that [`Pass::enter`] found in one chapter and one segment (or
    /// one pause), for every measure but the click detector.
    fn push_run(&mut self, n: u64, run: &[i16]) {
        if n >= self.quiet_from && run.iter().any(|&s| s != 0) {
            self.loud_in_pause = true;
        }
        if n < self.measure_from {
            return;
        }
        self.level.push_all(run);
        if self.in_segment {
            self.frames.push_all(run);
            self.stats[self.seg].push_all(n, run);
        }
    }

    /// Ends the pass after `read` samples (`cut` says why it stopped early): the segment read to its end gets
    /// its shape, the detector the silence after the file, the last chapter its level.
    fn finish(self, read: u64, cut: Option<String>) -> Part {
        let Pass {
            manifest,
            rate: _,
            mut stats,
            mut chapters,
            level,
            mut frames,
            mut detector,
            seg,
            chapter,
            in_segment,
            detect_until: _,
            measure_from: _,
            quiet_from: _,
            loud_in_pause,
        } = self;
        let segs = &manifest.segments;
        if cut.is_none() {
            detector.finish();
            if in_segment && seg < segs.len() && read >= segs[seg].end_sample {
                stats[seg].shape = frames.finish();
            }
        }
        if let Some(c) = manifest.chapters.get(chapter) {
            chapters.push(chapter_level(&c.title, level));
        }
        Part {
            stats,
            chapters,
            detector,
            read,
            cut,
            loud_in_pause,
        }
    }
}

/// A chapter's loudness, at a tenth of a unit.
fn chapter_level(title: &str, level: Level) -> ChapterLevel {
    ChapterLevel {
        title: title.to_string(),
        integrated_lufs: (level.integrated_lufs() * 10.0).round() / 10.0,
        true_peak_dbtp: (level.true_peak_dbtp() * 10.0).round() / 10.0,
    }
}

/// A file whose samples stop before its end: where, and in which segment.
fn cut_finding(cx: &Context, measured: &Measured, reason: &str) -> Finding {
    let (segs, rate, read) = (&cx.manifest.segments, cx.rate, measured.read);
    let total = cx.manifest.total_samples;
    let i = measured.whole.min(segs.len().saturating_sub(1));
    let where_ = segs.get(i).map_or(String::new(), |s| {
        format!(
            " (in segment {} of line {}, chapter {})",
            s.id,
            s.line,
            s.chapter + 1
        )
    });
    Finding {
        kind: "cut-short",
        segment: segs.get(i).map(|s| s.id.clone()),
        chapter: segs.get(i).map(|s| s.chapter),
        start_seconds: secs(read, rate),
        end_seconds: secs(total, rate),
        value: secs(read, rate),
        threshold: secs(total, rate),
        unit: "s",
        message: format!(
            "cannot read the audio past {:.2} s of {:.2} s{where_}: the file is cut short or damaged ({reason}); build the edition again",
            read as f64 / f64::from(rate),
            total as f64 / f64::from(rate)
        ),
        remedy: cx.fixes.rebuild(),
    }
}

/// Clicks in the pauses between segments, which the join wrote: the first few one by one, then how many more.
fn stray_click_findings(cx: &Context, measured: &Measured, findings: &mut Vec<Finding>) {
    let rate = cx.rate;
    for &clicks::Click {
        at,
        ratio,
        threshold,
    } in &measured.stray
    {
        findings.push(Finding {
            kind: "click",
            segment: None,
            chapter: cx
                .manifest
                .chapters
                .iter()
                .rposition(|c| c.start_sample <= at),
            start_seconds: secs(at, rate),
            end_seconds: secs(at + 1, rate),
            value: round2(ratio),
            threshold,
            unit: "× local level",
            message: format!(
                "a click at {:.3} s, in a pause between segments ({ratio:.0}× the local level); the pauses are written by the join, so build again",
                at as f64 / f64::from(rate)
            ),
            remedy: cx.fixes.rebuild(),
        });
    }
    let shown = measured.stray.len();
    if measured.stray_count as usize > shown {
        findings.push(Finding {
            kind: "click",
            segment: None,
            chapter: None,
            start_seconds: 0.0,
            end_seconds: secs(measured.read, rate),
            value: f64::from(measured.stray_count),
            threshold: 0.0,
            unit: "clicks",
            message: format!(
                "{} more clicks in pauses between segments",
                measured.stray_count as usize - shown
            ),
            remedy: cx.fixes.rebuild(),
        });
    }
}

/// The segments to redo (in order, without repeats) and every distinct fix in the order of the findings, with
/// one `regen` for all those segments.
fn remedies(findings: &[Finding], fixes: &Fixes) -> (Vec<String>, Vec<Remedy>) {
    let mut regenerate: Vec<String> = Vec::new();
    for f in findings {
        if let (Some(id), Action::Regen) = (&f.segment, f.remedy.action) {
            if !regenerate.contains(id) {
                regenerate.push(id.clone());
            }
        }
    }
    let mut remedies: Vec<Remedy> = Vec::new();
    for f in findings {
        let r = match f.remedy.action {
            Action::Regen => {
                fixes.regen(&regenerate.iter().map(String::as_str).collect::<Vec<_>>())
            }
            _ => f.remedy.clone(),
        };
        if !remedies.contains(&r) {
            remedies.push(r);
        }
    }
    (regenerate, remedies)
}

/// Segments whose words the recognizer does not hear, far more than the edition's others.
fn listen_findings(cx: &Context, count: usize, findings: &mut Vec<Finding>) -> Result<Listened> {
    let (manifest, wav, rate, fixes) = (cx.manifest, cx.wav, cx.rate, &cx.fixes);
    let heard = listen::listen(manifest, wav, count)?;
    let count_words = |h: &listen::Heard| h.expected.split_whitespace().count();
    let median = pauses::median(
        heard
            .iter()
            .filter(|h| count_words(h) >= WER_MIN_WORDS)
            .map(|h| h.wer)
            .collect(),
    )
    .unwrap_or(0.0);
    let threshold = round2((median + WER_MARGIN).max(WER_FLOOR));
    let fits: Vec<f64> = heard
        .iter()
        .filter(|h| count_words(h) >= WER_MIN_WORDS)
        .filter_map(|h| h.fit)
        .collect();
    let median_fit = pauses::median(fits.clone());
    let fit_threshold = median_fit.map(|m| {
        let mad = pauses::median(fits.iter().map(|f| (f - m).abs()).collect()).unwrap_or(0.0);
        m - (FIT_MADS * mad).max(FIT_FLOOR)
    });
    let misfit = |h: &listen::Heard| match (h.fit, fit_threshold) {
        (None, _) => true,
        (Some(f), Some(t)) => f < t,
        (Some(_), None) => false,
    };
    for h in &heard {
        if h.wer >= threshold && count_words(h) >= WER_MIN_WORDS && misfit(h) {
            let s = &manifest.segments[h.index];
            findings.push(Finding {
                kind: "words",
                segment: Some(s.id.clone()),
                chapter: Some(s.chapter),
                start_seconds: secs(s.start_sample, rate),
                end_seconds: secs(s.end_sample, rate),
                value: round2(h.wer),
                threshold,
                unit: "word error rate",
                message: format!(
                    "segment {} (line {}): does not say its words (word error rate {:.2}, the edition's median {median:.2}; {}): expected \"{}\", heard \"{}\"",
                    s.id,
                    s.line,
                    h.wer,
                    match (h.fit, median_fit) {
                        (Some(f), Some(m)) => format!("its audio fits its words at {f:.1} per frame, the edition's median {m:.1}"),
                        _ => "its words cannot be aligned with its audio".to_string(),
                    },
                    h.expected,
                    h.heard
                ),
                remedy: fixes.regen(&[&s.id]),
            });
        }
    }
    Ok(Listened {
        segments: heard.len(),
        median_wer: round2(median),
        threshold,
        median_fit: median_fit.map(round2),
        fit_threshold: fit_threshold.map(round2),
        judged: true,
        heard: heard
            .iter()
            .map(|h| SegmentHeard {
                segment: manifest.segments[h.index].id.clone(),
                words: count_words(h),
                wer: round2(h.wer),
                fit: h.fit.map(round2),
            })
            .collect(),
    })
}

/// Findings about single segments (those read whole): silent, clipped, cut, runaway, gaps, lost speech,
/// clicks. Clipping in many segments becomes one finding about the edition's level.
fn segment_findings(
    cx: &Context,
    stats: &[SegmentStats],
    findings: &mut Vec<Finding>,
) -> Option<Pauses> {
    let segs = &cx.manifest.segments[..stats.len()];
    if segs.is_empty() {
        return None;
    }
    let norms = Norms::measure(segs, stats, cx.rate);
    let edition_clipping = edition_clipping(cx, segs, stats, findings);
    for ((s, st), &marks) in segs.iter().zip(stats).zip(&norms.marks) {
        let mut judge = SegmentJudge {
            cx,
            norms: &norms,
            s,
            st,
            findings,
        };
        if judge.silent() {
            continue;
        }
        if st.clipped_runs > 0 && !edition_clipping {
            judge.clipped();
        }
        judge.length();
        judge.gaps(marks);
        judge.sparse(marks);
        if !(edition_clipping && st.clipped_runs > 0) {
            judge.clicks();
        }
    }
    Some(Pauses {
        natural_word_seconds: round2(norms.word),
        natural_clause_seconds: round2(norms.clause),
        word_gap_threshold_seconds: round2(norms.word_gap),
        clause_gap_threshold_seconds: round2(norms.clause_gap),
        median_coverage: round2(norms.coverage),
    })
}

/// Letters and digits a segment speaks (at least 1).
fn letters(s: &ManifestSegment) -> f64 {
    s.spoken
        .chars()
        .filter(|c| c.is_alphanumeric())
        .count()
        .max(1) as f64
}

/// A segment's length in seconds.
fn span_seconds(s: &ManifestSegment, rate: u32) -> f64 {
    (s.end_sample - s.start_sample) as f64 / f64::from(rate)
}

/// The edition's own yardsticks, from the segments read whole, so that any backend's pace and pauses are the
/// norm and a few damaged segments do not move it.
struct Norms {
    /// Seconds per character.
    pace: f64,
    /// Per segment, how many pauses its punctuation asks for.
    marks: Vec<usize>,
    /// The median over segments of the longest silence their punctuation does not explain (between words).
    word: f64,
    /// The median over segments with inner punctuation of their longest silence.
    clause: f64,
    word_gap: f64,
    clause_gap: f64,
    /// The median fraction of a segment's span that is speech.
    coverage: f64,
}

impl Norms {
    fn measure(segs: &[ManifestSegment], stats: &[SegmentStats], rate: u32) -> Norms {
        let rate_f = f64::from(rate);
        // Seconds per character, from the edition itself, so any backend's pace is the yardstick.
        let pace = pauses::median(
            segs.iter()
                .filter(|s| letters(s) >= 10.0)
                .map(|s| span_seconds(s, rate) / letters(s))
                .collect(),
        )
        .unwrap_or(0.06);
        // The voice's own pauses: per segment, the longest silence its punctuation does not explain, and (when
        // it has inner punctuation) its longest silence; the edition's medians of those are robust to a few
        // damaged segments.
        let marks: Vec<usize> = segs
            .iter()
            .map(|s| pauses::punctuated_pauses(&s.spoken))
            .collect();
        let len = |st: &SegmentStats, k: usize| {
            st.shape
                .silences
                .get(k)
                .map_or(0.0, |s| s.samples as f64 / rate_f)
        };
        let speaking = |st: &SegmentStats| st.count > 0 && st.shape.coverage > 0.0;
        let word = pauses::median(
            stats
                .iter()
                .zip(&marks)
                .filter(|(st, _)| speaking(st))
                .map(|(st, &k)| len(st, k))
                .collect(),
        )
        .unwrap_or(0.0);
        let clause = pauses::median(
            stats
                .iter()
                .zip(&marks)
                .filter(|(st, &k)| k > 0 && speaking(st))
                .map(|(st, _)| len(st, 0))
                .collect(),
        )
        .unwrap_or(word);
        let coverage = pauses::median(
            stats
                .iter()
                .filter(|st| st.count > 0)
                .map(|st| st.shape.coverage)
                .collect(),
        )
        .unwrap_or(1.0);
        Norms {
            pace,
            marks,
            word,
            clause,
            word_gap: (GAP_FACTOR * word).max(MIN_GAP_SECONDS),
            clause_gap: (GAP_FACTOR * clause).max(MIN_GAP_SECONDS),
            coverage,
        }
    }
}

/// Whether so many segments clip that it is the edition's level, not theirs; if so, says so in one finding.
fn edition_clipping(
    cx: &Context,
    segs: &[ManifestSegment],
    stats: &[SegmentStats],
    findings: &mut Vec<Finding>,
) -> bool {
    let clipping: Vec<usize> = (0..segs.len())
        .filter(|&i| stats[i].clipped_runs > 0)
        .collect();
    let edition_clipping =
        clipping.len() >= 3 && clipping.len() as f64 >= EDITION_CLIPPING * segs.len() as f64;
    if edition_clipping {
        let first = &segs[clipping[0]];
        findings.push(Finding {
            kind: "clipping",
            segment: None,
            chapter: None,
            start_seconds: secs(
                stats[clipping[0]].first_clip.unwrap_or(first.start_sample),
                cx.rate,
            ),
            end_seconds: secs(segs[*clipping.last().unwrap_or(&0)].end_sample, cx.rate),
            value: clipping.len() as f64,
            threshold: (EDITION_CLIPPING * segs.len() as f64).ceil().max(3.0),
            unit: "segments",
            message: format!(
                "{} of {} segments clip: the edition is too loud, not one segment; master it with a peak ceiling",
                clipping.len(),
                segs.len()
            ),
            remedy: cx.fixes.master(),
        });
    }
    edition_clipping
}

/// The judgement of one segment against the edition's norms; each finding blames it and offers its `regen`.
struct SegmentJudge<'a> {
    cx: &'a Context<'a>,
    norms: &'a Norms,
    s: &'a ManifestSegment,
    st: &'a SegmentStats,
    findings: &'a mut Vec<Finding>,
}

impl SegmentJudge<'_> {
    fn blame(
        &mut self,
        kind: &'static str,
        span: (u64, u64),
        value: f64,
        threshold: f64,
        unit: &'static str,
        message: String,
    ) {
        let remedy = self.cx.fixes.regen(&[&self.s.id]);
        self.blame_with(kind, span, (value, threshold, unit), message, remedy);
    }

    /// The remedy for a pause or lost speech: a new take only where the voice's takes differ.
    fn pause_remedy(&self) -> Remedy {
        self.cx.fixes.pause(&self.s.id, self.s.line)
    }

    fn blame_with(
        &mut self,
        kind: &'static str,
        span: (u64, u64),
        (value, threshold, unit): (f64, f64, &'static str),
        message: String,
        remedy: Remedy,
    ) {
        let (s, rate) = (self.s, self.cx.rate);
        self.findings.push(Finding {
            kind,
            segment: Some(s.id.clone()),
            chapter: Some(s.chapter),
            start_seconds: secs(span.0, rate),
            end_seconds: secs(span.1, rate),
            value: round2(value),
            threshold: round2(threshold),
            unit,
            message: format!("segment {} (line {}): {message}", s.id, s.line),
            remedy,
        });
    }

    fn whole(&self) -> (u64, u64) {
        (self.s.start_sample, self.s.end_sample)
    }

    /// Whether the segment is silent (nothing else about it is judged then).
    fn silent(&mut self) -> bool {
        let st = self.st;
        let level = st.level_db();
        if level < SILENT_DB {
            self.blame(
                "silent",
                self.whole(),
                level,
                SILENT_DB,
                "dBFS",
                format!("silent ({level:.0} dBFS)"),
            );
        }
        level < SILENT_DB
    }

    fn clipped(&mut self) {
        let (s, st) = (self.s, self.st);
        let at = st.first_clip.unwrap_or(s.start_sample);
        self.blame(
            "clipped",
            (at, s.end_sample),
            f64::from(st.clipped_runs),
            0.0,
            "places",
            format!(
                "clipped in {} places, first at {:.2} s",
                st.clipped_runs,
                at as f64 / f64::from(self.cx.rate)
            ),
        );
    }

    /// Far shorter (truncated) or far longer (runaway) than its text predicts at the edition's pace.
    fn length(&mut self) {
        let s = self.s;
        let expected = letters(s) * self.norms.pace;
        let got = span_seconds(s, self.cx.rate);
        if letters(s) >= 10.0 && got < expected * 0.35 {
            self.blame(
                "truncated",
                self.whole(),
                got,
                expected * 0.35,
                "s",
                format!("{got:.2} s, where its text predicts about {expected:.1} s"),
            );
        } else if got > expected * 3.0 + 1.0 {
            self.blame(
                "runaway",
                self.whole(),
                got,
                expected * 3.0 + 1.0,
                "s",
                format!("{got:.2} s, where its text predicts about {expected:.1} s"),
            );
        }
    }

    /// Silences inside the speech far longer than the voice's own pauses. The `marks` longest silences may be
    /// the pauses its punctuation asks for; the rest are between words.
    fn gaps(&mut self, marks: usize) {
        let rate_f = f64::from(self.cx.rate);
        for (j, gap) in self.st.shape.silences.iter().enumerate() {
            let (limit, what) = if j < marks {
                (
                    self.norms.clause_gap,
                    "the voice's longest pauses at punctuation",
                )
            } else {
                (
                    self.norms.word_gap,
                    "the voice's longest pauses between words",
                )
            };
            let len = gap.samples as f64 / rate_f;
            if len > limit {
                let remedy = self.pause_remedy();
                self.blame_with(
                    "gap",
                    (gap.start, gap.start + gap.samples),
                    (len, limit, "s"),
                    format!(
                        "{len:.2} s of silence inside the speech at {:.2} s (over {limit:.2} s: {GAP_FACTOR}× {what})",
                        gap.start as f64 / rate_f
                    ),
                    remedy,
                );
            }
        }
    }

    /// Speech covering far less of its span than in the edition's other segments (speech lost). The pauses its
    /// own punctuation asks for (the `marks` longest silences) are not held against it: a short heading such as
    /// "5.3. Procedure" is a third pause.
    fn sparse(&mut self, marks: usize) {
        let (coverage, norm) = (self.st.shape.coverage, self.norms.coverage);
        let span = self.s.end_sample.saturating_sub(self.s.start_sample) as f64;
        let asked: f64 = self.st.shape.silences[..marks.min(self.st.shape.silences.len())]
            .iter()
            .map(|s| s.samples as f64)
            .sum();
        let unasked = if span - asked > 0.0 {
            (coverage * span / (span - asked)).min(1.0)
        } else {
            1.0
        };
        if unasked < COVERAGE_FACTOR * norm {
            let got = span_seconds(self.s, self.cx.rate);
            let remedy = self.pause_remedy();
            self.blame_with(
                "sparse",
                self.whole(),
                (coverage, COVERAGE_FACTOR * norm, "of span"),
                format!(
                    "speech covers {:.0}% of its {got:.2} s, where the edition's median is {:.0}%",
                    coverage * 100.0,
                    norm * 100.0
                ),
                remedy,
            );
        }
    }

    fn clicks(&mut self) {
        if let Some(clicks::SegmentClicks {
            count,
            first,
            worst,
        }) = self.st.clicks
        {
            self.blame(
                "click",
                (first.at, first.at + 1),
                worst.ratio,
                worst.threshold,
                "× local level",
                format!(
                    "{} click(s), first at {:.3} s ({:.0}× the local level)",
                    count,
                    first.at as f64 / f64::from(self.cx.rate),
                    first.ratio
                ),
            );
        }
    }
}

/// Chapters: present in the WAV where the manifest says, in order, long enough.
fn chapter_findings(cx: &Context, findings: &mut Vec<Finding>) {
    let (manifest, wav, rate, fixes) = (cx.manifest, cx.wav, cx.rate, &cx.fixes);
    let cues = crate::export::wav_cue::read_cues(wav).unwrap_or_default();
    for (i, c) in manifest.chapters.iter().enumerate() {
        let mut chapter_problem =
            |value: f64, threshold: f64, unit: &'static str, message: String| {
                findings.push(Finding {
                    kind: "chapter",
                    segment: None,
                    chapter: Some(i),
                    start_seconds: secs(c.start_sample, rate),
                    end_seconds: secs(c.end_sample, rate),
                    value,
                    threshold,
                    unit,
                    message: format!("chapter {} \"{}\": {message}", i + 1, c.title),
                    remedy: fixes.rebuild(),
                })
            };
        match cues.iter().find(|(id, _)| *id as usize == i + 1) {
            None => chapter_problem(
                0.0,
                1.0,
                "markers",
                "no chapter marker in the WAV; build again".into(),
            ),
            Some(&(_, pos)) if u64::from(pos) != c.start_sample => chapter_problem(
                f64::from(pos),
                c.start_sample as f64,
                "sample",
                format!("the marker is at sample {pos}, not {}", c.start_sample),
            ),
            Some(_) => {}
        }
        let len = (c.end_sample.saturating_sub(c.start_sample)) as f64 / f64::from(rate);
        if len < MIN_CHAPTER_SECONDS {
            chapter_problem(
                round2(len),
                MIN_CHAPTER_SECONDS,
                "s",
                format!("lasts {len:.2} s"),
            );
        }
        if i > 0 && c.start_sample <= manifest.chapters[i - 1].start_sample {
            chapter_problem(
                c.start_sample as f64,
                manifest.chapters[i - 1].start_sample as f64,
                "sample",
                "starts before the chapter it follows".into(),
            );
        }
    }
}

/// Level across the edition: peaks over the preset it was mastered with, or (not mastered) a loudness no
/// listener wants. Both are fixed by mastering, not by regenerating segments.
fn level_findings(cx: &Context, chapters: &[ChapterLevel], findings: &mut Vec<Finding>) {
    let (manifest, fixes) = (cx.manifest, &cx.fixes);
    let span = |i: usize| {
        manifest
            .chapters
            .get(i)
            .map_or((0.0, 0.0), |c| (c.start_seconds, c.end_seconds))
    };
    match manifest.loudness.as_ref().map(|m| m.preset) {
        Some(preset) if preset != Preset::None => {
            // The limiter holds the true peak (between samples too) half a decibel under the ceiling, so a
            // chapter over the ceiling itself, at a tenth of a decibel, was not mastered as this narrate masters.
            let ceiling = preset.ceiling_db().unwrap_or(0.0);
            for (i, c) in chapters.iter().enumerate() {
                if c.true_peak_dbtp > ceiling {
                    let (a, b) = span(i);
                    findings.push(Finding {
                        kind: "peak",
                        segment: None,
                        chapter: Some(i),
                        start_seconds: a,
                        end_seconds: b,
                        value: c.true_peak_dbtp,
                        threshold: ceiling,
                        unit: "dBTP",
                        message: format!(
                            "chapter {} \"{}\": true peak {:.1} dBTP, over the {} ceiling of {ceiling} dBTP",
                            i + 1,
                            c.title,
                            c.true_peak_dbtp,
                            preset.name()
                        ),
                        remedy: fixes.master(),
                    });
                }
            }
        }
        _ => {
            let median = pauses::median(
                chapters
                    .iter()
                    .map(|c| c.integrated_lufs)
                    .filter(|l| *l > -100.0)
                    .collect(),
            );
            if let Some(l) = median.filter(|l| *l < LOUDNESS_RANGE.0 || *l > LOUDNESS_RANGE.1) {
                let (too, threshold) = if l > LOUDNESS_RANGE.1 {
                    ("loud", LOUDNESS_RANGE.1)
                } else {
                    ("quiet", LOUDNESS_RANGE.0)
                };
                findings.push(Finding {
                    kind: "loudness",
                    segment: None,
                    chapter: None,
                    start_seconds: 0.0,
                    end_seconds: manifest.duration_seconds,
                    value: l,
                    threshold,
                    unit: "LUFS",
                    message: format!(
                        "the edition is too {too}: its chapters' median loudness is {l:.1} LUFS (not mastered); master it"
                    ),
                    remedy: fixes.master(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{ManifestChapter, ManifestSegment};

    /// A 67-second edition at 16 kHz: 7 chapters of 5 segments (a gliding tone under a changing level, with
    /// noise, some with a spike or a step), 300 ms of silence between segments.
    fn edition(dir: &Path) -> (PathBuf, Manifest) {
        let rate = 16_000u32;
        let mut samples: Vec<i16> = Vec::new();
        let (mut chapters, mut segments) = (Vec::new(), Vec::new());
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for c in 0..7usize {
            let chapter_start = samples.len() as u64;
            for n in 0..5usize {
                let len = 24_000 + 1_000 * ((c * 5 + n) % 4);
                let start = samples.len() as u64;
                for i in 0..len {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let f = 120.0 + 20.0 * n as f64 + 60.0 * i as f64 / len as f64;
                    let level = 8_000.0 * (std::f64::consts::PI * i as f64 / len as f64).sin();
                    let v = (i as f64 * std::f64::consts::TAU * f / f64::from(rate)).sin() * level
                        + (seed % 801) as f64
                        - 400.0;
                    samples.push(v as i16);
                }
                if (c + n) % 3 == 0 {
                    let at = start as usize + len / 2;
                    samples[at] = samples[at].saturating_add(9_000);
                }
                segments.push(ManifestSegment {
                    id: format!("s{c}-{n}"),
                    chapter: c,
                    line: c * 5 + n + 1,
                    text: "Words.".into(),
                    spoken: "Words.".into(),
                    start_sample: start,
                    end_sample: samples.len() as u64,
                    start_seconds: 0.0,
                    end_seconds: 0.0,
                    take: 1,
                    cache_key: String::new(),
                    words: Vec::new(),
                    words_estimated: true,
                });
                samples.extend(std::iter::repeat_n(0, 4_800));
            }
            chapters.push(ManifestChapter {
                index: c,
                title: format!("Chapter {c}"),
                level: 2,
                start_sample: chapter_start,
                end_sample: samples.len() as u64,
                start_seconds: 0.0,
                end_seconds: 0.0,
            });
        }
        let wav = dir.join("e.wav");
        let mut w = hound::WavWriter::create(&wav, crate::audio::wav::spec(rate)).unwrap();
        for &s in &samples {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
        let manifest = Manifest {
            format: crate::manifest::FORMAT.into(),
            version: crate::manifest::VERSION,
            title: "T".into(),
            author: None,
            source: "e.txt".into(),
            audio: "e.wav".into(),
            sample_rate: rate,
            channels: 1,
            bits_per_sample: 16,
            total_samples: samples.len() as u64,
            duration_seconds: samples.len() as f64 / f64::from(rate),
            backend: "tone".into(),
            voice: "default".into(),
            plan_key: String::new(),
            inputs_key: String::new(),
            loudness: None,
            settings: serde_json::Value::Null,
            book: None,
            chapters,
            segments,
        };
        (wav, manifest)
    }

    #[test]
    fn two_halves_measure_what_one_pass_does() {
        let dir = std::env::temp_dir().join(format!("narrate-halves-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (wav, manifest) = edition(&dir);
        let rate = manifest.sample_rate;
        let total = manifest.total_samples;
        let split =
            Split::of(&manifest, rate, total).expect("a split in the pause before chapter 4");
        assert_eq!(split.chapter, 3);
        let halves = measure_halves(
            open_wav(&wav).unwrap(),
            &wav,
            &manifest,
            rate,
            total,
            &split,
        )
        .unwrap()
        .expect("the pause is silent");
        let one = read_part(
            open_wav(&wav).unwrap().into_inner(),
            0,
            total,
            Pass::new(&manifest, rate).unwrap(),
        )
        .unwrap()
        .judge(&manifest);
        let (halves, one) = (format!("{halves:?}"), format!("{one:?}"));
        assert!(one.contains("count"), "the edition has clicks to find");
        assert_eq!(halves, one);
        // A sound in the pause: the halves decline, and the one pass is made.
        let mut broken = hound::WavReader::open(&wav)
            .unwrap()
            .into_samples::<i16>()
            .map(Result::unwrap)
            .collect::<Vec<_>>();
        broken[split.detect_from as usize] = 1;
        let again = dir.join("f.wav");
        let mut w = hound::WavWriter::create(&again, crate::audio::wav::spec(rate)).unwrap();
        for &s in &broken {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
        assert!(measure_halves(
            open_wav(&again).unwrap(),
            &again,
            &manifest,
            rate,
            total,
            &split
        )
        .unwrap()
        .is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
