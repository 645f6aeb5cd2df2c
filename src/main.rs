//! The `narrate` command: parse the command line, run it, turn errors into one line and an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    // The espeak backend's synthesis server forks per request, so it starts before anything else runs (no
    // threads yet).
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == narrate::ESPEAK_SERVER_ARG)
    {
        return ExitCode::from(narrate::espeak_server());
    }
    let cli = match narrate::cli::parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            // A bad command line is one line, as every other error (clap's message up to its usage), exit 2.
            let text = e.render().to_string();
            let message: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            eprintln!("{}", message.join(" "));
            return ExitCode::from(2);
        }
    };
    match narrate::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if let Some(hint) = narrate::hint(&e) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}
