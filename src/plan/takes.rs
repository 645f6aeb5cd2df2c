//! The takes file beside an essay (`essay.md.takes.toml`): which take of each segment the build uses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic;
use crate::error::{Error, Result};

/// One segment's takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The take the build uses.
    pub take: u32,
    /// The highest take made so far; a new take is `latest + 1`.
    pub latest: u32,
    /// The segment's text, for the reader of this file.
    #[serde(default)]
    pub text: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Takes {
    #[serde(default)]
    pub segments: BTreeMap<String, Entry>,
}

const HEADER: &str =
    "# narrate takes: the take of each segment that builds use (segments not listed use take 1).\n\
# Written by `narrate regen`; safe to edit, or to delete to go back to first takes everywhere.\n\n";

/// The takes file for an essay.
pub fn path_for(essay: &Path) -> PathBuf {
    let mut name = essay.file_name().unwrap_or_default().to_os_string();
    name.push(".takes.toml");
    essay.with_file_name(name)
}

impl Takes {
    /// Loads the takes file; a missing file means every segment uses take 1.
    pub fn load(path: &Path) -> Result<Takes> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| Error::State {
                path: path.to_owned(),
                reason: e.message().to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Takes::default()),
            Err(e) => Err(Error::State {
                path: path.to_owned(),
                reason: e.to_string(),
            }),
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let body = toml::to_string(self).expect("takes serialize");
        atomic::write_bytes(path, format!("{HEADER}{body}").as_bytes()).map_err(|source| {
            Error::Output {
                path: path.to_owned(),
                source,
            }
        })
    }

    pub fn take(&self, id: &str) -> u32 {
        self.segments.get(id).map_or(1, |e| e.take.max(1))
    }

    /// Chooses a take for a segment: `Some(n)` goes to take n, `None` makes a new one. Returns the take chosen.
    pub fn choose(&mut self, id: &str, text: &str, take: Option<u32>) -> u32 {
        let entry = self.segments.entry(id.to_string()).or_insert(Entry {
            take: 1,
            latest: 1,
            text: String::new(),
        });
        let chosen = take.unwrap_or(entry.latest + 1).max(1);
        entry.take = chosen;
        entry.latest = entry.latest.max(chosen);
        entry.text = text.to_string();
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_takes_count_up_and_old_ones_can_be_chosen() {
        let mut t = Takes::default();
        assert_eq!(t.take("abc"), 1);
        assert_eq!(t.choose("abc", "Hi.", None), 2);
        assert_eq!(t.choose("abc", "Hi.", None), 3);
        assert_eq!(t.choose("abc", "Hi.", Some(1)), 1);
        assert_eq!(t.choose("abc", "Hi.", None), 4);
        assert_eq!(t.take("abc"), 4);
    }

    #[test]
    fn round_trips_through_a_readable_file() {
        let dir = tempfile::tempdir().unwrap();
        let essay = dir.path().join("e.md");
        let path = path_for(&essay);
        assert!(path.ends_with("e.md.takes.toml"));
        let mut t = Takes::default();
        t.choose("0a1b2c3d", "A \"quoted\" sentence.", None);
        t.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# narrate takes"));
        assert!(text.contains("[segments.0a1b2c3d]"), "{text}");
        assert_eq!(Takes::load(&path).unwrap(), t);
    }
}
