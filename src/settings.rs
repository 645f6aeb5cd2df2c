//! Resolved settings: command-line flags over `narrate.toml` beside the essay over the user's
//! `~/.config/narrate/narrate.toml` over defaults, built in one place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::{ChapterMode, Switch, SynthArgs};
use crate::error::{Error, Result};

/// Pauses between segments, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Pauses {
    pub sentence_ms: u32,
    pub paragraph_ms: u32,
    pub section_ms: u32,
}

impl Default for Pauses {
    fn default() -> Self {
        Pauses {
            sentence_ms: 250,
            paragraph_ms: 700,
            section_ms: 1500,
        }
    }
}

impl Pauses {
    /// Applies a list such as `sentence=250ms,paragraph=0.7s,section=2s` over these pauses.
    pub fn apply(mut self, list: &str) -> std::result::Result<Pauses, String> {
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| format!("`{item}` is not NAME=DURATION (e.g. section=1.5s)"))?;
            let ms = parse_duration(value.trim())?;
            match name.trim() {
                "sentence" => self.sentence_ms = ms,
                "paragraph" => self.paragraph_ms = ms,
                "section" => self.section_ms = ms,
                other => {
                    return Err(format!(
                        "unknown pause `{other}`; use sentence, paragraph or section"
                    ))
                }
            }
        }
        Ok(self)
    }
}

/// `250ms`, `1.5s`, `2s` or a bare number of milliseconds.
pub fn parse_duration(text: &str) -> std::result::Result<u32, String> {
    let bad = || format!("`{text}` is not a duration (e.g. 250ms or 1.5s)");
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    if !(0.0..=600_000.0).contains(&(value * scale)) {
        return Err(bad());
    }
    Ok((value * scale).round() as u32)
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
    pub normalize: bool,
    pub lexicon: BTreeMap<String, String>,
    pub acronyms: Vec<String>,
    pub initialisms: Vec<String>,
    pub master: crate::audio::master::Preset,
    /// The edition's sample rate (`None`: the backend's).
    pub sample_rate: Option<u32>,
    /// Compressed editions made beside the WAV.
    pub formats: Vec<crate::audio::encode::Encoding>,
    /// Files written beside each edition.
    pub exports: Vec<&'static dyn crate::export::ChapterExporter>,
    /// Backend-specific settings (`[http]`).
    pub backends: crate::synth::BackendConfig,
}

impl std::fmt::Debug for dyn crate::export::ChapterExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The keys a `narrate.toml` may set (all optional; the flags' names with `_` for `-`).
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
    pause: Option<String>,
    author: Option<String>,
    normalize: Option<bool>,
    export: Option<String>,
    master: Option<crate::audio::master::Preset>,
    format: Option<Vec<crate::audio::encode::Encoding>>,
    sample_rate: Option<u32>,
    #[serde(default)]
    lexicon: BTreeMap<String, String>,
    #[serde(default)]
    acronyms: Vec<String>,
    #[serde(default)]
    initialisms: Vec<String>,
    http: Option<crate::synth::http::Config>,
}

impl FileSettings {
    /// `self` over `base`: its values win, its lexicon entries are added over the base's.
    fn over(self, base: FileSettings) -> FileSettings {
        let mut lexicon = base.lexicon;
        lexicon.extend(self.lexicon);
        FileSettings {
            backend: self.backend.or(base.backend),
            voice: self.voice.or(base.voice),
            rate: self.rate.or(base.rate),
            jobs: self.jobs.or(base.jobs),
            cache: self.cache.or(base.cache),
            chapters: self.chapters.or(base.chapters),
            max_chars: self.max_chars.or(base.max_chars),
            pause: self.pause.or(base.pause),
            author: self.author.or(base.author),
            normalize: self.normalize.or(base.normalize),
            export: self.export.or(base.export),
            master: self.master.or(base.master),
            format: self.format.or(base.format),
            sample_rate: self.sample_rate.or(base.sample_rate),
            lexicon,
            acronyms: [base.acronyms, self.acronyms].concat(),
            initialisms: [base.initialisms, self.initialisms].concat(),
            http: self.http.or(base.http),
        }
    }
}

pub const DEFAULT_MAX_CHARS: usize = 300;

impl Settings {
    /// Resolves flags for an essay: `--config FILE`, else `narrate.toml` in the essay's folder, each over the
    /// user's `narrate.toml` in `$XDG_CONFIG_HOME/narrate` (or `~/.config/narrate`), then defaults.
    pub fn resolve(args: &SynthArgs, essay: &Path) -> Result<Settings> {
        let user = match user_config() {
            Some(path) if path.is_file() => load_file(&path)?,
            _ => FileSettings::default(),
        };
        let local = match &args.config {
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
        let mut file = local.over(user);
        let http = file.http.take().unwrap_or_default();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut pauses = Pauses::default();
        for list in [file.pause.as_deref(), args.pause.as_deref()]
            .into_iter()
            .flatten()
        {
            pauses = pauses
                .apply(list)
                .map_err(|e| Error::Invalid(format!("pause: {e}")))?;
        }
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
            pauses,
            author: args.author.clone().or(file.author),
            normalize: args
                .normalize
                .map_or(file.normalize.unwrap_or(true), |s| s == Switch::On),
            lexicon: file.lexicon,
            acronyms: file.acronyms,
            initialisms: file.initialisms,
            master: args.master.or(file.master).unwrap_or_default(),
            sample_rate: args.sample_rate.or(file.sample_rate),
            formats: args.format.clone().or(file.format).unwrap_or_default(),
            exports: match args.export.as_deref().or(file.export.as_deref()) {
                Some(list) => crate::export::select(list)?,
                None => Vec::new(),
            },
            backends: crate::synth::BackendConfig {
                http: crate::synth::http::Config {
                    url: args.http_url.clone().or(http.url),
                    model: args.http_model.clone().or(http.model),
                    ..http
                },
            },
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

/// `$XDG_CONFIG_HOME/narrate/narrate.toml`, else `~/.config/narrate/narrate.toml`.
fn user_config() -> Option<PathBuf> {
    let dir = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(dir.join("narrate").join("narrate.toml"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_lists_and_durations() {
        let p = Pauses::default()
            .apply("sentence=100ms, section=2.5s")
            .unwrap();
        assert_eq!(
            (p.sentence_ms, p.paragraph_ms, p.section_ms),
            (100, 700, 2500)
        );
        assert_eq!(parse_duration("700").unwrap(), 700);
        assert!(Pauses::default().apply("breath=1s").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
