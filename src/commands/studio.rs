//! `narrate studio`: find (or first build) the essay's edition, then run the studio on it until Ctrl-C.

use crate::cli::{OutputArgs, StudioArgs};
use crate::error::{Error, Result};
use crate::pipeline::{Built, Place};
use crate::settings::SettingsArgs;

/// The environment variable holding a fixed session token (none: a random one per run).
const TOKEN_ENV: &str = "NARRATE_API_TOKEN";

pub(super) fn run(args: StudioArgs, quiet: bool) -> Result<()> {
    let options = prepare(&args.essay, &args.out, &args.settings, args.bind, quiet)?;
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

/// The studio's options for an essay (its edition built first if there is none), for `narrate studio` and
/// `narrate serve --studio`.
pub(super) fn prepare(
    essay: &std::path::Path,
    out: &OutputArgs,
    flags: &SettingsArgs,
    bind: std::net::SocketAddr,
    quiet: bool,
) -> Result<crate::studio::Options> {
    if essay == std::path::Path::new("-") {
        return Err(Error::Usage(
            "narrate studio needs an essay file (it writes the text's takes beside it), not standard input".into(),
        ));
    }
    let place = Place::new(essay, out.name.as_deref(), out.output.as_deref());
    // No edition yet: build it first, the way `narrate build` does.
    if place.manifest()?.is_none() {
        let settings = flags.resolve(Some(essay))?;
        if let Built::Written(report) =
            place.build(settings, quiet, |w| super::warn_all(essay, w, ":"))?
        {
            super::warn_all(essay, &report.warnings, ": ");
            super::note(quiet, &super::build::describe(&report));
        }
    }
    let token = match std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()) {
        Some(t) => t,
        None => crate::studio::new_token()?,
    };
    // What a regen would use: the edition's recorded settings, under the flags given now.
    let given = flags.clone();
    let for_settings = place.clone();
    let settings = move || for_settings.settings(&given);
    // Pronunciations go where the settings come from: `--config FILE`, else narrate.toml beside the essay.
    let settings_file = flags.config.clone().unwrap_or_else(|| {
        essay
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."))
            .join("narrate.toml")
    });
    Ok(crate::studio::Options {
        essay: essay.to_path_buf(),
        settings_file,
        dir: place.dir,
        stem: place.stem,
        name: out.name.clone(),
        settings: Box::new(settings),
        bind,
        token,
        quiet,
    })
}
