//! `narrate regen`: a build with other takes. The edition is redone exactly as a fresh build with those takes
//! would make it (the settings it was built with come from its manifest, under any flags given now): only the
//! chosen segments are synthesized; join, mastering, exports, compressed editions and the check are redone.

use crate::cli::RegenArgs;
use crate::error::Result;
use crate::manifest::Manifest;
use crate::pipeline::Job;

pub fn run(args: RegenArgs, quiet: bool) -> Result<()> {
    // Where the edition is depends on the essay and -o only; its manifest says how it was built.
    let stem_dir = {
        let stem = crate::pipeline::stem(&args.essay, args.out.name.as_deref());
        let dir = crate::pipeline::out_dir(&stem, args.out.output.as_deref());
        (dir.join(format!("{stem}.json")), dir)
    };
    // The essay's lock, for the whole read–change–write of its takes and edition: a second regen waits.
    let _lock = crate::plan::takes::lock(&args.essay)?;
    let before = Manifest::load(&stem_dir.0)?;
    let mut recorded = match &before {
        Some(m) => recorded(m, &stem_dir.0)?,
        None => Default::default(),
    };
    // Another backend asked for on the command line: the edition's voice was the old backend's.
    if args
        .settings
        .layer
        .backend
        .is_some_and(|b| Some(b) != recorded.backend)
    {
        recorded.voice = None;
    }
    let settings = args.settings.resolve_with(Some(&args.essay), recorded)?;
    let job = Job::prepare(&args.essay, settings)?.named(args.out.name.clone());
    let mut ids: Vec<String> = Vec::new();
    for wanted in &args.ids {
        let id = job.resolve(wanted)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let dir = stem_dir.1;
    let mut takes = job.takes.clone();
    let mut changes = Vec::new();
    for id in &ids {
        let text = job
            .plan
            .segments
            .iter()
            .find(|s| &s.id == id)
            .map(|s| s.text.clone())
            .unwrap_or_default();
        let old = takes.take(id);
        let new = takes
            .choose(id, &text, args.take)
            .map_err(|e| crate::error::Error::Usage(format!("{}: {e}", args.essay.display())))?;
        changes.push((id.clone(), old, new, text));
    }
    let job = job.with_takes(takes.clone());
    let takes_path = job.takes_path.clone();
    let report = job.produce(&dir, quiet)?;
    // Only remember the takes once the edition that uses them is written.
    takes.save(&takes_path)?;
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
    super::note(quiet, &super::check::one_line(&report.check));
    super::print(&out);
    Ok(())
}

/// The settings an edition was built with, as a settings layer (checked as narrate.toml is).
pub(super) fn recorded(
    manifest: &Manifest,
    path: &std::path::Path,
) -> Result<crate::settings::Layer> {
    if manifest.settings.is_null() {
        return Ok(Default::default());
    }
    serde_json::from_value(manifest.settings.clone()).map_err(|e| crate::error::Error::Manifest {
        path: path.to_owned(),
        reason: format!("its settings cannot be read ({e}); build the edition again"),
    })
}
