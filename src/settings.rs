//! Settings with one owner. Every option is defined once, in [`Layer`]: the same struct is a set of command-line
//! flags (clap), a `narrate.toml` file and a batch list entry (serde). Layers are merged in one place (flags over a
//! batch entry over `narrate.toml` beside the essay over the user's `~/.config/narrate/narrate.toml`) and turned
//! into typed [`Settings`] by one function. Each value checks itself when parsed (see `values.rs`), so a file gets
//! exactly the checks a flag gets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

use crate::audio::master::Preset;
use crate::error::{Error, Result};
use crate::essay::normalize::LanguageTag;
use crate::essay::{BookOptions, Footnotes};
use crate::export::{encode::Encoding, epub::SyncLevel, ChapterExporter, Exports};
use crate::synth::{self, http::ResponseFormat, BackendName};
use crate::values::{
    CaptionWords, ChapterMode, CheckMode, Count, EssayMb, HttpUrl, List, MaxChars, PauseList,
    Pauses, Retries, SampleRate, Switch, Timeout, Wpm,
};

/// Defines a layer struct and its merge from one list of fields: `options` are `Option`s (the upper layer's value
/// wins), `nested` are layers of their own, `collected` are maps and lists that add up across layers.
macro_rules! layer {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            options { $( $(#[$ometa:meta])* pub $opt:ident: Option<$oty:ty>, )* }
            nested { $( $(#[$nmeta:meta])* pub $nest:ident: $nty:ty, )* }
            collected { $( $(#[$cmeta:meta])* pub $col:ident: $cty:ty, )* }
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $( $(#[$ometa])* pub $opt: Option<$oty>, )*
            $( $(#[$nmeta])* pub $nest: $nty, )*
            $( $(#[$cmeta])* pub $col: $cty, )*
        }

        impl $name {
            /// `self` over `base`: its values win; maps and lists add up (its entries last).
            pub fn over(self, base: $name) -> $name {
                $name {
                    $( $opt: self.$opt.or(base.$opt), )*
                    $( $nest: self.$nest.over(base.$nest), )*
                    $( $col: { let mut all = base.$col; all.extend(self.$col); all }, )*
                }
            }
        }
    };
}

layer! {
    /// Every setting, once: a flag (`--sample-rate`), a `narrate.toml` key (`sample_rate`) and a batch list key.
    #[derive(Debug, Clone, Default, Args, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[command(next_help_heading = "Settings (also narrate.toml keys)")]
    pub struct Layer {
        options {
            /// Speech backend (see `narrate voices`) [env: NARRATE_BACKEND] [default: the first installed of
            /// hibari, piper, espeak].
            #[arg(long)]
            pub backend: Option<BackendName>,
            /// Voice of the backend [default: the backend's default].
            #[arg(long)]
            pub voice: Option<String>,
            /// Speaking rate in words per minute, 60 to 500 [default: the backend's].
            #[arg(long, value_name = "WPM")]
            pub rate: Option<Wpm>,
            /// Segments synthesized at once [default: number of cores; a backend may cap it].
            #[arg(long, short, value_name = "N")]
            pub jobs: Option<Count>,
            /// Tries again after a transient backend fault (timeouts, busy servers), this many times per segment
            /// [default: 4].
            #[arg(long, value_name = "N")]
            pub retries: Option<Retries>,
            /// Cache directory [env: NARRATE_CACHE] [default: $XDG_CACHE_HOME/narrate or ~/.cache/narrate].
            #[arg(long, value_name = "DIR")]
            pub cache: Option<PathBuf>,
            /// How chapters are made: auto (by heading, or by paragraph when there are no headings below the
            /// title), heading (every heading), heading:N (headings of level 2 to N only) or paragraph.
            #[arg(long, value_name = "MODE")]
            pub chapters: Option<ChapterMode>,
            /// Longest segment in characters (40 or more); longer sentences are split at clauses, then words
            /// [default: 300].
            #[arg(long, value_name = "CHARS")]
            pub max_chars: Option<MaxChars>,
            /// Pauses, e.g. `sentence=250ms,paragraph=700ms,section=1.5s` (any subset) [default: those].
            #[arg(long, value_name = "LIST")]
            pub pause: Option<PauseList>,
            /// Turn written text into spoken text (numbers, dates, abbreviations…) before synthesis: on or off
            /// [default: on].
            #[arg(long, value_name = "on|off")]
            pub normalize: Option<Switch>,
            /// Also make compressed editions with chapters (needs ffmpeg): m4b, mp3, or both (comma-separated).
            #[arg(long, value_name = "LIST")]
            pub format: Option<List<Encoding>>,
            /// Sample rate of the edition in Hz, 8000 to 192000; segments at other rates are resampled [default:
            /// the backend's].
            #[arg(long, value_name = "HZ")]
            pub sample_rate: Option<SampleRate>,
            /// Loudness mastering of the whole edition: none, acx, podcast or ebu [default: none].
            #[arg(long, value_name = "PRESET")]
            pub master: Option<Preset>,
            /// Also write these exports beside the WAV: all, or a list (`narrate build --help` names them).
            #[arg(long, value_name = "LIST")]
            pub export: Option<Exports>,
            /// Caption cues (srt, vtt exports) of at most this many words, for karaoke-style captions; 0 for one
            /// cue per sentence [default: 0].
            #[arg(long, value_name = "N")]
            pub caption_words: Option<CaptionWords>,
            /// The read-along EPUB (`--export epub`) highlights each sentence or each word as it is read:
            /// sentence or word [default: sentence].
            #[arg(long, value_name = "sentence|word")]
            pub sync: Option<SyncLevel>,
            /// Author written into the WAV and manifest [default: the essay's "By …" line].
            #[arg(long)]
            pub author: Option<String>,
            /// The essay's language, a tag such as en-GB or en-US: British or American readings of numbers and
            /// dates [default: the essay's front matter `lang:`, else the voice's, else en-US].
            #[arg(long, value_name = "TAG")]
            pub language: Option<LanguageTag>,
            /// Footnotes: read (after their section, as "Note: …") or skip [default: read].
            #[arg(long, value_name = "read|skip")]
            pub footnotes: Option<Footnotes>,
            /// Books (EPUB): also read the front and back matter (cover, title page, copyright, printed
            /// contents, index, acknowledgements) [default: off].
            #[arg(long, value_name = "on|off", num_args = 0..=1, require_equals = true, default_missing_value = "on")]
            pub include_matter: Option<Switch>,
            /// Books (EPUB): read each image's alt text where the image is [default: off, images are skipped].
            #[arg(long, value_name = "on|off", num_args = 0..=1, require_equals = true, default_missing_value = "on")]
            pub alt_text: Option<Switch>,
            /// Largest essay read, in megabytes (checked before reading; a long book is 2–5 MB) [default: 20].
            #[arg(long, value_name = "MB")]
            pub max_essay_mb: Option<EssayMb>,
            /// The closing check of a build: signal (levels, gaps, clicks, chapters) or listen (also transcribes
            /// every segment, as `narrate check --listen`; needs PocketSphinx) [default: signal].
            #[arg(long, value_name = "signal|listen")]
            pub check: Option<CheckMode>,
        }
        nested {
            #[command(flatten)]
            #[serde(default)]
            pub http: HttpLayer,
        }
        collected {
            /// Pronunciations: `word = "respelling"` (narrate.toml `[lexicon]` only).
            #[arg(skip)]
            #[serde(default)]
            pub lexicon: BTreeMap<String, String>,
            /// Words written in capitals that are read as words (narrate.toml only).
            #[arg(skip)]
            #[serde(default)]
            pub acronyms: Vec<String>,
            /// Words written in capitals that are spelled out (narrate.toml only).
            #[arg(skip)]
            #[serde(default)]
            pub initialisms: Vec<String>,
            /// Voice names `narrate serve` takes for a backend's voices: `alloy = "en-us+f3"` (narrate.toml
            /// `[voices]` only; OpenAI's names have a built-in table, docs/HTTP.md).
            #[arg(skip)]
            #[serde(default)]
            pub voices: BTreeMap<String, String>,
        }
    }
}

layer! {
    /// The http backend's settings: `--http-*` flags, `[http]` in narrate.toml.
    #[derive(Debug, Clone, Default, Args, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[command(next_help_heading = "HTTP backend (narrate.toml [http])")]
    pub struct HttpLayer {
        options {
            /// The server: it answers at URL/v1/audio/speech [env: NARRATE_HTTP_URL].
            #[arg(long = "http-url", id = "http_url", value_name = "URL")]
            pub url: Option<HttpUrl>,
            /// The `model` asked for [default: tts-1].
            #[arg(long = "http-model", id = "http_model", value_name = "NAME")]
            pub model: Option<String>,
            /// The environment variable holding the API key [default: NARRATE_HTTP_API_KEY].
            #[arg(long = "http-api-key-env", id = "http_api_key_env", value_name = "VAR")]
            pub api_key_env: Option<String>,
            /// What to ask the server for: wav or pcm [default: wav].
            #[arg(long = "http-format", id = "http_format", value_name = "wav|pcm")]
            pub format: Option<ResponseFormat>,
            /// Sample rate of pcm answers in Hz [default: 24000, OpenAI's].
            #[arg(long = "http-pcm-rate", id = "http_pcm_rate", value_name = "HZ")]
            pub pcm_rate: Option<SampleRate>,
            /// Longest wait for one answer, e.g. 90s [default: 120s].
            #[arg(long = "http-timeout", id = "http_timeout", value_name = "TIME")]
            pub timeout: Option<Timeout>,
            /// Most requests in flight at once [default: 4].
            #[arg(long = "http-concurrency", id = "http_concurrency", value_name = "N")]
            pub concurrency: Option<Count>,
        }
        nested {}
        collected {}
    }
}

/// Where settings come from besides the flags: `--config FILE`, or `narrate.toml` beside the essay (in the
/// working directory for commands without an essay).
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsArgs {
    #[command(flatten)]
    pub layer: Layer,
    /// Settings file [default: narrate.toml beside the essay, or in this folder for commands without one].
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Settings (also narrate.toml keys)"
    )]
    pub config: Option<PathBuf>,
}

/// Everything a command needs to know, resolved and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub backend: &'static str,
    pub voice: Option<String>,
    pub rate: Option<u32>,
    pub jobs: usize,
    pub retries: u32,
    pub cache_dir: PathBuf,
    pub chapters: ChapterMode,
    pub max_chars: usize,
    pub pauses: Pauses,
    pub author: Option<String>,
    /// The `language` setting, when given (a checked tag).
    pub language: Option<String>,
    pub footnotes: Footnotes,
    /// How books are read: front and back matter, images' alt text.
    pub book: BookOptions,
    /// The largest essay read, in bytes.
    pub max_essay_bytes: u64,
    /// The closing check of a build.
    pub check: CheckMode,
    pub normalize: bool,
    pub lexicon: BTreeMap<String, String>,
    pub acronyms: Vec<String>,
    pub initialisms: Vec<String>,
    /// Voice aliases for `narrate serve` (`[voices]`): a name a client sends → a backend's voice.
    pub voices: BTreeMap<String, String>,
    pub master: Preset,
    /// The edition's sample rate (`None`: the backend's).
    pub sample_rate: Option<u32>,
    /// Compressed editions made beside the WAV.
    pub formats: Vec<Encoding>,
    /// Files written beside each edition.
    pub exports: Vec<&'static dyn ChapterExporter>,
    /// Words in a caption cue at most (0: one cue per segment).
    pub caption_words: u32,
    /// What the read-along EPUB's overlays highlight.
    pub sync: SyncLevel,
    /// Backend-specific settings (`[http]`).
    pub backends: synth::BackendConfig,
}

pub(crate) const DEFAULT_MAX_CHARS: usize = 300;
pub(crate) const DEFAULT_RETRIES: u32 = 4;
pub(crate) const DEFAULT_ESSAY_MB: u32 = 20;

impl SettingsArgs {
    /// The settings for an essay (or, with `None`, for a command that has none: `narrate.toml` in this folder).
    pub fn resolve(&self, essay: Option<&Path>) -> Result<Settings> {
        self.resolve_with(essay, Layer::default())
    }

    /// As `resolve`, with another layer under the flags: a batch list entry's, or the settings an edition was
    /// built with (for `regen`). The order, first wins: flags, that layer, environment variables, the local
    /// narrate.toml, the user's.
    pub fn resolve_with(&self, essay: Option<&Path>, entry: Layer) -> Result<Settings> {
        let files = self.file_layers(essay)?;
        Settings::from_layer(
            self.layer
                .clone()
                .over(entry.over(env_layer()?.over(files))),
        )
    }

    /// The user's file under `--config FILE` or the local `narrate.toml`.
    fn file_layers(&self, essay: Option<&Path>) -> Result<Layer> {
        let user = match user_config() {
            Some(path) if path.is_file() => load(&path)?,
            _ => Layer::default(),
        };
        let local = match &self.config {
            Some(path) => load(path)?,
            None => {
                let dir = essay.map_or(Path::new("."), |e| {
                    e.parent()
                        .filter(|p| !p.as_os_str().is_empty())
                        .unwrap_or(Path::new("."))
                });
                let beside = dir.join("narrate.toml");
                if beside.is_file() {
                    load(&beside)?
                } else {
                    Layer::default()
                }
            }
        };
        Ok(local.over(user))
    }
}

impl Settings {
    /// Typed settings from a merged layer, with the defaults filled in.
    pub fn from_layer(layer: Layer) -> Result<Settings> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let http = layer.http;
        Ok(Settings {
            backend: layer
                .backend
                .map_or_else(synth::registry::default_name, |b| b.0),
            voice: layer.voice,
            rate: layer.rate.map(Wpm::get),
            jobs: layer.jobs.map_or(cores, |j| j.get() as usize),
            retries: layer.retries.map_or(DEFAULT_RETRIES, Retries::get),
            cache_dir: layer.cache.unwrap_or_else(default_cache_dir),
            chapters: layer.chapters.unwrap_or_default(),
            max_chars: layer
                .max_chars
                .map_or(DEFAULT_MAX_CHARS, |m| m.get() as usize),
            pauses: layer
                .pause
                .map_or_else(Pauses::default, |p| Pauses::default().with(&p)),
            author: layer.author,
            caption_words: layer.caption_words.map_or(0, CaptionWords::get),
            language: layer.language.map(|l| l.0),
            footnotes: layer.footnotes.unwrap_or_default(),
            book: BookOptions {
                include_matter: layer.include_matter.is_some_and(|s| s.0),
                alt_text: layer.alt_text.is_some_and(|s| s.0),
            },
            max_essay_bytes: u64::from(layer.max_essay_mb.map_or(DEFAULT_ESSAY_MB, EssayMb::get))
                << 20,
            check: layer.check.unwrap_or_default(),
            normalize: layer.normalize.is_none_or(|s| s.0),
            lexicon: layer.lexicon,
            acronyms: layer.acronyms,
            initialisms: layer.initialisms,
            voices: layer.voices,
            master: layer.master.unwrap_or_default(),
            sample_rate: layer.sample_rate.map(SampleRate::get),
            formats: dedup(layer.format.map(|l| l.0).unwrap_or_default()),
            exports: layer.export.map(|e| e.0).unwrap_or_default(),
            sync: layer.sync.unwrap_or_default(),
            backends: synth::BackendConfig {
                http: synth::http::Config {
                    url: http.url.map(|u| u.0),
                    model: http.model,
                    api_key_env: http.api_key_env,
                    format: http.format.unwrap_or_default(),
                    pcm_rate: http.pcm_rate.map_or(24_000, SampleRate::get),
                    timeout: http
                        .timeout
                        .map_or(std::time::Duration::from_secs(120), |t| t.0.duration()),
                    concurrency: http.concurrency.map_or(4, |c| c.get() as usize),
                },
            },
        })
    }
}

fn dedup<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut out = Vec::with_capacity(items.len());
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// The settings environment variables give: `NARRATE_BACKEND`, `NARRATE_CACHE`, `NARRATE_HTTP_URL` (empty ones
/// are unset). Checked as the flags are.
fn env_layer() -> Result<Layer> {
    fn var<T: std::str::FromStr<Err = String>>(name: &str) -> Result<Option<T>> {
        match std::env::var(name) {
            Ok(v) if !v.trim().is_empty() => v
                .parse()
                .map(Some)
                .map_err(|e| Error::Usage(format!("environment variable {name}: {e}"))),
            _ => Ok(None),
        }
    }
    Ok(Layer {
        backend: var("NARRATE_BACKEND")?,
        cache: std::env::var_os("NARRATE_CACHE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
        http: HttpLayer {
            url: var("NARRATE_HTTP_URL")?,
            ..HttpLayer::default()
        },
        ..Layer::default()
    })
}

/// Reads one settings file. A bad key or value is one line: the file, the line, the key and what to give.
pub(crate) fn load(path: &Path) -> Result<Layer> {
    parse(path, &read_text(path)?)
}

/// A settings file's text (narrate.toml, a batch list), refused in one line when it is over
/// [`MAX_SETTINGS_BYTES`] (read no further than that) or not UTF-8.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    let bad = |reason: String| Error::Settings {
        path: path.to_owned(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_SETTINGS_BYTES + 1),
        &mut bytes,
    )
    .map_err(|e| bad(e.to_string()))?;
    if bytes.len() as u64 > MAX_SETTINGS_BYTES {
        return Err(bad(format!(
            "it is over {} MB, more than any settings file needs (a 20,000-word lexicon is under 1 MB); \
             check that this is the file you meant",
            MAX_SETTINGS_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        bad(format!(
            "it is not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// The largest settings file read (narrate.toml, a batch list): 4 MB.
pub(crate) const MAX_SETTINGS_BYTES: u64 = 4 << 20;

/// Adds or changes one `[lexicon]` entry in a narrate.toml (made if missing), keeping the rest of the file as it
/// was written (comments, order, layout). The new text is checked as any narrate.toml is, and the lexicon built
/// from it, before it replaces the file (temp name + rename); a file that is already bad is left alone.
pub(crate) fn save_lexicon_entry(path: &Path, word: &str, say: &str) -> Result<()> {
    let bad = |reason: String| Error::Settings {
        path: path.to_owned(),
        reason,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(bad(e.to_string())),
    };
    parse(path, &text)?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| bad(e.message().to_string()))?;
    let table = doc
        .entry("lexicon")
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()))
        .as_table_like_mut()
        .ok_or_else(|| bad("`lexicon` is not a table; make it `[lexicon]`".into()))?;
    table.insert(word, toml_edit::value(say));
    let new_text = doc.to_string();
    let layer = parse(path, &new_text)?;
    crate::essay::lexicon::Lexicon::new(&layer.lexicon).map_err(bad)?;
    // An existing file keeps its permissions (a private narrate.toml stays private).
    crate::atomic::write_bytes_like(path, new_text.as_bytes(), path).map_err(|source| {
        Error::Output {
            path: path.to_owned(),
            source,
        }
    })
}

/// Parses settings text (a file's, or a batch list entry's table) into a layer.
pub(crate) fn parse(path: &Path, text: &str) -> Result<Layer> {
    toml::from_str(text).map_err(|e| toml_error(path, text, &e))
}

/// A TOML error as one line: `FILE:LINE: KEY: message`.
pub(crate) fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> Error {
    let message = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    let Some(span) = e.span() else {
        return Error::Settings {
            path: path.to_owned(),
            reason: message,
        };
    };
    let start = span.start.min(text.len());
    let line = text[..start].matches('\n').count() + 1;
    let line_text = text.lines().nth(line - 1).unwrap_or("");
    let table = text[..start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    let key = line_text
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .filter(|k| !k.is_empty() && !message.contains(&format!("`{k}`")));
    let reason = match (table, key) {
        (Some(t), Some(k)) => format!("{t}.{k}: {message}"),
        (None, Some(k)) => format!("{k}: {message}"),
        _ => message,
    };
    Error::Settings {
        path: PathBuf::from(format!("{}:{line}", path.display())),
        reason,
    }
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
pub(crate) fn default_cache_dir() -> PathBuf {
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

    #[test]
    fn a_lexicon_entry_is_added_keeping_the_file_and_a_bad_file_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("narrate.toml");
        super::save_lexicon_entry(&path, "Okafor", "oh KAH for").unwrap();
        assert_eq!(load(&path).unwrap().lexicon["Okafor"], "oh KAH for");
        let kept =
            "# my settings\nrate = 150 # words a minute\n\n[lexicon]\nSiobhan = \"shivawn\"\n";
        std::fs::write(&path, kept).unwrap();
        super::save_lexicon_entry(&path, "Nguyen", "[[N'wIn]]").unwrap();
        super::save_lexicon_entry(&path, "Siobhan", "shi VAWN").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# my settings\nrate = 150 # words a minute\n"),
            "{text}"
        );
        let layer = load(&path).unwrap();
        assert_eq!(layer.lexicon["Nguyen"], "[[N'wIn]]");
        assert_eq!(layer.lexicon["Siobhan"], "shi VAWN");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        super::save_lexicon_entry(&path, "Okafor", "oh KAH for").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a private narrate.toml stays private");
        std::fs::write(&path, "rate = \"fast\"\n").unwrap();
        assert!(super::save_lexicon_entry(&path, "a", "b").is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "rate = \"fast\"\n");
    }

    use super::*;

    fn err(text: &str) -> String {
        parse(Path::new("narrate.toml"), text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn file_values_get_the_checks_flags_get_and_name_file_line_and_key() {
        let e = err("voice = \"x\"\nrate = 5\n");
        assert!(
            e.starts_with("narrate.toml:2: bad settings file: rate: 5 is out of range"),
            "{e}"
        );
        let e = err("[http]\npcm_rate = 0\n");
        assert!(e.contains("http.pcm_rate: 0 is out of range"), "{e}");
        let e = err("colour = \"red\"\n");
        assert!(
            e.contains("unknown field `colour`") && e.contains("`sample_rate`"),
            "{e}"
        );
        assert!(err("chapters = \"sometimes\"")
            .contains("auto, heading, heading:N (N from 2 to 6), paragraph"));
        assert!(err("export = \"pdf\"").contains("pdf"));
        assert!(err("format = [\"ogg\"]").contains("m4b"));
        assert!(!e.contains('\n'));
    }

    #[test]
    fn layers_merge_once_with_the_upper_one_winning_and_lists_adding_up() {
        let user = parse(
            Path::new("u"),
            "rate = 150\nacronyms = [\"NASA\"]\n[lexicon]\nSiobhan = \"shivawn\"",
        )
        .unwrap();
        let local = parse(
            Path::new("l"),
            "rate = 180\nformat = \"m4b\"\nacronyms = [\"NATO\"]\n[http]\nmodel = \"m\"",
        )
        .unwrap();
        let s = Settings::from_layer(local.over(user)).unwrap();
        assert_eq!(s.rate, Some(180));
        assert_eq!(s.formats, vec![Encoding::M4b]);
        assert_eq!(s.acronyms, vec!["NASA", "NATO"]);
        assert_eq!(s.lexicon["Siobhan"], "shivawn");
        assert_eq!(s.backends.http.model.as_deref(), Some("m"));
    }
}
