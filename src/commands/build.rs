//! `narrate build`: the whole edition, synthesizing only what the cache lacks; an edition already up to date is
//! left alone.

use crate::cli::BuildArgs;
use crate::error::Result;
use crate::pipeline::{Built, Place, Report};
use crate::values::CheckMode;

pub(super) fn run(args: BuildArgs, quiet: bool) -> Result<()> {
    let settings = args.settings.resolve(Some(&args.essay))?;
    let place = Place::new(
        &args.essay,
        args.out.name.as_deref(),
        args.out.output.as_deref(),
    );
    let listen = settings.check == CheckMode::Listen;
    let built = place.build(settings, quiet, |warnings| {
        super::warn_all(&args.essay, warnings, ":")
    })?;
    let report = match built {
        Built::UpToDate { segments } => {
            return up_to_date(
                &place.wav(),
                &place.manifest_path(),
                segments,
                args.out.json,
                listen,
                quiet,
            )
        }
        Built::Written(report) => report,
    };
    super::warn_all(&args.essay, &report.warnings, ": ");
    if args.out.json {
        super::print_json(&summary(&report));
    } else {
        super::note(quiet, &super::check::one_line(&report.check));
        super::print(&format!("{}\n", describe(&report)));
    }
    Ok(())
}

/// Says the edition is up to date (one line, or JSON), after the listening check when one is asked for.
fn up_to_date(
    wav: &std::path::Path,
    manifest: &std::path::Path,
    segments: usize,
    json: bool,
    listen: bool,
    quiet: bool,
) -> Result<()> {
    // The listening check is not one of the edition's inputs: asked for, it runs on an up-to-date edition too.
    let check = if listen {
        let report = crate::check::check_with(wav, crate::check::Options { listen: true })?;
        super::note(quiet, &super::check::one_line(&report));
        Some(serde_json::json!({"passed": report.passed, "problems": report.findings}))
    } else {
        None
    };
    if json {
        super::print_json(&serde_json::json!({
            "wav": wav,
            "manifest": manifest,
            "up_to_date": true,
            "segments": segments,
            "synthesized": 0,
            "cached": segments,
            "check": check,
        }));
    } else {
        super::print(&format!(
            "{} is up to date: nothing changed since it was built, nothing rewritten\n",
            wav.display()
        ));
    }
    Ok(())
}

/// The JSON summary `build --json` and `regen --json` print.
pub(super) fn summary(r: &Report) -> serde_json::Value {
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
pub(super) fn describe(r: &Report) -> String {
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
