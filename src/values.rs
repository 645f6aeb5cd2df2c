//! Small value types shared by every stage (rates, counts, durations, pauses, chapter mode, on/off, lists). Each
//! validates itself when parsed, so a flag, a `narrate.toml` key and a batch list entry get the same checks.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

/// A `u32` setting confined to a range; `$what` names the unit in messages.
macro_rules! ranged {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr, $what:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "i64", into = "u32")]
        pub struct $name(u32);

        impl $name {
            pub const MIN: u32 = $min;
            pub const MAX: u32 = $max;
            pub const fn get(self) -> u32 {
                self.0
            }
        }

        impl TryFrom<i64> for $name {
            type Error = String;
            fn try_from(v: i64) -> Result<Self, String> {
                if (i64::from($min)..=i64::from($max)).contains(&v) {
                    Ok($name(v as u32))
                } else if $max == u32::MAX {
                    Err(format!("{v} is out of range: give at least {}{}", $min, $what))
                } else {
                    Err(format!("{v} is out of range: give {} to {}{}", $min, $max, $what))
                }
            }
        }

        impl TryFrom<u32> for $name {
            type Error = String;
            fn try_from(v: u32) -> Result<Self, String> {
                $name::try_from(i64::from(v))
            }
        }

        impl From<$name> for u32 {
            fn from(v: $name) -> u32 {
                v.0
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let v: i64 = s
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{s}` is not a whole number"))?;
                $name::try_from(v)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

ranged!(
    /// Speaking rate in words per minute.
    Wpm, 60, 500, " words a minute"
);
ranged!(
    /// An audio sample rate in Hz.
    SampleRate, 8_000, 192_000, " Hz"
);
ranged!(
    /// How many things at once (jobs, connections).
    Count, 1, 4096, ""
);
ranged!(
    /// The longest segment, in characters.
    MaxChars, 40, u32::MAX, " characters"
);
ranged!(
    /// The largest essay read, in megabytes.
    EssayMb, 1, 4096, " MB"
);
ranged!(
    /// Words in a caption cue (0: the whole sentence).
    CaptionWords, 0, 100, " words (0 for whole sentences)"
);
ranged!(
    /// Tries after a transient backend fault.
    Retries, 0, 20, " retries"
);

/// Implements `FromStr`, `Display`, `Serialize` and `Deserialize` for a plain enum through one list of names, so
/// flags and files accept exactly the same words.
macro_rules! named_enum {
    ($ty:ty, $what:expr, [$($variant:path => $name:expr),+ $(,)?]) => {
        impl $ty {
            /// Every accepted name, in order.
            pub const NAMES: &'static [&'static str] = &[$($name),+];
            pub fn name(self) -> &'static str {
                match self { $($variant => $name),+ }
            }
        }
        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s.trim() {
                    $($name => Ok($variant),)+
                    other => Err(format!(
                        "unknown {} `{other}`; choose from {}", $what, <$ty>::NAMES.join(", ")
                    )),
                }
            }
        }
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use named_enum;

/// How chapters are made: `auto`, `heading`, `heading:N` or `paragraph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum ChapterMode {
    /// By heading, or by paragraph when there are no headings below the title.
    #[default]
    Auto,
    /// By heading: `None` for every heading, `Some(n)` for headings of level 2 to `n` only (deeper headings
    /// stay inside their chapter).
    Heading(Option<u8>),
    Paragraph,
}

impl ChapterMode {
    /// The accepted forms, for messages.
    pub(crate) const FORMS: &'static str = "auto, heading, heading:N (N from 2 to 6), paragraph";

    /// Whether a heading of this level starts a chapter (in heading mode).
    pub(crate) fn starts_chapter(self, level: u8) -> bool {
        match self {
            ChapterMode::Heading(Some(depth)) => level <= depth,
            _ => true,
        }
    }
}

impl FromStr for ChapterMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = || {
            format!(
                "unknown chapter mode `{s}`; choose from {}",
                ChapterMode::FORMS
            )
        };
        match s {
            "auto" => Ok(ChapterMode::Auto),
            "heading" => Ok(ChapterMode::Heading(None)),
            "paragraph" => Ok(ChapterMode::Paragraph),
            _ => {
                let depth = s.strip_prefix("heading:").ok_or_else(bad)?;
                match depth.parse::<u8>() {
                    Ok(n @ 2..=6) => Ok(ChapterMode::Heading(Some(n))),
                    _ => Err(bad()),
                }
            }
        }
    }
}

impl std::fmt::Display for ChapterMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChapterMode::Auto => f.write_str("auto"),
            ChapterMode::Heading(None) => f.write_str("heading"),
            ChapterMode::Heading(Some(n)) => write!(f, "heading:{n}"),
            ChapterMode::Paragraph => f.write_str("paragraph"),
        }
    }
}

impl Serialize for ChapterMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ChapterMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// On or off: `on`/`off` on the command line; also `true`/`false` (and TOML booleans) in files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Switch(pub bool);

impl FromStr for Switch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "on" | "true" | "yes" => Ok(Switch(true)),
            "off" | "false" | "no" => Ok(Switch(false)),
            other => Err(format!("`{other}` is not on or off")),
        }
    }
}

impl<'de> Deserialize<'de> for Switch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        match Raw::deserialize(d).map_err(|_| serde::de::Error::custom("give on or off"))? {
            Raw::Bool(b) => Ok(Switch(b)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A list of names: `a,b` on the command line; `"a,b"` or `["a", "b"]` in files. Each item parses as `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List<T>(pub Vec<T>);

impl<T: FromStr<Err = String>> FromStr for List<T> {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .map(T::from_str)
            .collect::<Result<Vec<T>, String>>()
            .map(List)
    }
}

impl<'de, T: FromStr<Err = String>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        text_or_list(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// A list in a file, `"a,b"` or `["a", "b"]`, as the comma-separated text a flag would give.
pub(crate) fn text_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    match Raw::deserialize(d)
        .map_err(|_| serde::de::Error::custom("give a list: \"a,b\" or [\"a\", \"b\"]"))?
    {
        Raw::One(s) => Ok(s),
        Raw::Many(v) => Ok(v.join(",")),
    }
}

/// A length of time: `250ms`, `1.5s`, `2m`, or a bare number of milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Millis(pub u32);

impl Millis {
    pub fn duration(self) -> Duration {
        Duration::from_millis(u64::from(self.0))
    }
}

impl FromStr for Millis {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        parse_duration(text.trim()).map(Millis)
    }
}

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)
            .map_err(|_| serde::de::Error::custom("give a duration as text, e.g. \"90s\""))?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A time limit: a duration above zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Timeout(pub Millis);

impl FromStr for Timeout {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.parse::<Millis>()? {
            Millis(0) => Err(format!(
                "`{text}` is no time at all; give a limit such as 90s"
            )),
            m => Ok(Timeout(m)),
        }
    }
}

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)
            .map_err(|_| serde::de::Error::custom("give a duration as text, e.g. \"90s\""))?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An http:// or https:// URL with a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpUrl(pub String);

impl FromStr for HttpUrl {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not an http:// or https:// URL");
        let uri: ureq::http::Uri = text.trim().parse().map_err(|_| bad())?;
        match (uri.scheme_str(), uri.authority()) {
            (Some("http" | "https"), Some(a)) if !a.host().is_empty() => {
                Ok(HttpUrl(text.trim().into()))
            }
            _ => Err(bad()),
        }
    }
}

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `250ms`, `1.5s`, `2m` or a bare number of milliseconds, up to ten minutes.
pub(crate) fn parse_duration(text: &str) -> Result<u32, String> {
    let bad = || format!("`{text}` is not a duration (e.g. 250ms or 1.5s)");
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    if !(0.0..=600_000.0).contains(&(value * scale)) {
        return Err(bad());
    }
    Ok((value * scale).round() as u32)
}

/// Pauses between segments, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
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

/// A list of pause changes such as `sentence=250ms,paragraph=0.7s,section=2s` (any subset), checked when parsed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PauseList(Vec<(PauseKind, u32)>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PauseKind {
    Sentence,
    Paragraph,
    Section,
}

impl FromStr for PauseList {
    type Err = String;
    fn from_str(list: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| format!("`{item}` is not NAME=DURATION (e.g. section=1.5s)"))?;
            let kind = match name.trim() {
                "sentence" => PauseKind::Sentence,
                "paragraph" => PauseKind::Paragraph,
                "section" => PauseKind::Section,
                other => {
                    return Err(format!(
                        "unknown pause `{other}`; use sentence, paragraph or section"
                    ))
                }
            };
            out.push((kind, parse_duration(value.trim())?));
        }
        Ok(PauseList(out))
    }
}

impl<'de> Deserialize<'de> for PauseList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d).map_err(|_| {
            serde::de::Error::custom("give pauses as text, e.g. \"sentence=250ms,section=2s\"")
        })?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Pauses {
    /// These pauses with a list's changes applied.
    pub fn with(mut self, list: &PauseList) -> Pauses {
        for &(kind, ms) in &list.0 {
            match kind {
                PauseKind::Sentence => self.sentence_ms = ms,
                PauseKind::Paragraph => self.paragraph_ms = ms,
                PauseKind::Section => self.section_ms = ms,
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chapter_modes_parse_and_print_the_same_forms() {
        for (text, mode) in [
            ("auto", ChapterMode::Auto),
            ("heading", ChapterMode::Heading(None)),
            ("heading:2", ChapterMode::Heading(Some(2))),
            ("heading:6", ChapterMode::Heading(Some(6))),
            ("paragraph", ChapterMode::Paragraph),
        ] {
            assert_eq!(text.parse::<ChapterMode>(), Ok(mode));
            assert_eq!(mode.to_string(), text);
            let json = serde_json::to_string(&mode).unwrap();
            assert_eq!(serde_json::from_str::<ChapterMode>(&json).unwrap(), mode);
        }
        for bad in [
            "heading:0",
            "heading:1",
            "heading:7",
            "heading:x",
            "heading:",
            "heading2",
            "",
        ] {
            let e = bad.parse::<ChapterMode>().unwrap_err();
            assert!(
                e.contains(ChapterMode::FORMS) && !e.contains('\n'),
                "{bad}: {e}"
            );
        }
        assert!(ChapterMode::Heading(Some(3)).starts_chapter(3));
        assert!(!ChapterMode::Heading(Some(3)).starts_chapter(4));
        assert!(ChapterMode::Heading(None).starts_chapter(6));
    }

    #[test]
    fn ranges_are_checked_the_same_from_text_and_numbers() {
        assert_eq!("175".parse::<Wpm>().unwrap().get(), 175);
        assert!("5".parse::<Wpm>().is_err());
        assert!(Wpm::try_from(5i64).is_err());
        assert!("0".parse::<SampleRate>().is_err());
        assert!("0".parse::<Count>().is_err());
        assert!("-1".parse::<Retries>().is_err());
        assert!("abc".parse::<MaxChars>().is_err());
        let e: Result<Wpm, _> =
            toml::from_str::<std::collections::HashMap<String, Wpm>>("r = 5").map(|m| m["r"]);
        assert!(e.unwrap_err().message().contains("out of range"));
    }

    #[test]
    fn pause_lists_switches_and_lists() {
        let p = Pauses::default().with(&"sentence=100ms, section=2.5s".parse().unwrap());
        assert_eq!(
            (p.sentence_ms, p.paragraph_ms, p.section_ms),
            (100, 700, 2500)
        );
        assert_eq!(parse_duration("700").unwrap(), 700);
        assert_eq!(parse_duration("2m").unwrap(), 120_000);
        assert!("breath=1s".parse::<PauseList>().is_err());
        assert!(parse_duration("soon").is_err());
        assert_eq!("off".parse::<Switch>().unwrap(), Switch(false));
        assert!("maybe".parse::<Switch>().is_err());
        let l: List<ChapterMode> = "auto, heading".parse().unwrap();
        assert_eq!(l.0, vec![ChapterMode::Auto, ChapterMode::Heading(None)]);
        assert!("auto,sometimes".parse::<List<ChapterMode>>().is_err());
    }
}

/// The closing check of a build: the signal only, or also listening to every segment's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum CheckMode {
    /// Levels, gaps, clicks, chapters (`narrate check`).
    #[default]
    Signal,
    /// Also transcribes every segment (`narrate check --listen`).
    Listen,
}

named_enum!(CheckMode, "check mode", [
    CheckMode::Signal => "signal",
    CheckMode::Listen => "listen",
]);

/// An edition's name (`--name`): one file name (it names the edition's folder and files), never a path, never
/// empty or hidden.
pub(crate) fn edition_name(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("give a name: it names the edition's folder and files".into());
    }
    if s.starts_with('.') || s.contains(['/', '\\']) || s.chars().any(char::is_control) {
        return Err(format!(
            "`{}` is not a file name: give a name without `/` that does not start with `.`",
            s.escape_debug()
        ));
    }
    Ok(s.to_string())
}
