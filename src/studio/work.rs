//! What the studio does to an essay and its edition, each through the same path as the CLI: auditioning a take
//! or a pronunciation (only that segment is synthesized, into the cache; the edition is untouched), keeping a
//! take (the takes file `narrate regen` writes), changing a sentence's text (only its span of the essay file,
//! with a backup), saving a pronunciation (`[lexicon]` in narrate.toml), and re-deriving the edition in the
//! background (`Job::produce`, as `narrate build` does), with the check's findings kept for the page.
//!
//! Every change holds the essay's lock (the one `narrate regen` takes) for its read–change–write, so two tabs,
//! or a tab and the CLI, never tear a file: the last write of a sentence wins.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use serde::Serialize;
use serde_json::json;

use crate::edition::Edition;
use crate::error::{Error, Result};
use crate::essay::edit::{self, Refusal};
use crate::export;
use crate::manifest::Manifest;
use crate::pipeline::schedule::{Watch, STOPPED};
use crate::pipeline::Job;
use crate::plan::takes::{self, Takes};
use crate::settings::Settings;
use crate::synth::Backend;

use super::Options;

/// Which take to hear.
pub(crate) enum Take {
    /// The one the edition uses.
    Kept,
    Number(u32),
    /// A new one (the latest + 1), recorded as made but not kept.
    New,
}

/// Why a request cannot be done as asked (the status the page gets).
pub(crate) enum Problem {
    /// The request does not make sense (400).
    Bad(String),
    /// The sentence is not there any more: the essay changed since the page read it (409).
    Changed(String),
    /// No such segment (404).
    Unknown(String),
    /// Anything else (500).
    Failed(String),
}

impl From<Error> for Problem {
    fn from(e: Error) -> Problem {
        match e {
            Error::UnknownSegment { .. } => Problem::Unknown(e.to_string()),
            Error::Usage(_) | Error::Invalid(_) | Error::AmbiguousSegment { .. } => {
                Problem::Bad(e.to_string())
            }
            e => Problem::Failed(e.to_string()),
        }
    }
}

type Done = std::result::Result<serde_json::Value, Problem>;

/// The background re-derivation of the edition, and what the page is told of it.
#[derive(Clone, Serialize)]
pub(crate) struct Status {
    /// `idle`, `working` or `error`.
    pub state: &'static str,
    pub message: String,
    /// How many editions this studio has written: the page reloads its player when it changes.
    pub version: u64,
    /// The findings of the last check of the edition (`narrate check`'s), when one has run.
    pub findings: Option<serde_json::Value>,
    /// Each chapter's loudness and true peak as that check measured them, in chapter order.
    pub levels: Option<serde_json::Value>,
    /// While working: `checking`, `waiting` (for another essay's work in the catalogue), `preparing`,
    /// `synthesizing` or `joining`; `cancelling` once Cancel was asked; else empty.
    pub phase: &'static str,
    /// Segments synthesized so far of those the work synthesizes (0 of 0 when it synthesizes none).
    pub done: usize,
    pub total: usize,
    /// Whether the last work was cancelled (the edition is as it was).
    pub cancelled: bool,
}

/// What the page is told of a check: its findings and each chapter's level.
pub(crate) struct Checked {
    findings: serde_json::Value,
    levels: serde_json::Value,
}

impl Checked {
    fn of(report: &crate::check::Report) -> Checked {
        Checked {
            findings: serde_json::to_value(&report.findings).unwrap_or_default(),
            levels: serde_json::to_value(&report.chapters).unwrap_or_default(),
        }
    }
}

/// The work the background thread has been asked for.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Task {
    /// Check the edition as it is (at start).
    Check,
    /// Produce the edition again (after a kept change), then check it.
    Derive,
}

pub(crate) struct Work {
    pub options: Options,
    status: Mutex<Status>,
    pending: Mutex<Option<Task>>,
    wake: Condvar,
    /// The backend, made once and kept while the settings ask for the same one (a neural voice loads once).
    backend: Mutex<Option<(String, Arc<dyn Backend>)>>,
    /// The re-derivation under way: its progress and its cancel flag.
    watch: Mutex<Option<Arc<Watch>>>,
    /// Each segment's waveform by cache key (the audio of a key never changes): computed once per segment.
    waves: Mutex<HashMap<String, Vec<f32>>>,
    /// The cache's folder, for the waveforms.
    cache_dir: std::sync::OnceLock<PathBuf>,
}

impl Work {
    /// The work of an edition; its first task is to check it (an edition not built yet waits to be built).
    pub(super) fn new(options: Options) -> Work {
        let built = options.dir.join(format!("{}.json", options.stem)).is_file();
        Work {
            options,
            status: Mutex::new(Status {
                state: if built { "working" } else { "idle" },
                message: if built {
                    "checking the edition…"
                } else {
                    "not built yet"
                }
                .into(),
                version: 0,
                findings: None,
                levels: None,
                phase: if built { "checking" } else { "" },
                done: 0,
                total: 0,
                cancelled: false,
            }),
            pending: Mutex::new(built.then_some(Task::Check)),
            wake: Condvar::new(),
            backend: Mutex::new(None),
            watch: Mutex::new(None),
            waves: Mutex::new(HashMap::new()),
            cache_dir: std::sync::OnceLock::new(),
        }
    }

    /// The status, with the re-derivation's progress as it is now.
    pub(super) fn status(&self) -> Status {
        let mut status = self
            .status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(watch) = self
            .watch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            (status.done, status.total) = watch.counts();
            status.phase = if watch.cancelled() {
                "cancelling"
            } else if watch.joining() {
                "joining"
            } else if status.total == 0 {
                // Reading the essay, planning, looking in the cache: the count is not known yet.
                "preparing"
            } else {
                "synthesizing"
            };
        }
        status
    }

    /// Stops the work under way at its next segment, and drops what was asked after it; the cache keeps what
    /// was synthesized, the edition, essay and takes stay as they are. Whether there was anything to stop.
    pub(super) fn cancel(&self) -> bool {
        let dropped = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take_if(|t| *t == Task::Derive)
            .is_some();
        let running = self.watch.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(watch) = &running {
            watch.cancel();
        }
        if dropped && running.is_none() {
            self.set_status(|s| {
                s.state = "idle";
                s.message = STOPPED.into();
                s.cancelled = true;
            });
        }
        dropped || running.is_some()
    }

    fn set_status(&self, change: impl FnOnce(&mut Status)) {
        change(&mut self.status.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// Asks the background thread to re-derive the edition (requests made while it works are done once, after).
    pub(super) fn derive_soon(&self) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        *pending = Some(pending.map_or(Task::Derive, |t| t.max(Task::Derive)));
        self.set_status(|s| {
            s.state = "working";
            s.message = "re-deriving the edition…".into();
            s.phase = "waiting";
            s.cancelled = false;
            (s.done, s.total) = (0, 0);
        });
        self.wake.notify_all();
    }

    /// The background thread: waits for a task, does it, and says how it went in the status.
    pub(super) fn background(self: Arc<Self>) {
        loop {
            let task = {
                let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if let Some(task) = pending.take() {
                        break task;
                    }
                    pending = self.wake.wait(pending).unwrap_or_else(|e| e.into_inner());
                }
            };
            let outcome = {
                // One essay's work at a time in a catalogue (a studio of one essay has the turn to itself).
                let _turn = self.options.turn.lock().unwrap_or_else(|e| e.into_inner());
                match task {
                    Task::Check => {
                        self.set_status(|s| s.phase = "checking");
                        self.check().map(|checked| (checked, None))
                    }
                    Task::Derive => self.derive(),
                }
            };
            // How far it got stays in the status (a cancelled build says how many it had made).
            if let Some(watch) = self.watch.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let (done, total) = watch.counts();
                self.set_status(|s| (s.done, s.total) = (done, total));
            }
            let more = self
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some();
            self.set_status(|s| s.phase = if more { "waiting" } else { "" });
            self.settle_status(outcome, more);
        }
    }

    /// The status once a task is done: its findings and what it did, the error, or that it was cancelled.
    fn settle_status(&self, outcome: Result<(Checked, Option<String>)>, more: bool) {
        self.set_status(|s| match outcome {
            Err(Error::Invalid(m)) if m == STOPPED => {
                s.cancelled = true;
                s.message = m;
                if !more {
                    s.state = "idle";
                }
            }
            Ok((checked, derived)) => {
                s.findings = Some(checked.findings);
                s.levels = Some(checked.levels);
                if let Some(message) = derived {
                    s.version += 1;
                    s.message = message;
                } else if s.state != "error" {
                    s.message = "ready".into();
                }
                if !more {
                    s.state = "idle";
                }
            }
            Err(e) => {
                s.state = "error";
                s.message = e.to_string();
            }
        });
    }

    /// The settings a change uses now: the edition's recorded settings under the flags given, narrate.toml read
    /// again (a lexicon entry saved a moment ago counts).
    pub(super) fn settings(&self) -> Result<Settings> {
        (self.options.settings)()
    }

    /// The essay planned with `settings`, on the studio's backend.
    fn job(&self, settings: Settings) -> Result<Job> {
        let backend = self.backend(&settings)?;
        Ok(Job::prepare_with(&self.options.essay, settings, backend)?
            .named(self.options.name.clone()))
    }

    /// The backend `settings` ask for: the one kept, or a new one (then kept).
    pub(super) fn backend(&self, settings: &Settings) -> Result<Arc<dyn Backend>> {
        let wanted = format!("{} {:?}", settings.backend, settings.backends);
        Ok({
            let mut kept = self.backend.lock().unwrap_or_else(|e| e.into_inner());
            match kept.as_ref() {
                Some((key, b)) if *key == wanted => b.clone(),
                _ => {
                    let made: Arc<dyn Backend> =
                        Arc::from(crate::synth::create(settings.backend, &settings.backends)?);
                    *kept = Some((wanted, made.clone()));
                    made
                }
            }
        })
    }

    fn manifest(&self) -> Result<Manifest> {
        let path = self.options.dir.join(format!("{}.json", self.options.stem));
        Manifest::load(&path)?.ok_or_else(|| Error::Manifest {
            path,
            reason: "there is no edition; run `narrate build` first".into(),
        })
    }

    /// The check of the edition as it is on disk.
    fn check(&self) -> Result<Checked> {
        let wav = self.options.dir.join(format!("{}.wav", self.options.stem));
        crate::pipeline::settle(&self.options.dir, &self.options.stem)?;
        let report = crate::check::check_with(&wav, crate::check::Options { listen: false })?;
        Ok(Checked::of(&report))
    }

    /// Produces the edition again through the one path, as `narrate build` would with these takes, text and
    /// lexicon; returns the check's findings and what was done.
    fn derive(&self) -> Result<(Checked, Option<String>)> {
        let watch = Arc::new(Watch::default());
        *self.watch.lock().unwrap_or_else(|e| e.into_inner()) = Some(watch.clone());
        let _lock = takes::lock(&self.options.essay)?;
        let job = self.job(self.settings()?)?;
        let missing = job
            .plan
            .segments
            .iter()
            .filter(|s| !job.cache.contains(&s.cache_key))
            .count();
        self.set_status(|s| {
            s.message = if missing == 0 {
                "re-joining the edition (join, mastering, exports)…".into()
            } else {
                format!(
                    "synthesizing {missing} sentence{}, then joining the edition…",
                    plural(missing)
                )
            }
        });
        let report = job.produce_watched(&self.options.dir, true, Some(watch))?;
        if !self.options.quiet {
            eprintln!(
                "narrate studio: edition {} re-derived ({} synthesized)",
                self.options.stem, report.stats.synthesized
            );
        }
        Ok((
            Checked::of(&report.check),
            Some(format!(
                "the edition is re-derived ({} synthesized)",
                report.stats.synthesized
            )),
        ))
    }

    /// The manifest, each segment's takes, the segments whose audio the edition lacks now (the essay, its takes
    /// or the lexicon changed), and whether the text can be edited here.
    pub(super) fn describe(&self) -> Result<serde_json::Value> {
        let manifest = self.manifest()?;
        let takes = Takes::load(&takes::path_for(&self.options.essay))?;
        let per_segment: serde_json::Map<String, serde_json::Value> = manifest
            .segments
            .iter()
            .map(|s| {
                let latest = takes.segments.get(&s.id).map_or(1, |e| e.latest.max(1));
                (
                    s.id.clone(),
                    json!({ "take": takes.take(&s.id), "latest": latest }),
                )
            })
            .collect();
        // What the edition would be now: a segment of the manifest the plan no longer has, or has with other
        // audio, is marked for re-synthesis.
        let (stale, plan_error) = match self.settings().and_then(|s| self.job(s)) {
            Ok(job) => (json!(stale(&manifest, &job)), serde_json::Value::Null),
            Err(e) => (json!([]), json!(e.to_string())),
        };
        let runs = word_runs(&manifest);
        Ok(json!({
            "manifest": manifest,
            "takes": per_segment,
            "runs": runs,
            "stale": stale,
            "plan_error": plan_error,
            "essay": self.options.essay.display().to_string(),
            "settings_file": self.options.settings_file.display().to_string(),
            "status": self.status(),
        }))
    }

    /// Synthesizes one take of one segment (with a trial pronunciation, if given) into the cache and says where
    /// its audio is; the edition and the kept take stay as they were. A new take is recorded in the takes file
    /// as made (so previous/next take can reach it, from here or the CLI), not as kept.
    pub(super) fn audition(
        &self,
        wanted: &str,
        take: Take,
        trial: Option<(String, String)>,
    ) -> Done {
        let _lock = takes::lock(&self.options.essay)?;
        let mut settings = self.settings()?;
        if let Some((word, say)) = &trial {
            check_entry(word, say)?;
            settings.lexicon.insert(word.clone(), say.clone());
        }
        let job = self.job(settings)?;
        let id = job.resolve(wanted)?;
        let text = segment_text(&job, &id);
        let mut takes = job.takes.clone();
        let latest = takes.segments.get(&id).map_or(1, |e| e.latest.max(1));
        let kept = takes.take(&id);
        let number = match take {
            Take::Kept => kept,
            Take::Number(n) if n >= 1 && n <= latest => n,
            Take::Number(n) => {
                return Err(Problem::Bad(format!(
                    "segment {id} has takes 1 to {latest}, not {n}"
                )))
            }
            Take::New => takes
                .add(&id, &text)
                .map_err(|e| Problem::Bad(format!("{}: {e}", self.options.essay.display())))?,
        };
        let mut trying = takes.clone();
        trying
            .choose(&id, &text, Some(number))
            .map_err(Problem::Bad)?;
        let job = job.with_takes(trying);
        let key = job
            .plan
            .segments
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.cache_key.clone())
            .unwrap_or_default();
        let cache = job.cache.clone();
        let stats = job.only(std::slice::from_ref(&id)).synthesize(true)?;
        if matches!(take, Take::New) {
            takes.save(&self.options.takes_path())?;
        }
        let (seconds, peaks) = cache
            .load(&key)
            .map(|a| {
                (
                    a.samples.len() as f64 / f64::from(a.sample_rate.max(1)),
                    peaks(&a.samples),
                )
            })
            .unwrap_or_default();
        Ok(json!({
            "id": id,
            "take": number,
            "latest": takes.segments.get(&id).map_or(1, |e| e.latest.max(1)),
            "kept": kept,
            "synthesized": stats.synthesized,
            "audio": format!("api/audio/{key}"),
            "seconds": (seconds * 1000.0).round() / 1000.0,
            "peaks": peaks,
        }))
    }

    /// Keeps a take of a segment (the takes file, as `narrate regen ID --take N` writes it), then re-derives the
    /// edition in the background.
    pub(super) fn keep(&self, wanted: &str, take: u32) -> Done {
        let kept = {
            let _lock = takes::lock(&self.options.essay)?;
            let job = self.job(self.settings()?)?;
            let id = job.resolve(wanted)?;
            let text = segment_text(&job, &id);
            let mut takes = job.takes.clone();
            let latest = takes.segments.get(&id).map_or(1, |e| e.latest.max(1));
            if take == 0 || take > latest {
                return Err(Problem::Bad(format!(
                    "segment {id} has takes 1 to {latest}, not {take}"
                )));
            }
            let from = takes.take(&id);
            takes.choose(&id, &text, Some(take)).map_err(Problem::Bad)?;
            takes.save(&self.options.takes_path())?;
            if !self.options.quiet {
                eprintln!("narrate studio: {id}: take {from} → {take} kept");
            }
            json!({ "id": id, "from_take": from, "take": take })
        };
        self.derive_soon();
        Ok(kept)
    }

    /// Changes one sentence's text in the essay file (only its span; the previous file kept as `ESSAY.bak`),
    /// then re-derives the edition, which synthesizes just the changed sentence. `was` is the text the page
    /// showed: if the sentence is not that any more, another tab or an editor changed it, and nothing is written.
    pub(super) fn edit(&self, wanted: &str, was: &str, text: &str) -> Done {
        let essay = &self.options.essay;
        let changed = {
            let _lock = takes::lock(essay)?;
            let job = self.job(self.settings()?)?;
            let Some(at) = job.plan.segments.iter().position(|s| s.id == wanted) else {
                return Err(Problem::Changed(format!(
                    "segment {wanted} is not in {} any more (it was changed elsewhere); the page reloads",
                    essay.display()
                )));
            };
            let segment = &job.plan.segments[at];
            if segment.text != was {
                return Err(Problem::Changed(format!(
                    "segment {wanted} of {} was changed elsewhere; the page reloads",
                    essay.display()
                )));
            }
            let bytes = std::fs::read(essay).map_err(|source| Error::ReadEssay {
                path: essay.clone(),
                source,
            })?;
            let Ok(source) = String::from_utf8(bytes) else {
                return Err(Problem::Bad(format!(
                    "{} is not UTF-8 text; change the sentence in your editor",
                    essay.display()
                )));
            };
            let nth = job.plan.segments[..at]
                .iter()
                .filter(|s| s.line == segment.line && s.text == segment.text)
                .count();
            let html = matches!(
                crate::essay::parse::Format::from_path(essay),
                crate::essay::parse::Format::Html
            );
            let new_text = if html {
                escape_html(text)
            } else {
                text.to_string()
            };
            let (new_source, _span) =
                edit::replace_sentence(&source, segment.line, &segment.text, nth, &new_text)
                    .map_err(|refusal| {
                        let place = format!("{}:{}", essay.display(), segment.line);
                        Problem::Bad(match refusal {
                            Refusal::Text(why) => why,
                            Refusal::NotFound => format!(
                                "{place}: the sentence is not written there as plain text; change it in your editor"
                            ),
                            Refusal::Markup => format!(
                                "{place}: the sentence has emphasis, code or a link in the file; change it in your editor so the markup stays"
                            ),
                        })
                    })?;
            if new_source == source {
                return Ok(json!({ "id": wanted, "changed": false }));
            }
            // The file as it would be, read again: the edit may change that one sentence and nothing else (a
            // comment, fence or tag it opens would swallow the rest of the essay).
            if let Err(why) = only_changes(&job.plan, &job.plan_of_text(&new_source), at) {
                return Err(Problem::Changed(format!(
                    "{}:{}: {why}; nothing was written (reword it, or change the essay in your editor)",
                    essay.display(),
                    segment.line
                )));
            }
            write_keeping_mode(&backup_path(essay), source.as_bytes(), essay)?;
            write_keeping_mode(essay, new_source.as_bytes(), essay)?;
            if !self.options.quiet {
                eprintln!(
                    "narrate studio: {}:{}: sentence {wanted} changed (previous file: {})",
                    essay.display(),
                    segment.line,
                    backup_path(essay).display()
                );
            }
            json!({
                "id": wanted,
                "changed": true,
                "line": segment.line,
                "backup": backup_path(essay).display().to_string(),
            })
        };
        self.derive_soon();
        Ok(changed)
    }

    /// Saves a pronunciation into narrate.toml's `[lexicon]` and says which segments it changes (they are marked
    /// for re-synthesis; the page redoes them on request).
    pub(super) fn save_word(&self, word: &str, say: &str) -> Done {
        check_entry(word, say)?;
        let _lock = takes::lock(&self.options.essay)?;
        crate::settings::save_lexicon_entry(&self.options.settings_file, word.trim(), say.trim())?;
        let manifest = self.manifest()?;
        let job = self.job(self.settings()?)?;
        let marked = stale(&manifest, &job);
        if !self.options.quiet {
            eprintln!(
                "narrate studio: {}: [lexicon] {} = {:?} ({} segment{} to redo)",
                self.options.settings_file.display(),
                word.trim(),
                say.trim(),
                marked.len(),
                plural(marked.len())
            );
        }
        Ok(json!({
            "word": word.trim(),
            "say": say.trim(),
            "file": self.options.settings_file.display().to_string(),
            "marked": marked,
        }))
    }

    /// Each segment's waveform by its cache key (from the cache, [`SENTENCE_BARS`] bars): computed once per key
    /// and kept (a key's audio never changes), so a book scrolled through twice reads each segment once. A key
    /// the cache lacks (or not a key) has none.
    pub(super) fn waves(&self, keys: &[&str]) -> serde_json::Value {
        // The cache's folder, found once (the settings read the manifest: a book's is megabytes).
        let dir = match self.cache_dir.get() {
            Some(dir) => Some(dir.clone()),
            None => self
                .settings()
                .ok()
                .map(|s| self.cache_dir.get_or_init(|| s.cache_dir).clone()),
        };
        let cache = dir.map(|dir| crate::cache::Cache::new(&dir));
        let mut out = serde_json::Map::new();
        for &key in keys.iter().filter(|k| is_key(k)) {
            let known = self
                .waves
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(key)
                .cloned();
            let wave = match known {
                Some(w) => w,
                None => {
                    let Some(audio) = cache.as_ref().and_then(|c| c.load(key)) else {
                        continue;
                    };
                    let w = peaks_of(&audio.samples, SENTENCE_BARS);
                    self.waves
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(key.to_string(), w.clone());
                    w
                }
            };
            out.insert(key.to_string(), json!(wave));
        }
        serde_json::Value::Object(out)
    }

    /// A cached segment's audio, by its cache key (as `audition` named it): checked as a build checks it.
    pub(super) fn audio(&self, key: &str) -> Option<Vec<u8>> {
        if !is_key(key) {
            return None;
        }
        let cache = crate::cache::Cache::new(&self.settings().ok()?.cache_dir);
        match cache.verify(key) {
            crate::cache::Entry::Good => std::fs::read(cache.path(key)).ok(),
            _ => None,
        }
    }
}

impl Options {
    fn takes_path(&self) -> PathBuf {
        takes::path_for(&self.essay)
    }
}

/// Whether `key` can be a cache key (hex, not too long): nothing else names a file in the cache.
fn is_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 128 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

/// How many bars a take's waveform has on the page.
const PEAK_BARS: usize = 64;
/// How many bars a sentence's small waveform beside its text has.
pub(super) const SENTENCE_BARS: usize = 24;

/// A take's waveform for the page (see [`peaks_of`]).
fn peaks(samples: &[i16]) -> Vec<f32> {
    peaks_of(samples, PEAK_BARS)
}

/// A waveform: the loudest sample of each of `bars` equal stretches, 0 to 1 (rounded to hundredths).
fn peaks_of(samples: &[i16], bars: usize) -> Vec<f32> {
    if samples.is_empty() {
        return Vec::new();
    }
    let stretch = samples.len().div_ceil(bars.max(1));
    samples
        .chunks(stretch)
        .map(|c| {
            let loudest = c.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
            (f32::from(loudest) / 32768.0 * 100.0).round() / 100.0
        })
        .collect()
}

/// Each segment's written text cut into its spoken words' runs ([`export::written_runs`]), for the page to
/// highlight the word being spoken and seek to a clicked one: a run is its text, or `[text, start, end]` in
/// seconds on the edition's clock.
fn word_runs(manifest: &Manifest) -> serde_json::Map<String, serde_json::Value> {
    let edition = Edition::from_manifest(manifest.clone());
    let rate = f64::from(edition.sample_rate.max(1));
    let seconds = |samples: u64| (samples as f64 / rate * 1000.0).round() / 1000.0;
    edition
        .segments
        .iter()
        .map(|s| {
            let runs: Vec<serde_json::Value> = export::written_runs(&s.text, s)
                .into_iter()
                .map(|run| match run.at {
                    Some((start, end)) => json!([run.text, seconds(start), seconds(end)]),
                    None => json!(run.text),
                })
                .collect();
            (s.id.clone(), json!(runs))
        })
        .collect()
}

/// The edition's segments whose audio the plan no longer has (their text, take or pronunciation changed): what a
/// re-derivation synthesizes.
fn stale<'a>(manifest: &'a Manifest, job: &Job) -> Vec<&'a str> {
    let now: BTreeMap<&str, &str> = job
        .plan
        .segments
        .iter()
        .map(|s| (s.id.as_str(), s.cache_key.as_str()))
        .collect();
    manifest
        .segments
        .iter()
        .filter(|s| now.get(s.id.as_str()) != Some(&s.cache_key.as_str()))
        .map(|s| s.id.as_str())
        .collect()
}

fn segment_text(job: &Job, id: &str) -> String {
    job.plan
        .segments
        .iter()
        .find(|s| s.id == id)
        .map(|s| s.text.clone())
        .unwrap_or_default()
}

/// A word and its respelling, as a lexicon entry can hold them.
fn check_entry(word: &str, say: &str) -> std::result::Result<(), Problem> {
    let (word, say) = (word.trim(), say.trim());
    if word.is_empty() || say.is_empty() {
        return Err(Problem::Bad(
            "give the word and how to say it (a respelling, or espeak phonemes in [[ ]])".into(),
        ));
    }
    if word.chars().count() > 100
        || say.chars().count() > 300
        || (word.contains('\n') || say.contains('\n'))
    {
        return Err(Problem::Bad(
            "a lexicon entry is one line: a word or phrase of up to 100 characters, said in up to 300".into(),
        ));
    }
    Ok(())
}

/// Whether `after` is `before` with only its segment `at` changed: the same number of segments, every other one
/// with the same text, in the same chapter. Says what else would change.
fn only_changes(
    before: &crate::plan::Plan,
    after: &crate::plan::Plan,
    at: usize,
) -> std::result::Result<(), String> {
    let (old, new) = (&before.segments, &after.segments);
    if old.len() != new.len() {
        return Err(format!(
            "the new text would make the essay {} sentences instead of {} (one sentence stays one sentence, and \
             markup such as <!--, ```, <script> or <pre> would hide the text after it)",
            new.len(),
            old.len()
        ));
    }
    if before.chapters.len() != after.chapters.len() {
        return Err("the new text would change the essay's chapters".into());
    }
    match old
        .iter()
        .zip(new)
        .enumerate()
        .find(|(i, (a, b))| *i != at && (a.text != b.text || a.chapter != b.chapter))
    {
        Some((_, (a, _))) => Err(format!(
            "the new text would also change another sentence (\"{}\")",
            a.text.chars().take(60).collect::<String>()
        )),
        None => Ok(()),
    }
}

/// `essay.md.bak` beside the essay: the file as it was before the studio's last change to it.
fn backup_path(essay: &Path) -> PathBuf {
    let name = essay.file_name().unwrap_or_default().to_string_lossy();
    essay.with_file_name(format!("{}.bak", crate::atomic::short_name(&name)))
}

/// Writes a file atomically with the permissions `like` has (the essay keeps its mode, and so does its backup).
fn write_keeping_mode(path: &Path, bytes: &[u8], like: &Path) -> Result<()> {
    crate::atomic::write_bytes_like(path, bytes, like).map_err(|source| Error::Output {
        path: path.to_owned(),
        source,
    })
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
