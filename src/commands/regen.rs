//! `narrate regen`: new takes of chosen segments, then a re-join; nothing else is synthesized again.

use crate::cli::RegenArgs;
use crate::error::Result;
use crate::manifest::Manifest;
use crate::pipeline::Job;
use crate::settings::Settings;

pub fn run(args: RegenArgs, quiet: bool) -> Result<()> {
    let settings = Settings::resolve(&args.synth, &args.essay)?;
    let mut job = Job::prepare(&args.essay, settings)?;
    let mut ids: Vec<String> = Vec::new();
    for wanted in &args.ids {
        let id = job.resolve(wanted)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let dir = job.out_dir(args.out.output.as_deref());
    let before = Manifest::load(&job.manifest_path(&dir))?;

    let mut changes = Vec::new();
    for id in &ids {
        let text = job
            .plan
            .segments
            .iter()
            .find(|s| &s.id == id)
            .map(|s| s.text.clone())
            .unwrap_or_default();
        let old = job.takes.take(id);
        let new = job.takes.choose(id, &text, args.take);
        changes.push((id.clone(), old, new, text));
    }
    job.replan();
    let report = job.produce(&dir, quiet)?;
    // Only remember the takes once the edition that uses them is written.
    job.takes.save(&job.takes_path)?;
    super::warn_all(&args.essay, &report.warnings, ": ");

    if args.out.json {
        let mut summary = super::build::summary(&report);
        summary["regenerated"] = changes
            .iter()
            .map(|(id, old, new, _)| serde_json::json!({"id": id, "from_take": old, "take": new}))
            .collect();
        super::print_json(&summary);
        return Ok(());
    }
    let span = |m: &Manifest, id: &str| {
        m.segments
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.end_seconds - s.start_seconds)
    };
    let mut out = String::new();
    for (id, old, new, text) in &changes {
        let length = match (
            before.as_ref().and_then(|m| span(m, id)),
            span(&report.manifest, id),
        ) {
            (Some(a), Some(b)) => format!("{a:.2} s → {b:.2} s"),
            (_, Some(b)) => format!("{b:.2} s"),
            _ => String::new(),
        };
        out.push_str(&format!("{id}: take {old} → {new} ({length})  {text}\n"));
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
    super::print(&out);
    Ok(())
}
