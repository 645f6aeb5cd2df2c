//! `narrate studio`: find (or first build) the essay's edition, then run the studio on it until Ctrl-C; given a
//! folder, the catalogue of its essays' editions (as `narrate batch` finds them), none built first.

use crate::cli::{OutputArgs, StudioArgs};
use crate::error::{Error, Result};
use crate::pipeline::{Built, Place};
use crate::settings::SettingsArgs;

/// The environment variable holding a fixed session token (none: a random one per run).
const TOKEN_ENV: &str = "NARRATE_API_TOKEN";

pub(super) fn run(args: StudioArgs, quiet: bool) -> Result<()> {
    let open = args.open;
    let listening = move |url: &str| announce(url, open, quiet);
    if args.essay.is_dir() {
        let (essays, token) = catalogue(&args, quiet)?;
        return crate::studio::run_catalogue(essays, args.bind, token, listening);
    }
    let options = prepare(&args.essay, &args.out, &args.settings, args.bind, quiet)?;
    crate::studio::run(options, listening)
}

/// The page's address on stdout (a script, or a test, that bound port 0 learns it), and opened if asked.
fn announce(url: &str, open: bool, quiet: bool) {
    super::print(&format!("{url}\n"));
    if !quiet {
        eprintln!("narrate studio: open {url} in a web browser; Ctrl-C stops");
    }
    if open {
        if let Err(e) = std::process::Command::new("xdg-open").arg(url).spawn() {
            eprintln!("warning: cannot open a web browser ({e}); open {url} yourself");
        }
    }
}

/// The studios' options of a folder's essays (`narrate batch`'s list and output folders, `-o DIR` or
/// audio/out), sharing one token and one turn; each essay's settings are what a batch would build it with.
fn catalogue(args: &StudioArgs, quiet: bool) -> Result<(Vec<crate::studio::Options>, String)> {
    let folder = &args.essay;
    if args.out.name.is_some() {
        return Err(Error::Usage(format!(
            "{}: --name names one edition; a folder's editions are named after their essays (drop --name)",
            folder.display()
        )));
    }
    let out_root = args
        .out
        .output
        .clone()
        .unwrap_or_else(|| std::path::Path::new("audio").join("out"));
    let entries = crate::pipeline::batch::discover(folder, &out_root)?;
    if entries.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: no essays (.md or .txt) found; give a folder of essays or one essay file",
            folder.display()
        )));
    }
    let token = session_token()?;
    let turn = std::sync::Arc::new(std::sync::Mutex::new(()));
    let essays = entries
        .into_iter()
        .map(|entry| {
            let place = Place::new(&entry.essay, None, Some(&entry.out_dir));
            let flags = args.settings.clone();
            let essay = entry.essay.clone();
            let layer = entry.layer;
            crate::studio::Options {
                settings_file: settings_file(&args.settings, &entry.essay),
                essay: entry.essay,
                dir: place.dir,
                stem: place.stem,
                name: None,
                settings: Box::new(move || flags.resolve_with(Some(&essay), layer.clone())),
                bind: args.bind,
                token: token.clone(),
                quiet,
                turn: turn.clone(),
            }
        })
        .collect();
    Ok((essays, token))
}

/// `NARRATE_API_TOKEN` when set, else a new random token.
fn session_token() -> Result<String> {
    match std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()) {
        Some(t) => Ok(t),
        None => crate::studio::new_token(),
    }
}

/// Where pronunciations are saved: `--config FILE`, else narrate.toml beside the essay.
fn settings_file(flags: &SettingsArgs, essay: &std::path::Path) -> std::path::PathBuf {
    flags.config.clone().unwrap_or_else(|| {
        essay
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."))
            .join("narrate.toml")
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
    let token = session_token()?;
    // What a regen would use: the edition's recorded settings, under the flags given now.
    let given = flags.clone();
    let for_settings = place.clone();
    let settings = move || for_settings.settings(&given);
    // Pronunciations go where the settings come from: `--config FILE`, else narrate.toml beside the essay.
    let settings_file = settings_file(flags, essay);
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
        turn: Default::default(),
    })
}
