//! From essay file to finished edition, one path for every command: `Job::prepare` loads and plans an essay,
//! `schedule::run` synthesizes what any number of jobs miss (a build is a batch of one), and `Job::assemble`
//! derives the whole edition from the plan and the cache: join, master, exports, compressed editions, manifest and
//! the closing check. `regen` is a build with other takes; nothing else writes an edition.

pub(crate) mod batch;
mod place;
pub(crate) mod schedule;
mod shape;
mod shard;

pub(crate) use place::{Built, Judged, Place};

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::atomic;
use crate::audio::join::{self, Piece};
use crate::audio::master::{self, Preset};
use crate::cache::Cache;
use crate::edition::Edition;
use crate::error::{Error, Result};
use crate::essay::lexicon::Lexicon;
use crate::essay::normalize::{Language, Normalizer};
use crate::essay::{self, Essay};
use crate::export::wav_cue;
use crate::manifest::Manifest;
use crate::plan::takes::{self, Takes};
use crate::plan::{self, Plan, PlanInputs};
use crate::settings::Settings;
use crate::synth::{self, Backend};
use crate::timeline::Timeline;
use shape::Shape;

pub(crate) use schedule::SynthStats;

/// An essay loaded and planned, ready to produce.
pub(crate) struct Job {
    pub essay_path: PathBuf,
    pub settings: Settings,
    pub essay: Essay,
    pub backend: Arc<dyn Backend>,
    pub voice: String,
    pub fingerprint: String,
    pub cache: Cache,
    pub takes_path: PathBuf,
    pub takes: Takes,
    pub normalizer: Normalizer,
    pub lexicon: Lexicon,
    pub plan: Plan,
    /// The edition's name, when not the essay file's (`--name`).
    pub name: Option<String>,
    /// The essay file's bytes, hashed before it was read (for the inputs key).
    essay_digest: Option<String>,
    /// Takes chosen for this edition that the takes file does not hold yet (a regen's): written with the
    /// edition, in the same commit.
    new_takes: Option<Takes>,
}

/// What producing an edition did.
pub(crate) struct Report {
    pub wav: PathBuf,
    pub manifest_path: PathBuf,
    pub manifest: Manifest,
    pub stats: SynthStats,
    pub warnings: Vec<String>,
    /// The closing check of the written edition (the same as `narrate check`).
    pub check: crate::check::Report,
}

impl Job {
    /// Loads the essay, its takes and the backend, and plans it.
    pub(crate) fn prepare(essay_path: &Path, settings: Settings) -> Result<Job> {
        let backend: Arc<dyn Backend> =
            Arc::from(synth::create(settings.backend, &settings.backends)?);
        Job::prepare_with(essay_path, settings, backend)
    }

    /// As `prepare`, with a backend shared with other jobs (a batch loads each voice once).
    pub(crate) fn prepare_with(
        essay_path: &Path,
        settings: Settings,
        backend: Arc<dyn Backend>,
    ) -> Result<Job> {
        let inputs = Inputs::read(essay_path, &settings, backend)?;
        Job::from_inputs(inputs, settings)
    }

    /// Parses and plans an essay whose inputs are read (each file once).
    pub(crate) fn from_inputs(inputs: Inputs, settings: Settings) -> Result<Job> {
        let Inputs {
            essay_path,
            bytes,
            digest: essay_digest,
            takes_path,
            takes,
            backend,
            voice,
            fingerprint,
        } = inputs;
        let essay =
            essay::parse::from_bytes(&essay_path, &bytes, settings.max_essay_bytes, settings.book)?
                .with_footnotes(settings.footnotes);
        drop(bytes);
        let language = reading_language(
            settings.language.as_deref(),
            &essay,
            backend.as_ref(),
            &voice,
        )
        .map_err(Error::Usage)?;
        let lexicon = Lexicon::new(&settings.lexicon).map_err(Error::Invalid)?;
        let normalizer = Normalizer {
            language,
            acronyms: settings.acronyms.iter().cloned().collect(),
            initialisms: settings.initialisms.iter().cloned().collect(),
        };
        let mut job = Job {
            normalizer,
            lexicon,
            essay_path,
            cache: Cache::new(&settings.cache_dir),
            settings,
            essay,
            backend,
            voice,
            fingerprint,
            takes_path,
            takes,
            name: None,
            essay_digest,
            new_takes: None,
            plan: Plan {
                title: String::new(),
                author: None,
                backend: String::new(),
                voice: String::new(),
                rate: None,
                chapters: vec![],
                segments: vec![],
                book: None,
            },
        };
        job.replan();
        Ok(job)
    }

    /// What to tell the user about the essay before any work: the parser's warnings (skipped tables, code
    /// blocks…) and, for a language without text rules, what is still done.
    pub(crate) fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .essay
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect();
        if let Some(w) = self.normalizer.language.warning() {
            out.push(w);
        }
        out.extend(self.voice_mismatch());
        out
    }

    /// A text in another language than the voice speaks (a German book, an English voice) is read with the
    /// voice's sounds: said once, with a voice that speaks the text's language where espeak-ng has one.
    fn voice_mismatch(&self) -> Option<String> {
        let Language::Other(tag) = &self.normalizer.language else {
            return None;
        };
        let spoken = self.backend.voice_language(&self.voice)?;
        let primary = |t: &str| {
            t.split(['-', '_'])
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase()
        };
        let text = primary(tag);
        if primary(&spoken) == text {
            return None;
        }
        let other = synth::registry::create("espeak", &synth::BackendConfig::default())
            .ok()
            .and_then(|b| b.voices().ok())
            .and_then(|voices| {
                let mut names: Vec<String> = voices
                    .into_iter()
                    .map(|v| v.name)
                    .filter(|n| primary(n) == text)
                    .collect();
                names.sort_by_key(|n| (n.len(), n.clone()));
                names.into_iter().next()
            });
        let remedy = match other {
            Some(v) => {
                format!("for a voice that speaks it, build with --backend espeak --voice {v}")
            }
            None => "choose a voice that speaks it (`narrate voices` lists them)".into(),
        };
        Some(format!(
            "the text is in `{tag}` but the voice `{}` ({}) speaks `{spoken}`, so it is read with that \
             language's sounds; {remedy}",
            self.voice,
            self.backend.name()
        ))
    }

    /// Finds a segment by id or unique id prefix.
    pub(crate) fn resolve(&self, wanted: &str) -> Result<String> {
        let segments = &self.plan.segments;
        if let Some(s) = segments.iter().find(|s| s.id == wanted) {
            return Ok(s.id.clone());
        }
        let matches: Vec<&str> = segments
            .iter()
            .map(|s| s.id.as_str())
            .filter(|id| !wanted.is_empty() && id.starts_with(wanted))
            .collect();
        match matches.as_slice() {
            [one] => Ok(one.to_string()),
            [] => Err(Error::UnknownSegment {
                id: wanted.into(),
                path: self.essay_path.clone(),
            }),
            many => Err(Error::AmbiguousSegment {
                id: wanted.into(),
                path: self.essay_path.clone(),
                matches: many.join(", "),
            }),
        }
    }

    /// The same job with other takes (a regen is a build with these takes).
    pub(crate) fn with_takes(mut self, takes: Takes) -> Job {
        self.takes = takes;
        self.replan();
        self
    }

    /// The same job with other takes, which its edition's commit also writes into the takes file (a regen: the
    /// edition and the takes file that chose it change together, or neither does).
    pub(crate) fn choosing(mut self, takes: Takes) -> Job {
        self.new_takes = Some(takes.clone());
        self.with_takes(takes)
    }

    /// The same job narrowed to some segments (a preview of them).
    pub(crate) fn only(mut self, ids: &[String]) -> Job {
        self.plan.segments.retain(|s| ids.contains(&s.id));
        self
    }

    fn replan(&mut self) {
        self.plan = self.plan_of(&self.essay);
    }

    /// The plan the essay file would have if its text were `text` (the studio checks an edit with it before
    /// writing the file): parsed as the file's format, planned with this job's settings, takes and voice.
    pub(crate) fn plan_of_text(&self, text: &str) -> Plan {
        let format = essay::parse::Format::from_path(&self.essay_path);
        let essay = essay::parse::parse_str(text, format).with_footnotes(self.settings.footnotes);
        self.plan_of(&essay)
    }

    fn plan_of(&self, essay: &Essay) -> Plan {
        let author = self
            .settings
            .author
            .clone()
            .or_else(|| essay.byline_author());
        plan::build(
            essay,
            &PlanInputs {
                title: essay.display_title(&self.essay_path),
                author,
                chapters: self.settings.chapters,
                max_chars: self.settings.max_chars,
                pauses: self.settings.pauses,
                backend: self.backend.name(),
                fingerprint: &self.fingerprint,
                voice: &self.voice,
                rate: self.settings.rate,
                takes: &self.takes,
                normalizer: self.settings.normalize.then_some(&self.normalizer),
                lexicon: &self.lexicon,
            },
        )
    }

    /// The file stem of the essay, used for output names.
    pub(crate) fn stem(&self) -> String {
        stem(&self.essay_path, self.name.as_deref())
    }

    /// The same job with its edition named `name` (`--name`: folder and file names).
    pub(crate) fn named(mut self, name: Option<String>) -> Job {
        self.name = name;
        self
    }

    pub(crate) fn manifest_path(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.json", self.stem()))
    }

    /// Creates `dir` and checks that files can be written there and that the edition fits a WAV file, before any
    /// time is spent synthesizing.
    pub(crate) fn prepare_output(&self, dir: &Path) -> Result<()> {
        let out_err = |source| Error::Output {
            path: dir.to_owned(),
            source,
        };
        // The length foreseen with the pace `audio::plausible` expects of any voice.
        let seconds: f64 = self
            .plan
            .segments
            .iter()
            .map(|s| {
                crate::audio::plausible::expected_seconds(&s.spoken, self.settings.rate)
                    + f64::from(s.pause_after_ms) / 1000.0
            })
            .sum();
        let rate = self.settings.sample_rate.unwrap_or(ASSUMED_RATE);
        check_wav_size(&self.essay_path, seconds * f64::from(rate))?;
        crate::export::encode::check_available(&self.settings.formats)?;
        std::fs::create_dir_all(dir).map_err(out_err)?;
        tempfile::tempfile_in(dir).map_err(out_err)?;
        Ok(())
    }

    /// Synthesizes what is missing (through the one scheduler, as a batch of one) and writes the edition.
    pub(crate) fn produce(self, dir: &Path, quiet: bool) -> Result<Report> {
        self.produce_watched(dir, quiet, None)
    }

    /// [`Job::produce`], telling `watch` how far it is and stopping (with no edition written) when it is
    /// cancelled.
    pub(crate) fn produce_watched(
        self,
        dir: &Path,
        quiet: bool,
        watch: Option<Arc<schedule::Watch>>,
    ) -> Result<Report> {
        self.prepare_output(dir)?;
        let options = schedule::Options {
            jobs: self.settings.jobs,
            retries: self.settings.retries,
            shard: None,
            join_only: false,
            synthesize_only: false,
        };
        let mut progress = schedule::Progress::new(&[self.stem()], quiet, false);
        if let Some(watch) = watch {
            progress = progress.watched(watch);
        }
        let mut results = schedule::run(vec![(self, dir.to_owned())], &options, &progress);
        match results.pop() {
            Some(Ok(schedule::Produced::Written(report))) => Ok(*report),
            Some(Err(e)) => Err(e),
            _ => Err(Error::Invalid("the edition was not written".into())),
        }
    }

    /// Synthesizes what the cache lacks of this plan (through the one scheduler) and writes no edition.
    pub(crate) fn synthesize(self, quiet: bool) -> Result<SynthStats> {
        let options = schedule::Options {
            jobs: self.settings.jobs,
            retries: self.settings.retries,
            shard: None,
            join_only: false,
            synthesize_only: true,
        };
        let progress = schedule::Progress::new(&[self.stem()], quiet, false);
        let dir = PathBuf::from(".");
        match schedule::run(vec![(self, dir)], &options, &progress).pop() {
            Some(Ok(schedule::Produced::Synthesized(stats))) => Ok(stats),
            Some(Err(e)) => Err(e),
            _ => Err(Error::Invalid("the segments were not synthesized".into())),
        }
    }

    /// What shapes this edition (the recorded settings and what is read again), resolved with its backend and
    /// voice.
    fn shape(&self) -> Shape {
        Shape::of(&self.settings, self.backend.name(), &self.voice)
    }

    /// The settings that shape this edition, as `narrate.toml` keys: the manifest keeps them, so `regen` redoes
    /// the edition as it was built.
    pub(crate) fn recorded_settings(&self) -> serde_json::Value {
        self.shape().recorded
    }

    /// Every file the edition is made of: the WAV, the manifest, the exports and compressed editions.
    pub(crate) fn outputs(&self, dir: &Path) -> Vec<PathBuf> {
        outputs(&self.settings, &self.stem(), dir)
    }

    /// The files the edition's manifest in `dir` says it was made of and the new edition (`made`, file names) is
    /// not: an MP3 after `--format m4b`, a caption file no longer exported. Left in place they would look current
    /// and hold the old takes; the commit retires them. None when there is no manifest or it cannot be read.
    fn retired(&self, dir: &Path, made: &[String]) -> Vec<String> {
        let path = self.manifest_path(dir);
        let Ok(Some(before)) = Manifest::load(&path) else {
            return Vec::new();
        };
        let Ok(settings) = place::recorded(&before, &path).and_then(Settings::from_layer) else {
            return Vec::new();
        };
        outputs(&settings, &self.stem(), dir)
            .iter()
            .filter(|p| p.is_file())
            .filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
            .filter(|n| !made.contains(n))
            .collect()
    }

    /// A hash of everything that shapes the joined edition (segment audio, pauses, chapters, tags): an output
    /// whose manifest has the same key is up to date.
    pub(crate) fn plan_key(&self) -> String {
        let shape: Vec<(&str, u32, usize)> = self
            .plan
            .segments
            .iter()
            .map(|s| (s.cache_key.as_str(), s.pause_after_ms, s.chapter))
            .collect();
        let titles: Vec<(&str, u8)> = self
            .plan
            .chapters
            .iter()
            .map(|c| (c.title.as_str(), c.level))
            .collect();
        let mut json = serde_json::to_vec(&(
            crate::manifest::VERSION,
            self.shape().recorded,
            &self.plan.title,
            &self.plan.author,
            &self.plan.book,
            titles,
            shape,
        ))
        .expect("plain data serializes");
        // A mastered edition is made again when mastering's rules change (an unmastered one's key is as it was).
        if self.settings.master != Preset::None {
            json.extend_from_slice(format!("master rules {}", master::RULES).as_bytes());
        }
        blake3::hash(&json).to_hex()[..32].to_string()
    }

    /// Whether `dir` already holds this plan's edition: its manifest has the same plan key and every output file
    /// is there. An up-to-date edition is left alone (nothing joined, mastered, encoded or rewritten).
    pub(crate) fn up_to_date(&self, dir: &Path) -> bool {
        matches!(Manifest::load(&self.manifest_path(dir)), Ok(Some(m)) if m.plan_key == self.plan_key())
            && untouched(&self.manifest_path(dir), &self.outputs(dir))
    }

    /// Joins the edition from the cache (every segment must be there) and writes it whole: the WAV, exports,
    /// compressed editions and manifest are made in a staging folder and moved into place together, the manifest
    /// last, under the output folder's lock. A failed step leaves the previous edition as it was.
    pub(crate) fn assemble(&self, dir: &Path, stats: SynthStats) -> Result<Report> {
        let stem = self.stem();
        let _lock = lock_output(dir)?;
        atomic::recover(dir, &stem).map_err(out_err(dir))?;
        atomic::clean_leftovers(dir);
        let stage = atomic::Staging::begin(dir, &stem).map_err(out_err(dir))?;
        let wav_name = format!("{stem}.wav");
        let wav = stage.path(&wav_name);
        let (joined, mastered) = self.join_into(&stage, &wav)?;
        let edition = Edition {
            plan_key: self.plan_key(),
            inputs_key: self
                .essay_digest
                .as_deref()
                .map(|d| {
                    inputs_key(
                        &self.essay_path,
                        d,
                        &self.takes,
                        &self.shape(),
                        &self.fingerprint,
                    )
                })
                .unwrap_or_default(),
            loudness: mastered,
            settings: self.recorded_settings(),
            caption_words: self.settings.caption_words as usize,
            ..Edition::new(&self.plan, &joined.timeline, &self.essay_path, &wav_name)
        };
        let manifest = edition.manifest();
        let manifest_name = format!("{stem}.json");
        let staged_manifest = stage.path(&manifest_name);
        std::fs::write(&staged_manifest, manifest.to_json()).map_err(out_err(&staged_manifest))?;
        let shown = dir.join(&wav_name);
        let check = self.outputs_and_check(&edition, &wav, &shown)?;
        // Written again, after every other output: a manifest older than none of them says they are its own.
        std::fs::write(&staged_manifest, manifest.to_json()).map_err(out_err(&staged_manifest))?;

        // Every output made: move them into place, the manifest last (a reader goes by the manifest).
        let order: Vec<String> = self
            .outputs(dir)
            .iter()
            .filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
            .filter(|n| *n != manifest_name)
            .chain([manifest_name.clone()])
            .collect();
        let retired = self.retired(dir, &order);
        // A regen's takes file is part of the edition it chose: committed with it, or not at all.
        let outside = match &self.new_takes {
            Some(takes) => vec![(takes.stage(&self.takes_path)?, self.takes_path.clone())],
            None => Vec::new(),
        };
        stage
            .commit(&order, &retired, &outside)
            .map_err(|failed| Error::Output {
                path: failed.path,
                source: failed.source,
            })?;
        Ok(Report {
            wav: shown,
            manifest_path: self.manifest_path(dir),
            manifest,
            stats,
            warnings: joined.warnings,
            check,
        })
    }

    /// Joins the cached segments into the staged WAV at `wav` (through a raw file and mastering when a preset is
    /// set), with its chapter chunks, and verifies it against the timeline.
    fn join_into(
        &self,
        stage: &atomic::Staging,
        wav: &Path,
    ) -> Result<(join::Joined, Option<master::Mastered>)> {
        for s in &self.plan.segments {
            self.cache.touch(&s.cache_key);
        }
        let pieces: Vec<Piece> = self
            .plan
            .segments
            .iter()
            .map(|s| Piece {
                id: s.id.clone(),
                path: self.cache.path(&s.cache_key),
                chapter: s.chapter,
                spoken: s.spoken.clone(),
                pause_after_ms: s.pause_after_ms,
            })
            .collect();
        let titles: Vec<String> = self.plan.chapters.iter().map(|c| c.title.clone()).collect();
        let tags = wav_cue::Tags {
            title: &self.plan.title,
            author: self.plan.author.as_deref(),
        };
        let preset = self.settings.master;
        check_wav_size(&self.essay_path, self.edition_samples(&pieces))?;
        let mut file = create_new(wav)?;
        let (joined, mastered) = if preset == Preset::None {
            let joined = join::join(
                BufWriter::new(&mut file),
                wav,
                &pieces,
                &titles,
                self.settings.sample_rate,
            )?;
            (joined, None)
        } else {
            // Join into a temporary file, then master it into the edition: two streaming passes.
            let raw_path = stage.path(&format!("{}.raw.wav", self.stem()));
            let joined = join::join(
                BufWriter::new(create_new(&raw_path)?),
                &raw_path,
                &pieces,
                &titles,
                self.settings.sample_rate,
            )?;
            let m = master::master(&raw_path, BufWriter::new(&mut file), wav, preset)?;
            std::fs::remove_file(&raw_path).map_err(out_err(&raw_path))?;
            (joined, Some(m))
        };
        wav_cue::append(&mut file, &joined.timeline, &tags).map_err(out_err(wav))?;
        drop(file);
        verify(wav, &joined.timeline)?;
        Ok((joined, mastered))
    }

    /// The edition's exact length in samples, from the segments' headers and the pauses, at the edition's rate
    /// (the first segment's if unset).
    fn edition_samples(&self, pieces: &[Piece]) -> f64 {
        let lengths: Vec<(u64, u32)> = pieces.iter().map(|p| wav_length(&p.path)).collect();
        let rate = self
            .settings
            .sample_rate
            .or_else(|| lengths.first().map(|l| l.1))
            .unwrap_or(ASSUMED_RATE);
        lengths
            .iter()
            .map(|&(n, r)| n as f64 * f64::from(rate) / f64::from(r.max(1)))
            .sum::<f64>()
            + self
                .plan
                .segments
                .iter()
                .map(|s| f64::from(s.pause_after_ms) * f64::from(rate) / 1000.0)
                .sum::<f64>()
    }

    /// Makes the compressed editions and exports beside the staged WAV at `wav` while the closing check reads it
    /// (two cores, two passes at once) and the WAV is written to disk, the check naming the edition `shown` as it
    /// will be once committed. The compressed editions come before the exports: the read-along EPUB takes the
    /// M4B's audio.
    fn outputs_and_check(
        &self,
        edition: &Edition,
        wav: &Path,
        shown: &Path,
    ) -> Result<crate::check::Report> {
        let staged = wav
            .parent()
            .expect("staged files are in the staging folder");
        let stem = self.stem();
        let options = crate::check::Options {
            listen: self.settings.check == crate::values::CheckMode::Listen,
        };
        let (made, check) = std::thread::scope(|s| {
            // The WAV on its way to the disk meanwhile (the commit syncs every file; this one is the largest, and
            // then has little left to write). An error here is the commit's to report.
            s.spawn(|| std::fs::File::open(wav).and_then(|f| f.sync_data()));
            let check = s.spawn(|| crate::check::check_as(wav, Some(shown), options));
            let made = crate::export::encode::encode(
                wav,
                edition,
                &self.settings.formats,
                self.settings.master,
            )
            .and_then(|_| {
                crate::export::write_all(edition, staged, staged, &stem, &self.settings.exports)
            });
            (made, check.join())
        });
        made?;
        check.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// The error for a file narrate could not write.
fn out_err(path: &Path) -> impl Fn(std::io::Error) -> Error {
    let path = path.to_owned();
    move |source| Error::Output {
        path: path.clone(),
        source,
    }
}

/// Creates a file that must not exist yet, for reading and writing.
fn create_new(path: &Path) -> Result<std::fs::File> {
    std::fs::File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(out_err(path))
}

/// The sample rate assumed before synthesis when none is set (the highest of the usual voices').
const ASSUMED_RATE: u32 = 24_000;
/// Most 16-bit samples a WAV file holds (its sizes are 32-bit; the chapter chunks need a little room).
const MAX_WAV_SAMPLES: f64 = ((u32::MAX - (1 << 20)) / 2) as f64;

/// Refuses an edition of `samples` samples that a WAV file cannot hold, saying what to do instead.
fn check_wav_size(essay: &Path, samples: f64) -> Result<()> {
    if samples <= MAX_WAV_SAMPLES {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "{}: the edition would be about {:.1} GB, over the 4 GB a WAV file holds; split the essay into parts \
         (or batch them), or choose a lower --sample-rate",
        essay.display(),
        samples * 2.0 / 1e9
    )))
}

/// Finishes (or discards) what an interrupted build left of the edition `stem` in `dir`, under the folder's lock:
/// after it, the folder holds one whole edition, the old or the new. Readers (`check`) call it first.
pub(crate) fn settle(dir: &Path, stem: &str) -> Result<bool> {
    let _lock = lock_output(dir)?;
    atomic::recover(dir, stem).map_err(|source| Error::Output {
        path: dir.to_owned(),
        source,
    })
}

/// Takes the lock of an output folder (the folder itself: no lock file among the edition's), so two narrate processes never write one folder's editions at once (the
/// second waits, and says so).
pub(crate) fn lock_output(dir: &Path) -> Result<atomic::Lock> {
    let path = dir.to_owned();
    atomic::Lock::acquire(&path, || {
        eprintln!(
            "waiting: another narrate is writing to {}; this one goes on when it is done",
            dir.display()
        )
    })
    .map_err(|source| Error::Output { path, source })
}

/// An edition's name: `--name`, else the essay file's stem (`stdin` for standard input), shortened when very long.
pub(crate) fn stem(essay_path: &Path, name: Option<&str>) -> String {
    if let Some(name) = name {
        return name.to_string();
    }
    if essay_path == Path::new(crate::essay::parse::STDIN) {
        return "stdin".into();
    }
    // A very long file name is shortened with a hash, so `<stem>.<export suffix>` stays a legal file name.
    essay_path.file_stem().map_or_else(
        || "essay".into(),
        |s| atomic::short_name(&s.to_string_lossy()).into_owned(),
    )
}

/// Where an edition goes: `dir` if given, else `audio/out/<stem>/`.
pub(crate) fn out_dir(stem: &str, dir: Option<&Path>) -> PathBuf {
    dir.map_or_else(|| Path::new("audio").join("out").join(stem), Path::to_owned)
}

/// What an edition is made from, each read once: the essay file's bytes (and their digest), its takes, and the
/// backend with its resolved voice and that voice's fingerprint (Piper's hashes the voice's model).
pub(crate) struct Inputs {
    essay_path: PathBuf,
    bytes: Vec<u8>,
    /// The BLAKE3 of the bytes (`None` for standard input, which is never called up to date).
    digest: Option<String>,
    takes_path: PathBuf,
    takes: Takes,
    backend: Arc<dyn Backend>,
    voice: String,
    fingerprint: String,
}

impl Inputs {
    /// Reads the essay and its takes and asks the backend for the voice's fingerprint.
    pub(crate) fn read(
        essay_path: &Path,
        settings: &Settings,
        backend: Arc<dyn Backend>,
    ) -> Result<Inputs> {
        let voice = Inputs::voice(settings, backend.as_ref());
        let fingerprint = backend.fingerprint(&voice)?;
        let bytes = essay::parse::read(essay_path, settings.max_essay_bytes)?;
        let digest = (essay_path != Path::new(essay::parse::STDIN))
            .then(|| blake3::hash(&bytes).to_hex().to_string());
        let takes_path = takes::path_for(essay_path);
        let takes = Takes::load(&takes_path)?;
        Ok(Inputs {
            essay_path: essay_path.to_owned(),
            bytes,
            digest,
            takes_path,
            takes,
            backend,
            voice,
            fingerprint,
        })
    }

    /// The voice `settings` ask `backend` for (its default when they name none).
    pub(crate) fn voice(settings: &Settings, backend: &dyn Backend) -> String {
        settings
            .voice
            .clone()
            .unwrap_or_else(|| backend.default_voice())
    }

    /// The inputs key of an edition made from these inputs with `settings` (`None` for standard input).
    pub(crate) fn key(&self, settings: &Settings) -> Option<String> {
        let shape = Shape::of(settings, self.backend.name(), &self.voice);
        let digest = self.digest.as_deref()?;
        Some(inputs_key(
            &self.essay_path,
            digest,
            &self.takes,
            &shape,
            &self.fingerprint,
        ))
    }
}

/// A hash of everything a plan is made from: this narrate build (version, and the executable's size and time, so
/// a rebuilt narrate plans again), the essay (its path and the digest of its bytes), the takes, what shapes the
/// edition (with the backend and the resolved voice) and the engine's fingerprint.
fn inputs_key(
    essay_path: &Path,
    essay_digest: &str,
    takes: &Takes,
    shape: &Shape,
    fingerprint: &str,
) -> String {
    let exe = std::env::current_exe()
        .and_then(std::fs::metadata)
        .ok()
        .map(|m| (m.len(), m.modified().ok()));
    let takes: Vec<(&String, u32)> = takes.segments.iter().map(|(id, e)| (id, e.take)).collect();
    let mut h = blake3::Hasher::new();
    for part in [
        env!("CARGO_PKG_VERSION").as_bytes(),
        format!("{exe:?}").as_bytes(),
        essay_path.as_os_str().as_encoded_bytes(),
        essay_digest.as_bytes(),
        format!("{takes:?}").as_bytes(),
        shape.recorded.to_string().as_bytes(),
        shape.read_again.as_bytes(),
        fingerprint.as_bytes(),
    ] {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().to_hex()[..32].to_string()
}

/// British or American readings: the setting, else the essay's own language, else the voice's. (The voice is
/// asked only when nothing more specific says: a backend may have to look it up.) `build` and `serve` read alike.
pub(crate) fn reading_language(
    setting: Option<&str>,
    essay: &Essay,
    backend: &dyn Backend,
    voice: &str,
) -> std::result::Result<Language, String> {
    let voice_language = if setting.is_none() && essay.language.is_none() {
        backend.voice_language(voice)
    } else {
        None
    };
    Language::resolve(
        setting,
        essay.language.as_deref(),
        voice_language.as_deref(),
    )
}

/// Whether every output is a file not changed since its manifest was written (the manifest is committed last):
/// an edition cut short, overwritten or damaged in place after the build is built again, not called up to date.
pub(crate) fn untouched(manifest: &Path, outputs: &[PathBuf]) -> bool {
    let modified = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .filter(std::fs::Metadata::is_file)
            .and_then(|m| m.modified().ok())
    };
    let Some(written) = modified(manifest) else {
        return false;
    };
    outputs
        .iter()
        .all(|f| modified(f).is_some_and(|t| t <= written))
}

/// Every file an edition is made of: the WAV, the manifest, the exports and compressed editions.
fn outputs(settings: &Settings, stem: &str, dir: &Path) -> Vec<PathBuf> {
    let mut files = vec![
        dir.join(format!("{stem}.wav")),
        dir.join(format!("{stem}.json")),
    ];
    files.extend(
        settings
            .exports
            .iter()
            .map(|e| dir.join(format!("{stem}{}", e.suffix()))),
    );
    files.extend(
        settings
            .formats
            .iter()
            .map(|f| dir.join(format!("{stem}.{}", f.extension()))),
    );
    files
}

/// How many samples a cached segment holds, and at what rate, from its header ((0, 1) when unreadable: the
/// join names that).
fn wav_length(path: &Path) -> (u64, u32) {
    hound::WavReader::open(path).map_or((0, 1), |r| (u64::from(r.duration()), r.spec().sample_rate))
}

/// Reads the written WAV's header back and checks it holds every sample the timeline accounts for, so audio
/// is never silently lost.
fn verify(wav: &Path, timeline: &Timeline) -> Result<()> {
    let reader = hound::WavReader::open(wav).map_err(|e| Error::Output {
        path: wav.to_owned(),
        source: crate::audio::wav::io_error(e),
    })?;
    let found = u64::from(reader.duration());
    if found != timeline.total_samples {
        return Err(Error::Invalid(format!(
            "{}: holds {found} samples but {} were joined; the disk may be full",
            wav.display(),
            timeline.total_samples
        )));
    }
    Ok(())
}
