//! `narrate cache stats` and `narrate cache gc`.

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

pub fn run(cmd: CacheCommand) -> Result<()> {
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
    }
    Ok(())
}
