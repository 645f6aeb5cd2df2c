//! `narrate batch`: many essays, one pool, a summary table on stderr and a JSON report.

use std::path::Path;

use crate::cli::BatchArgs;
use crate::error::{Error, Result};
use crate::pipeline::batch::{self, Outcome, Shard, Status};
use crate::pipeline::schedule;

pub(super) fn run(args: BatchArgs, quiet: bool) -> Result<()> {
    let out_root = args
        .output
        .clone()
        .unwrap_or_else(|| Path::new("audio").join("out"));
    let entries = batch::discover(&args.input, &out_root)?;
    if entries.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: no essays (.md or .txt) found; give a folder of essays or a list file",
            args.input.display()
        )));
    }
    let shard = args
        .shard
        .as_deref()
        .map(|spec| Shard::parse(spec, args.shard_count))
        .transpose()
        .map_err(|e| Error::Usage(format!("--shard: {e}")))?;
    // The pool's size and the retry policy are the run's: flags over the narrate.toml beside the essays (in the
    // folder, or beside the list file; or --config) over the user's.
    let anchor = if args.input.is_dir() {
        args.input.join("narrate.toml")
    } else {
        args.input.clone()
    };
    let run = args.settings.resolve(Some(&anchor))?;
    let opts = schedule::Options {
        jobs: run.jobs,
        retries: run.retries,
        shard,
        join_only: args.join_only,
        synthesize_only: false,
    };
    let outcomes = batch::run(entries, &args.settings, &opts, quiet, |essay, warnings| {
        if !quiet {
            super::warn_all(essay, warnings, ":");
        }
    });

    let report_path = args.report.clone().unwrap_or_else(|| {
        out_root.join(match shard {
            Some(s) => format!("batch-report-shard-{}-of-{}.json", s.index + 1, s.count),
            None => "batch-report.json".into(),
        })
    });
    let failed = outcomes
        .iter()
        .filter(|o| o.status == Status::Failed)
        .count();
    let report = serde_json::json!({
        "essays": outcomes,
        "total": outcomes.len(),
        "failed": failed,
        "synthesized": outcomes.iter().map(|o| o.synthesized).sum::<usize>(),
        "cached": outcomes.iter().map(|o| o.cached).sum::<usize>(),
        "shard": shard.map(|s| s.label()),
    });
    let text = serde_json::to_string_pretty(&report).expect("report serializes") + "\n";
    if let Some(dir) = report_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| Error::Output {
            path: dir.to_owned(),
            source,
        })?;
    }
    crate::atomic::write_bytes(&report_path, text.as_bytes()).map_err(|source| Error::Output {
        path: report_path.clone(),
        source,
    })?;
    if !quiet {
        eprint!("{}", table(&outcomes));
    }
    if args.json {
        super::print(&text);
    }
    if failed > 0 {
        return Err(Error::BatchFailed {
            failed,
            total: outcomes.len(),
            report: report_path,
        });
    }
    Ok(())
}

/// The summary table: essay, status, time, chapters, segments synthesized / cached, error.
fn table(outcomes: &[Outcome]) -> String {
    let width = outcomes
        .iter()
        .map(|o| o.essay.display().to_string().chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, 50);
    let mut out = format!(
        "{:<width$}  {:<12} {:>7} {:>8} {:>7} {:>6}  {}\n",
        "essay", "status", "time", "chapters", "synth", "cached", "error"
    );
    for o in outcomes {
        let status = match o.status {
            Status::Done => "done",
            Status::UpToDate => "up to date",
            Status::Synthesized => "synthesized",
            Status::Failed => "FAILED",
        };
        let mut name = o.essay.display().to_string();
        if name.chars().count() > width {
            name = format!(
                "…{}",
                name.chars()
                    .rev()
                    .take(width - 1)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<String>()
            );
        }
        out.push_str(&format!(
            "{name:<width$}  {status:<12} {:>6.1}s {:>8} {:>7} {:>6}  {}\n",
            o.seconds,
            o.chapters.map_or_else(|| "-".into(), |c| c.to_string()),
            o.synthesized,
            o.cached,
            o.error.as_deref().unwrap_or("")
        ));
    }
    out
}
