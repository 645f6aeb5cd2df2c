//! Parallel synthesis of the segments a plan needs that the cache does not have yet.

use std::collections::HashSet;
use std::io::IsTerminal;

use rayon::prelude::*;

use super::cache::Cache;
use super::plan::{Plan, PlanSegment};
use crate::error::{Error, Result};
use crate::synth::{Backend, SpeechRequest};

/// How a plan's segments were obtained.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SynthStats {
    /// Requests sent to the backend (a sentence repeated word for word is synthesized once).
    pub synthesized: usize,
    /// Segments whose audio was already in the cache.
    pub cached: usize,
    /// Parallel requests actually used.
    pub jobs: usize,
}

/// Synthesizes every segment missing from the cache, `jobs` at a time (capped by the backend), storing each in
/// the cache as soon as it is done, so an interrupted run keeps what it finished.
pub fn synthesize(
    plan: &Plan,
    backend: &dyn Backend,
    cache: &Cache,
    jobs: usize,
    quiet: bool,
) -> Result<SynthStats> {
    let mut seen = HashSet::new();
    let mut cached = 0;
    let mut todo: Vec<&PlanSegment> = Vec::new();
    for s in &plan.segments {
        if cache.contains(&s.cache_key) {
            cached += 1;
        } else if seen.insert(s.cache_key.as_str()) {
            todo.push(s);
        }
    }
    // Longest first, so a run does not end with one long sentence on one core while the others idle.
    todo.sort_by_key(|s| std::cmp::Reverse(s.spoken.len()));
    let jobs = backend
        .max_parallel()
        .map_or(jobs, |cap| jobs.min(cap))
        .max(1);
    let stats = SynthStats {
        synthesized: todo.len(),
        cached,
        jobs,
    };
    if todo.is_empty() {
        return Ok(stats);
    }
    crate::synth::check_renders(backend)?;
    backend.prepare(jobs);

    let bar = if quiet || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(todo.len() as u64).with_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} synthesizing {bar:30} {pos}/{len} segments, {eta} left",
            )
            .expect("valid template"),
        )
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| Error::Invalid(format!("cannot start {jobs} worker threads: {e}")))?;
    let failed = std::sync::Mutex::new(Vec::new());
    let skipped = std::sync::atomic::AtomicUsize::new(0);
    pool.install(|| {
        // One segment per task: work is handed out in that order as workers free up. A failure does not stop
        // the others (each finished segment is cached), unless so many fail that the backend is plainly down.
        todo.par_iter().with_max_len(1).for_each(|segment| {
            let failed_so_far = failed.lock().unwrap_or_else(|e| e.into_inner()).len();
            if failed_so_far >= GIVE_UP_AFTER {
                skipped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return;
            }
            if let Err(e) = synthesize_one(backend, &plan.voice, plan.rate, segment, cache, 0) {
                let mut list = failed.lock().unwrap_or_else(|e| e.into_inner());
                list.push((segment.line, e));
            }
            bar.inc(1);
        })
    });
    bar.finish_and_clear();
    let mut failed = failed.into_inner().unwrap_or_else(|e| e.into_inner());
    failed.sort_by_key(|(line, _)| *line);
    let mut failed: Vec<Error> = failed.into_iter().map(|(_, e)| e).collect();
    let skipped = skipped.into_inner();
    match (failed.len(), skipped) {
        (0, _) => Ok(stats),
        (1, 0) => Err(failed.remove(0)),
        (_, skipped) => Err(Error::SegmentsFailed {
            total: todo.len(),
            skipped,
            failed,
        }),
    }
}

/// After this many failed segments the rest are not tried: the backend is down, not one sentence odd.
const GIVE_UP_AFTER: usize = 8;

/// Synthesizes one segment into the cache, trying again up to `retries` more times if the backend fails.
pub fn synthesize_one(
    backend: &dyn Backend,
    voice: &str,
    rate: Option<u32>,
    segment: &PlanSegment,
    cache: &Cache,
    retries: u32,
) -> Result<()> {
    let fail = |reason: String| Error::Synthesis {
        id: segment.id.clone(),
        line: segment.line,
        backend: backend.name().to_string(),
        // Engines' messages can span lines; an error is one line.
        reason: reason.split_whitespace().collect::<Vec<_>>().join(" "),
    };
    let request = SpeechRequest {
        text: &segment.spoken,
        voice,
        rate,
        take: segment.take,
    };
    let mut attempt = 0;
    let audio = loop {
        match backend.synthesize(&request) {
            Ok(audio) if audio.samples.is_empty() => {
                return Err(fail("the backend returned no audio".into()))
            }
            Ok(audio) => break audio,
            Err(e) if attempt >= retries => return Err(fail(e)),
            Err(_) => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(200 << attempt.min(5)));
            }
        }
    };
    cache.store(&segment.cache_key, &audio)
}
