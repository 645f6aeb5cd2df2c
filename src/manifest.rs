//! The manifest `<stem>.json` written beside each edition: chapters and segments with their positions.
//! It is the file form of an `edition::Edition`: `regen`, `check` and `narrate export` read it; docs/FORMATS.md
//! describes it.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub(crate) const FORMAT: &str = "narrate-manifest";
/// Version 2 added `settings`; version 1 manifests are still read.
pub(crate) const VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub title: String,
    pub author: Option<String>,
    /// The essay file, as given on the command line.
    pub source: String,
    /// The WAV file's name (it sits beside the manifest).
    pub audio: String,
    pub sample_rate: u32,
    pub channels: u16,
    pub bits_per_sample: u16,
    pub total_samples: u64,
    pub duration_seconds: f64,
    pub backend: String,
    pub voice: String,
    /// A hash of everything that shapes the edition; a batch re-joins only when it changes.
    #[serde(default)]
    pub plan_key: String,
    /// A hash of everything the plan is made from; a build with the same one (and every output there) is done.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub inputs_key: String,
    /// Loudness before and after mastering, when a preset was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loudness: Option<crate::audio::master::Mastered>,
    /// The settings that shaped the edition, as narrate.toml keys: `regen` redoes the edition with them.
    #[serde(default)]
    pub settings: serde_json::Value,
    /// A book's metadata (EPUB): title, authors, language, publisher, date, identifier, the cover's type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub book: Option<crate::essay::Book>,
    pub chapters: Vec<ManifestChapter>,
    pub segments: Vec<ManifestSegment>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestChapter {
    pub index: usize,
    pub title: String,
    /// 1 for the title, 2 for a chapter, 3 and more for a sub-chapter; 2 in manifests written before levels.
    #[serde(default = "chapter_level")]
    pub level: u8,
    pub start_sample: u64,
    pub end_sample: u64,
    pub start_seconds: f64,
    pub end_seconds: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestSegment {
    pub id: String,
    pub chapter: usize,
    pub line: usize,
    pub text: String,
    pub spoken: String,
    pub start_sample: u64,
    pub end_sample: u64,
    pub start_seconds: f64,
    pub end_seconds: f64,
    pub take: u32,
    pub cache_key: String,
    /// Its spoken words in order, in the edition's samples (the clock of `start_sample`), each inside the
    /// segment's span; empty in manifests written before words had places.
    #[serde(default)]
    pub words: Vec<crate::audio::WordSpan>,
    /// The words' places are an even spread by characters, not the voice's own timing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub words_estimated: bool,
}

impl Manifest {
    /// Reads a manifest; `Ok(None)` when there is none yet.
    pub fn load(path: &Path) -> Result<Option<Manifest>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::Manifest {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })
            }
        };
        let bad = |reason: String| Error::Manifest {
            path: path.to_owned(),
            reason,
        };
        // The format and version first, so a foreign or newer file is named as such, not as a parse error.
        // Only those two fields are read here (the rest is skipped, not built into a tree: a book's manifest
        // is large).
        #[derive(Deserialize)]
        struct Head {
            format: Option<serde_json::Value>,
            version: Option<serde_json::Value>,
        }
        let head: Head = match serde_json::from_str(&text) {
            Ok(head) => head,
            Err(e) => match serde_json::from_str::<serde::de::IgnoredAny>(&text) {
                Ok(_) => Head {
                    format: None,
                    version: None,
                },
                Err(_) => return Err(bad(format!("not JSON ({e})"))),
            },
        };
        if head.format.as_ref().and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(bad(format!(
                "not a narrate manifest (no \"format\": \"{FORMAT}\")"
            )));
        }
        match head.version.as_ref().and_then(|v| v.as_u64()) {
            Some(v) if (1..=u64::from(VERSION)).contains(&v) => {}
            Some(v) => {
                return Err(bad(format!(
                "manifest version {v} is newer than this narrate reads ({VERSION}); update narrate"
            )))
            }
            None => return Err(bad("no manifest version".into())),
        }
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if manifest.sample_rate == 0 {
            return Err(bad("its sample rate is 0".into()));
        }
        // The audio is a file beside the manifest: a path elsewhere (`../../x`, `/etc/x`) is never opened.
        let plain = Path::new(&manifest.audio)
            .components()
            .eq([std::path::Component::Normal(manifest.audio.as_ref())]);
        if !plain {
            return Err(bad(format!(
                "its audio `{}` is not a file name beside the manifest",
                manifest.audio
            )));
        }
        if manifest
            .chapters
            .iter()
            .any(|c| c.end_sample > manifest.total_samples)
            || manifest
                .segments
                .iter()
                .any(|s| s.end_sample > manifest.total_samples)
        {
            return Err(bad("a chapter or segment ends after the audio".into()));
        }
        if let Some(s) = manifest.segments.iter().find(|s| {
            s.words
                .iter()
                .any(|w| w.start_sample > w.end_sample || w.end_sample > manifest.total_samples)
        }) {
            return Err(bad(format!(
                "segment {} has a word that ends before it starts or after the audio",
                s.id
            )));
        }
        if let Some(c) = manifest
            .chapters
            .iter()
            .find(|c| !(1..=6).contains(&c.level))
        {
            return Err(bad(format!(
                "chapter {} has level {} (levels are 1 to 6)",
                c.index, c.level
            )));
        }
        Ok(Some(manifest))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("manifest serializes") + "\n"
    }
}

/// The cache keys that manifests under `dir` (searched recursively) refer to.
pub(crate) fn referenced_keys(dir: &Path) -> HashSet<String> {
    let mut keys = HashSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.filter_map(|e| e.ok()) {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                if let Ok(Some(m)) = Manifest::load(&p) {
                    keys.extend(m.segments.into_iter().map(|s| s.cache_key));
                }
            }
        }
    }
    keys
}

/// The level of a chapter in a manifest written before chapters had levels.
fn chapter_level() -> u8 {
    2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.json");
        std::fs::write(&path, text).unwrap();
        match Manifest::load(&path) {
            Err(e) => e.to_string(),
            Ok(m) => format!("loaded {m:?}"),
        }
    }

    #[test]
    fn load_refuses_foreign_newer_and_impossible_manifests_in_one_line() {
        let good = crate::export::tests::manifest();
        let json = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = serde_json::to_value(&good).unwrap();
            f(&mut v);
            v.to_string()
        };
        assert!(load_text(&json(&|_| ())).starts_with("loaded"));
        let e = load_text(&json(&|v| v["format"] = "other-tool".into()));
        assert!(e.contains("not a narrate manifest"), "{e}");
        let e = load_text(&json(&|v| v["version"] = 99.into()));
        assert!(e.contains("version 99 is newer"), "{e}");
        for foreign in ["[1, 2]", "\"text\"", "{\"format\": 5}", "{}"] {
            let e = load_text(foreign);
            assert!(e.contains("not a narrate manifest"), "{foreign}: {e}");
        }
        let e = load_text("{\"format\": \"narrate-manifest\",");
        assert!(e.contains("not JSON"), "{e}");
        let e = load_text(&json(&|v| v["sample_rate"] = 0.into()));
        assert!(e.contains("sample rate is 0"), "{e}");
        let e = load_text(&json(&|v| {
            v["segments"][0]["end_sample"] = 9_000_000.into()
        }));
        assert!(e.contains("ends after the audio"), "{e}");
        for elsewhere in [
            "../../../../etc/passwd",
            "/etc/passwd",
            "sub/e.wav",
            ".",
            "",
        ] {
            let e = load_text(&json(&|v| v["audio"] = elsewhere.into()));
            assert!(
                e.contains("not a file name beside the manifest"),
                "{elsewhere}: {e}"
            );
        }
        let e = load_text("{ not json");
        assert!(e.contains("not JSON") && !e.contains('\n'), "{e}");
        // A manifest written before chapter levels is still read: its chapters are level 2.
        let old = load_text(&json(&|v| {
            for c in v["chapters"].as_array_mut().unwrap() {
                c.as_object_mut().unwrap().remove("level");
            }
        }));
        assert!(
            old.starts_with("loaded") && old.contains("level: 2"),
            "{old}"
        );
        assert!(!old.contains("level: 3"), "{old}");
        let e = load_text(&json(&|v| v["chapters"][1]["level"] = 0.into()));
        assert!(e.contains("chapter 1 has level 0"), "{e}");
        // A manifest written before words had places is still read, with none.
        let old = load_text(&json(&|v| {
            for s in v["segments"].as_array_mut().unwrap() {
                s.as_object_mut().unwrap().remove("words");
            }
        }));
        assert!(
            old.starts_with("loaded") && old.contains("words: []"),
            "{old}"
        );
        let e = load_text(&json(&|v| {
            v["segments"][2]["words"][0]["end_sample"] = 9_000_000.into()
        }));
        assert!(e.contains("segment aaaa0003 has a word"), "{e}");
        // Version 1 (before `settings`) is still read.
        assert!(load_text(&json(&|v| {
            v["version"] = 1.into();
            v.as_object_mut().unwrap().remove("settings");
        }))
        .starts_with("loaded"));
    }
}
