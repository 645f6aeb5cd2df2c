//! `narrate serve`: resolve settings, read the token from the environment, run the server.

use crate::cli::ServeArgs;
use crate::error::Result;

/// The environment variable holding the bearer token clients must send (none: no token needed).
const TOKEN_ENV: &str = "NARRATE_API_TOKEN";

pub fn run(args: ServeArgs, quiet: bool) -> Result<()> {
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
    // The address goes to stdout, so a script (or a test) that bound port 0 learns the port.
    crate::serve::run(options, |address| {
        super::print(&format!("http://{address}\n"))
    })
}
