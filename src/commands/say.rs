//! `narrate say`: hear a segment, some segments or the whole essay right away, as a quick preview.
//!
//! A backend that speaks aloud itself (`system`, through speech-dispatcher) speaks the spoken text; any other
//! renders the segments (through the cache, so a later build reuses them) and plays them with the first audio
//! player found, or writes them to `--output FILE`.

use std::io::BufWriter;
use std::path::Path;
use std::process::Command;

use crate::audio::join::{self, Piece};
use crate::cli::SayArgs;
use crate::error::{Error, Result};
use crate::pipeline::Job;
use crate::plan::PlanSegment;
use crate::synth::SpeechRequest;

/// Players tried in order, with the arguments before the file.
const PLAYERS: &[(&str, &[&str])] = &[
    ("paplay", &[]),
    ("aplay", &["-q"]),
    ("play", &["-q"]),
    ("ffplay", &["-nodisp", "-autoexit", "-loglevel", "error"]),
];

pub(super) fn run(mut args: SayArgs, quiet: bool) -> Result<()> {
    let system = cfg!(feature = "system") && args.output.is_none();
    let chosen =
        args.settings.layer.backend.is_some() || std::env::var_os("NARRATE_BACKEND").is_some();
    if !chosen && system {
        args.settings.layer.backend = "system".parse().ok();
    }
    let settings = args.settings.resolve(Some(&args.essay))?;
    let mut job = Job::prepare(&args.essay, settings)?;
    super::warn_all(&args.essay, &job.warnings(), ":");
    if !args.ids.is_empty() {
        let ids = args
            .ids
            .iter()
            .map(|wanted| job.resolve(wanted))
            .collect::<Result<Vec<_>>>()?;
        job = job.only(&ids);
    }
    let segments: Vec<PlanSegment> = job.plan.segments.clone();
    if args.output.is_none() {
        // A backend that speaks aloud speaks each segment; any other answers None at once and renders below.
        let mut spoke = false;
        for (i, s) in segments.iter().enumerate() {
            let request = SpeechRequest {
                text: &s.spoken,
                voice: &job.voice,
                rate: job.plan.rate,
                take: s.take,
            };
            let Some(result) = job.backend.speak(&request) else {
                break;
            };
            result?;
            spoke = true;
            super::note(
                quiet,
                &format!("{}/{} {}  {}", i + 1, segments.len(), s.id, s.text),
            );
        }
        if spoke {
            return Ok(());
        }
    }
    let cache = job.cache.clone();
    let rate = job.settings.sample_rate;
    job.synthesize(quiet)?;
    // The preview is joined as an edition is (trims, fades, pauses, resampling), without chapter chunks.
    let mut pieces: Vec<Piece> = segments
        .iter()
        .map(|s| Piece {
            id: s.id.clone(),
            path: cache.path(&s.cache_key),
            chapter: 0,
            spoken: s.spoken.clone(),
            pause_after_ms: s.pause_after_ms,
        })
        .collect();
    if let Some(last) = pieces.last_mut() {
        last.pause_after_ms = 0;
    }
    let write = |path: &Path| -> Result<f64> {
        let out_err = |source| Error::Output {
            path: path.to_owned(),
            source,
        };
        crate::atomic::write(
            path,
            |file| {
                let joined =
                    join::join(BufWriter::new(file), path, &pieces, &[String::new()], rate)?;
                Ok(joined.timeline.duration())
            },
            out_err,
        )
    };
    match &args.output {
        Some(path) => {
            let seconds = write(path)?;
            super::note(
                quiet,
                &format!(
                    "wrote {} ({seconds:.1} s, {} segment(s))",
                    path.display(),
                    segments.len()
                ),
            );
            Ok(())
        }
        None => {
            let tmp = tempfile::Builder::new()
                .prefix("narrate-say-")
                .suffix(".wav")
                .tempfile()
                .map_err(|e| Error::Invalid(format!("cannot make a temporary file: {e}")))?;
            let seconds = write(tmp.path())?;
            play(tmp.path(), seconds, quiet)
        }
    }
}

/// Plays audio with the first player on PATH.
fn play(file: &Path, seconds: f64, quiet: bool) -> Result<()> {
    for (player, flags) in PLAYERS {
        let status = match Command::new(player).args(*flags).arg(file).status() {
            Ok(status) => status,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::Invalid(format!("cannot run {player}: {e}"))),
        };
        if !status.success() {
            return Err(Error::Invalid(format!(
                "{player} could not play the preview ({status}); is there a sound device? Use --output FILE to write it instead"
            )));
        }
        super::note(quiet, &format!("played {seconds:.1} s with {player}"));
        return Ok(());
    }
    Err(Error::Invalid(
        "no audio player found (paplay, aplay, play or ffplay); install one (e.g. apt-get install alsa-utils) or use --output FILE"
            .into(),
    ))
}
