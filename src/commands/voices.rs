//! `narrate voices`: the backends this build has, whether each can run here, and their voices.

use crate::cli::VoicesArgs;
use crate::error::{Error, Result};
use crate::synth;

/// Lists longer than this are cut to `SHORT_LIST` voices when every backend is listed.
const LONG_LIST: usize = 60;
const SHORT_LIST: usize = 12;

pub(super) fn run(args: VoicesArgs, quiet: bool) -> Result<()> {
    if let Some(name) = &args.prepare {
        return prepare(name, args.json, quiet);
    }
    if let Some(name) = &args.download {
        return download(name, args.from.as_deref());
    }
    // Backend settings ([http] url…) come from narrate.toml in this folder, or --config, as for a build.
    let settings = args.settings.resolve(None)?;
    let config = settings.backends;
    // `--backend NAME` lists only that backend (NARRATE_BACKEND only marks the default).
    let only = args.settings.layer.backend;
    let backends: Vec<Box<dyn synth::Backend>> = match only {
        Some(name) => vec![synth::create(name.0, &config)?],
        None => synth::BACKENDS
            .iter()
            .map(|(_, make)| make(&config))
            .collect(),
    };
    let mut out = String::new();
    let mut json = Vec::new();
    let default_backend = settings.backend;
    for b in &backends {
        let default = if b.name() == default_backend {
            " (default backend)"
        } else {
            ""
        };
        match b.voices() {
            Ok(voices) => {
                out.push_str(&format!("{}{default}: {}\n", b.name(), b.describe()));
                let status = b.status();
                if let Some(line) = &status {
                    out.push_str(&format!("  ({line})\n"));
                }
                // System voices run to thousands; the full list is one `--backend` away.
                let shown = if only.is_none() && voices.len() > LONG_LIST {
                    SHORT_LIST
                } else {
                    voices.len()
                };
                for v in &voices[..shown] {
                    let mark = if v.name == b.default_voice() {
                        "*"
                    } else {
                        " "
                    };
                    out.push_str(&format!("  {mark} {:<20} {}\n", v.name, v.description));
                }
                if shown < voices.len() {
                    out.push_str(&format!(
                        "    … and {} more: narrate voices --backend {}\n",
                        voices.len() - shown,
                        b.name()
                    ));
                }
                // The licence and notice a voice's data asks to be shown, when one backend is listed.
                let attribution = match only.and_then(|_| b.attribution()) {
                    Some(Ok(text)) => {
                        out.push('\n');
                        for line in text.lines() {
                            out.push_str(&format!("    {line}\n").replace("    \n", "\n"));
                        }
                        Some(text)
                    }
                    Some(Err(e)) => {
                        out.push_str(&format!("    attribution not available: {e}\n"));
                        None
                    }
                    None => None,
                };
                json.push(serde_json::json!({
                    "backend": b.name(), "available": true, "default_voice": b.default_voice(), "voices": voices,
                    "attribution": attribution,
                    "status": status,
                }));
            }
            Err(e) => {
                out.push_str(&format!(
                    "{}{default}: {} — not available: {e}\n",
                    b.name(),
                    b.describe()
                ));
                json.push(serde_json::json!({"backend": b.name(), "available": false, "error": e.to_string()}));
            }
        }
    }
    if args.json {
        super::print_json(&json);
    } else {
        super::print(&out);
    }
    Ok(())
}

#[cfg(feature = "piper")]
fn download(name: &str, from: Option<&str>) -> Result<()> {
    use crate::synth::piper::voice;
    let base = from.unwrap_or(voice::VOICE_REPOSITORY);
    let files = voice::download(name, base).map_err(|reason| Error::BackendUnavailable {
        backend: "piper".into(),
        reason,
    })?;
    super::print(&format!(
        "downloaded {}: {} and {}\n",
        files.name,
        files.model.display(),
        files.config.display()
    ));
    Ok(())
}

/// `--prepare NAME`: the voice prepared now, each stage on stderr (unless quiet), what was done on stdout.
#[cfg(feature = "piper")]
fn prepare(name: &str, json: bool, quiet: bool) -> Result<()> {
    let done = synth::piper::prepare_voice(name, &mut |line| super::note(quiet, line))
        .map_err(Error::Invalid)?;
    if json {
        super::print_json(&serde_json::json!({
            "backend": "piper", "voice": done.voice, "prepared_now": done.made, "seconds": done.seconds,
            "encoder": done.encoder, "decoder": done.decoder,
        }));
    } else if done.made {
        super::print(&format!(
            "prepared the Piper voice {} in {:.1} s: {} and {}\n",
            done.voice,
            done.seconds,
            done.encoder.display(),
            done.decoder.display()
        ));
    } else {
        super::print(&format!(
            "the Piper voice {} is already prepared ({:.1} s to check): {}\n",
            done.voice,
            done.seconds,
            done.decoder.display()
        ));
    }
    Ok(())
}

#[cfg(not(feature = "piper"))]
fn prepare(_: &str, _: bool, _: bool) -> Result<()> {
    Err(Error::Invalid(
        "this narrate was built without Piper voices; build with `cargo build --features piper`"
            .into(),
    ))
}

#[cfg(not(feature = "piper"))]
fn download(_: &str, _: Option<&str>) -> Result<()> {
    Err(Error::Invalid(
        "this narrate was built without Piper voices; build with `cargo build --features piper`"
            .into(),
    ))
}
