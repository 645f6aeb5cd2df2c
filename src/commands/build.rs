//! `narrate build`: the whole edition, synthesizing only what the cache lacks.

use crate::cli::BuildArgs;
use crate::error::Result;
use crate::pipeline::{Job, Report};
use crate::settings::Settings;

pub fn run(args: BuildArgs, quiet: bool) -> Result<()> {
    let settings = Settings::resolve(&args.synth, &args.essay)?;
    let job = Job::prepare(&args.essay, settings)?;
    super::warn_all(&args.essay, &job.essay.warnings, ":");
    let dir = job.out_dir(args.out.output.as_deref());
    let report = job.produce(&dir, quiet)?;
    super::warn_all(&args.essay, &report.warnings, ": ");
    // The same QA as `narrate check`, in one line.
    let qa = crate::check::check(&report.wav)?;
    if args.out.json {
        let mut s = summary(&report);
        s["check"] = serde_json::json!({"passed": qa.passed, "problems": qa.findings});
        super::print_json(&s);
    } else {
        super::note(quiet, &super::check::one_line(&qa));
        super::print(&format!("{}\n", describe(&report)));
    }
    Ok(())
}

/// The JSON summary `build --json` and `regen --json` print.
pub fn summary(r: &Report) -> serde_json::Value {
    serde_json::json!({
        "wav": r.wav,
        "manifest": r.manifest_path,
        "title": r.manifest.title,
        "duration_seconds": r.manifest.duration_seconds,
        "chapters": r.manifest.chapters.len(),
        "segments": r.manifest.segments.len(),
        "synthesized": r.stats.synthesized,
        "cached": r.stats.cached,
        "jobs": r.stats.jobs,
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
