//! `narrate cache stats`, `narrate cache gc` and `narrate cache verify`.

use std::collections::HashSet;
use std::time::Duration;

use crate::cache::Cache;
use crate::cli::{CacheArgs, CacheCommand};
use crate::error::{Error, Result};

/// The cache the settings name (`--cache`, NARRATE_CACHE, `cache` in ./narrate.toml or the user's file).
fn open(args: &CacheArgs) -> Result<Cache> {
    Ok(Cache::new(args.settings.resolve(None)?.cache_dir))
}

/// `30d`, `12h`, `90m`, `45s`.
fn parse_age(text: &str) -> Result<Duration> {
    let bad = || {
        Error::Invalid(format!(
            "--older-than `{text}`: give an age such as 30d, 12h, 90m or 0s"
        ))
    };
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let secs = match unit {
        "d" => n * 86_400,
        "h" => n * 3_600,
        "m" => n * 60,
        "s" => n,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs(secs))
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

pub(super) fn run(cmd: CacheCommand) -> Result<()> {
    match cmd {
        CacheCommand::Stats(args) => {
            let cache = open(&args)?;
            let stats = cache.stats();
            if args.json {
                super::print_json(&stats);
            } else {
                super::print(&format!(
                    "{}: {} segments, {:.1} MB{}{}\n",
                    cache.root().display(),
                    stats.segments,
                    mb(stats.bytes),
                    stats.oldest_seconds.map_or(String::new(), |s| format!(
                        ", least recently used {:.1} days ago",
                        s as f64 / 86_400.0
                    )),
                    if stats.partial_files > 0 {
                        format!(", {} unfinished temporary files", stats.partial_files)
                    } else {
                        String::new()
                    }
                ));
            }
        }
        CacheCommand::Gc(args) => {
            let cache = open(&args.cache)?;
            let age = parse_age(&args.older_than)?;
            let keep: HashSet<String> = args
                .keep_referenced
                .iter()
                .flat_map(|d| crate::manifest::referenced_keys(d))
                .collect();
            let done = cache.gc(age, &keep, args.dry_run);
            if args.cache.json {
                super::print_json(&done);
            } else {
                super::print(&format!(
                    "{} {} segments ({:.1} MB); kept {} referenced by editions and {} used in the last {}\n",
                    if args.dry_run { "would delete" } else { "deleted" },
                    done.deleted,
                    mb(done.freed_bytes),
                    done.kept_referenced,
                    done.kept_recent,
                    args.older_than
                ));
            }
        }
        CacheCommand::Verify(args) => return verify(&open(&args.cache)?, &args),
    }
    Ok(())
}

/// Reads every entry in parallel; names each damaged one on a line (moving it aside with --repair). Damage left in
/// place is a finding (exit 1), as in `narrate check`.
fn verify(cache: &Cache, args: &crate::cli::VerifyArgs) -> Result<()> {
    use rayon::prelude::*;
    let keys = cache.keys();
    let bad: Vec<(String, String)> = keys
        .par_iter()
        .filter_map(|k| match cache.verify(k) {
            crate::cache::Entry::Bad(reason) => Some((k.clone(), reason)),
            _ => None,
        })
        .collect();
    let mut lines = Vec::new();
    for (key, reason) in &bad {
        let path = cache.path(key);
        if args.repair {
            let to = cache.quarantine(key)?;
            lines.push(format!(
                "{}: {reason}; moved to {}",
                path.display(),
                to.display()
            ));
        } else {
            lines.push(format!("{}: {reason}", path.display()));
        }
    }
    if args.cache.json {
        super::print_json(&serde_json::json!({
            "cache": cache.root(),
            "segments": keys.len(),
            "damaged": bad.iter().map(|(k, r)| serde_json::json!({"key": k, "reason": r})).collect::<Vec<_>>(),
            "repaired": args.repair,
        }));
    } else {
        let mut out = lines.join("\n");
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!(
            "{}: {} segments read, {} damaged{}\n",
            cache.root().display(),
            keys.len(),
            bad.len(),
            match (bad.is_empty(), args.repair) {
                (true, _) => "",
                (false, true) => "; moved to quarantine, the next build synthesizes them again",
                (false, false) => "; run `narrate cache verify --repair` to move them aside",
            }
        ));
        super::print(&out);
    }
    if !bad.is_empty() && !args.repair {
        return Err(Error::CacheDamaged {
            cache: cache.root().to_owned(),
            damaged: bad.len(),
        });
    }
    Ok(())
}
