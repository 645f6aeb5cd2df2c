//! `narrate say`: hear a segment, some segments or the whole essay right away, as a quick preview.
//!
//! A backend that speaks aloud itself (`system`, through speech-dispatcher) speaks the spoken text; any other
//! renders the segments (through the cache, so a later build reuses them) and plays them with the first audio
//! player found, or writes them to `--output FILE`.

use std::path::Path;
use std::process::Command;

use crate::cli::SayArgs;
use crate::error::{Error, Result};
use crate::pipeline::{plan::PlanSegment, Job};
use crate::settings::Settings;
use crate::synth::{Audio, SpeechRequest};

/// Players tried in order, with the arguments before the file.
const PLAYERS: &[(&str, &[&str])] = &[
    ("paplay", &[]),
    ("aplay", &["-q"]),
    ("play", &["-q"]),
    ("ffplay", &["-nodisp", "-autoexit", "-loglevel", "error"]),
];

pub fn run(mut args: SayArgs, quiet: bool) -> Result<()> {
    if args.synth.backend.is_none() && cfg!(feature = "system") && args.output.is_none() {
        args.synth.backend = Some("system".into());
    }
    let settings = Settings::resolve(&args.synth, &args.essay)?;
    let job = Job::prepare(&args.essay, settings)?;
    super::warn_all(&args.essay, &job.essay.warnings, ":");
    let segments: Vec<&PlanSegment> = if args.ids.is_empty() {
        job.plan.segments.iter().collect()
    } else {
        let ids = args
            .ids
            .iter()
            .map(|wanted| job.resolve(wanted))
            .collect::<Result<Vec<_>>>()?;
        job.plan
            .segments
            .iter()
            .filter(|s| ids.contains(&s.id))
            .collect()
    };
    let backend = job.backend.as_ref();
    if args.output.is_none() {
        // A backend that speaks aloud speaks each segment; any other answers None at once and renders below.
        let mut spoke = false;
        for (i, s) in segments.iter().enumerate() {
            let Some(result) = backend.speak(&request(&job, s)) else {
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
    let mut plan = job.plan.clone();
    plan.segments = segments.iter().map(|&s| s.clone()).collect();
    crate::pipeline::run::synthesize(&plan, backend, &job.cache, job.settings.jobs, quiet)?;
    let audio = concatenate(&job, &plan.segments)?;
    match &args.output {
        Some(path) => {
            write(path, &audio)?;
            super::note(
                quiet,
                &format!(
                    "wrote {} ({:.1} s, {} segment(s))",
                    path.display(),
                    audio.seconds(),
                    plan.segments.len()
                ),
            );
            Ok(())
        }
        None => play(&audio, quiet),
    }
}

fn request<'a>(job: &'a Job, segment: &'a PlanSegment) -> SpeechRequest<'a> {
    SpeechRequest {
        text: &segment.spoken,
        voice: &job.voice,
        rate: job.settings.rate,
        take: segment.take,
    }
}

/// The segments' audio one after another, with the plan's pauses between them.
fn concatenate(job: &Job, segments: &[PlanSegment]) -> Result<Audio> {
    let mut out = Audio {
        sample_rate: 0,
        samples: Vec::new(),
    };
    for (i, s) in segments.iter().enumerate() {
        let path = job.cache.path(&s.cache_key);
        let audio = crate::audio::wav::read(&path).map_err(|e| Error::CorruptCache {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if out.sample_rate == 0 {
            out.sample_rate = audio.sample_rate;
        }
        let samples =
            crate::audio::resample::resample(&audio.samples, audio.sample_rate, out.sample_rate)
                .map_err(Error::Invalid)?;
        out.samples.extend(samples);
        if i + 1 < segments.len() {
            let pause = (u64::from(s.pause_after_ms) * u64::from(out.sample_rate) / 1000) as usize;
            out.samples.extend(std::iter::repeat_n(0, pause));
        }
    }
    Ok(out)
}

fn write(path: &Path, audio: &Audio) -> Result<()> {
    crate::audio::wav::write_file(path, audio).map_err(|source| Error::Output {
        path: path.to_owned(),
        source,
    })
}

/// Plays audio with the first player on PATH.
fn play(audio: &Audio, quiet: bool) -> Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("narrate-say-")
        .suffix(".wav")
        .tempfile()
        .map_err(|e| Error::Invalid(format!("cannot make a temporary file: {e}")))?;
    write(tmp.path(), audio)?;
    for (player, flags) in PLAYERS {
        let status = match Command::new(player).args(*flags).arg(tmp.path()).status() {
            Ok(status) => status,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::Invalid(format!("cannot run {player}: {e}"))),
        };
        if !status.success() {
            return Err(Error::Invalid(format!(
                "{player} could not play the preview ({status}); is there a sound device? Use --output FILE to write it instead"
            )));
        }
        super::note(
            quiet,
            &format!("played {:.1} s with {player}", audio.seconds()),
        );
        return Ok(());
    }
    Err(Error::Invalid(
        "no audio player found (paplay, aplay, play or ffplay); install one (e.g. apt-get install alsa-utils) or use --output FILE"
            .into(),
    ))
}
