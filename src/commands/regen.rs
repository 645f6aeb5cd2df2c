//! `narrate regen`: a build with other takes. The edition is redone exactly as a fresh build with those takes
//! would make it (the settings it was built with come from its manifest, under any flags given now): only the
//! chosen segments are synthesized; join, mastering, exports, compressed editions and the check are redone.

use crate::cli::RegenArgs;
use crate::error::Result;
use crate::manifest::Manifest;
use crate::pipeline::Place;

pub(super) fn run(args: RegenArgs, quiet: bool) -> Result<()> {
    let place = Place::new(
        &args.essay,
        args.out.name.as_deref(),
        args.out.output.as_deref(),
    );
    let done = place.regen(&args.settings, &args.ids, args.take, quiet)?;
    let (before, changes, report) = (done.before, done.changes, done.report);
    super::warn_all(&args.essay, &report.warnings, ": ");

    if args.out.json {
        let mut summary = super::build::summary(&report);
        summary["regenerated"] = changes
            .iter()
            .map(|c| {
                serde_json::json!({"id": c.id, "from_take": c.from, "take": c.to,
                    "longest_pause_seconds_before": c.pause_from, "longest_pause_seconds": c.pause_to})
            })
            .collect();
        super::print_json(&summary);
        return Ok(());
    }
    let segment = |m: &Manifest, id: &str| m.segments.iter().find(|s| s.id == id).cloned();
    let span = |m: &Manifest, id: &str| segment(m, id).map(|s| s.end_seconds - s.start_seconds);
    let mut out = String::new();
    for c in &changes {
        let (id, old, new, text) = (&c.id, c.from, c.to, &c.text);
        // Each figure before → after (after only, for a segment the edition did not have).
        let from_to = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => format!("{a:.2} s → {b:.2} s"),
            (_, Some(b)) => format!("{b:.2} s"),
            _ => String::new(),
        };
        let length = from_to(
            before.as_ref().and_then(|m| span(m, id)),
            span(&report.manifest, id),
        );
        let pauses = match from_to(c.pause_from, c.pause_to) {
            p if p.is_empty() => p,
            p => format!(", longest pause {p}"),
        };
        out.push_str(&format!(
            "{id}: take {old} → {new} ({length}{pauses})  {text}\n"
        ));
    }
    if let Some(before) = &before {
        let delta = report.manifest.duration_seconds - before.duration_seconds;
        let moved = before
            .chapters
            .iter()
            .zip(&report.manifest.chapters)
            .filter(|(a, b)| a.start_sample != b.start_sample)
            .count();
        out.push_str(&format!(
            "edition {} → {} ({delta:+.2} s); {moved} chapter marker(s) moved\n",
            super::clock(before.duration_seconds),
            super::clock(report.manifest.duration_seconds)
        ));
    }
    out.push_str(&super::build::describe(&report));
    out.push('\n');
    super::note(quiet, &super::check::one_line(&report.check));
    super::print(&out);
    Ok(())
}
