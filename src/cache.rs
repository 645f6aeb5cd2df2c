//! The segment cache: audio files named by a BLAKE3 hash of everything that changes the audio.
//!
//! Every entry verifies itself: its last chunk, `b3sm`, holds the BLAKE3 of its key and every chunk before it
//! (format, audio and the words' places, `wrds`, when the voice gave them), written in the same atomic step, so an entry is good only under its own key. A cheap look (`contains`: a regular file whose sizes add up) decides
//! what a plan calls cached; a full read (`verify`) checks the sum before an entry is used. A bad entry is moved
//! to `quarantine/` and synthesized again; independent WAV readers skip the extra chunk.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::audio::wav::u32_at;
use crate::audio::Audio;
use crate::error::{Error, Result};

/// Bumped when the meaning of cached audio changes (2: entries carry a checksum chunk; 3: the checksum covers the
/// entry's key, so a whole entry of another sentence put under a key is found out; 4: entries carry their words'
/// places, `wrds`, when the backend says where its words are, so audio cached before is synthesized again).
const CACHE_VERSION: u32 = 4;

/// Everything that changes a segment's audio. Its JSON form is hashed into the cache key, as just hashes
/// serialized recipe inputs.
#[derive(Serialize)]
pub(crate) struct KeyInput<'a> {
    pub backend: &'a str,
    /// The backend's engine version and voice data (from `Backend::fingerprint`).
    pub fingerprint: &'a str,
    pub voice: &'a str,
    pub rate: Option<u32>,
    pub spoken: &'a str,
    pub take: u32,
}

impl KeyInput<'_> {
    pub(crate) fn key(&self) -> String {
        let json = serde_json::to_vec(&(CACHE_VERSION, self)).expect("plain data serializes");
        blake3::hash(&json).to_hex().to_string()
    }
}

/// A directory of segment WAVs: `ROOT/segments/ab/abcdef….wav`.
#[derive(Debug, Clone)]
pub(crate) struct Cache {
    root: PathBuf,
}

impl Cache {
    pub(crate) fn new(root: impl Into<PathBuf>) -> Self {
        Cache { root: root.into() }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn path(&self, key: &str) -> PathBuf {
        self.root
            .join("segments")
            .join(&key[..2])
            .join(format!("{key}.wav"))
    }

    /// Whether `key` has an entry that looks whole (a regular file whose RIFF size matches its length, with its
    /// checksum chunk): cheap, for counting what is cached. `verify` reads it fully.
    pub(crate) fn contains(&self, key: &str) -> bool {
        let path = self.path(key);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            return false;
        };
        if !meta.is_file() || meta.len() < 44 + SUM_CHUNK_LEN {
            return false;
        }
        let mut head = [0u8; 12];
        let mut tail = [0u8; SUM_CHUNK_LEN as usize];
        let mut read = || -> std::io::Result<()> {
            let mut f = std::fs::File::open(&path)?;
            f.read_exact(&mut head)?;
            f.seek(SeekFrom::End(-(SUM_CHUNK_LEN as i64)))?;
            f.read_exact(&mut tail)
        };
        read().is_ok()
            && &head[0..4] == b"RIFF"
            && &head[8..12] == b"WAVE"
            && u64::from(u32_at(&head, 4)) + 8 == meta.len()
            && &tail[0..4] == SUM_CHUNK
    }

    /// Reads `key`'s entry fully and checks it: its checksum, its header, its samples.
    pub(crate) fn verify(&self, key: &str) -> Entry {
        let path = self.path(key);
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Entry::Missing,
            Err(e) => return Entry::Bad(format!("cannot be read: {e}")),
            Ok(m) if !m.is_file() => return Entry::Bad("is not a file".into()),
            Ok(_) => {}
        }
        match std::fs::read(&path) {
            Ok(bytes) => match decode(key, bytes) {
                Ok(_) => Entry::Good,
                Err(reason) => Entry::Bad(reason),
            },
            Err(e) => Entry::Bad(format!("cannot be read: {e}")),
        }
    }

    /// `key`'s audio when its entry verifies; a damaged entry is moved to the quarantine (with a warning line) and
    /// read as missing, so the caller synthesizes it again.
    pub(crate) fn load(&self, key: &str) -> Option<Audio> {
        let path = self.path(key);
        let bytes = std::fs::read(&path).ok();
        match bytes.map(|b| decode(key, b)) {
            Some(Ok(audio)) => Some(audio),
            Some(Err(reason)) => {
                if self.quarantine(key).is_ok() {
                    eprintln!(
                        "warning: the cached segment {} {reason}; moved to the quarantine",
                        path.display()
                    );
                }
                None
            }
            None => None,
        }
    }

    /// Moves a bad entry out of the way, into `quarantine/` (kept for a look, never used again), so the segment is
    /// synthesized afresh. Returns where it went.
    pub(crate) fn quarantine(&self, key: &str) -> Result<PathBuf> {
        let dir = self.root.join("quarantine");
        let cache_err = |source| Error::Cache {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(cache_err)?;
        let stamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let to = dir.join(format!("{key}.{stamp}.wav"));
        std::fs::rename(self.path(key), &to).map_err(cache_err)?;
        Ok(to)
    }

    /// Stores audio under `key`, atomically: readers see the old state or the whole new file, never a part. The
    /// checksum chunk is written in the same step. The entry is not synced to disk (a fifth of a millisecond to a
    /// few milliseconds each, on the synthesis workers' path): a power cut that leaves it short or empty leaves a
    /// file whose sum is wrong, which its next use finds, quarantines and synthesizes again.
    pub(crate) fn store(&self, key: &str, audio: &Audio) -> Result<()> {
        let path = self.path(key);
        let dir = path.parent().expect("cache paths have a parent");
        let cache_err = |source| Error::Cache {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(cache_err)?;
        let bytes = encode(key, audio).map_err(|e| cache_err(crate::audio::wav::io_error(e)))?;
        crate::atomic::write_bytes_unsynced(&path, &bytes).map_err(cache_err)
    }

    /// Every entry's key (for `cache verify`).
    pub(crate) fn keys(&self) -> Vec<String> {
        self.files()
            .into_iter()
            .filter(|f| f.3)
            .filter_map(|(p, ..)| Some(p.file_stem()?.to_string_lossy().into_owned()))
            .collect()
    }
}

/// What a full read of an entry found.
#[derive(Debug)]
pub(crate) enum Entry {
    Missing,
    /// Whole, as it was stored.
    Good,
    /// Unreadable, damaged or not what was stored: why.
    Bad(String),
}

const SUM_CHUNK: &[u8; 4] = b"b3sm";
const SUM_CHUNK_LEN: u64 = 8 + 32;

/// The checksum of an entry: its key, then its chunks before the checksum chunk.
fn sum(key: &str, chunks: &[u8]) -> blake3::Hash {
    let mut h = blake3::Hasher::new();
    h.update(&(key.len() as u64).to_le_bytes());
    h.update(key.as_bytes());
    h.update(chunks);
    h.finalize()
}

/// A segment's file: the WAV hound writes, its words' places (`wrds`) when it has them, then the checksum chunk,
/// with the RIFF size covering them.
fn encode(key: &str, audio: &Audio) -> std::result::Result<Vec<u8>, hound::Error> {
    let mut out = std::io::Cursor::new(Vec::new());
    crate::audio::wav::write_to(&mut out, audio)?;
    let mut bytes = out.into_inner();
    if let Some(words) = &audio.words {
        bytes.extend_from_slice(&crate::audio::wav::words_chunk(words));
    }
    let sum = sum(key, &bytes[12..]);
    bytes.extend_from_slice(SUM_CHUNK);
    bytes.extend_from_slice(&32u32.to_le_bytes());
    bytes.extend_from_slice(sum.as_bytes());
    let riff = (bytes.len() - 8) as u32;
    bytes[4..8].copy_from_slice(&riff.to_le_bytes());
    Ok(bytes)
}

/// Where the `data` chunk's bytes are, when the file holds them all.
fn data_range(bytes: &[u8]) -> Option<std::ops::Range<usize>> {
    let (at, size) = crate::audio::wav::find_chunk(bytes, b"data")?;
    let body = at + 8;
    (body + size as usize <= bytes.len()).then_some(body..body + size as usize)
}

/// Checks and decodes the bytes of `key`'s entry.
fn decode(key: &str, bytes: Vec<u8>) -> std::result::Result<Audio, String> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("is not a WAV file".into());
    }
    if u64::from(u32_at(&bytes, 4)) + 8 != bytes.len() as u64 {
        return Err(format!(
            "is cut off or padded: its header says {} bytes, the file has {}",
            u64::from(u32_at(&bytes, 4)) + 8,
            bytes.len()
        ));
    }
    data_range(&bytes).ok_or("has no whole data chunk")?;
    let end = bytes.len();
    if end < SUM_CHUNK_LEN as usize || &bytes[end - 40..end - 36] != SUM_CHUNK {
        return Err("has no checksum (written by another program or an older narrate)".into());
    }
    if sum(key, &bytes[12..end - 40]).as_bytes()[..] != bytes[end - 32..] {
        return Err(
            "does not match its checksum (damaged after it was written, or another segment's audio)".into(),
        );
    }
    let words = crate::audio::wav::read_words(&bytes[..end - 40]).map_err(str::to_owned)?;
    let reader = hound::WavReader::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("cannot be decoded: {e}"))?;
    let spec = reader.spec();
    if spec.channels != 1 || spec.bits_per_sample != 16 || spec.sample_rate == 0 {
        return Err("is not mono 16-bit audio".into());
    }
    let samples = reader
        .into_samples::<i16>()
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot be decoded: {e}"))?;
    Ok(Audio {
        sample_rate: spec.sample_rate,
        samples,
        words,
    })
}

/// What the cache holds.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(crate) struct Stats {
    pub segments: usize,
    pub bytes: u64,
    /// Seconds since the least recently used segment was last used.
    pub oldest_seconds: Option<u64>,
    /// Temporary files left by interrupted writes.
    pub partial_files: usize,
}

/// What a garbage collection removed (or would remove, in a dry run).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(crate) struct Collected {
    pub deleted: usize,
    pub freed_bytes: u64,
    pub kept_referenced: usize,
    pub kept_recent: usize,
}

impl Cache {
    /// Marks a segment as used now, so garbage collection by age keeps what builds still use.
    pub(crate) fn touch(&self, key: &str) {
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

    pub(crate) fn stats(&self) -> Stats {
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
    /// interrupted writes (whose process is gone, or more than an hour old).
    pub(crate) fn gc(
        &self,
        older_than: Duration,
        keep: &HashSet<String>,
        dry_run: bool,
    ) -> Collected {
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
                // A temporary file: its writer is gone, or it is older than any write takes.
                age > Duration::from_secs(3600)
                    || path
                        .file_name()
                        .is_some_and(|n| crate::atomic::is_leftover(&n.to_string_lossy()))
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
    fn a_whole_entry_of_another_key_is_not_served_and_goes_to_the_quarantine() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let audio = Audio {
            sample_rate: 8000,
            samples: vec![7; 100],
            words: None,
        };
        let (a, b) = (input("a", 1), input("b", 1));
        cache.store(&a, &audio).unwrap();
        assert!(matches!(cache.verify(&a), Entry::Good));
        std::fs::create_dir_all(cache.path(&b).parent().unwrap()).unwrap();
        std::fs::copy(cache.path(&a), cache.path(&b)).unwrap();
        assert!(cache.contains(&b), "it looks whole");
        assert!(matches!(cache.verify(&b), Entry::Bad(why) if why.contains("another segment")));
        assert!(cache.load(&b).is_none());
        assert!(!cache.path(&b).exists(), "moved to the quarantine");
        assert_eq!(cache.load(&a).unwrap().samples, audio.samples);
    }

    #[test]
    fn gc_keeps_referenced_and_recent_segments() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let audio = Audio {
            sample_rate: 8000,
            samples: vec![1; 10],
            words: None,
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
            words: None,
        };
        assert!(!cache.contains(&key));
        cache.store(&key, &audio).unwrap();
        assert!(cache.contains(&key));
        assert_eq!(crate::audio::wav::read(&cache.path(&key)).unwrap(), audio);
        assert!(matches!(cache.verify(&key), Entry::Good));
    }

    #[test]
    fn words_are_stored_under_the_checksum_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let key = input("two words", 1);
        let word = |text: &str, start, end| crate::audio::WordSpan {
            text: text.into(),
            start_sample: start,
            end_sample: end,
        };
        let audio = Audio {
            sample_rate: 22_050,
            samples: (0..3000).map(|n| (n % 100) as i16).collect(),
            words: Some(vec![word("two", 10, 900), word("words", 1000, 2900)]),
        };
        cache.store(&key, &audio).unwrap();
        assert!(cache.contains(&key));
        assert!(matches!(cache.verify(&key), Entry::Good));
        assert_eq!(cache.load(&key).unwrap(), audio);
        assert_eq!(crate::audio::wav::read(&cache.path(&key)).unwrap(), audio);
        // A word's place changed after the write: the checksum finds it out.
        let path = cache.path(&key);
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.windows(3).position(|w| w == b"900").unwrap();
        bytes[at] = b'8';
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(cache.verify(&key), Entry::Bad(_)));
        // An entry without words (as hound writes one) reads as audio without them.
        cache
            .store(
                &key,
                &Audio {
                    words: None,
                    ..audio.clone()
                },
            )
            .unwrap();
        assert_eq!(cache.load(&key).unwrap().words, None);
    }

    #[test]
    fn damaged_entries_are_found_and_quarantined() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let audio = Audio {
            sample_rate: 22_050,
            samples: (0..2000).map(|n| (n % 300) as i16).collect(),
            words: None,
        };
        let key = input("x", 1);
        let path = cache.path(&key);
        type Damage<'a> = (&'a str, &'a dyn Fn(&mut Vec<u8>));
        let damage: [Damage; 5] = [
            ("one flipped sample", &|b| b[100] ^= 0x40),
            ("another rate in the header", &|b| b[24] ^= 0x01),
            ("cut off", &|b| b.truncate(b.len() - 500)),
            ("no checksum", &|b| {
                let riff = (b.len() - 48) as u32;
                b.truncate(b.len() - 40);
                b[4..8].copy_from_slice(&riff.to_le_bytes());
            }),
            ("not a WAV", &|b| b[0] = b'X'),
        ];
        for (what, hurt) in damage {
            cache.store(&key, &audio).unwrap();
            let mut bytes = std::fs::read(&path).unwrap();
            hurt(&mut bytes);
            std::fs::write(&path, &bytes).unwrap();
            assert!(matches!(cache.verify(&key), Entry::Bad(_)), "{what}");
            let moved = cache.quarantine(&key).unwrap();
            assert!(moved.starts_with(dir.path().join("quarantine")) && !path.exists());
            assert!(matches!(cache.verify(&key), Entry::Missing), "{what}");
        }
        // A folder where the entry should be.
        std::fs::create_dir_all(&path).unwrap();
        assert!(!cache.contains(&key));
        assert!(matches!(cache.verify(&key), Entry::Bad(r) if r.contains("not a file")));
        cache.quarantine(&key).unwrap();
        cache.store(&key, &audio).unwrap();
        assert!(cache.contains(&key));
    }
}
