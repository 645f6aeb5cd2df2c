//! The pipeline from essay file to finished edition: plan, synthesize in parallel, join, write the manifest.

pub mod batch;
pub mod cache;
pub mod plan;
pub mod run;
pub mod takes;

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::atomic;
use crate::audio::join::{self, Piece};
use crate::audio::master::{self, Preset};
use crate::error::{Error, Result};
use crate::essay::lexicon::Lexicon;
use crate::essay::normalize::Normalizer;
use crate::essay::{self, Essay};
use crate::export::wav_cue;
use crate::manifest::Manifest;
use crate::settings::Settings;
use crate::synth::{self, Backend};
use crate::timeline::Timeline;

use cache::Cache;
use plan::{Plan, PlanInputs};
use run::SynthStats;
use takes::Takes;

/// An essay loaded and planned, ready to produce.
pub struct Job {
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
}

/// What producing an edition did.
pub struct Report {
    pub wav: PathBuf,
    pub manifest_path: PathBuf,
    pub manifest: Manifest,
    pub stats: SynthStats,
    pub timeline: Timeline,
    pub warnings: Vec<String>,
}

impl Job {
    /// Loads the essay, its takes and the backend, and plans it.
    pub fn prepare(essay_path: &Path, settings: Settings) -> Result<Job> {
        let backend: Arc<dyn Backend> =
            Arc::from(synth::create(&settings.backend, &settings.backends)?);
        Job::prepare_with(essay_path, settings, backend)
    }

    /// As `prepare`, with a backend shared with other jobs (a batch loads each voice once).
    pub fn prepare_with(
        essay_path: &Path,
        settings: Settings,
        backend: Arc<dyn Backend>,
    ) -> Result<Job> {
        let essay = essay::load(essay_path)?;
        let voice = settings
            .voice
            .clone()
            .unwrap_or_else(|| backend.default_voice());
        let fingerprint = backend.fingerprint(&voice)?;
        let takes_path = takes::path_for(essay_path);
        let takes = Takes::load(&takes_path)?;
        let lexicon = Lexicon::new(&settings.lexicon).map_err(Error::Invalid)?;
        let normalizer = Normalizer {
            acronyms: settings.acronyms.iter().cloned().collect(),
            initialisms: settings.initialisms.iter().cloned().collect(),
            ..Normalizer::default()
        };
        let mut job = Job {
            normalizer,
            lexicon,
            essay_path: essay_path.to_owned(),
            cache: Cache::new(&settings.cache_dir),
            settings,
            essay,
            backend,
            voice,
            fingerprint,
            takes_path,
            takes,
            plan: Plan {
                title: String::new(),
                author: None,
                backend: String::new(),
                voice: String::new(),
                rate: None,
                chapters: vec![],
                segments: vec![],
            },
        };
        job.replan();
        Ok(job)
    }

    /// Finds a segment by id or unique id prefix.
    pub fn resolve(&self, wanted: &str) -> Result<String> {
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

    /// Plans again (after the takes changed).
    pub fn replan(&mut self) {
        let author = self
            .settings
            .author
            .clone()
            .or_else(|| self.essay.byline_author());
        self.plan = plan::build(
            &self.essay,
            &PlanInputs {
                title: self.essay.display_title(&self.essay_path),
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
        );
    }

    /// The file stem of the essay, used for output names.
    pub fn stem(&self) -> String {
        self.essay_path
            .file_stem()
            .map_or_else(|| "essay".into(), |s| s.to_string_lossy().into_owned())
    }

    /// The output directory: `dir` if given, else `audio/out/<stem>/`.
    pub fn out_dir(&self, dir: Option<&Path>) -> PathBuf {
        dir.map_or_else(
            || Path::new("audio").join("out").join(self.stem()),
            Path::to_owned,
        )
    }

    pub fn manifest_path(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.json", self.stem()))
    }

    /// Creates `dir` and checks that files can be written there, before any time is spent synthesizing.
    pub fn prepare_output(&self, dir: &Path) -> Result<()> {
        let out_err = |source| Error::Output {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(out_err)?;
        tempfile::tempfile_in(dir).map_err(out_err)?;
        Ok(())
    }

    /// Synthesizes what is missing, joins the edition into `dir/<stem>.wav` with chapter chunks and writes
    /// `dir/<stem>.json`. Both files are replaced atomically.
    pub fn produce(&self, dir: &Path, quiet: bool) -> Result<Report> {
        self.prepare_output(dir)?;
        let stats = run::synthesize(
            &self.plan,
            self.backend.as_ref(),
            &self.cache,
            self.settings.jobs,
            quiet,
        )?;
        self.assemble(dir, stats)
    }

    /// A hash of everything that shapes the joined edition (segment audio, pauses, chapters, tags): an output
    /// whose manifest has the same key is up to date.
    pub fn plan_key(&self) -> String {
        let shape: Vec<(&str, u32, usize)> = self
            .plan
            .segments
            .iter()
            .map(|s| (s.cache_key.as_str(), s.pause_after_ms, s.chapter))
            .collect();
        let titles: Vec<&str> = self
            .plan
            .chapters
            .iter()
            .map(|c| c.title.as_str())
            .collect();
        let json = serde_json::to_vec(&(
            crate::manifest::VERSION,
            self.settings.master,
            self.settings.sample_rate,
            &self.plan.title,
            &self.plan.author,
            titles,
            shape,
        ))
        .expect("plain data serializes");
        blake3::hash(&json).to_hex()[..32].to_string()
    }

    /// Whether `dir` already holds this plan's edition (its manifest has the same plan key and its WAV exists).
    pub fn up_to_date(&self, dir: &Path) -> bool {
        let wav = dir.join(format!("{}.wav", self.stem()));
        matches!(Manifest::load(&self.manifest_path(dir)), Ok(Some(m)) if m.plan_key == self.plan_key())
            && wav.is_file()
    }

    /// Joins the edition from the cache (every segment must be there) and writes the WAV and manifest.
    pub fn assemble(&self, dir: &Path, stats: SynthStats) -> Result<Report> {
        let out_err = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::Output {
                path: path.clone(),
                source,
            }
        };
        let stem = self.stem();
        let wav = dir.join(format!("{stem}.wav"));
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
                pause_after_ms: s.pause_after_ms,
            })
            .collect();
        let titles: Vec<String> = self.plan.chapters.iter().map(|c| c.title.clone()).collect();
        let tags = wav_cue::Tags {
            title: &self.plan.title,
            author: self.plan.author.as_deref(),
        };
        let preset = self.settings.master;
        let (joined, mastered) = if preset == Preset::None {
            let joined = atomic::write(
                &wav,
                |file| {
                    let joined = join::join(
                        BufWriter::new(&mut *file),
                        &wav,
                        &pieces,
                        &titles,
                        self.settings.sample_rate,
                    )?;
                    wav_cue::append(file, &joined.timeline, &tags).map_err(out_err(&wav))?;
                    Ok(joined)
                },
                out_err(&wav),
            )?;
            (joined, None)
        } else {
            // Join into a temporary file, then master it into the edition: two streaming passes.
            let mut raw = tempfile::Builder::new()
                .prefix(&format!(".{stem}.raw."))
                .suffix(".wav")
                .tempfile_in(dir)
                .map_err(out_err(dir))?;
            let raw_path = raw.path().to_owned();
            let joined = join::join(
                BufWriter::new(raw.as_file_mut()),
                &raw_path,
                &pieces,
                &titles,
                self.settings.sample_rate,
            )?;
            let mastered = atomic::write(
                &wav,
                |file| {
                    let m = master::master(&raw_path, BufWriter::new(&mut *file), &wav, preset)?;
                    wav_cue::append(file, &joined.timeline, &tags).map_err(out_err(&wav))?;
                    Ok(m)
                },
                out_err(&wav),
            )?;
            (joined, Some(mastered))
        };
        verify(&wav, &joined.timeline)?;

        let mut manifest = Manifest::new(
            &self.plan,
            &joined.timeline,
            &self.essay_path,
            &format!("{stem}.wav"),
        );
        manifest.plan_key = self.plan_key();
        manifest.loudness = mastered;
        crate::export::write_all(&manifest, dir, &stem, &self.settings.exports)?;
        crate::audio::encode::encode(&wav, &manifest, &self.settings.formats, preset)?;
        let manifest_path = self.manifest_path(dir);
        atomic::write_bytes(&manifest_path, manifest.to_json().as_bytes())
            .map_err(out_err(&manifest_path))?;

        Ok(Report {
            wav,
            manifest_path,
            manifest,
            stats,
            timeline: joined.timeline,
            warnings: joined.warnings,
        })
    }
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
