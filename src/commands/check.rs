//! `narrate check`: the QA report for a finished edition, with the `narrate regen` command to fix it.

use crate::check;
use crate::cli::CheckArgs;
use crate::error::{Error, Result};

pub(super) fn run(args: CheckArgs) -> Result<()> {
    // A build killed while moving its files into place is finished first, so the edition read is one whole.
    if let (Some(dir), Some(stem)) = (args.edition.parent(), args.edition.file_stem()) {
        let dir = if dir.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            dir
        };
        if dir.is_dir() {
            crate::pipeline::settle(dir, &stem.to_string_lossy())?;
        }
    }
    let report = check::check_with(
        &args.edition,
        check::Options {
            listen: args.listen,
        },
    )?;
    if args.json {
        super::print_json(&report);
    } else {
        super::print(&describe(&report));
    }
    if report.passed {
        Ok(())
    } else {
        Err(Error::CheckFailed {
            wav: report.wav,
            problems: report.findings.len(),
        })
    }
}

/// The human report: problems, per-chapter levels, and the command to regenerate what is to blame.
pub(super) fn describe(r: &check::Report) -> String {
    let mut out = String::new();
    for f in &r.findings {
        out.push_str(&format!("FAIL {:<9} {}\n", f.kind, f.message));
    }
    for (i, c) in r.chapters.iter().enumerate() {
        out.push_str(&format!(
            "     chapter {:>2}  {:>6.1} LUFS  {:>6.1} dBTP  {}\n",
            i + 1,
            c.integrated_lufs,
            c.true_peak_dbtp,
            c.title
        ));
    }
    if r.passed {
        out.push_str(&format!("{}: passed\n", r.wav.display()));
    }
    for remedy in &r.remedies {
        let what = match remedy.action {
            check::Action::Regen => "to redo the segments to blame",
            check::Action::Master => "to fix the level across the edition, master it",
            check::Action::Rebuild => "to replace the damaged file, build the edition again",
            check::Action::Edit => "a new take of this voice reads the same way",
        };
        out.push_str(&format!("{what}: {}\n", remedy.command));
    }
    out
}

/// One line for `build`: whether the edition passed.
pub(super) fn one_line(r: &check::Report) -> String {
    if r.passed {
        "check: passed".into()
    } else {
        format!(
            "check: {} problem(s); see `narrate check {}`{}",
            r.findings.len(),
            r.wav.display(),
            r.remedies
                .first()
                .map_or(String::new(), |c| format!("; fix: {}", c.command))
        )
    }
}
