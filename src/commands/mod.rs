//! One file per subcommand; `run` dispatches. Commands write data to stdout and notes to stderr.

mod batch;
mod build;
mod cache;
mod check;
mod export;
mod plan;
mod regen;
mod say;
mod serve;
mod studio;
mod voices;

use std::io::Write;
use std::path::Path;

use crate::cli::{Cli, Command};
use crate::error::Result;

/// Runs a parsed command line.
pub(crate) fn run(cli: Cli) -> Result<()> {
    crate::synth::set_notes(!cli.quiet);
    match cli.command {
        Command::Build(args) => build::run(args, cli.quiet),
        Command::Plan(args) => plan::run(args),
        Command::Regen(args) => regen::run(args, cli.quiet),
        Command::Voices(args) => voices::run(args, cli.quiet),
        Command::Batch(args) => batch::run(args, cli.quiet),
        Command::Export(args) => export::run(args),
        Command::Check(args) => check::run(args),
        Command::Cache(cmd) => cache::run(cmd),
        Command::Serve(args) => serve::run(args, cli.quiet),
        Command::Say(args) => say::run(args, cli.quiet),
        Command::Studio(args) => studio::run(args, cli.quiet),
    }
}

/// Prints data on stdout; a closed pipe (`narrate plan x | head`) is not an error.
fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

fn print_json(value: &impl serde::Serialize) {
    print(&(serde_json::to_string_pretty(value).expect("plain data serializes") + "\n"));
}

/// Prints warnings, each naming the essay: `warning: essay.md:12: code block skipped …` for the parser's,
/// `warning: essay.md: segment 1a2b3c4d is silent …` for the join's.
fn warn_all(essay: &Path, warnings: &[impl std::fmt::Display], separator: &str) {
    for w in warnings {
        eprintln!("warning: {}{separator}{w}", essay.display());
    }
}

/// Prints a note on stderr unless quiet.
fn note(quiet: bool, text: &str) {
    if !quiet {
        eprintln!("{text}");
    }
}

/// `m:ss` or `h:mm:ss`.
fn clock(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}
