//! Batch runs: many essays, one shared work queue of segments (longest first) over one worker pool, each essay
//! joined as soon as its last segment is done, failures kept to the essay they belong to, and a deterministic
//! share of the work per shard so an existing scheduler (Slurm arrays, Kubernetes Indexed Jobs) can spread it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::schedule::{self, Produced};
pub(crate) use super::shard::Shard;
use super::Job;
use crate::error::{Error, Result};
use crate::settings::{Layer, SettingsArgs};
use crate::synth::{self, Backend};

/// One essay to narrate, where its edition goes, and its own settings (from a list file).
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub essay: PathBuf,
    pub out_dir: PathBuf,
    pub layer: Layer,
}

const ESSAY_EXTENSIONS: &[&str] = &["md", "markdown", "mdown", "mkd", "txt", "text"];

/// The essays of a folder (Markdown and text files, sorted by name) or of a list file (`.toml`), each with its
/// output folder under `out_root` (`out_root/<stem>/`, or the list entry's `output`).
pub(crate) fn discover(input: &Path, out_root: &Path) -> Result<Vec<Entry>> {
    let read_err = |source| Error::ReadEssay {
        path: input.to_owned(),
        source,
    };
    if input.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(input)
            .map_err(read_err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        ESSAY_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())
                    })
            })
            .collect();
        files.sort();
        let mut seen: HashMap<String, usize> = HashMap::new();
        return Ok(files
            .into_iter()
            .map(|essay| {
                let stem = essay
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let n = seen.entry(stem.clone()).or_insert(0);
                *n += 1;
                // Two essays with one stem (a.md, a.txt) get separate folders.
                let name = if *n == 1 {
                    stem
                } else {
                    essay
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .replace('.', "-")
                };
                Entry {
                    out_dir: out_root.join(name),
                    essay,
                    layer: Layer::default(),
                }
            })
            .collect());
    }
    let text = crate::settings::read_text(input)?;
    // `[[essay]]` tables: `path`, `output`, and any setting (the same keys as narrate.toml, checked the same way).
    let list: toml::Table =
        toml::from_str(&text).map_err(|e| crate::settings::toml_error(input, &text, &e))?;
    let bad = |reason: String| Error::Settings {
        path: input.to_owned(),
        reason,
    };
    if let Some(key) = list.keys().find(|k| *k != "essay") {
        return Err(bad(format!(
            "unknown key `{key}`; a list file holds [[essay]] tables"
        )));
    }
    let tables = match list.get("essay") {
        Some(toml::Value::Array(items)) => items.clone(),
        _ => {
            return Err(bad(
                "no [[essay]] tables; give each essay as [[essay]] path = \"...\"".into(),
            ))
        }
    };
    let root = input.parent().unwrap_or(Path::new("."));
    let mut entries = Vec::new();
    for (n, item) in tables.into_iter().enumerate() {
        let toml::Value::Table(mut table) = item else {
            return Err(bad(format!("essay {}: not a table", n + 1)));
        };
        let path = match table.remove("path") {
            Some(toml::Value::String(p)) => root.join(p),
            _ => return Err(bad(format!("essay {}: give its `path = \"...\"`", n + 1))),
        };
        let output = match table.remove("output") {
            None => None,
            Some(toml::Value::String(o)) => Some(root.join(o)),
            Some(_) => return Err(bad(format!("essay {}: `output` is a folder name", n + 1))),
        };
        let layer: Layer = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| {
                bad(format!(
                    "essay {} ({}): {}",
                    n + 1,
                    path.display(),
                    e.message()
                ))
            })?;
        let stem = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        entries.push(Entry {
            out_dir: output.unwrap_or_else(|| out_root.join(&stem)),
            essay: path,
            layer,
        });
    }
    Ok(entries)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Status {
    /// Written by this run.
    Done,
    /// Its edition was already current.
    UpToDate,
    /// Its share of segments is synthesized; the join step writes the edition.
    Synthesized,
    Failed,
}

/// What happened to one essay.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Outcome {
    pub essay: PathBuf,
    pub output: PathBuf,
    pub status: Status,
    pub seconds: f64,
    pub duration_seconds: Option<f64>,
    pub chapters: Option<usize>,
    pub segments: usize,
    pub synthesized: usize,
    pub cached: usize,
    pub error: Option<String>,
}

/// Runs a batch: every essay prepared with its own settings (flags over its list entry over the narrate.toml
/// beside it), one backend instance per backend, then the one scheduler. Never fails as a whole for one essay's
/// sake: each essay's result is in its `Outcome`. `warn` is told each essay's parse warnings.
pub(crate) fn run(
    entries: Vec<Entry>,
    settings: &SettingsArgs,
    opts: &schedule::Options,
    quiet: bool,
    warn: impl Fn(&Path, &[String]),
) -> Vec<Outcome> {
    let started = Instant::now();
    let mut backends: HashMap<&'static str, Arc<dyn Backend>> = HashMap::new();
    let mut outcomes = Vec::new();
    let mut jobs = Vec::new();
    let mut index = Vec::new(); // which outcome each job is
    for entry in entries {
        let prepared = settings
            .resolve_with(Some(&entry.essay), entry.layer.clone())
            .and_then(|settings| {
                let backend = match backends.get(settings.backend) {
                    Some(b) => b.clone(),
                    None => {
                        let b: Arc<dyn Backend> =
                            Arc::from(synth::create(settings.backend, &settings.backends)?);
                        backends.insert(settings.backend, b.clone());
                        b
                    }
                };
                let job = Job::prepare_with(&entry.essay, settings, backend)?;
                warn(&entry.essay, &job.warnings());
                job.prepare_output(&entry.out_dir)?;
                Ok(job)
            });
        let mut outcome = Outcome {
            essay: entry.essay,
            output: entry.out_dir.clone(),
            status: Status::Failed,
            seconds: 0.0,
            duration_seconds: None,
            chapters: None,
            segments: 0,
            synthesized: 0,
            cached: 0,
            error: None,
        };
        match prepared {
            Ok(job) => {
                outcome.segments = job.plan.segments.len();
                if opts.shard.is_none() && !opts.join_only && job.up_to_date(&entry.out_dir) {
                    outcome.status = Status::UpToDate;
                    outcome.cached = outcome.segments;
                } else {
                    index.push(outcomes.len());
                    jobs.push((job, entry.out_dir));
                }
            }
            Err(e) => outcome.error = Some(e.to_string()),
        }
        outcomes.push(outcome);
    }
    let names: Vec<String> = index
        .iter()
        .map(|&i| {
            outcomes[i]
                .essay
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let progress = schedule::Progress::new(&names, quiet, true);
    let results = schedule::run(jobs, opts, &progress);
    for (&i, result) in index.iter().zip(results) {
        let o = &mut outcomes[i];
        match result {
            Ok(Produced::Written(report)) => {
                o.status = Status::Done;
                o.synthesized = report.stats.synthesized;
                o.cached = report.stats.cached;
                o.duration_seconds = Some(report.manifest.duration_seconds);
                o.chapters = Some(report.manifest.chapters.len());
            }
            Ok(Produced::Synthesized(stats)) => {
                o.status = Status::Synthesized;
                o.synthesized = stats.synthesized;
                o.cached = stats.cached;
            }
            Err(e) => o.error = Some(e.to_string()),
        }
        o.seconds = started.elapsed().as_secs_f64();
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_keys_the_same_way_everywhere() {
        let s = Shard::parse("2/3", None).unwrap();
        assert_eq!(s, Shard { index: 1, count: 3 });
        assert_eq!(s.label(), "2/3");
        assert!(Shard::parse("3/3", None).is_ok());
        assert!(Shard::parse("0/3", None).is_err());
        let keys: Vec<String> = (0..300)
            .map(|i| blake3::hash(&[i as u8, 7]).to_hex().to_string())
            .collect();
        let owners: Vec<usize> = keys
            .iter()
            .map(|k| {
                (0..3)
                    .filter(|&i| Shard { index: i, count: 3 }.owns(k))
                    .count()
            })
            .collect();
        assert!(
            owners.iter().all(|&n| n == 1),
            "each key has exactly one shard"
        );
        let mine = keys.iter().filter(|k| s.owns(k)).count();
        assert!(mine > 60 && mine < 140, "{mine}");
        assert!(Shard::parse("4/3", None).is_err());
        assert!(Shard::parse("x", None).is_err());
    }
}
