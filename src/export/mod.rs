//! Chapter and caption exports from the edition (`edition::Edition`, made from the timeline): one file per format behind
//! `trait ChapterExporter`, one line each in `EXPORTERS`; and the RIFF chapter chunks inside the WAV.

mod audacity;
mod cue_sheet;
pub(crate) mod encode;
pub(crate) mod epub;
mod ffmetadata;
mod html;
mod podcast;
mod srt;
mod vtt_captions;
mod vtt_chapters;
pub(crate) mod wav_cue;

use std::path::{Path, PathBuf};

use crate::edition::Edition;
use crate::error::{Error, Result};

/// Each chapter's title as a format that shows hierarchy gives it: a sub-chapter (level 3 and deeper) is
/// "Chapter — Section", after the nearest chapter before it of a higher level (but not the essay's title); the
/// title and chapters keep their own titles.
pub(crate) fn nested_titles(edition: &Edition) -> Vec<String> {
    let chapters = &edition.chapters;
    chapters
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let parent = (c.level >= 3)
                .then(|| {
                    chapters[..i]
                        .iter()
                        .rev()
                        .find(|p| p.level < c.level)
                        .filter(|p| p.level >= 2)
                })
                .flatten();
            match parent {
                Some(p) => format!("{} — {}", p.title, c.title),
                None => c.title.clone(),
            }
        })
        .collect()
}

/// A format written beside the edition.
pub trait ChapterExporter: Sync {
    /// The name used with `--export` and `narrate export --format`.
    fn name(&self) -> &'static str;
    /// What ends the file name: `<stem><suffix>`.
    fn suffix(&self) -> &'static str;
    /// The file's text (for a binary format, the text it is made from, for snapshots and a look).
    fn render(&self, edition: &Edition) -> String;
    /// Writes the file to `out`, atomically. `audio_dir` is the folder of the edition's WAV and of the compressed
    /// editions made with it (a format that carries the audio reads it there). Text formats write `render`.
    fn write(&self, edition: &Edition, audio_dir: &Path, out: &Path) -> Result<()> {
        let _ = audio_dir;
        crate::atomic::write_bytes(out, self.render(edition).as_bytes()).map_err(|source| {
            Error::Output {
                path: out.to_owned(),
                source,
            }
        })
    }
}

/// The ffmetadata exporter, which the compressed editions also use for their chapters.
pub(crate) const FFMETADATA: &dyn ChapterExporter = &ffmetadata::FfMetadata;

/// Every export format, in the order `--export all` writes them.
pub(crate) const EXPORTERS: &[&dyn ChapterExporter] = &[
    &cue_sheet::CueSheet,
    &audacity::Audacity,
    &ffmetadata::FfMetadata,
    &vtt_chapters::VttChapters,
    &podcast::PodcastChapters,
    &srt::Srt,
    &vtt_captions::VttCaptions,
    &html::Html,
    &epub::ReadAlong,
];

/// A choice of exports: `all`, or names separated by commas (`"cue,srt"` or `["cue", "srt"]` in files).
#[derive(Clone)]
pub struct Exports(pub Vec<&'static dyn ChapterExporter>);

impl std::fmt::Debug for Exports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|e| e.name()))
            .finish()
    }
}

impl std::str::FromStr for Exports {
    type Err = String;
    fn from_str(list: &str) -> std::result::Result<Self, String> {
        let mut out: Vec<&'static dyn ChapterExporter> = Vec::new();
        let mut add = |e: &'static dyn ChapterExporter| {
            if !out.iter().any(|o| o.name() == e.name()) {
                out.push(e);
            }
        };
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "all" {
                EXPORTERS.iter().for_each(|e| add(*e));
                continue;
            }
            let e = EXPORTERS.iter().find(|e| e.name() == name).ok_or_else(|| {
                let names: Vec<&str> = EXPORTERS.iter().map(|e| e.name()).collect();
                format!(
                    "unknown export format `{name}`; choose from all, {}",
                    names.join(", ")
                )
            })?;
            add(*e);
        }
        Ok(Exports(out))
    }
}

impl<'de> serde::Deserialize<'de> for Exports {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        crate::values::text_or_list(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Debug for dyn ChapterExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Writes each export as `<dir>/<stem><suffix>`, atomically; `audio_dir` holds the edition's WAV. Returns the
/// paths written.
pub(crate) fn write_all(
    edition: &Edition,
    audio_dir: &Path,
    dir: &Path,
    stem: &str,
    exporters: &[&dyn ChapterExporter],
) -> Result<Vec<PathBuf>> {
    exporters
        .iter()
        .map(|e| {
            let path = dir.join(format!("{stem}{}", e.suffix()));
            e.write(edition, audio_dir, &path)?;
            Ok(path)
        })
        .collect()
}

/// Text for a WebVTT cue: `&`, `<` and `>` as character references (else a browser reads `<` as a tag and drops
/// what follows), and no `-->`, which would end the cue.
fn vtt_text(text: &str) -> String {
    text.replace("-->", "→")
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A written word of a caption (the segment's text split at white space) and the samples at which the spoken
/// words it was read as start and end, on the edition's clock (`None`: no spoken word is its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CaptionWord<'a> {
    pub text: &'a str,
    pub at: Option<(u64, u64)>,
}

/// A word as the alignment compares it: lower case, letters and digits only.
fn plain(word: &str) -> String {
    word.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The segment's written words, each with where its spoken words are. Written and spoken words are matched in
/// order where they are the same word (a longest common subsequence); the written words between two matches
/// share the spoken words between them in order ("$3.5m" between "raised" and "in" takes "three point five
/// million dollars"); a written word left with none (a dash) has no place of its own.
pub(crate) fn caption_words(segment: &crate::edition::Segment) -> Vec<CaptionWord<'_>> {
    let written: Vec<&str> = segment.text.split_whitespace().collect();
    let spoken = &segment.words;
    let (w, s): (Vec<String>, Vec<String>) = (
        written.iter().map(|t| plain(t)).collect(),
        spoken.iter().map(|t| plain(&t.text)).collect(),
    );
    // lcs[i][j]: the longest common subsequence of w[i..] and s[j..].
    let mut lcs = vec![vec![0u32; s.len() + 1]; w.len() + 1];
    for i in (0..w.len()).rev() {
        for j in (0..s.len()).rev() {
            lcs[i][j] = if !w[i].is_empty() && w[i] == s[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut anchors = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < w.len() && j < s.len() {
        if !w[i].is_empty() && w[i] == s[j] && lcs[i][j] == lcs[i + 1][j + 1] + 1 {
            anchors.push((i, j));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    anchors.push((w.len(), s.len()));
    let mut out: Vec<CaptionWord> = Vec::with_capacity(written.len());
    let (mut wi, mut sj) = (0, 0);
    for (ai, aj) in anchors {
        // The written words wi..ai that are read aloud (words, and symbols such as "&" or "<") share the spoken
        // words sj..aj in order, each by its weight: its characters that are not punctuation ("£20" is likelier
        // "twenty pounds" than "&" is), each at least one spoken word while there are enough.
        let weight = |word: &str| word.chars().filter(|c| !BESIDE.contains(c)).count();
        let total: usize = written[wi..ai].iter().map(|w| weight(w)).sum();
        let n = written[wi..ai].iter().filter(|w| weight(w) > 0).count();
        let m = aj - sj;
        let (mut k, mut sum, mut from) = (0, 0, 0);
        for &text in &written[wi..ai] {
            let at = if weight(text) == 0 {
                None
            } else {
                sum += weight(text);
                k += 1;
                let mut to = (m * sum + total / 2) / total;
                if m >= n {
                    to = to.clamp(from + 1, m - (n - k));
                }
                let (a, b) = (sj + from, sj + to.max(from));
                from = to.max(from);
                (a < b).then(|| (spoken[a].start_sample, spoken[b - 1].end_sample))
            };
            out.push(CaptionWord { text, at });
        }
        if ai < written.len() {
            let word = &spoken[aj];
            out.push(CaptionWord {
                text: written[ai],
                at: Some((word.start_sample, word.end_sample)),
            });
        }
        (wi, sj) = (ai + 1, aj + 1);
    }
    out
}

/// Punctuation: never read aloud, and left outside a word's span.
const BESIDE: &[char] = &[
    '.', ',', ';', ':', '!', '?', '"', '\'', '(', ')', '[', ']', '…', '“', '”', '‘', '’', '«', '»',
    '—', '–', '-',
];

/// A piece of a segment's written text: a written word the voice said, without the punctuation beside it
/// ("£20", not "May."), with where its spoken words are (`at`, on the edition's clock) and its place among the
/// written words (`word`, from 0); or the text between two such words (`at` is `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Run<'a> {
    pub text: &'a str,
    pub at: Option<(u64, u64)>,
    pub word: usize,
}

/// `text` (the segment's written text, or the book's text of it) cut into runs whose concatenation is `text`,
/// each written word the voice said a run of its own: the one place a word's markup (the web edition, the
/// studio, a read-along book's word spans) finds its text. Written words are paired with spoken ones as the
/// captions pair them ([`caption_words`]) and found in `text` in order; a word not found is left in the text.
pub(crate) fn written_runs<'a>(text: &'a str, segment: &crate::edition::Segment) -> Vec<Run<'a>> {
    let mut out = Vec::new();
    let mut at = 0;
    for (n, w) in caption_words(segment).iter().enumerate() {
        let Some(place) = w.at else { continue };
        let Some(p) = text[at..].find(w.text).map(|p| at + p) else {
            continue;
        };
        let core = w.text.trim_matches(BESIDE);
        let core = if core.is_empty() { w.text } else { core };
        let from = p + w.text.find(core).unwrap_or(0);
        let to = from + core.len();
        if from > at {
            out.push(Run {
                text: &text[at..from],
                at: None,
                word: n,
            });
        }
        out.push(Run {
            text: &text[from..to],
            at: Some(place),
            word: n,
        });
        at = to;
    }
    if at < text.len() {
        out.push(Run {
            text: &text[at..],
            at: None,
            word: usize::MAX,
        });
    }
    out
}

/// A caption cue: its words and the samples it starts and ends at.
pub(crate) struct Cue<'a> {
    pub words: Vec<CaptionWord<'a>>,
    pub start: u64,
    pub end: u64,
}

/// A segment's cues: the whole segment, or (with `most` words a cue, above 0) its written words in runs of
/// `most`, each cue from its first placed word's start to the next cue's start (the last to the segment's end).
pub(crate) fn cues(segment: &crate::edition::Segment, most: usize) -> Vec<Cue<'_>> {
    let words = caption_words(segment);
    let (start, end) = (segment.start_sample, segment.end_sample);
    if most == 0 || words.len() <= most {
        return vec![Cue { words, start, end }];
    }
    let runs: Vec<Vec<CaptionWord>> = words.chunks(most).map(<[_]>::to_vec).collect();
    let starts: Vec<Option<u64>> = runs
        .iter()
        .map(|r| r.iter().find_map(|w| w.at.map(|a| a.0)))
        .collect();
    let mut out: Vec<Cue> = Vec::with_capacity(runs.len());
    for (k, run) in runs.into_iter().enumerate() {
        let from = match out.last() {
            None => start,
            Some(prev) => starts[k].unwrap_or(prev.end).clamp(prev.end, end),
        };
        let to = starts[k + 1..]
            .iter()
            .flatten()
            .next()
            .copied()
            .unwrap_or(end)
            .clamp(from, end);
        out.push(Cue {
            words: run,
            start: from,
            end: to,
        });
    }
    // A cue that has no time of its own joins the one before it.
    let mut merged: Vec<Cue> = Vec::with_capacity(out.len());
    for cue in out {
        match merged.last_mut() {
            Some(prev) if cue.end <= cue.start => prev.words.extend(cue.words),
            _ => merged.push(cue),
        }
    }
    merged
}

/// `hh:mm:ss.mmm` (WebVTT) or `hh:mm:ss,mmm` (SRT) from seconds.
fn clock(seconds: f64, decimal: char) -> String {
    let ms = (seconds * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}{decimal}{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::manifest::{Manifest, ManifestChapter, ManifestSegment};

    /// The words of `text` spread evenly over `start..end` (a gap of a tenth of a word after each).
    fn spread(text: &str, start: u64, end: u64) -> Vec<crate::audio::WordSpan> {
        let words = crate::timeline::spoken_words(text);
        let each = (end - start) / words.len() as u64;
        words
            .iter()
            .enumerate()
            .map(|(i, w)| crate::audio::WordSpan {
                text: (*w).to_owned(),
                start_sample: start + i as u64 * each,
                end_sample: start + i as u64 * each + each * 9 / 10,
            })
            .collect()
    }

    /// A small manifest every snapshot test renders.
    pub(crate) fn manifest() -> Manifest {
        let rate = 22050;
        let secs = |s: u64| (s as f64 / rate as f64 * 1000.0).round() / 1000.0;
        let chapter = |index, level, title: &str, start, end| ManifestChapter {
            index,
            title: title.into(),
            level,
            start_sample: start,
            end_sample: end,
            start_seconds: secs(start),
            end_seconds: secs(end),
        };
        let segment = |id: &str, chapter, text: &str, start, end| ManifestSegment {
            id: id.into(),
            chapter,
            line: 1,
            text: text.into(),
            spoken: text.into(),
            start_sample: start,
            end_sample: end,
            start_seconds: secs(start),
            end_seconds: secs(end),
            take: 1,
            cache_key: "0".repeat(64),
            words: spread(text, start, end),
            words_estimated: chapter == 0,
        };
        Manifest {
            format: crate::manifest::FORMAT.into(),
            version: crate::manifest::VERSION,
            title: "Notes on \"Small\" Rivers".into(),
            author: Some("Ada Fenwick".into()),
            source: "rivers.md".into(),
            audio: "rivers.wav".into(),
            sample_rate: rate,
            channels: 1,
            bits_per_sample: 16,
            total_samples: 3_000_000,
            duration_seconds: secs(3_000_000),
            backend: "tone".into(),
            voice: "sine".into(),
            plan_key: String::new(),
            inputs_key: String::new(),
            settings: serde_json::Value::Null,
            book: None,
            loudness: None,
            chapters: vec![
                chapter(0, 1, "Notes on \"Small\" Rivers", 0, 100_000),
                chapter(1, 2, "Where They Start", 100_000, 900_000),
                chapter(2, 3, "Springs", 900_000, 1_400_000),
                chapter(3, 2, "Why It Matters; a=b", 1_400_000, 3_000_000),
            ],
            segments: vec![
                segment("aaaa0001", 0, "Notes on \"Small\" Rivers", 0, 60_000),
                segment("aaaa0002", 1, "Where They Start", 100_000, 140_000),
                segment(
                    "aaaa0003",
                    1,
                    "Most begin as a seep in a field.",
                    160_000,
                    800_000,
                ),
                segment("aaaa0005", 2, "Springs", 900_000, 940_000),
                segment(
                    "aaaa0004",
                    3,
                    "Look after the small ones.",
                    1_400_000,
                    2_900_000,
                ),
            ],
        }
    }

    #[test]
    fn every_format_is_selectable_and_names_are_unique() {
        let select = |list: &str| list.parse::<Exports>().map(|e| e.0);
        assert_eq!(select("all").unwrap().len(), EXPORTERS.len());
        assert_eq!(select("cue, srt").unwrap().len(), 2);
        assert_eq!(select("cue,all").unwrap().len(), EXPORTERS.len());
        let err = select("nope").err().unwrap_or_default();
        assert!(err.contains("choose from all, cue"), "{err}");
        let mut suffixes: Vec<&str> = EXPORTERS.iter().map(|e| e.suffix()).collect();
        suffixes.dedup();
        assert_eq!(suffixes.len(), EXPORTERS.len());
    }

    #[test]
    fn vtt_cue_text_escapes_what_a_browser_would_read_as_markup() {
        assert_eq!(vtt_text("a<b & c --> d"), "a&lt;b &amp; c → d");
    }

    fn segment(text: &str, words: &[(&str, u64)]) -> crate::edition::Segment {
        crate::edition::Segment {
            id: "x".into(),
            chapter: 0,
            line: 1,
            text: text.into(),
            spoken: String::new(),
            take: 1,
            cache_key: String::new(),
            start_sample: 0,
            end_sample: 1000,
            words: words
                .iter()
                .map(|&(t, a)| crate::audio::WordSpan {
                    text: t.into(),
                    start_sample: a,
                    end_sample: a + 50,
                })
                .collect(),
            words_estimated: false,
        }
    }

    #[test]
    fn written_words_take_the_spoken_words_they_were_read_as() {
        let s = segment(
            "They raised $3.5m — in May.",
            &[
                ("They", 0),
                ("raised", 100),
                ("three", 200),
                ("point", 300),
                ("five", 400),
                ("million", 500),
                ("dollars", 600),
                ("in", 700),
                ("May", 800),
            ],
        );
        let got: Vec<(&str, Option<(u64, u64)>)> =
            caption_words(&s).iter().map(|w| (w.text, w.at)).collect();
        assert_eq!(
            got,
            [
                ("They", Some((0, 50))),
                ("raised", Some((100, 150))),
                ("$3.5m", Some((200, 650))),
                ("—", None),
                ("in", Some((700, 750))),
                ("May.", Some((800, 850))),
            ]
        );
        let cues = cues(&s, 2);
        let spans: Vec<(u64, u64, usize)> = cues
            .iter()
            .map(|c| (c.start, c.end, c.words.len()))
            .collect();
        assert_eq!(spans, [(0, 200, 2), (200, 700, 2), (700, 1000, 2)]);
        assert_eq!(super::cues(&s, 0).len(), 1);
        // Symbols read aloud take their share by weight: "3 < 4" said "three less than four".
        let s = segment(
            "So 3 < 4, and A&B.",
            &[
                ("So", 0),
                ("three", 100),
                ("less", 200),
                ("than", 300),
                ("four", 400),
                ("and", 500),
                ("A", 600),
                ("and", 700),
                ("B", 800),
            ],
        );
        let got: Vec<(&str, Option<(u64, u64)>)> =
            caption_words(&s).iter().map(|w| (w.text, w.at)).collect();
        assert_eq!(
            got,
            [
                ("So", Some((0, 50))),
                ("3", Some((100, 150))),
                ("<", Some((200, 350))),
                ("4,", Some((400, 450))),
                ("and", Some((500, 550))),
                ("A&B.", Some((600, 850))),
            ]
        );
    }

    #[test]
    fn snapshots() {
        let m = crate::edition::Edition::from_manifest(manifest());
        // The read-along book's `dcterms:modified` is when it is written.
        let modified = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").unwrap();
        for e in EXPORTERS {
            let text = e.render(&m);
            insta::assert_snapshot!(e.name(), modified.replace_all(&text, "[modified]"));
        }
        // Karaoke-style captions: cues of at most three words.
        let short = crate::edition::Edition {
            caption_words: 3,
            ..m
        };
        for e in EXPORTERS
            .iter()
            .filter(|e| ["srt", "vtt"].contains(&e.name()))
        {
            insta::assert_snapshot!(format!("{}-3-words", e.name()), e.render(&short));
        }
    }
}
