//! An edition's place: the essay it is made from, its name and its folder, and the files there. `build` and
//! `regen` (the commands, the studio and `narrate serve --studio`) go through it: it finishes an interrupted commit
//! before anything is read, reads each input once, owns the freshness decision, and knows every file's name.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::settings::{Layer, Settings, SettingsArgs};
use crate::synth::{self, Backend};

use super::{Inputs, Job, Report};

/// Where an edition is: the essay, the edition's name (`--name`, else the essay file's) and its folder.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub(crate) essay: PathBuf,
    /// `--name`, when given.
    pub(crate) name: Option<String>,
    pub(crate) stem: String,
    pub(crate) dir: PathBuf,
}

/// What `build` did.
pub(crate) enum Built {
    /// Nothing changed since the edition was built: nothing was read beyond the inputs, nothing written.
    UpToDate {
        /// The edition's number of segments.
        segments: usize,
    },
    Written(Box<Report>),
}

/// Whether an edition is current ([`Place::judge`]).
pub(crate) enum Judged {
    /// Nothing it is made from changed since it was built.
    Current {
        /// The edition's number of segments.
        segments: usize,
    },
    /// It is missing or stale: the job that makes it.
    Needed(Box<Job>),
}

/// One segment a `regen` changed: its id and text, and the take before and after.
pub(crate) struct Change {
    pub(crate) id: String,
    pub(crate) text: String,
    pub(crate) from: u32,
    pub(crate) to: u32,
    /// The longest silence inside the segment's speech (seconds), in the take it had (`None`: it had none, or
    /// the edition did not have the segment) and in the take it has now: how the new reading differs.
    pub(crate) pause_from: Option<f64>,
    pub(crate) pause_to: Option<f64>,
}

/// What `regen` did: the edition before (if there was one), the changes, and the new edition.
pub(crate) struct Regen {
    pub(crate) before: Option<Manifest>,
    pub(crate) changes: Vec<Change>,
    pub(crate) report: Report,
}

impl Place {
    /// The place of `essay`'s edition: named `name` (else after the essay file), in `output` (else
    /// `audio/out/<name>/`).
    pub(crate) fn new(essay: &Path, name: Option<&str>, output: Option<&Path>) -> Place {
        let stem = super::stem(essay, name);
        let dir = super::out_dir(&stem, output);
        Place {
            essay: essay.to_owned(),
            name: name.map(str::to_owned),
            stem,
            dir,
        }
    }

    /// `<dir>/<stem><suffix>`: `.wav`, `.json`, an export's or a compressed edition's suffix.
    pub(crate) fn file(&self, suffix: &str) -> PathBuf {
        self.dir.join(format!("{}{suffix}", self.stem))
    }

    pub(crate) fn wav(&self) -> PathBuf {
        self.file(".wav")
    }

    pub(crate) fn manifest_path(&self) -> PathBuf {
        self.file(".json")
    }

    /// Finishes (or discards) a commit a killed process left in the folder, before anything there or beside the
    /// essay (its takes file is part of a regen's commit) is read; then removes what dead processes left half
    /// written beside the essay.
    pub(crate) fn settle(&self) -> Result<()> {
        if self.dir.is_dir() {
            super::settle(&self.dir, &self.stem)?;
        }
        if self.essay != Path::new(crate::essay::parse::STDIN) {
            let beside = self
                .essay
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            crate::atomic::clean_leftovers(beside);
        }
        Ok(())
    }

    /// The edition's manifest, if it has one.
    pub(crate) fn manifest(&self) -> Result<Option<Manifest>> {
        Manifest::load(&self.manifest_path())
    }

    /// The settings a change to the edition uses: those it was built with (its manifest's), under the flags and
    /// files given now. Another backend given now drops the recorded voice (it was the old backend's).
    pub(crate) fn settings(&self, flags: &SettingsArgs) -> Result<Settings> {
        let recorded = match self.manifest()? {
            Some(m) => recorded(&m, &self.manifest_path())?,
            None => Layer::default(),
        };
        self.settings_over(flags, recorded)
    }

    fn settings_over(&self, flags: &SettingsArgs, mut recorded: Layer) -> Result<Settings> {
        if flags
            .layer
            .backend
            .is_some_and(|b| Some(b) != recorded.backend)
        {
            recorded.voice = None;
        }
        flags.resolve_with(Some(&self.essay), recorded)
    }

    /// The edition, made if anything it is made from changed, else left alone. Each input (the essay, its takes,
    /// the manifest) is read once, and the backend asked for the voice's fingerprint once. `warn` is given what
    /// the essay's parser skipped, before any synthesis, when the essay was parsed.
    pub(crate) fn build(
        &self,
        settings: Settings,
        quiet: bool,
        warn: impl FnOnce(&[String]),
    ) -> Result<Built> {
        self.settle()?;
        let backend: Arc<dyn Backend> =
            Arc::from(synth::create(settings.backend, &settings.backends)?);
        // When the essay will be planned (no edition yet, or its inputs changed), the backend opens what synthesis
        // needs on another core meanwhile.
        std::thread::scope(|s| {
            let warm = |voice: &str| {
                let (backend, voice) = (backend.clone(), voice.to_owned());
                s.spawn(move || backend.warm_up(&voice));
            };
            match self.judge_warming(settings, backend.clone(), warn, warm)? {
                Judged::Current { segments } => Ok(Built::UpToDate { segments }),
                Judged::Needed(job) => Ok(Built::Written(Box::new(job.produce(&self.dir, quiet)?))),
            }
        })
    }

    /// Whether the edition is current with `settings` (the one freshness decision: `build` and the studio's
    /// catalogue ask it), else the job that makes it. `warn` is given what the essay's parser skipped, when the
    /// essay was parsed.
    pub(crate) fn judge(
        &self,
        settings: Settings,
        backend: Arc<dyn Backend>,
        warn: impl FnOnce(&[String]),
    ) -> Result<Judged> {
        self.judge_warming(settings, backend, warn, |_| {})
    }

    /// [`Place::judge`], calling `planning` with the voice when the essay has to be planned (so that what
    /// synthesis needs can be opened meanwhile).
    fn judge_warming(
        &self,
        settings: Settings,
        backend: Arc<dyn Backend>,
        warn: impl FnOnce(&[String]),
        planning: impl FnOnce(&str),
    ) -> Result<Judged> {
        // No edition yet: it will be planned, so what synthesis needs can be opened from the start (while the
        // backend loads its voice and the essay is read).
        let mut planning = Some(planning);
        if !self.manifest_path().exists() {
            if let Some(planning) = planning.take() {
                planning(&Inputs::voice(&settings, backend.as_ref()));
            }
        }
        let inputs = Inputs::read(&self.essay, &settings, backend)?;
        let whole = self
            .manifest()
            .ok()
            .flatten()
            .filter(|_| super::untouched(&self.manifest_path(), &self.outputs(&settings)));
        // Nothing it is made from changed (the essay, its takes, the settings, the engine, narrate itself): no
        // planning.
        if let (Some(m), Some(key)) = (&whole, inputs.key(&settings)) {
            if m.inputs_key == key {
                return Ok(Judged::Current {
                    segments: m.segments.len(),
                });
            }
        }
        if let Some(planning) = planning.take() {
            planning(&inputs.voice);
        }
        let job = Job::from_inputs(inputs, settings)?.named(self.name.clone());
        warn(&job.warnings());
        if whole.is_some_and(|m| m.plan_key == job.plan_key()) {
            return Ok(Judged::Current {
                segments: job.plan.segments.len(),
            });
        }
        Ok(Judged::Needed(Box::new(job)))
    }

    /// The edition with other takes of some segments (`take`: that take, else a new one), made exactly as a
    /// fresh build with those takes would make it, with the settings it was built with under `flags`. The takes
    /// file changes in the same commit as the edition. The essay's lock is held throughout.
    pub(crate) fn regen(
        &self,
        flags: &SettingsArgs,
        wanted: &[String],
        take: Option<u32>,
        quiet: bool,
    ) -> Result<Regen> {
        let _lock = crate::plan::takes::lock(&self.essay)?;
        self.settle()?;
        let before = self.manifest()?;
        let recorded = match &before {
            Some(m) => recorded(m, &self.manifest_path())?,
            None => Layer::default(),
        };
        let settings = self.settings_over(flags, recorded)?;
        let backend: Arc<dyn Backend> =
            Arc::from(synth::create(settings.backend, &settings.backends)?);
        let inputs = Inputs::read(&self.essay, &settings, backend.clone())?;
        // A new take is synthesized: the backend opens what that needs while the essay is planned.
        std::thread::scope(|s| {
            let (warming, voice) = (backend, inputs.voice.clone());
            s.spawn(move || warming.warm_up(&voice));
            let job = Job::from_inputs(inputs, settings)?.named(self.name.clone());
            self.regen_job(job, before, wanted, take, quiet)
        })
    }

    /// [`Place::regen`] once the essay is planned: the takes chosen and the edition made.
    fn regen_job(
        &self,
        job: Job,
        before: Option<Manifest>,
        wanted: &[String],
        take: Option<u32>,
        quiet: bool,
    ) -> Result<Regen> {
        let mut ids: Vec<String> = Vec::new();
        for w in wanted {
            let id = job.resolve(w)?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        let mut takes = job.takes.clone();
        let mut changes = Vec::new();
        for id in ids {
            let text = job
                .plan
                .segments
                .iter()
                .find(|s| s.id == id)
                .map(|s| s.text.clone())
                .unwrap_or_default();
            let from = takes.take(&id);
            let to = takes
                .choose(&id, &text, take)
                .map_err(|e| Error::Usage(format!("{}: {e}", self.essay.display())))?;
            changes.push(Change {
                id,
                text,
                from,
                to,
                pause_from: None,
                pause_to: None,
            });
        }
        let cache = job.cache.clone();
        let report = job.choosing(takes).produce(&self.dir, quiet)?;
        // Measured on each take's own audio, as the check measures gaps (a pause inside a word counts).
        let pause = |m: &Manifest, id: &str| {
            let s = m.segments.iter().find(|s| s.id == id)?;
            let audio = cache.load(&s.cache_key)?;
            crate::check::longest_inside(&audio.samples, audio.sample_rate)
        };
        for c in &mut changes {
            c.pause_from = before.as_ref().and_then(|m| pause(m, &c.id));
            c.pause_to = pause(&report.manifest, &c.id);
        }
        Ok(Regen {
            before,
            changes,
            report,
        })
    }

    /// Every file the edition is made of with `settings`: the WAV, the manifest, the exports and compressed
    /// editions.
    pub(crate) fn outputs(&self, settings: &Settings) -> Vec<PathBuf> {
        super::outputs(settings, &self.stem, &self.dir)
    }
}

/// The settings an edition was built with, as a settings layer (checked as narrate.toml is).
pub(super) fn recorded(manifest: &Manifest, path: &Path) -> Result<Layer> {
    if manifest.settings.is_null() {
        return Ok(Layer::default());
    }
    serde_json::from_value(manifest.settings.clone()).map_err(|e| Error::Manifest {
        path: path.to_owned(),
        reason: format!("its settings cannot be read ({e}); build the edition again"),
    })
}
