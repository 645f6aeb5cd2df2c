//! The segment cache: audio files named by a BLAKE3 hash of everything that changes the audio.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::audio::Audio;
use crate::error::{Error, Result};

/// Bumped when the meaning of cached audio changes.
const CACHE_VERSION: u32 = 1;

/// Everything that changes a segment's audio. Its JSON form is hashed into the cache key, as just hashes
/// serialized recipe inputs.
#[derive(Serialize)]
pub struct KeyInput<'a> {
    pub backend: &'a str,
    /// The backend's engine version and voice data (from `Backend::fingerprint`).
    pub fingerprint: &'a str,
    pub voice: &'a str,
    pub rate: Option<u32>,
    pub spoken: &'a str,
    pub take: u32,
}

impl KeyInput<'_> {
    pub fn key(&self) -> String {
        let json = serde_json::to_vec(&(CACHE_VERSION, self)).expect("plain data serializes");
        blake3::hash(&json).to_hex().to_string()
    }
}

/// A directory of segment WAVs: `ROOT/segments/ab/abcdef….wav`.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Cache { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, key: &str) -> PathBuf {
        self.root
            .join("segments")
            .join(&key[..2])
            .join(format!("{key}.wav"))
    }

    pub fn contains(&self, key: &str) -> bool {
        self.path(key).is_file()
    }

    /// Stores audio under `key`, atomically: readers see the old state or the whole new file, never a part.
    pub fn store(&self, key: &str, audio: &Audio) -> Result<()> {
        let path = self.path(key);
        let dir = path.parent().expect("cache paths have a parent");
        let cache_err = |source| Error::Cache {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(cache_err)?;
        crate::audio::wav::write_file(&path, audio).map_err(cache_err)
    }
}

/// What the cache holds.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    pub segments: usize,
    pub bytes: u64,
    /// Seconds since the least recently used segment was last used.
    pub oldest_seconds: Option<u64>,
    /// Temporary files left by interrupted writes.
    pub partial_files: usize,
}

/// What a garbage collection removed (or would remove, in a dry run).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Collected {
    pub deleted: usize,
    pub freed_bytes: u64,
    pub kept_referenced: usize,
    pub kept_recent: usize,
}

impl Cache {
    /// Marks a segment as used now, so garbage collection by age keeps what builds still use.
    pub fn touch(&self, key: &str) {
        if let Ok(f) = std::fs::File::options().append(true).open(self.path(key)) {
            let _ = f.set_modified(SystemTime::now());
        }
    }

    /// Every file under `segments/`: (path, size, last used, is a finished segment).
    fn files(&self) -> Vec<(PathBuf, u64, SystemTime, bool)> {
        let Ok(shards) = std::fs::read_dir(self.root.join("segments")) else {
            return Vec::new();
        };
        shards
            .filter_map(|d| d.ok())
            .filter_map(|d| std::fs::read_dir(d.path()).ok())
            .flatten()
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                let name = e.file_name().to_string_lossy().into_owned();
                let finished = name.ends_with(".wav") && !name.starts_with('.');
                Some((e.path(), meta.len(), meta.modified().ok()?, finished))
            })
            .collect()
    }

    pub fn stats(&self) -> Stats {
        let now = SystemTime::now();
        let mut stats = Stats::default();
        for (_, size, used, finished) in self.files() {
            if finished {
                stats.segments += 1;
                stats.bytes += size;
                let age = now.duration_since(used).unwrap_or_default().as_secs();
                stats.oldest_seconds = Some(stats.oldest_seconds.map_or(age, |o| o.max(age)));
            } else {
                stats.partial_files += 1;
            }
        }
        stats
    }

    /// Deletes segments unused for `older_than` unless `keep` holds their key, and temporary files left by
    /// interrupted writes more than an hour old.
    pub fn gc(&self, older_than: Duration, keep: &HashSet<String>, dry_run: bool) -> Collected {
        let now = SystemTime::now();
        let mut out = Collected::default();
        for (path, size, used, finished) in self.files() {
            let age = now.duration_since(used).unwrap_or_default();
            let key = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let delete = if finished {
                if keep.contains(&key) {
                    out.kept_referenced += 1;
                    false
                } else if age < older_than {
                    out.kept_recent += 1;
                    false
                } else {
                    true
                }
            } else {
                age > Duration::from_secs(3600)
            };
            if delete && (dry_run || std::fs::remove_file(&path).is_ok()) {
                out.deleted += 1;
                out.freed_bytes += size;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(text: &str, take: u32) -> String {
        KeyInput {
            backend: "tone",
            fingerprint: "v1",
            voice: "sine",
            rate: None,
            spoken: text,
            take,
        }
        .key()
    }

    #[test]
    fn keys_change_with_every_input() {
        assert_eq!(input("a", 1), input("a", 1));
        assert_ne!(input("a", 1), input("b", 1));
        assert_ne!(input("a", 1), input("a", 2));
    }

    #[test]
    fn gc_keeps_referenced_and_recent_segments() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let audio = Audio {
            sample_rate: 8000,
            samples: vec![1; 10],
        };
        let (a, b, c) = (input("a", 1), input("b", 1), input("c", 1));
        for k in [&a, &b, &c] {
            cache.store(k, &audio).unwrap();
        }
        assert_eq!(cache.stats().segments, 3);
        let keep: HashSet<String> = [a.clone()].into();
        let dry = cache.gc(Duration::ZERO, &keep, true);
        assert_eq!((dry.deleted, dry.kept_referenced), (2, 1));
        assert!(cache.contains(&b), "a dry run deletes nothing");
        let recent = cache.gc(Duration::from_secs(3600), &HashSet::new(), false);
        assert_eq!((recent.deleted, recent.kept_recent), (0, 3));
        let done = cache.gc(Duration::ZERO, &keep, false);
        assert_eq!(done.deleted, 2);
        assert!(cache.contains(&a) && !cache.contains(&b) && !cache.contains(&c));
    }

    #[test]
    fn store_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let key = input("x", 1);
        let audio = Audio {
            sample_rate: 22_050,
            samples: vec![1, -2, 3],
        };
        assert!(!cache.contains(&key));
        cache.store(&key, &audio).unwrap();
        assert!(cache.contains(&key));
        assert_eq!(crate::audio::wav::read(&cache.path(&key)).unwrap(), audio);
    }
}
