//! The segment cache: audio files named by a BLAKE3 hash of everything that changes the audio.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::atomic;
use crate::error::{Error, Result};
use crate::synth::Audio;

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
        atomic::write(
            &path,
            |f| {
                crate::audio::wav::write_to(std::io::BufWriter::new(f), audio)
                    .map_err(crate::audio::wav::io_error)
            },
            |e| e,
        )
        .map_err(cache_err)
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
