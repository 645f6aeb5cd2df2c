//! `narrate build`: the whole edition, synthesizing only what the cache lacks; an edition already up to date is
//! left alone.

use crate::cli::BuildArgs;
use crate::error::Result;
use crate::pipeline::{Job, Report};

pub fn run(args: BuildArgs, quiet: bool) -> Result<()> {
    let settings = args.settings.resolve(Some(&args.essay))?;
    let job = Job::prepare(&args.essay, settings)?.named(args.out.name.clone());
    super::warn_all(&args.essay, &job.warnings(), ":");
    let dir = job.out_dir(args.out.output.as_deref());
    if job.up_to_date(&dir) {
        let wav = dir.join(format!("{}.wav", job.stem()));
        if args.out.json {
            super::print_json(&serde_json::json!({
                "wav": wav,
                "manifest": job.manifest_path(&dir),
                "up_to_date": true,
                "segments": job.plan.segments.len(),
                "synthesized": 0,
                "cached": job.plan.segments.len(),
            }));
        } else {
            super::print(&format!(
                "{} is up to date: nothing changed since it was built, nothing rewritten\n",
                wav.display()
            ));
        }
        return Ok(());
    }
    let report = job.produce(&dir, quiet)?;
    super::warn_all(&args.essay, &report.warnings, ": ");
    if args.out.json {
        super::print_json(&summary(&report));
    } else {
        super::note(quiet, &super::check::one_line(&report.check));
        super::print(&format!("{}\n", describe(&report)));
    }
    Ok(())
}

/// The JSON summary `build --json` and `regen --json` print.
pub fn summary(r: &Report) -> serde_json::Value {
    serde_json::json!({
        "wav": r.wav,
        "manifest": r.manifest_path,
        "up_to_date": false,
        "title": r.manifest.title,
        "duration_seconds": r.manifest.duration_seconds,
        "chapters": r.manifest.chapters.len(),
        "segments": r.manifest.segments.len(),
        "synthesized": r.stats.synthesized,
        "cached": r.stats.cached,
        "jobs": r.stats.jobs,
        "check": {"passed": r.check.passed, "problems": r.check.findings},
    })
}

/// One line saying what was written.
pub fn describe(r: &Report) -> String {
    format!(
        "wrote {} ({}, {} chapters, {} segments: {} synthesized, {} cached) and {}",
        r.wav.display(),
        super::clock(r.manifest.duration_seconds),
        r.manifest.chapters.len(),
        r.manifest.segments.len(),
        r.stats.synthesized,
        r.stats.cached,
        r.manifest_path.display()
    )
}
