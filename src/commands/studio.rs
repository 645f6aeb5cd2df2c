//! `narrate studio`: find (or first build) the essay's edition, then run the studio on it until Ctrl-C.

use crate::cli::StudioArgs;
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::pipeline::{self, Job};

/// The environment variable holding a fixed session token (none: a random one per run).
const TOKEN_ENV: &str = "NARRATE_API_TOKEN";

pub fn run(args: StudioArgs, quiet: bool) -> Result<()> {
    if args.essay == std::path::Path::new("-") {
        return Err(Error::Usage(
            "narrate studio needs an essay file (it writes the text's takes beside it), not standard input".into(),
        ));
    }
    let stem = pipeline::stem(&args.essay, args.out.name.as_deref());
    let dir = pipeline::out_dir(&stem, args.out.output.as_deref());
    let manifest_path = dir.join(format!("{stem}.json"));
    // No edition yet: build it first, the way `narrate build` does.
    if Manifest::load(&manifest_path)?.is_none() {
        let settings = args.settings.resolve(Some(&args.essay))?;
        let job = Job::prepare(&args.essay, settings)?.named(args.out.name.clone());
        super::warn_all(&args.essay, &job.warnings(), ":");
        let report = job.produce(&dir, quiet)?;
        super::warn_all(&args.essay, &report.warnings, ": ");
        super::note(quiet, &super::build::describe(&report));
    }
    let token = match std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()) {
        Some(t) => t,
        None => crate::studio::new_token()?,
    };
    // What a regen would use: the edition's recorded settings, under the flags given now.
    let essay = args.essay.clone();
    let flags = args.settings.clone();
    let settings = move || -> Result<crate::settings::Settings> {
        let mut recorded = match Manifest::load(&manifest_path)? {
            Some(m) => super::regen::recorded(&m, &manifest_path)?,
            None => Default::default(),
        };
        if flags
            .layer
            .backend
            .is_some_and(|b| Some(b) != recorded.backend)
        {
            recorded.voice = None;
        }
        flags.resolve_with(Some(&essay), recorded)
    };
    // Pronunciations go where the settings come from: `--config FILE`, else narrate.toml beside the essay.
    let settings_file = args.settings.config.clone().unwrap_or_else(|| {
        args.essay
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."))
            .join("narrate.toml")
    });
    let options = crate::studio::Options {
        essay: args.essay,
        settings_file,
        dir,
        stem,
        name: args.out.name,
        settings: Box::new(settings),
        bind: args.bind,
        token,
        quiet,
    };
    let open = args.open;
    crate::studio::run(options, |url| {
        // The address goes to stdout, so a script (or a test) that bound port 0 learns it.
        super::print(&format!("{url}\n"));
        if !quiet {
            eprintln!("narrate studio: open {url} in a web browser; Ctrl-C stops");
        }
        if open {
            if let Err(e) = std::process::Command::new("xdg-open").arg(url).spawn() {
                eprintln!("warning: cannot open a web browser ({e}); open {url} yourself");
            }
        }
    })
}
