//! Command-line definitions (clap derive). No logic lives here. The settings every command shares are defined
//! once in `settings::Layer` (flags, narrate.toml keys and batch list keys alike) and flattened in here.

use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::settings::SettingsArgs;

#[derive(Debug, Parser)]
#[command(
    name = "narrate",
    version,
    about = "Turn an essay into a narrated audio edition: one WAV with a chapter per section",
    after_help = "Start with `narrate build essay.md`; `narrate plan essay.md` lists segment ids for `narrate regen`."
)]
pub struct Cli {
    /// No progress or notes on stderr (errors are still printed).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Narrate an essay into DIR/<stem>.wav (with chapter markers) and DIR/<stem>.json.
    Build(BuildArgs),
    /// List every segment with its id, chapter, whether it is cached, and its text.
    Plan(PlanArgs),
    /// Make a new take of some segments (or go back to one with --take) and re-join the edition.
    Regen(RegenArgs),
    /// List the speech backends and their voices.
    Voices(VoicesArgs),
    /// Check a finished edition: silent, truncated or clipped segments, clicks, chapters, loudness.
    Check(CheckArgs),
    /// Write chapter and caption files from a manifest, without synthesizing.
    Export(ExportArgs),
    /// Narrate every essay of a folder or list file with one shared worker pool; resumable and shardable.
    Batch(BatchArgs),
    /// Look after the segment cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Hear segments (or the whole essay) now: system voices speak aloud, other backends render and play.
    Say(SayArgs),
    /// Serve narrate's voices over HTTP with OpenAI's /v1/audio/speech request shape, until Ctrl-C.
    Serve(ServeArgs),
    /// Open the essay's edition in a local web page: listen, follow the text, and redo any sentence with a click.
    Studio(StudioArgs),
}

#[derive(Debug, Args)]
pub struct StudioArgs {
    /// The essay file; or a folder of essays (as `narrate batch` takes), for a catalogue of their editions.
    pub essay: PathBuf,
    /// Address and port to listen on (loopback by default); port 0 picks a free one. The page's address, with
    /// its session token, is printed on stdout.
    #[arg(long, default_value = "127.0.0.1:8356", value_name = "ADDR:PORT")]
    pub bind: std::net::SocketAddr,
    /// Open the page in the default web browser (xdg-open).
    #[arg(long)]
    pub open: bool,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

#[derive(Debug, Args)]
pub struct SayArgs {
    pub essay: PathBuf,
    /// Segment ids (from `narrate plan`; a unique prefix is enough) [default: the whole essay].
    #[arg(value_name = "ID")]
    pub ids: Vec<String>,
    /// Write the preview to this WAV instead of playing it (not for system voices, which only speak aloud).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// [default backend: system when built with system voices and not writing a file, else as for build]
    #[command(flatten)]
    pub settings: SettingsArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on; port 0 picks a free one (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:8355", value_name = "ADDR:PORT")]
    pub bind: std::net::SocketAddr,
    /// Also serve the studio for this essay's edition (in audio/out/<stem>/), at /studio/ (its address, with the
    /// session token, is printed on stdout after the server's).
    #[arg(long, value_name = "ESSAY")]
    pub studio: Option<PathBuf>,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 64 * 1024, value_name = "BYTES")]
    pub max_body: usize,
    /// Longest `input` text in characters (OpenAI's limit is 4096).
    #[arg(long, default_value_t = 4096, value_name = "CHARS")]
    pub max_input: usize,
    /// Requests served at once (`/health` aside); more wait for a place.
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_connections: usize,
    /// Longest wait for a request's head (or an idle connection's next request), and for its body.
    #[arg(long, default_value = "5s", value_name = "TIME")]
    pub read_timeout: crate::values::Timeout,
    /// [--backend: the backend that model names tts-1, tts-1-hd or none stand for; every installed backend is
    /// offered. --voice: its voice when a request names none or `default`. --jobs: syntheses at once per backend]
    #[command(flatten)]
    pub settings: SettingsArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The edition's .wav, or its manifest (.json).
    pub edition: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also transcribe every segment (offline, PocketSphinx) and name those that do not say their words.
    #[arg(long)]
    pub listen: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A manifest written by `narrate build` (<stem>.json).
    pub manifest: PathBuf,
    /// all, or a list of exports (the list: `narrate export --help`).
    #[arg(long, short, default_value = "all", value_name = "LIST")]
    pub format: String,
    /// Where to write them [default: beside the manifest].
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BatchArgs {
    /// A folder of essays (.md, .txt) or a list file (.toml with [[essay]] path = "...", and per-essay options).
    pub input: PathBuf,
    /// Output root: each essay goes to OUTDIR/<stem>/ [default: audio/out].
    #[arg(short, long, value_name = "OUTDIR")]
    pub output: Option<PathBuf>,
    /// Do this share of the work: K/N with K from 1 to N, or `auto` from Slurm array or Kubernetes Indexed Job
    /// variables.
    #[arg(long, value_name = "K/N|auto")]
    pub shard: Option<String>,
    /// The number of shards when --shard auto reads a Kubernetes JOB_COMPLETION_INDEX.
    #[arg(long, value_name = "N")]
    pub shard_count: Option<u64>,
    /// Only join editions from the cache (the last step after every shard has run).
    #[arg(long)]
    pub join_only: bool,
    /// Where to write the JSON report [default: OUTDIR/batch-report.json].
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// How many segments the cache holds and how much space they take.
    Stats(CacheArgs),
    /// Delete segments not used for a while, keeping every one an edition under the given folders refers to.
    Gc(GcArgs),
    /// Read every segment and check it against its checksum; exits 1 if any is damaged (see --repair).
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Move damaged segments to the cache's quarantine folder, so the next build synthesizes them again.
    #[arg(long)]
    pub repair: bool,
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// [--cache DIR, or `cache` in ./narrate.toml, chooses the cache]
    #[command(flatten)]
    pub settings: SettingsArgs,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Delete segments not used for this long (e.g. 30d, 12h, 0s) [default: 30d].
    #[arg(long, default_value = "30d", value_name = "AGE")]
    pub older_than: String,
    /// Never delete a segment that a manifest under this folder refers to (repeatable).
    #[arg(long, value_name = "DIR")]
    pub keep_referenced: Vec<PathBuf>,
    /// Only say what would be deleted.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The essay: Markdown (.md) or plain text.
    pub essay: PathBuf,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    pub essay: PathBuf,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Show the spoken text under each segment's written text, to catch a misreading before any audio is made.
    #[arg(long)]
    pub spoken: bool,
    /// Only the segments whose spoken text reads differently from the written one, side by side (with
    /// --spoken, or alone): proofread the reading in a minute.
    #[arg(long)]
    pub diff: bool,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

#[derive(Debug, Args)]
pub struct RegenArgs {
    pub essay: PathBuf,
    /// Segment ids (from `narrate plan`); a unique prefix is enough.
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<String>,
    /// Use this take instead of a new one (1 is the first take).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub take: Option<u32>,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// Where an edition goes and how the result is reported.
#[derive(Debug, Default, Args)]
pub struct OutputArgs {
    /// Output directory [default: audio/out/<stem>/].
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
    /// The edition's name (its folder and file names) [default: the essay file's name; `stdin` for `-`].
    #[arg(long, value_name = "NAME", value_parser = crate::values::edition_name)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct VoicesArgs {
    /// Download a Piper voice by name (e.g. en_GB-alan-medium) into the voice folder.
    #[arg(long, value_name = "NAME")]
    pub download: Option<String>,
    /// Where to download voices from [default: the public Piper voice repository].
    #[arg(long, env = "NARRATE_VOICE_URL", value_name = "URL")]
    pub from: Option<String>,
    /// Prepare a Piper voice by name (e.g. en_US-joe-medium) now, so the first build with it does not: its graph
    /// rewritten once, beside the voice. Says what it did and how long it took.
    #[arg(long, value_name = "NAME", conflicts_with = "download")]
    pub prepare: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// [--backend: only this backend]
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// Parses the command line against [`command`] (what the derive cannot say added).
pub fn parse() -> Result<Cli, clap::Error> {
    let matches = command().try_get_matches()?;
    Cli::from_arg_matches(&matches)
}

/// The command line: the derived definitions, with what only the registries know (the backends and their default,
/// the export names), each command's help showing only the settings it uses, and examples under each.
pub fn command() -> clap::Command {
    let backends = crate::synth::registry::names().join(", ");
    let preferred = crate::synth::registry::PREFERRED.join(", then ");
    let exports: Vec<&str> = crate::export::EXPORTERS.iter().map(|e| e.name()).collect();
    let exports = exports.join(", ");
    let settings: Vec<String> = crate::settings::Layer::augment_args(clap::Command::new("layer"))
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    let mut cli = Cli::command();
    debug_assert!(settings.iter().any(|id| id == "backend"));
    for (name, uses, examples) in COMMANDS {
        cli = cli.mut_subcommand(name, |mut c| {
            for id in &settings {
                let shown = uses.contains(&"all") || uses.contains(&id.as_str());
                if !shown && has_arg(&c, id) {
                    c = c.mut_arg(id.as_str(), |a| a.hide(true));
                }
            }
            if has_arg(&c, "backend") {
                c = c.mut_arg("backend", |a| {
                    a.help(format!(
                        "Speech backend: {backends} [env: NARRATE_BACKEND] [default: the first installed of {preferred}]"
                    ))
                });
            }
            if has_arg(&c, "export") {
                c = c.mut_arg("export", |a| {
                    a.help(format!("Also write these exports beside the WAV: all, or a list of {exports}"))
                });
            }
            if *name == "export" {
                c = c.mut_arg("format", |a| a.help(format!("all, or a list of {exports}")));
            }
            c.after_help(format!("Examples:\n{examples}"))
        });
    }
    // `narrate cache …` uses one setting: the cache's place.
    cli.mut_subcommand("cache", |mut cache| {
        for sub in ["stats", "gc", "verify"] {
            cache = cache.mut_subcommand(sub, |mut c| {
                for id in settings.iter().filter(|id| *id != "cache") {
                    if has_arg(&c, id) {
                        c = c.mut_arg(id.as_str(), |a| a.hide(true));
                    }
                }
                c
            });
        }
        cache
    })
}

fn has_arg(c: &clap::Command, id: &str) -> bool {
    c.get_arguments().any(|a| a.get_id() == id)
}

/// Each command, the settings its help shows (`all`: every one; the others still parse, as narrate.toml keys do),
/// and its examples.
const COMMANDS: &[(&str, &[&str], &str)] = &[
    (
        "build",
        &["all"],
        "  narrate build essay.md                      the edition in audio/out/essay/
  narrate build book.epub --format m4b --master acx
  narrate build essay.md --backend piper --export srt,vtt -o out/",
    ),
    (
        "plan",
        &["backend", "voice", "rate", "chapters", "max_chars", "pause", "normalize", "author", "language",
          "footnotes", "max_essay_mb", "cache", "http_url", "http_model"],
        "  narrate plan essay.md                       segments, ids and what is cached
  narrate plan essay.md --spoken --diff       proofread the reading
  narrate plan essay.md --json | jq '.segments[0]'",
    ),
    (
        "regen",
        &["all"],
        "  narrate regen essay.md 3f2a9c1b             a new take of one sentence
  narrate regen essay.md 3f2a 77b0 --take 1   back to the first takes",
    ),
    (
        "voices",
        &["backend", "http_url", "http_model", "http_api_key_env"],
        "  narrate voices                              every backend and its voices
  narrate voices --backend piper --json
  narrate voices --prepare en_US-joe-medium   prepare a Piper voice before its first build",
    ),
    (
        "batch",
        &["all"],
        "  narrate batch essays/ -o editions/          every essay of a folder
  narrate batch list.toml --shard auto        one share of the work (Slurm array, Kubernetes Indexed Job)
  narrate batch list.toml --join-only         join every edition once all shares are done",
    ),
    (
        "say",
        &["backend", "voice", "rate", "normalize", "language", "max_chars", "cache", "jobs", "retries",
          "http_url", "http_model", "http_api_key_env", "http_format", "http_pcm_rate", "http_timeout",],
        "  narrate say essay.md 3f2a9c1b               hear one sentence
  narrate say essay.md -o preview.wav --backend hibari",
    ),
    (
        "serve",
        &["backend", "voice", "rate", "normalize", "language", "max_chars", "pause", "cache", "jobs", "retries",
          "http_url", "http_model", "http_api_key_env", "http_format", "http_pcm_rate", "http_timeout",
          "http_concurrency"],
        "  narrate serve                               OpenAI's speech API on 127.0.0.1:8355
  narrate serve --bind 0.0.0.0:8355 --backend piper
  narrate serve --studio essay.md             the studio beside the API, at /studio/",
    ),
    (
        "studio",
        &["all"],
        "  narrate studio essay.md                     open the printed address in a browser
  narrate studio essay.md --open --backend piper
  narrate studio essays/                      a folder: its essays' editions, each opened or built from the page",
    ),
    (
        "check",
        &[],
        "  narrate check audio/out/essay/essay.wav
  narrate check audio/out/essay/essay.json --listen --json",
    ),
    (
        "export",
        &[],
        "  narrate export audio/out/essay/essay.json  every export beside the manifest
  narrate export audio/out/essay/essay.json -f srt,vtt -o captions/",
    ),
];
