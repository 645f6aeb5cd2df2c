//! Batch runs: many essays, one shared work queue of segments (longest first) over one worker pool, each essay
//! joined as soon as its last segment is done, failures kept to the essay they belong to, and a deterministic
//! share of the work per shard so an existing scheduler (Slurm arrays, Kubernetes Indexed Jobs) can spread it.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::run::{synthesize_one, SynthStats};
use super::Job;
use crate::cli::{ChapterMode, SynthArgs};
use crate::error::{Error, Result};
use crate::settings::Settings;
use crate::synth::{self, Backend};

/// One essay to narrate and where its edition goes.
#[derive(Debug, Clone)]
pub struct Entry {
    pub essay: PathBuf,
    pub out_dir: PathBuf,
    pub args: SynthArgs,
}

/// A batch list file: `[[essay]]` tables, each with a `path` and optional per-essay options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct List {
    essay: Vec<ListEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListEntry {
    path: PathBuf,
    output: Option<PathBuf>,
    backend: Option<String>,
    voice: Option<String>,
    rate: Option<u32>,
    chapters: Option<ChapterMode>,
    pause: Option<String>,
    author: Option<String>,
}

const ESSAY_EXTENSIONS: &[&str] = &["md", "markdown", "mdown", "mkd", "txt", "text"];

/// The essays of a folder (Markdown and text files, sorted by name) or of a list file (`.toml`), each with its
/// output folder under `out_root` (`out_root/<stem>/`, or the list entry's `output`).
pub fn discover(input: &Path, out_root: &Path, base: &SynthArgs) -> Result<Vec<Entry>> {
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
                    args: base.clone(),
                }
            })
            .collect());
    }
    let text = std::fs::read_to_string(input).map_err(read_err)?;
    let list: List = toml::from_str(&text).map_err(|e| Error::Settings {
        path: input.to_owned(),
        reason: e.message().to_string(),
    })?;
    let root = input.parent().unwrap_or(Path::new("."));
    Ok(list
        .essay
        .into_iter()
        .map(|e| {
            let essay = root.join(&e.path);
            let stem = essay
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let mut args = base.clone();
            args.backend = e.backend.or(args.backend);
            args.voice = e.voice.or(args.voice);
            args.rate = e.rate.or(args.rate);
            args.chapters = e.chapters.or(args.chapters);
            args.pause = e.pause.or(args.pause);
            args.author = e.author.or(args.author);
            Entry {
                out_dir: e
                    .output
                    .map_or_else(|| out_root.join(&stem), |o| root.join(o)),
                essay,
                args,
            }
        })
        .collect())
}

/// A share of the work: shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// `K/N`, or `auto`: Slurm job arrays (`SLURM_ARRAY_TASK_ID` from `SLURM_ARRAY_TASK_MIN`, out of
    /// `SLURM_ARRAY_TASK_COUNT`), else a Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`, out of `count`, which
    /// Kubernetes does not pass: give `--shard-count` or `NARRATE_SHARD_COUNT`).
    pub fn parse(spec: &str, count: Option<u64>) -> std::result::Result<Shard, String> {
        let var = |k: &str| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let shard = if spec == "auto" {
            if let Some(id) = var("SLURM_ARRAY_TASK_ID") {
                let min = var("SLURM_ARRAY_TASK_MIN").unwrap_or(0);
                let total = var("SLURM_ARRAY_TASK_COUNT")
                    .or_else(|| var("SLURM_ARRAY_TASK_MAX").map(|max| max - min + 1))
                    .ok_or("SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT")?;
                Shard {
                    index: id
                        .checked_sub(min)
                        .ok_or("SLURM_ARRAY_TASK_ID is below SLURM_ARRAY_TASK_MIN")?,
                    count: total,
                }
            } else if let Some(index) = var("JOB_COMPLETION_INDEX") {
                let count = count.or_else(|| var("NARRATE_SHARD_COUNT")).ok_or(
                    "JOB_COMPLETION_INDEX is set: give the job's completions with --shard-count N or NARRATE_SHARD_COUNT",
                )?;
                Shard { index, count }
            } else {
                return Err("--shard auto needs SLURM_ARRAY_TASK_ID (Slurm) or JOB_COMPLETION_INDEX (Kubernetes)".into());
            }
        } else {
            let (k, n) = spec
                .split_once('/')
                .ok_or("give the shard as K/N, e.g. 0/4, or auto")?;
            Shard {
                index: k
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad shard index `{k}`"))?,
                count: n
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad shard count `{n}`"))?,
            }
        };
        if shard.count == 0 || shard.index >= shard.count {
            return Err(format!(
                "shard {}/{} is out of range (index from 0 to count-1)",
                shard.index, shard.count
            ));
        }
        Ok(shard)
    }

    /// Whether this shard synthesizes the segment with this cache key: the same answer on every machine.
    pub fn owns(&self, cache_key: &str) -> bool {
        u64::from_str_radix(&cache_key[..16], 16).unwrap_or(0) % self.count == self.index
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub jobs: usize,
    pub shard: Option<Shard>,
    pub join_only: bool,
    pub retries: u32,
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
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
pub struct Outcome {
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

struct Slot {
    job: Option<Job>,
    outcome: Outcome,
    remaining: AtomicUsize,
    started: Instant,
}

/// Runs a batch. Never fails as a whole for one essay's sake: each essay's result is in its `Outcome`.
pub fn run(entries: Vec<Entry>, opts: &Options) -> Vec<Outcome> {
    let started = Instant::now();
    let mut backends: HashMap<String, Arc<dyn Backend>> = HashMap::new();
    let mut slots: Vec<Slot> = entries
        .into_iter()
        .map(|entry| {
            let prepared = Settings::resolve(&entry.args, &entry.essay).and_then(|settings| {
                let backend = match backends.get(&settings.backend) {
                    Some(b) => b.clone(),
                    None => {
                        let b: Arc<dyn Backend> =
                            Arc::from(synth::create(&settings.backend, &settings.backends)?);
                        backends.insert(settings.backend.clone(), b.clone());
                        b
                    }
                };
                let job = Job::prepare_with(&entry.essay, settings, backend)?;
                job.prepare_output(&entry.out_dir)?;
                Ok(job)
            });
            let mut outcome = Outcome {
                essay: entry.essay,
                output: entry.out_dir,
                status: Status::Failed,
                seconds: 0.0,
                duration_seconds: None,
                chapters: None,
                segments: 0,
                synthesized: 0,
                cached: 0,
                error: None,
            };
            let job = match prepared {
                Ok(job) => {
                    outcome.segments = job.plan.segments.len();
                    Some(job)
                }
                Err(e) => {
                    outcome.error = Some(e.to_string());
                    None
                }
            };
            Slot {
                job,
                outcome,
                remaining: AtomicUsize::new(0),
                started,
            }
        })
        .collect();

    // Which segments each essay still needs, and the shared queue of what to synthesize.
    let mut needed_by: HashMap<String, Vec<usize>> = HashMap::new();
    let mut queue: Vec<(String, usize)> = Vec::new(); // (cache key, characters)
    for (i, slot) in slots.iter_mut().enumerate() {
        let Some(job) = &slot.job else { continue };
        if opts.shard.is_none() && !opts.join_only && job.up_to_date(&slot.outcome.output) {
            slot.outcome.status = Status::UpToDate;
            slot.outcome.cached = job.plan.segments.len();
            slot.job = None;
            continue;
        }
        let mut missing = 0;
        for seg in &job.plan.segments {
            if job.cache.contains(&seg.cache_key) {
                slot.outcome.cached += 1;
                continue;
            }
            let owners = needed_by.entry(seg.cache_key.clone()).or_default();
            if !owners.contains(&i) {
                missing += 1;
                if owners.is_empty()
                    && opts.shard.is_none_or(|s| s.owns(&seg.cache_key))
                    && !opts.join_only
                {
                    queue.push((seg.cache_key.clone(), seg.spoken.chars().count()));
                }
                owners.push(i);
            }
        }
        slot.remaining.store(missing, Ordering::SeqCst);
    }
    queue.sort_by_key(|&(_, chars)| std::cmp::Reverse(chars));

    let jobs = opts.jobs.max(1);
    let mut failed_backends = Vec::new();
    for (name, b) in &backends {
        let used = slots
            .iter()
            .any(|s| s.job.as_ref().is_some_and(|j| j.backend.name() == name));
        if used {
            match crate::synth::check_renders(b.as_ref()) {
                Ok(()) => b.prepare(jobs),
                Err(e) => failed_backends.push((name.clone(), e.to_string())),
            }
        }
    }

    let slots: Vec<Mutex<Slot>> = slots.into_iter().map(Mutex::new).collect();
    let lock = |i: usize| slots[i].lock().unwrap_or_else(|e| e.into_inner());
    for (name, reason) in &failed_backends {
        for i in 0..slots.len() {
            let mut s = lock(i);
            if s.job.as_ref().is_some_and(|j| j.backend.name() == name) {
                s.outcome.error = Some(reason.clone());
                s.job = None;
            }
        }
    }

    let progress = Progress::new(&slots, &queue, opts.quiet);
    let gates: HashMap<&str, Gate> = backends
        .values()
        .map(|b| {
            (
                b.name(),
                Gate::new(b.max_parallel().map_or(jobs, |cap| cap.min(jobs))),
            )
        })
        .collect();
    let finish = |i: usize, progress: &Progress| {
        let mut s = lock(i);
        let Some(job) = s.job.take() else { return };
        if opts.shard.is_some() && !opts.join_only {
            s.outcome.status = Status::Synthesized;
        } else {
            let stats = SynthStats {
                synthesized: s.outcome.synthesized,
                cached: s.outcome.cached,
                jobs,
            };
            match job.assemble(&s.outcome.output, stats) {
                Ok(report) => {
                    s.outcome.status = Status::Done;
                    s.outcome.duration_seconds = Some(report.manifest.duration_seconds);
                    s.outcome.chapters = Some(report.manifest.chapters.len());
                }
                Err(e) => s.outcome.error = Some(e.to_string()),
            }
        }
        s.outcome.seconds = s.started.elapsed().as_secs_f64();
        progress.essay_done(i, &s.outcome);
    };

    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build();
    let run_all = || {
        // Essays with nothing left to synthesize are joined at once (in join-only mode, every essay).
        (0..slots.len()).into_par_iter().for_each(|i| {
            let ready = {
                let s = lock(i);
                s.job.is_some() && (s.remaining.load(Ordering::SeqCst) == 0 || opts.join_only)
            };
            if ready {
                if opts.join_only && lock(i).remaining.load(Ordering::SeqCst) > 0 {
                    let mut s = lock(i);
                    let n = s.remaining.load(Ordering::SeqCst);
                    s.outcome.error = Some(format!(
                        "{n} segment(s) are not in the cache yet; run every shard before the join step"
                    ));
                    s.job = None;
                    progress.essay_done(i, &s.outcome);
                } else {
                    finish(i, &progress);
                }
            }
        });
        queue.par_iter().with_max_len(1).for_each(|(key, chars)| {
            let owners = needed_by.get(key).cloned().unwrap_or_default();
            // The segment, from any essay that needs it and has not failed; none left: skip the work.
            let found = owners.iter().find_map(|&o| {
                let s = lock(o);
                let job = s.job.as_ref()?;
                let segment = job
                    .plan
                    .segments
                    .iter()
                    .find(|x| &x.cache_key == key)?
                    .clone();
                Some((
                    segment,
                    job.backend.clone(),
                    job.plan.voice.clone(),
                    job.plan.rate,
                    job.cache.clone(),
                ))
            });
            let Some((segment, backend, voice, rate, cache)) = found else {
                return;
            };
            let gate = &gates[backend.name()];
            let result = gate.run(|| {
                synthesize_one(
                    backend.as_ref(),
                    &voice,
                    rate,
                    &segment,
                    &cache,
                    opts.retries,
                )
            });
            for &o in &owners {
                let done = {
                    let mut s = lock(o);
                    if s.job.is_none() {
                        continue;
                    }
                    match &result {
                        Ok(()) => {
                            s.outcome.synthesized += 1;
                            let left = s.remaining.fetch_sub(1, Ordering::SeqCst) - 1;
                            progress.segment_done(o, left, if o == owners[0] { *chars } else { 0 });
                            left == 0
                        }
                        Err(e) => {
                            s.outcome.error = Some(e.to_string());
                            s.job = None;
                            s.outcome.seconds = s.started.elapsed().as_secs_f64();
                            progress.essay_done(o, &s.outcome);
                            false
                        }
                    }
                };
                if done {
                    finish(o, &progress);
                }
            }
        });
    };
    match pool {
        Ok(pool) => pool.install(run_all),
        Err(_) => run_all(),
    }
    // A shard leaves essays with segments for other shards: their share is done, the join step writes them.
    for i in 0..slots.len() {
        let mut s = lock(i);
        if s.job.take().is_some() {
            s.outcome.status = if opts.shard.is_some() {
                Status::Synthesized
            } else {
                Status::Failed
            };
            if s.outcome.status == Status::Failed {
                s.outcome.error = Some("not all segments were synthesized".into());
            }
            s.outcome.seconds = s.started.elapsed().as_secs_f64();
        }
    }
    progress.finish();

    slots
        .into_iter()
        .map(|s| s.into_inner().unwrap_or_else(|e| e.into_inner()).outcome)
        .collect()
}

/// Progress on stderr: a bar by characters (with ETA from the measured rate) on a terminal; a line per finished
/// essay otherwise; nothing with `--quiet`.
struct Progress {
    multi: indicatif::MultiProgress,
    bar: indicatif::ProgressBar,
    /// One line per essay being synthesized (terminal only).
    essays: Mutex<HashMap<usize, indicatif::ProgressBar>>,
    names: Vec<String>,
    tty: bool,
    lines: bool,
    finished: AtomicUsize,
}

impl Progress {
    fn new(slots: &[Mutex<Slot>], queue: &[(String, usize)], quiet: bool) -> Progress {
        let chars: usize = queue.iter().map(|(_, c)| c).sum();
        let tty = !quiet && std::io::stderr().is_terminal();
        let multi = indicatif::MultiProgress::with_draw_target(if tty {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        });
        let bar = multi.add(
            indicatif::ProgressBar::new(chars as u64).with_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {bar:30} {percent}% of {len} characters, {eta} left  {msg}",
                )
                .expect("valid template"),
            ),
        );
        let names = slots
            .iter()
            .map(|s| {
                let s = s.lock().unwrap_or_else(|e| e.into_inner());
                s.outcome
                    .essay
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        Progress {
            multi,
            bar,
            essays: Mutex::new(HashMap::new()),
            names,
            tty,
            lines: !quiet && !tty,
            finished: AtomicUsize::new(0),
        }
    }

    /// A segment of `essay` (which has `left` still to do) was synthesized.
    fn segment_done(&self, essay: usize, left: usize, chars: usize) {
        self.bar.inc(chars as u64);
        if !self.tty {
            return;
        }
        let mut bars = self.essays.lock().unwrap_or_else(|e| e.into_inner());
        let bar = bars.entry(essay).or_insert_with(|| {
            self.multi.add(
                indicatif::ProgressBar::new_spinner().with_style(
                    indicatif::ProgressStyle::with_template("  {spinner} {msg}")
                        .expect("valid template"),
                ),
            )
        });
        bar.set_message(format!("{}: {left} segments to go", self.names[essay]));
        bar.tick();
    }

    fn essay_done(&self, essay: usize, o: &Outcome) {
        if let Some(bar) = self
            .essays
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&essay)
        {
            bar.finish_and_clear();
        }
        let n = self.finished.fetch_add(1, Ordering::SeqCst) + 1;
        let what = match (&o.error, o.status) {
            (Some(e), _) => format!("failed: {e}"),
            (None, Status::Synthesized) => "segments synthesized".into(),
            (None, _) => "done".into(),
        };
        let line = format!("[{n}/{}] {}: {what}", self.names.len(), o.essay.display());
        if self.lines {
            eprintln!("{line}");
        } else {
            self.bar.set_message(line);
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
        let _ = self.multi.clear();
    }
}

/// Caps how many requests one backend gets at once (`Backend::max_parallel`) inside the shared pool.
struct Gate {
    free: Mutex<usize>,
    freed: std::sync::Condvar,
}

impl Gate {
    fn new(capacity: usize) -> Gate {
        Gate {
            free: Mutex::new(capacity.max(1)),
            freed: std::sync::Condvar::new(),
        }
    }

    fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        drop(free);
        let out = f();
        *self.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.freed.notify_one();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_keys_the_same_way_everywhere() {
        let s = Shard::parse("1/3", None).unwrap();
        assert_eq!(s, Shard { index: 1, count: 3 });
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
        assert!(Shard::parse("3/3", None).is_err());
        assert!(Shard::parse("x", None).is_err());
    }
}
