//! The one scheduler. Every command that synthesizes (build, regen, batch, serve) goes through it: one queue of
//! segments over all essays (longest first, a sentence shared by several essays synthesized once), per-backend
//! concurrency limits ([`Gate`]), one retry policy for transient faults with backoff ([`synthesize`]), one give-up
//! rule, and each essay's edition written as soon as its last segment is in the cache.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rayon::prelude::*;

use super::shard::Shard;
use super::{Job, Report};
use crate::audio::Audio;
use crate::cache::{Cache, Entry};
use crate::error::{Error, Result};
use crate::plan::PlanSegment;
use crate::synth::{Backend, SpeechRequest, SynthError};

/// How a plan's segments were obtained.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct SynthStats {
    /// Requests sent to the backend (a sentence repeated word for word is synthesized once).
    pub synthesized: usize,
    /// Segments whose audio was already in the cache.
    pub cached: usize,
    /// Parallel requests actually used.
    pub jobs: usize,
}

/// How a run goes.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Requests at once over all backends (each backend may cap its own share).
    pub jobs: usize,
    /// Tries again after a transient fault, per segment.
    pub retries: u32,
    /// Only this share of the segments (the join step writes the editions).
    pub shard: Option<Shard>,
    /// Synthesize nothing: write editions whose segments are all in the cache.
    pub join_only: bool,
    /// Only fill the cache; write no edition (`narrate say` joins its preview itself).
    pub synthesize_only: bool,
}

/// After this many failed segments an essay's other segments are not tried: the backend is down, not one
/// sentence odd.
pub(crate) const GIVE_UP_AFTER: usize = 8;

/// What a caller sees of a run while it goes, and how it stops one (the studio's progress and Cancel): the
/// segments synthesized of those to synthesize, whether the edition is being joined, and a flag that, once set,
/// has the segments not yet started skipped and no edition written (the cache keeps what was made; the previous
/// edition stays as it was, since an edition is only ever written whole).
#[derive(Debug, Default)]
pub(crate) struct Watch {
    done: AtomicUsize,
    total: AtomicUsize,
    joining: AtomicBool,
    cancel: AtomicBool,
}

impl Watch {
    /// `(done, total)` segments to synthesize.
    pub(crate) fn counts(&self) -> (usize, usize) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }

    pub(crate) fn joining(&self) -> bool {
        self.joining.load(Ordering::Relaxed)
    }

    /// Asks the run to stop at the next segment.
    pub(crate) fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    pub(crate) fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// The error of a run stopped by [`Watch::cancel`].
pub(crate) const STOPPED: &str = "cancelled; the edition is as it was";

/// What a run made of one job.
pub(crate) enum Produced {
    /// The edition was written.
    Written(Box<Report>),
    /// Its segments (this shard's share of them) are in the cache; no edition was written.
    Synthesized(SynthStats),
}

/// One segment to synthesize: its length in characters (longest go first) and every job that needs it, with the
/// index of its segment in that job's plan (a sentence shared by several essays is synthesized once).
struct Task {
    chars: usize,
    owners: Vec<(usize, usize)>,
}

/// One essay's state while the queue runs.
struct Slot {
    job: Option<(Job, PathBuf)>,
    remaining: usize,
    stats: SynthStats,
    failures: Vec<(usize, Error)>,
    skipped: usize,
    result: Option<Result<Produced>>,
}

impl Slot {
    fn given_up(&self) -> bool {
        self.failures.len() >= GIVE_UP_AFTER
    }
}

/// Runs jobs through one queue. Never fails as a whole for one job's sake: each job's result is its own.
pub(crate) fn run(
    jobs: Vec<(Job, PathBuf)>,
    opts: &Options,
    progress: &Progress,
) -> Vec<Result<Produced>> {
    let workers = opts.jobs.max(1);
    let (mut slots, queue) = enqueue(jobs, opts, workers);
    let gates = open_backends(&mut slots, &queue, workers);
    progress.start(queue.iter().map(|t| t.chars).sum(), queue.len());
    let run = Run {
        slots: slots.into_iter().map(Mutex::new).collect(),
        gates,
        opts,
        progress,
    };
    let run_all = || {
        // Jobs with nothing to synthesize are written at once.
        (0..run.slots.len()).into_par_iter().for_each(|i| {
            let ready = {
                let s = run.lock(i);
                s.job.is_some() && s.remaining == 0
            };
            if ready {
                run.finish(i);
            }
        });
        queue
            .par_iter()
            .with_max_len(1)
            .for_each(|task| run.task(task));
    };
    match rayon::ThreadPoolBuilder::new().num_threads(workers).build() {
        Ok(pool) => pool.install(run_all),
        Err(_) => run_all(),
    }
    progress.finish();
    run.slots
        .into_iter()
        .map(|s| {
            let s = s.into_inner().unwrap_or_else(|e| e.into_inner());
            s.result
                .unwrap_or_else(|| Err(Error::Invalid("not all segments were synthesized".into())))
        })
        .collect()
}

/// Each job's slot, and the shared queue: one task per cache key, longest first (so a run does not end with one
/// long sentence on one core while the others idle).
fn enqueue(jobs: Vec<(Job, PathBuf)>, opts: &Options, workers: usize) -> (Vec<Slot>, Vec<Task>) {
    let mut slots: Vec<Slot> = Vec::with_capacity(jobs.len());
    let mut queue: Vec<Task> = Vec::new();
    let mut queued: HashMap<String, usize> = HashMap::new();
    for (i, (job, dir)) in jobs.into_iter().enumerate() {
        let mut slot = Slot {
            job: None,
            remaining: 0,
            stats: SynthStats {
                jobs: workers,
                ..SynthStats::default()
            },
            failures: Vec::new(),
            skipped: 0,
            result: None,
        };
        // The segments to synthesize, each text once (a sentence repeated word for word has one key).
        let mut seen: HashSet<&str> = HashSet::new();
        let mut owned: Vec<usize> = Vec::new();
        let verified = verify_cached(&job);
        for (n, seg) in job.plan.segments.iter().enumerate() {
            if verified.contains(seg.cache_key.as_str()) {
                slot.stats.cached += 1;
            } else if seen.insert(&seg.cache_key)
                && opts.shard.is_none_or(|s| s.owns(&seg.cache_key))
            {
                owned.push(n);
            }
        }
        let missing = job.plan.segments.len() - slot.stats.cached;
        if opts.join_only && missing > 0 {
            slot.result = Some(Err(Error::Invalid(format!(
                "{}: {missing} segment(s) are not in the cache yet; run every shard before the join step",
                job.essay_path.display()
            ))));
            slots.push(slot);
            continue;
        }
        if !opts.join_only {
            for n in owned {
                let seg = &job.plan.segments[n];
                slot.remaining += 1;
                match queued.get(&seg.cache_key) {
                    Some(&q) => queue[q].owners.push((i, n)),
                    None => {
                        queued.insert(seg.cache_key.clone(), queue.len());
                        queue.push(Task {
                            chars: seg.spoken.chars().count(),
                            owners: vec![(i, n)],
                        });
                    }
                }
            }
        }
        slot.job = Some((job, dir));
        slots.push(slot);
    }
    queue.sort_by_key(|t| std::cmp::Reverse(t.chars));
    (slots, queue)
}

/// Each backend that has work: checked once, told the concurrency, given its gate. The jobs of a backend that
/// cannot render fail with its reason; the others are told the concurrency they actually get.
fn open_backends(
    slots: &mut [Slot],
    queue: &[Task],
    workers: usize,
) -> HashMap<&'static str, Gate> {
    let mut gates: HashMap<&'static str, Gate> = HashMap::new();
    let mut broken: HashMap<&'static str, String> = HashMap::new();
    for task in queue {
        let Some((job, _)) = &slots[task.owners[0].0].job else {
            continue;
        };
        let backend = job.backend.as_ref();
        if gates.contains_key(backend.name()) || broken.contains_key(backend.name()) {
            continue;
        }
        let cap = backend
            .max_parallel()
            .map_or(workers, |c| c.min(workers))
            .max(1);
        match crate::synth::check_renders(backend) {
            Ok(()) => {
                backend.prepare(cap);
                gates.insert(backend.name(), Gate::new(cap));
            }
            // Its reason only: the error is made again, once per essay, as "backend X is not available: …".
            Err(Error::BackendUnavailable { reason, .. }) => {
                broken.insert(backend.name(), reason);
            }
            Err(e) => {
                broken.insert(backend.name(), e.to_string());
            }
        }
    }
    for slot in slots {
        let name = slot.job.as_ref().map(|(j, _)| j.backend.name());
        if let Some(reason) = name.and_then(|n| broken.get(n)) {
            if slot.remaining > 0 {
                slot.result = Some(Err(Error::BackendUnavailable {
                    backend: name.unwrap_or_default().into(),
                    reason: reason.clone(),
                }));
                slot.job = None;
            }
        }
        // The jobs actually used: no more than a backend takes.
        if let Some((job, _)) = &slot.job {
            slot.stats.jobs = job
                .backend
                .max_parallel()
                .map_or(workers, |c| c.min(workers))
                .max(1);
        }
    }
    gates
}

/// A run in progress: the jobs' slots and the backends' gates, shared by the workers.
struct Run<'a> {
    slots: Vec<Mutex<Slot>>,
    gates: HashMap<&'static str, Gate>,
    opts: &'a Options,
    progress: &'a Progress,
}

impl Run<'_> {
    fn lock(&self, i: usize) -> std::sync::MutexGuard<'_, Slot> {
        self.slots[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Synthesizes one task's segment (from the first job that needs it and has not given up) and tells every
    /// job that needs it; a job whose last segment this was is finished.
    fn task(&self, Task { chars, owners }: &Task) {
        let found = owners.iter().find_map(|&(o, n)| {
            if self.progress.cancelled() {
                return None;
            }
            let s = self.lock(o);
            if s.given_up() {
                return None;
            }
            let (job, _) = s.job.as_ref()?;
            let seg = job.plan.segments[n].clone();
            Some((
                seg,
                job.backend.clone(),
                job.voice.clone(),
                job.plan.rate,
                job.cache.clone(),
            ))
        });
        let result = found.map(|(seg, backend, voice, rate, cache)| {
            let gate = &self.gates[backend.name()];
            let _permit = gate.enter();
            let request = SpeechRequest {
                text: &seg.spoken,
                voice: &voice,
                rate,
                take: seg.take,
            };
            synthesize_segment(backend.as_ref(), &request, &seg, &cache, self.opts.retries)
        });
        for &(o, n) in owners {
            let done = {
                let mut s = self.lock(o);
                if s.job.is_none() {
                    continue;
                }
                match &result {
                    Some(Ok(())) => s.stats.synthesized += 1,
                    Some(Err(e)) => {
                        let (id, line) = s
                            .job
                            .as_ref()
                            .map(|(j, _)| &j.plan.segments[n])
                            .map_or((String::new(), 0), |x| (x.id.clone(), x.line));
                        let e = e.for_segment(&id, line);
                        s.failures.push((line, e));
                    }
                    None => s.skipped += 1,
                }
                s.remaining -= 1;
                let left = s.remaining;
                let first = o == owners[0].0;
                let made = first && matches!(result, Some(Ok(())));
                self.progress
                    .segment_done(o, left, if first { *chars } else { 0 }, made);
                left == 0
            };
            if done {
                self.finish(o);
            }
        }
    }

    /// Ends job `i`: its failures, or its segments in the cache, or its edition written.
    fn finish(&self, i: usize) {
        let taken = {
            let mut s = self.lock(i);
            s.job
                .take()
                .map(|j| (j, s.stats, std::mem::take(&mut s.failures), s.skipped))
        };
        let Some(((job, dir), stats, mut failures, skipped)) = taken else {
            return;
        };
        let opts = self.opts;
        let result = if self.progress.cancelled() {
            Err(Error::Invalid(STOPPED.into()))
        } else if !failures.is_empty() {
            failures.sort_by_key(|(line, _)| *line);
            let mut errors: Vec<Error> = failures.into_iter().map(|(_, e)| e).collect();
            if errors.len() == 1 && skipped == 0 {
                Err(errors.remove(0))
            } else {
                Err(Error::SegmentsFailed {
                    total: stats.synthesized + errors.len() + skipped,
                    skipped,
                    failed: errors,
                })
            }
        } else if (opts.shard.is_some() && !opts.join_only) || opts.synthesize_only {
            Ok(Produced::Synthesized(stats))
        } else {
            if let Some(w) = &self.progress.watch {
                w.joining.store(true, Ordering::Relaxed);
            }
            job.assemble(&dir, stats)
                .map(|r| Produced::Written(Box::new(r)))
        };
        self.progress.essay_done(i, &result);
        self.lock(i).result = Some(result);
    }
}

/// A failed segment, before it is told which essay's segment it was.
struct Failed {
    backend: &'static str,
    reason: String,
}

impl Failed {
    fn for_segment(&self, id: &str, line: usize) -> Error {
        Error::Synthesis {
            id: id.to_string(),
            line,
            backend: self.backend.to_string(),
            reason: self.reason.clone(),
        }
    }
}

/// The cache keys of `job`'s plan whose entries verify (read fully, checksum and format), checked in parallel.
/// A damaged or unreadable entry is moved to the cache's quarantine with a one-line warning, so its segment is
/// synthesized again instead of failing every build.
fn verify_cached(job: &Job) -> HashSet<String> {
    let mut keys: Vec<&PlanSegment> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for seg in &job.plan.segments {
        // Anything on disk under the key (a file, or a folder in its place) is read, and moved aside if bad.
        if seen.insert(&seg.cache_key)
            && std::fs::symlink_metadata(job.cache.path(&seg.cache_key)).is_ok()
        {
            keys.push(seg);
        }
    }
    keys.par_iter()
        .filter_map(|seg| match job.cache.verify(&seg.cache_key) {
            Entry::Good => Some(seg.cache_key.clone()),
            Entry::Missing => None,
            Entry::Bad(reason) => {
                let moved = job.cache.quarantine(&seg.cache_key);
                eprintln!(
                    "warning: {}: the cached audio of segment {} (line {}) {reason}; {}",
                    job.essay_path.display(),
                    seg.id,
                    seg.line,
                    match moved {
                        Ok(to) => format!("moved to {} and synthesized again", to.display()),
                        Err(e) => format!("it cannot be moved aside ({e}); delete it"),
                    }
                );
                None
            }
        })
        .collect()
}

/// Synthesizes one segment into the cache under the retry policy.
fn synthesize_segment(
    backend: &dyn Backend,
    request: &SpeechRequest,
    segment: &PlanSegment,
    cache: &Cache,
    retries: u32,
) -> std::result::Result<(), Failed> {
    let fail = |reason: String| Failed {
        backend: backend.name(),
        // Engines' messages can span lines; an error is one line.
        reason: reason.split_whitespace().collect::<Vec<_>>().join(" "),
    };
    let audio = synthesize(backend, request, retries).map_err(|e| fail(e.message))?;
    cache
        .store(&segment.cache_key, &audio)
        .map_err(|e| fail(e.to_string()))
}

/// The longest `Retry-After` honoured; a server asking for more fails the segment instead of stalling the run.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_CAP: Duration = Duration::from_secs(20);

/// What ends a request's retries early: its client left (`cancelled`), or its time is up (`deadline`: no retry
/// starts whose wait would end after it).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Bounds<'a> {
    pub cancelled: Option<&'a std::sync::atomic::AtomicBool>,
    pub deadline: Option<std::time::Instant>,
}

impl Bounds<'_> {
    fn cancelled(&self) -> bool {
        self.cancelled.is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

/// The message of a request given up because its client left.
pub(crate) const CANCELLED: &str = "cancelled: the client went away";

/// One request under the one retry policy: a transient fault is tried again up to `retries` times, after an
/// exponential backoff with full jitter (or what the backend asked for); anything else fails at once. Audio that
/// cannot be speech of the text (`audio::plausible`: cut off, silent, noise, a wrong rate, off the voice's pace)
/// is a transient fault: it is tried again, then named, and never reaches the cache. A suspect answer (ending
/// mid-sound, or off the pace the voice showed so far) that comes again sample for sample as long is what the
/// voice says, and is accepted.
pub(crate) fn synthesize(
    backend: &dyn Backend,
    request: &SpeechRequest,
    retries: u32,
) -> std::result::Result<Audio, SynthError> {
    synthesize_within(backend, request, retries, Bounds::default())
}

/// [`synthesize`] within `bounds`: no attempt starts once the request is cancelled, and no retry whose wait
/// ends after the deadline.
pub(crate) fn synthesize_within(
    backend: &dyn Backend,
    request: &SpeechRequest,
    retries: u32,
    bounds: Bounds<'_>,
) -> std::result::Result<Audio, SynthError> {
    use crate::audio::plausible::{self, Verdict};
    let paces = plausible::paces();
    let key = plausible::voice_key(backend.name(), request.voice, request.rate);
    // The lengths of the suspect answers so far: the same one again is confirmed.
    let mut suspects: Vec<usize> = Vec::new();
    let mut attempt = 0;
    loop {
        if bounds.cancelled() {
            return Err(SynthError::permanent(CANCELLED));
        }
        let answer = backend.synthesize(request).and_then(|audio| {
            match paces.judge(&key, &audio, request.text, request.rate) {
                Verdict::Speech => Ok(audio),
                Verdict::Suspect(_) if suspects.contains(&audio.samples.len()) => Ok(audio),
                Verdict::Suspect(why) => {
                    suspects.push(audio.samples.len());
                    Err(SynthError::transient(why, None))
                }
                Verdict::Refused(why) => Err(SynthError::transient(why, None)),
            }
        });
        match answer {
            Ok(audio) => {
                paces.accept(&key, &audio, request.text);
                return Ok(audio);
            }
            Err(e) if !e.transient => return Err(e),
            Err(e) if attempt >= retries => {
                return Err(SynthError {
                    message: format!("{} (tried {} times)", e.message, attempt + 1),
                    ..e
                })
            }
            Err(e) if e.retry_after.is_some_and(|w| w > MAX_RETRY_AFTER) => {
                return Err(SynthError {
                    message: format!(
                        "{}; it asks to wait {} s, longer than narrate waits",
                        e.message,
                        e.retry_after.unwrap_or_default().as_secs()
                    ),
                    ..e
                })
            }
            Err(e) => {
                attempt += 1;
                let wait = backoff(attempt, e.retry_after);
                if bounds
                    .deadline
                    .is_some_and(|d| std::time::Instant::now() + wait > d)
                {
                    return Err(SynthError {
                        message: format!(
                            "{} (tried {attempt} times; the request's time is up)",
                            e.message
                        ),
                        ..e
                    });
                }
                // Waits in short steps, so a cancelled request stops at once.
                let until = std::time::Instant::now() + wait;
                while !bounds.cancelled() {
                    let left = until.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    std::thread::sleep(left.min(Duration::from_millis(50)));
                }
            }
        }
    }
}

/// The wait before try number `attempt` (from 1): exponential with full jitter, or what the backend asked for.
fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(wait) = retry_after {
        return wait;
    }
    let ceiling = BACKOFF_BASE
        .saturating_mul(1 << attempt.min(10))
        .min(BACKOFF_CAP);
    ceiling.mul_f64(0.5 + fastrand::f64() / 2.0)
}

/// Caps how many requests one backend gets at once (`Backend::max_parallel`), inside a shared pool or a server.
pub(crate) struct Gate {
    free: Mutex<usize>,
    freed: Condvar,
}

/// A place in a gate, given back when dropped.
pub(crate) struct Permit<'a>(&'a Gate);

impl Gate {
    pub(crate) fn new(capacity: usize) -> Gate {
        Gate {
            free: Mutex::new(capacity.max(1)),
            freed: Condvar::new(),
        }
    }

    /// Waits for a free place.
    pub(crate) fn enter(&self) -> Permit<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Permit(self)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

/// Progress on stderr, handed to the scheduler by the command: a bar by characters (with ETA from the measured
/// rate) on a terminal, a spinner line per essay being synthesized when there are several; with `lines`, one
/// line per finished essay when stderr is not a terminal; nothing with `--quiet`.
pub(crate) struct Progress {
    multi: indicatif::MultiProgress,
    bar: indicatif::ProgressBar,
    essays: Mutex<HashMap<usize, indicatif::ProgressBar>>,
    names: Vec<String>,
    tty: bool,
    lines: bool,
    finished: AtomicUsize,
    watch: Option<Arc<Watch>>,
}

impl Progress {
    pub(crate) fn new(names: &[String], quiet: bool, lines: bool) -> Progress {
        let tty = !quiet && std::io::stderr().is_terminal();
        let multi = indicatif::MultiProgress::with_draw_target(if tty {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        });
        let bar = multi.add(
            indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} synthesizing {bar:30} {percent}% of {len} characters, {eta} left  {msg}",
                )
                .expect("valid template"),
            ),
        );
        Progress {
            multi,
            bar,
            essays: Mutex::new(HashMap::new()),
            names: names.to_vec(),
            tty,
            lines: lines && !quiet && !tty,
            finished: AtomicUsize::new(0),
            watch: None,
        }
    }

    /// The same, told to `watch` too (counts, and a cancel flag the run obeys).
    pub(crate) fn watched(mut self, watch: Arc<Watch>) -> Progress {
        self.watch = Some(watch);
        self
    }

    fn cancelled(&self) -> bool {
        self.watch.as_ref().is_some_and(|w| w.cancelled())
    }

    fn start(&self, chars: usize, segments: usize) {
        if let Some(w) = &self.watch {
            w.total.store(segments, Ordering::Relaxed);
            w.done.store(0, Ordering::Relaxed);
        }
        if chars > 0 {
            self.bar.set_length(chars as u64);
        }
    }

    /// A segment of `essay` (which has `left` still to do) was done with: `made` when it was synthesized (not
    /// failed, not skipped).
    fn segment_done(&self, essay: usize, left: usize, chars: usize, made: bool) {
        self.bar.inc(chars as u64);
        if let (Some(w), true) = (&self.watch, made) {
            w.done.fetch_add(1, Ordering::Relaxed);
        }
        if !self.tty || self.names.len() < 2 {
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

    fn essay_done(&self, essay: usize, result: &Result<Produced>) {
        if let Some(bar) = self
            .essays
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&essay)
        {
            bar.finish_and_clear();
        }
        let n = self.finished.fetch_add(1, Ordering::SeqCst) + 1;
        let what = match result {
            Err(e) => format!("failed: {e}"),
            Ok(Produced::Synthesized(_)) => "segments synthesized".into(),
            Ok(Produced::Written(_)) => "done".into(),
        };
        let line = format!("[{n}/{}] {}: {what}", self.names.len(), self.names[essay]);
        if self.lines {
            eprintln!("{line}");
        } else if self.names.len() > 1 {
            self.bar.set_message(line);
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
        let _ = self.multi.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        for attempt in 1..8 {
            let ceiling = BACKOFF_BASE.saturating_mul(1 << attempt).min(BACKOFF_CAP);
            let wait = backoff(attempt, None);
            assert!(
                wait >= ceiling / 2 && wait <= ceiling,
                "{attempt}: {wait:?}"
            );
        }
        assert_eq!(
            backoff(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
    }

    /// A backend that fails transiently `n` times, then answers.
    struct Flaky {
        left: AtomicUsize,
        transient: bool,
        calls: AtomicUsize,
    }

    impl Backend for Flaky {
        fn name(&self) -> &'static str {
            "flaky"
        }
        fn describe(&self) -> &'static str {
            "test"
        }
        fn check(&self) -> Result<()> {
            Ok(())
        }
        fn default_voice(&self) -> String {
            "v".into()
        }
        fn voices(&self) -> Result<Vec<crate::synth::VoiceInfo>> {
            Ok(vec![])
        }
        fn fingerprint(&self, _: &str) -> Result<String> {
            Ok("f".into())
        }
        fn synthesize(&self, _: &SpeechRequest) -> std::result::Result<Audio, SynthError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.left.load(Ordering::SeqCst) > 0 {
                self.left.fetch_sub(1, Ordering::SeqCst);
                return Err(if self.transient {
                    SynthError::transient("busy", Some(Duration::from_millis(1)))
                } else {
                    SynthError::permanent("bad voice")
                });
            }
            // Half a second of a 200 Hz tone and a tenth of a second of silence: plausible speech for a short text.
            Ok(Audio {
                sample_rate: 8000,
                samples: (0..4800)
                    .map(|n| {
                        if n < 4000 {
                            (8000.0 * (n as f64 * 0.157).sin()) as i16
                        } else {
                            0
                        }
                    })
                    .collect(),
                words: None,
            })
        }
    }

    #[test]
    fn only_transient_faults_are_retried_and_only_as_often_as_allowed() {
        let request = SpeechRequest {
            text: "x",
            voice: "v",
            rate: None,
            take: 1,
        };
        let flaky = |left, transient| Flaky {
            left: AtomicUsize::new(left),
            transient,
            calls: AtomicUsize::new(0),
        };
        let b = flaky(2, true);
        assert!(synthesize(&b, &request, 2).is_ok());
        assert_eq!(b.calls.load(Ordering::SeqCst), 3);
        let b = flaky(3, true);
        let e = synthesize(&b, &request, 2).unwrap_err();
        assert!(e.message.contains("tried 3 times"), "{e}");
        let b = flaky(1, false);
        assert_eq!(
            synthesize(&b, &request, 4).unwrap_err().message,
            "bad voice"
        );
        assert_eq!(b.calls.load(Ordering::SeqCst), 1);
    }
}

#[cfg(test)]
mod watch_tests {
    use std::sync::Arc;

    use super::{Watch, STOPPED};
    use crate::pipeline::Job;
    use crate::settings::Settings;

    /// An essay of three sentences with the tone backend and a cache of its own, in `dir`.
    fn job(dir: &std::path::Path) -> Job {
        let essay = dir.join("e.md");
        std::fs::write(&essay, "# Title\n\nOne sentence. Two sentences here.\n").unwrap();
        let text = format!("backend = \"tone\"\ncache = {:?}\n", dir.join("cache"));
        let layer = crate::settings::parse(&dir.join("narrate.toml"), &text).unwrap();
        let settings = Settings::from_layer(layer).unwrap();
        let backend = Arc::new(crate::testing::tone());
        Job::prepare_with(&essay, settings, backend).unwrap()
    }

    #[test]
    fn a_watched_run_counts_its_segments_and_a_cancelled_one_writes_no_edition() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let watch = Arc::new(Watch::default());
        watch.cancel();
        let e = job(dir.path())
            .produce_watched(&out, true, Some(watch.clone()))
            .err()
            .unwrap();
        assert_eq!(e.to_string(), STOPPED);
        assert_eq!(watch.counts(), (0, 3));
        assert!(!watch.joining());
        assert!(!out.join("e.json").exists() && !out.join("e.wav").exists());

        let watch = Arc::new(Watch::default());
        let report = job(dir.path())
            .produce_watched(&out, true, Some(watch.clone()))
            .unwrap();
        assert_eq!(report.stats.synthesized, 3);
        assert_eq!(watch.counts(), (3, 3));
        assert!(watch.joining() && !watch.cancelled());
        assert!(out.join("e.json").is_file());
    }
}
