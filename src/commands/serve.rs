//! `narrate serve`: resolve settings, read the token from the environment, run the server.

use std::path::Path;

use crate::cli::{ServeArgs, SynthArgs};
use crate::error::Result;
use crate::settings::Settings;

/// The environment variable holding the bearer token clients must send (none: no token needed).
const TOKEN_ENV: &str = "NARRATE_API_TOKEN";

pub fn run(args: ServeArgs, quiet: bool) -> Result<()> {
    let synth_args = SynthArgs {
        backend: args.backend,
        voice: args.voice,
        jobs: args.jobs,
        cache: args.cache,
        config: args.config,
        ..Default::default()
    };
    let settings = Settings::resolve(&synth_args, Path::new("./serve"))?;
    let options = crate::serve::Options {
        bind: args.bind,
        backend: settings.backend,
        voice: settings.voice,
        backends: settings.backends,
        jobs: settings.jobs,
        cache_dir: settings.cache_dir,
        max_body: args.max_body,
        max_input: args.max_input,
        token: std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()),
        quiet,
    };
    // The address goes to stdout, so a script (or a test) that bound port 0 learns the port.
    crate::serve::run(options, |address| {
        super::print(&format!("http://{address}\n"))
    })
}
