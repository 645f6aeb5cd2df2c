//! `narrate serve`: resolve settings, read the token from the environment, run the server.

use crate::cli::ServeArgs;
use crate::error::Result;

/// The environment variable holding the bearer token clients must send (none: no token needed).
const TOKEN_ENV: &str = "NARRATE_API_TOKEN";

pub(super) fn run(args: ServeArgs, quiet: bool) -> Result<()> {
    let settings = args.settings.resolve(None)?;
    let options = crate::serve::Options {
        bind: args.bind,
        settings,
        max_body: args.max_body,
        max_input: args.max_input,
        token: std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()),
        quiet,
        limits: crate::serve::Limits {
            max_connections: args.max_connections,
            header_timeout: args.read_timeout.0.duration(),
            body_timeout: args.read_timeout.0.duration(),
            ..crate::serve::Limits::default()
        },
    };
    let studio = match &args.studio {
        Some(essay) => {
            let studio = super::studio::prepare(
                essay,
                &crate::cli::OutputArgs::default(),
                &args.settings,
                args.bind,
                quiet,
            )?;
            Some(crate::studio::start(studio)?)
        }
        None => None,
    };
    // The addresses go to stdout, so a script (or a test) that bound port 0 learns the port: the server's, then
    // the studio's page (with its token).
    crate::serve::run(
        options,
        |address| {
            let studio = studio.as_ref()?;
            let url = crate::studio::nested_url(studio, address);
            super::print(&format!("{url}\n"));
            if !quiet {
                eprintln!("narrate serve: the studio is at {url}");
            }
            Some(crate::studio::nested_router(studio, address))
        },
        |address| super::print(&format!("http://{address}\n")),
    )
}
