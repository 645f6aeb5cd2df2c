//! Resolved settings: command-line flags over `narrate.toml` over defaults, built in one place.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::{ChapterMode, SynthArgs};
use crate::error::{Error, Result};

/// Pauses between segments, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Pauses {
    pub sentence_ms: u32,
    pub paragraph_ms: u32,
    pub section_ms: u32,
}

/// Everything a build needs to know, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub backend: String,
    pub voice: Option<String>,
    pub rate: Option<u32>,
    pub jobs: usize,
    pub cache_dir: PathBuf,
    pub chapters: ChapterMode,
    pub max_chars: usize,
    pub pauses: Pauses,
    pub author: Option<String>,
}

/// The keys `narrate.toml` may set (all optional; the same names as the flags, with `_` for `-`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    backend: Option<String>,
    voice: Option<String>,
    rate: Option<u32>,
    jobs: Option<u32>,
    cache: Option<PathBuf>,
    chapters: Option<ChapterMode>,
    max_chars: Option<u32>,
    pause_sentence: Option<u32>,
    pause_paragraph: Option<u32>,
    pause_section: Option<u32>,
    author: Option<String>,
}

pub const DEFAULT_MAX_CHARS: usize = 300;

impl Settings {
    /// Resolves flags for an essay: `--config FILE`, else `narrate.toml` in the essay's folder, else defaults.
    pub fn resolve(args: &SynthArgs, essay: &Path) -> Result<Settings> {
        let file = match &args.config {
            Some(path) => load_file(path)?,
            None => {
                let beside = essay
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join("narrate.toml");
                if beside.is_file() {
                    load_file(&beside)?
                } else {
                    FileSettings::default()
                }
            }
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Settings {
            backend: args
                .backend
                .clone()
                .or(file.backend)
                .unwrap_or_else(|| crate::synth::registry::default_name().into()),
            voice: args.voice.clone().or(file.voice),
            rate: args.rate.or(file.rate),
            jobs: args.jobs.or(file.jobs).map_or(cores, |j| j.max(1) as usize),
            cache_dir: args
                .cache
                .clone()
                .or(file.cache)
                .unwrap_or_else(default_cache_dir),
            chapters: args.chapters.or(file.chapters).unwrap_or_default(),
            max_chars: args
                .max_chars
                .or(file.max_chars)
                .map_or(DEFAULT_MAX_CHARS, |m| m.max(40) as usize),
            pauses: Pauses {
                sentence_ms: args.pause_sentence.or(file.pause_sentence).unwrap_or(250),
                paragraph_ms: args.pause_paragraph.or(file.pause_paragraph).unwrap_or(700),
                section_ms: args.pause_section.or(file.pause_section).unwrap_or(1500),
            },
            author: args.author.clone().or(file.author),
        })
    }
}

fn load_file(path: &Path) -> Result<FileSettings> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Settings {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| Error::Settings {
        path: path.to_owned(),
        reason: e.message().to_string(),
    })
}

/// `$XDG_CACHE_HOME/narrate`, else `~/.cache/narrate`, else `.narrate-cache`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("narrate");
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cache").join("narrate"),
        None => PathBuf::from(".narrate-cache"),
    }
}
