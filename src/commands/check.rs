//! `narrate check`: the QA report for a finished edition, with the `narrate regen` command to fix it.

use crate::check;
use crate::cli::CheckArgs;
use crate::error::{Error, Result};

pub fn run(args: CheckArgs) -> Result<()> {
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
    let report = check::check(&args.edition)?;
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
pub fn describe(r: &check::Report) -> String {
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
    match (r.passed, r.regen_command()) {
        (true, _) => out.push_str(&format!("{}: passed\n", r.wav.display())),
        (false, Some(cmd)) => out.push_str(&format!("to redo the segments to blame: {cmd}\n")),
        (false, None) => out.push_str("build the edition again to fix these\n"),
    }
    out
}

/// One line for `build`: whether the edition passed.
pub fn one_line(r: &check::Report) -> String {
    if r.passed {
        "check: passed".into()
    } else {
        format!(
            "check: {} problem(s); see `narrate check {}`{}",
            r.findings.len(),
            r.wav.display(),
            r.regen_command()
                .map_or(String::new(), |c| format!(", or redo them: {c}"))
        )
    }
}
