//! `narrate plan`: every segment with its id, chapter, cache state and text, without synthesizing anything.

use crate::cli::PlanArgs;
use crate::error::Result;
use crate::pipeline::Job;

pub(super) fn run(args: PlanArgs) -> Result<()> {
    let settings = args.settings.resolve(Some(&args.essay))?;
    let job = Job::prepare(&args.essay, settings)?;
    super::warn_all(&args.essay, &job.warnings(), ":");
    if args.diff {
        return diff(&job, args.json);
    }
    let plan = &job.plan;
    let cached: Vec<bool> = plan
        .segments
        .iter()
        .map(|s| job.cache.contains(&s.cache_key))
        .collect();
    if args.json {
        let segments: Vec<_> = plan
            .segments
            .iter()
            .zip(&cached)
            .map(|(s, &cached)| {
                serde_json::json!({
                    "id": s.id, "chapter": s.chapter, "line": s.line, "cached": cached, "take": s.take,
                    "pause_after_ms": s.pause_after_ms, "text": s.text, "spoken": s.spoken,
                })
            })
            .collect();
        super::print_json(&serde_json::json!({
            "title": plan.title,
            "author": plan.author,
            "backend": plan.backend,
            "voice": plan.voice,
            "language": job.normalizer.language.tag(),
            "chapters": plan.chapters,
            "book": plan.book,
            "segments": segments,
            "cached": cached.iter().filter(|&&c| c).count(),
        }));
        return Ok(());
    }
    let mut out = format!(
        "{} — {} chapters, {} segments ({} cached), backend {} voice {}, read as {}\n",
        plan.title,
        plan.chapters.len(),
        plan.segments.len(),
        cached.iter().filter(|&&c| c).count(),
        plan.backend,
        plan.voice,
        job.normalizer.language.tag()
    );
    // One pass (segments come in chapter order): a chapter's heading before its first segment.
    let mut segments = plan.segments.iter().zip(&cached).peekable();
    for (ci, chapter) in plan.chapters.iter().enumerate() {
        out.push_str(&format!("\n[{}] {}\n", ci + 1, chapter.title));
        while let Some((s, &c)) = segments.next_if(|(s, _)| s.chapter <= ci) {
            let take = if s.take > 1 {
                format!(" take {}", s.take)
            } else {
                String::new()
            };
            let state = if c { "cached" } else { "new   " };
            out.push_str(&format!(
                "  {:<10} {state} {:>4}{take}  {}\n",
                s.id,
                format!("l{}", s.line),
                s.text
            ));
            if args.spoken && crate::essay::normalize::reads_differently(&s.text, &s.spoken) {
                out.push_str(&format!("  {:<10} {:>11}  → {}\n", "", "", s.spoken));
            }
        }
    }
    super::print(&out);
    Ok(())
}

/// `plan --diff`: only the segments that read differently from how they are written, written and spoken side by
/// side (typography alone does not count).
fn diff(job: &Job, json: bool) -> Result<()> {
    let differ: Vec<_> = job
        .plan
        .segments
        .iter()
        .filter(|s| crate::essay::normalize::reads_differently(&s.text, &s.spoken))
        .collect();
    if json {
        let list: Vec<_> = differ
            .iter()
            .map(|s| serde_json::json!({"id": s.id, "line": s.line, "text": s.text, "spoken": s.spoken}))
            .collect();
        super::print_json(
            &serde_json::json!({"language": job.normalizer.language.tag(), "segments": list}),
        );
        return Ok(());
    }
    let mut out = format!(
        "{} of {} segments read differently from how they are written (read as {}):\n",
        differ.len(),
        job.plan.segments.len(),
        job.normalizer.language.tag()
    );
    for s in differ {
        out.push_str(&format!(
            "\n{:<10} l{:<5} {}\n{:<17} → {}\n",
            s.id, s.line, s.text, "", s.spoken
        ));
    }
    super::print(&out);
    Ok(())
}
