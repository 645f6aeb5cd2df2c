//! QA of a finished edition: reads the WAV back (one streaming pass) against its manifest and names what a
//! listener would notice — silent, truncated, runaway or clipped segments, clicks at joins, long silences,
//! missing or misplaced chapter markers, chapters too short, loudness off the mastering preset.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::audio::master::{db, Meter, Preset};
use crate::error::{Error, Result};
use crate::manifest::Manifest;

/// One problem found.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub kind: &'static str,
    /// The segment to regenerate, when one is to blame.
    pub segment: Option<String>,
    pub chapter: Option<usize>,
    pub message: String,
}

/// Per-chapter loudness.
#[derive(Debug, Clone, Serialize)]
pub struct ChapterLevel {
    pub title: String,
    pub integrated_lufs: f64,
    pub true_peak_dbtp: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub wav: PathBuf,
    pub manifest: PathBuf,
    pub source: String,
    pub passed: bool,
    pub findings: Vec<Finding>,
    pub chapters: Vec<ChapterLevel>,
    /// Segments to redo, in order, without repeats.
    pub regenerate: Vec<String>,
}

impl Report {
    /// The command that regenerates the segments to blame.
    pub fn regen_command(&self) -> Option<String> {
        (!self.regenerate.is_empty()).then(|| {
            format!(
                "narrate regen {} {}",
                self.source,
                self.regenerate.join(" ")
            )
        })
    }
}

/// Shortest chapter a player should show.
const MIN_CHAPTER_SECONDS: f64 = 0.5;
/// Segments quieter than this (RMS, dBFS) are silent.
const SILENT_DB: f64 = -50.0;
/// Near-silence inside speech longer than this is a gap a listener notices.
const MAX_SILENCE_SECONDS: f64 = 2.0;

#[derive(Default)]
struct SegmentStats {
    squares: f64,
    count: u64,
    clipped_runs: u32,
    run: u32,
    silence_run: u64,
    longest_silence: u64,
    first: Vec<i16>,
    last: Vec<i16>,
}

/// Checks an edition.
pub fn check(input: &Path) -> Result<Report> {
    // A WAV's manifest is beside it (`x.wav` → `x.json`); a manifest names its WAV.
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
    let mut findings = Vec::new();
    let mut reader = hound::WavReader::open(&wav).map_err(|e| Error::Output {
        path: wav.clone(),
        source: crate::audio::wav::io_error(e),
    })?;
    let rate = reader.spec().sample_rate;
    if rate != manifest.sample_rate || u64::from(reader.duration()) != manifest.total_samples {
        findings.push(Finding {
            kind: "length",
            segment: None,
            chapter: None,
            message: format!(
                "the WAV holds {} samples at {rate} Hz; the manifest expects {} at {} Hz",
                reader.duration(),
                manifest.total_samples,
                manifest.sample_rate
            ),
        });
    }

    // One pass over the samples: per-segment statistics and per-chapter loudness.
    let segs = &manifest.segments;
    let mut stats: Vec<SegmentStats> = segs.iter().map(|_| SegmentStats::default()).collect();
    // One loudness meter at a time (chapters follow each other), so memory does not grow with the chapters.
    let level = |title: &str, m: Meter| {
        let l = m.finish();
        ChapterLevel {
            title: title.to_string(),
            integrated_lufs: (l.integrated_lufs * 10.0).round() / 10.0,
            true_peak_dbtp: (l.true_peak_dbtp * 10.0).round() / 10.0,
        }
    };
    let mut chapters: Vec<ChapterLevel> = Vec::with_capacity(manifest.chapters.len());
    let mut meter = Meter::new(rate)?;
    let (mut seg, mut chapter) = (0usize, 0usize);
    for (n, sample) in reader.samples::<i16>().enumerate() {
        let s = sample.map_err(|e| Error::Output {
            path: wav.clone(),
            source: crate::audio::wav::io_error(e),
        })?;
        let n = n as u64;
        while chapter + 1 < manifest.chapters.len()
            && n >= manifest.chapters[chapter + 1].start_sample
        {
            let done = std::mem::replace(&mut meter, Meter::new(rate)?);
            chapters.push(level(&manifest.chapters[chapter].title, done));
            chapter += 1;
        }
        meter.push(s);
        while seg < segs.len() && n >= segs[seg].end_sample {
            seg += 1;
        }
        if seg < segs.len() && n >= segs[seg].start_sample {
            let st = &mut stats[seg];
            let v = f64::from(s) / 32768.0;
            st.squares += v * v;
            st.count += 1;
            if s.unsigned_abs() >= 32_700 {
                st.run += 1;
                if st.run == 3 {
                    st.clipped_runs += 1;
                }
            } else {
                st.run = 0;
            }
            if s.unsigned_abs() < 100 {
                st.silence_run += 1;
                st.longest_silence = st.longest_silence.max(st.silence_run);
            } else {
                st.silence_run = 0;
            }
            if st.first.len() < 4 {
                st.first.push(s);
            }
            st.last.push(s);
            if st.last.len() > 4 {
                st.last.remove(0);
            }
        }
    }

    // Seconds per character, from the edition itself, so any backend's pace is the yardstick.
    let chars = |i: usize| {
        segs[i]
            .spoken
            .chars()
            .filter(|c| c.is_alphanumeric())
            .count()
            .max(1) as f64
    };
    let seconds = |i: usize| (segs[i].end_sample - segs[i].start_sample) as f64 / f64::from(rate);
    let mut pace: Vec<f64> = (0..segs.len())
        .filter(|&i| chars(i) >= 10.0)
        .map(|i| seconds(i) / chars(i))
        .collect();
    pace.sort_by(f64::total_cmp);
    let median = pace.get(pace.len() / 2).copied().unwrap_or(0.06);
    let mut blame = |kind: &'static str, i: usize, message: String| {
        findings.push(Finding {
            kind,
            segment: Some(segs[i].id.clone()),
            chapter: Some(segs[i].chapter),
            message: format!("segment {} (line {}): {message}", segs[i].id, segs[i].line),
        });
    };
    for (i, st) in stats.iter().enumerate() {
        let level = db((st.squares / st.count.max(1) as f64).sqrt());
        if level < SILENT_DB {
            blame("silent", i, format!("silent ({level:.0} dBFS)"));
            continue;
        }
        if st.clipped_runs > 0 {
            blame(
                "clipped",
                i,
                format!("clipped in {} places", st.clipped_runs),
            );
        }
        let expected = chars(i) * median;
        let got = seconds(i);
        if chars(i) >= 10.0 && got < expected * 0.35 {
            blame(
                "truncated",
                i,
                format!("{got:.2} s, where its text predicts about {expected:.1} s"),
            );
        } else if got > expected * 3.0 + 1.0 {
            blame(
                "runaway",
                i,
                format!("{got:.2} s, where its text predicts about {expected:.1} s"),
            );
        }
        let silence = st.longest_silence as f64 / f64::from(rate);
        if silence > MAX_SILENCE_SECONDS {
            blame(
                "silence",
                i,
                format!("{silence:.1} s of silence inside the speech"),
            );
        }
        let jump = |a: &[i16]| {
            a.windows(2)
                .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
                .max()
                .unwrap_or(0)
        };
        if jump(&st.first).max(jump(&st.last)) > 8_000
            || st.first.first().is_some_and(|s| s.unsigned_abs() > 4_000)
        {
            blame(
                "click",
                i,
                "starts or ends abruptly (a click at the join)".into(),
            );
        }
    }

    // Chapters: present in the WAV where the manifest says, in order, long enough.
    let cues = crate::export::wav_cue::read_cues(&wav).unwrap_or_default();
    for (i, c) in manifest.chapters.iter().enumerate() {
        let mut chapter_problem = |message: String| {
            findings.push(Finding {
                kind: "chapter",
                segment: None,
                chapter: Some(i),
                message: format!("chapter {} \"{}\": {message}", i + 1, c.title),
            })
        };
        match cues.iter().find(|(id, _)| *id as usize == i + 1) {
            None => chapter_problem("no chapter marker in the WAV; build again".into()),
            Some(&(_, pos)) if u64::from(pos) != c.start_sample => chapter_problem(format!(
                "the marker is at sample {pos}, not {}",
                c.start_sample
            )),
            Some(_) => {}
        }
        let len = (c.end_sample.saturating_sub(c.start_sample)) as f64 / f64::from(rate);
        if len < MIN_CHAPTER_SECONDS {
            chapter_problem(format!("lasts {len:.2} s"));
        }
        if i > 0 && c.start_sample <= manifest.chapters[i - 1].start_sample {
            chapter_problem("starts before the chapter it follows".into());
        }
    }

    // Loudness per chapter, against the preset the edition was mastered with.
    if let Some(c) = manifest.chapters.get(chapter) {
        chapters.push(level(&c.title, meter));
    }
    if let Some(mastered) = &manifest.loudness {
        let ceiling = match mastered.preset {
            Preset::Acx => -3.0,
            Preset::Podcast | Preset::Ebu => -1.0,
            Preset::None => 0.0,
        };
        for (i, c) in chapters.iter().enumerate() {
            if c.true_peak_dbtp > ceiling + 0.5 {
                findings.push(Finding {
                    kind: "peak",
                    segment: None,
                    chapter: Some(i),
                    message: format!(
                        "chapter {} \"{}\": true peak {:.1} dBTP, over the {:?} ceiling of {ceiling} dBTP",
                        i + 1,
                        c.title,
                        c.true_peak_dbtp,
                        mastered.preset
                    ),
                });
            }
        }
    }

    let mut regenerate: Vec<String> = Vec::new();
    for f in &findings {
        if let Some(id) = &f.segment {
            if !regenerate.contains(id) {
                regenerate.push(id.clone());
            }
        }
    }
    Ok(Report {
        wav,
        manifest: manifest_path,
        source: manifest.source,
        passed: findings.is_empty(),
        findings,
        chapters,
        regenerate,
    })
}
