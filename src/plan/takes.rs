//! The takes file beside an essay (`essay.md.takes.toml`): which take of each segment the build uses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic;
use crate::error::{Error, Result};

/// One segment's takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    /// The take the build uses.
    pub take: u32,
    /// The highest take made so far; a new take is `latest + 1`.
    pub latest: u32,
    /// The segment's text, for the reader of this file.
    #[serde(default)]
    pub text: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Takes {
    #[serde(default)]
    pub segments: BTreeMap<String, Entry>,
}

const HEADER: &str =
    "# narrate takes: the take of each segment that builds use (segments not listed use take 1).\n\
# Written by `narrate regen`; safe to edit, or to delete to go back to first takes everywhere.\n\n";

/// The takes file for an essay (a long essay name is shortened with a hash, to stay a legal file name).
pub(crate) fn path_for(essay: &Path) -> PathBuf {
    let name = essay.file_name().unwrap_or_default().to_string_lossy();
    essay.with_file_name(format!("{}.takes.toml", atomic::short_name(&name)))
}

/// Takes the essay's lock (a hidden file beside it), held while a command reads, changes and writes its takes
/// and the edition that uses them: two `regen`s of one essay run one after the other, and both keep their take.
pub(crate) fn lock(essay: &Path) -> Result<atomic::Lock> {
    let name = essay.file_name().unwrap_or_default().to_string_lossy();
    let path = essay.with_file_name(format!(".{}.narrate.lock", atomic::short_name(&name)));
    atomic::Lock::acquire(&path, || {
        eprintln!(
            "waiting: another narrate is changing the takes of {}; this one goes on when it is done",
            essay.display()
        )
    })
    .map_err(|source| Error::Output { path, source })
}

impl Takes {
    /// Loads the takes file; a missing file means every segment uses take 1.
    pub(crate) fn load(path: &Path) -> Result<Takes> {
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

    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        let body = toml::to_string(self).expect("takes serialize");
        atomic::write_bytes(path, format!("{HEADER}{body}").as_bytes()).map_err(|source| {
            Error::Output {
                path: path.to_owned(),
                source,
            }
        })
    }

    /// Writes the takes to a temporary file beside `path` (synced), for a commit to move into place; returns its
    /// name.
    pub(crate) fn stage(&self, path: &Path) -> Result<PathBuf> {
        let err = |source| Error::Output {
            path: path.to_owned(),
            source,
        };
        let body = toml::to_string(self).expect("takes serialize");
        let mut tmp = atomic::temp_beside(path).map_err(err)?;
        std::io::Write::write_all(&mut tmp, format!("{HEADER}{body}").as_bytes()).map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        tmp.into_temp_path().keep().map_err(|e| err(e.error))
    }

    pub(crate) fn take(&self, id: &str) -> u32 {
        self.segments.get(id).map_or(1, |e| e.take.max(1))
    }

    /// Records a new take of a segment (the latest + 1) as made, without choosing it: the studio makes takes to
    /// compare and keeps one. Returns its number.
    pub(crate) fn add(&mut self, id: &str, text: &str) -> std::result::Result<u32, String> {
        let entry = self.segments.entry(id.to_string()).or_insert(Entry {
            take: 1,
            latest: 1,
            text: String::new(),
        });
        let made = entry.latest.max(1).checked_add(1).ok_or_else(|| {
            format!(
                "segment {id} has no take number left after {}",
                entry.latest
            )
        })?;
        entry.latest = made;
        entry.text = text.to_string();
        Ok(made)
    }

    /// Chooses a take for a segment: `Some(n)` goes to take n, `None` makes a new one. Returns the take chosen,
    /// or why there is none (take 0, or no take number left).
    pub(crate) fn choose(
        &mut self,
        id: &str,
        text: &str,
        take: Option<u32>,
    ) -> std::result::Result<u32, String> {
        let entry = self.segments.entry(id.to_string()).or_insert(Entry {
            take: 1,
            latest: 1,
            text: String::new(),
        });
        let chosen = match take {
            Some(0) => return Err("takes are numbered from 1".into()),
            Some(n) => n,
            None => entry.latest.max(1).checked_add(1).ok_or_else(|| {
                format!(
                    "segment {id} has no take number left after {}; choose one with --take N",
                    entry.latest
                )
            })?,
        };
        entry.take = chosen;
        entry.latest = entry.latest.max(chosen);
        entry.text = text.to_string();
        Ok(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_takes_count_up_and_old_ones_can_be_chosen() {
        let mut t = Takes::default();
        assert_eq!(t.take("abc"), 1);
        assert_eq!(t.choose("abc", "Hi.", None), Ok(2));
        assert_eq!(t.choose("abc", "Hi.", None), Ok(3));
        assert_eq!(t.choose("abc", "Hi.", Some(1)), Ok(1));
        assert_eq!(t.choose("abc", "Hi.", None), Ok(4));
        assert_eq!(t.take("abc"), 4);
        assert!(t.choose("abc", "Hi.", Some(0)).is_err());
        assert_eq!(t.choose("abc", "Hi.", Some(u32::MAX)), Ok(u32::MAX));
        assert!(t
            .choose("abc", "Hi.", None)
            .unwrap_err()
            .contains("no take number left"));
    }

    #[test]
    fn a_take_made_is_not_kept_until_chosen() {
        let mut t = Takes::default();
        assert_eq!(t.add("abc", "Hi."), Ok(2));
        assert_eq!(t.add("abc", "Hi."), Ok(3));
        assert_eq!(t.take("abc"), 1);
        assert_eq!(t.segments["abc"].latest, 3);
        assert_eq!(t.choose("abc", "Hi.", None), Ok(4));
    }

    #[test]
    fn round_trips_through_a_readable_file() {
        let dir = tempfile::tempdir().unwrap();
        let essay = dir.path().join("e.md");
        let path = path_for(&essay);
        assert!(path.ends_with("e.md.takes.toml"));
        let mut t = Takes::default();
        t.choose("0a1b2c3d", "A \"quoted\" sentence.", None)
            .unwrap();
        t.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# narrate takes"));
        assert!(text.contains("[segments.0a1b2c3d]"), "{text}");
        assert_eq!(Takes::load(&path).unwrap(), t);
    }
}
