//! Writing files so that a crash, a kill or an error never leaves a half-written file under the final name.
//!
//! The temporary file is created with the permissions a plain `File::create` would give (0666 less the umask),
//! not tempfile's private 0600, so the rename does not narrow them. Temporary names carry the writing process's
//! id, so a later run can tell a leftover of a killed process from a file being written now (`clean_leftovers`).
//!
//! Files that only make sense together (an edition's WAV, manifest and exports) are written into a [`Staging`]
//! folder and committed as a group; advisory [`Lock`]s keep two narrate processes from writing one thing at once.

use std::fs::File;
use std::io;
use std::path::Path;

/// Writes `path` through `fill`: into a temporary file in the same directory, synced to disk, then renamed
/// into place. On any error the temporary file is removed and an existing `path` is left as it was. `io_err`
/// turns this function's own I/O errors into the caller's error type.
pub(crate) fn write<T, E>(
    path: &Path,
    fill: impl FnOnce(&mut File) -> Result<T, E>,
    io_err: impl Fn(io::Error) -> E,
) -> Result<T, E> {
    let dir = parent(path);
    let mut tmp = temp_beside(path).map_err(&io_err)?;
    let value = fill(tmp.as_file_mut())?;
    tmp.as_file().sync_all().map_err(&io_err)?;
    tmp.persist(path).map_err(|e| io_err(e.error))?;
    // Make the rename itself durable.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(value)
}

/// The folder `path` is in (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A temporary file beside `path` (`.NAME.XXXXXX.partial`), to be filled and persisted over `path`. It has the
/// mode a new file gets, 0666 less the umask (the kernel applies the umask to the mode given to open(2)), so
/// the rename leaves the permissions `File::create` would have given a new file.
pub(crate) fn temp_beside(path: &Path) -> io::Result<tempfile::NamedTempFile> {
    let name = path
        .file_name()
        .map_or("out".into(), |n| n.to_string_lossy());
    let prefix = format!(".{}.{}.", short_name(&name), std::process::id());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".partial");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    builder.tempfile_in(parent(path))
}

/// Writes bytes atomically.
pub(crate) fn write_bytes(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write(path, |f| io::Write::write_all(f, bytes), |e| e)
}

/// Writes bytes atomically (temporary name, rename) without waiting for them to reach the disk: for files that
/// carry their own checksum and are checked before use, where a power cut's short or empty file is found and
/// made again (the segment cache), not trusted. A killed process leaves the old file or the whole new one, as
/// with [`write_bytes`].
pub(crate) fn write_bytes_unsynced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = temp_beside(path)?;
    io::Write::write_all(tmp.as_file_mut(), bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Writes bytes atomically with the permissions `like` has, when it exists (a user's file that narrate rewrites
/// — an essay, its backup, a narrate.toml — keeps its mode; a private file stays private). A `path` that is a
/// symbolic link is written through it: its target is replaced (atomically, in the target's own folder) and the
/// link stays a link.
pub(crate) fn write_bytes_like(path: &Path, bytes: &[u8], like: &Path) -> io::Result<()> {
    let mode = std::fs::metadata(like).ok().map(|m| m.permissions());
    let through = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path)?,
        _ => path.to_owned(),
    };
    write(
        &through,
        |f| {
            io::Write::write_all(f, bytes)?;
            mode.map_or(Ok(()), |mode| f.set_permissions(mode))
        },
        |e| e,
    )
}

/// Longest file name narrate builds from a user's name before shortening it (file systems allow 255 bytes, and
/// derived names add a prefix and suffix).
const MAX_NAME: usize = 120;

/// `name` as a part of a derived file name: as is when short, else its first characters and a hash of the whole
/// (so two long names that start alike still differ).
pub(crate) fn short_name(name: &str) -> std::borrow::Cow<'_, str> {
    if name.len() <= MAX_NAME {
        return name.into();
    }
    let mut cut = 80;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let hash = blake3::hash(name.as_bytes()).to_hex();
    format!("{}~{}", &name[..cut], &hash[..16]).into()
}

/// Whether the process `pid` is running on this machine.
fn alive(pid: u32) -> bool {
    pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists()
}

/// The owner's process id in a temporary name this module made (`.NAME.PID.XXXXXX.partial` or a staging folder
/// `.NAME.PID.stage`).
fn owner(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix('.')?;
    if let Some(rest) = rest.strip_suffix(".partial") {
        let mut parts = rest.rsplitn(3, '.');
        let _random = parts.next()?;
        return parts.next()?.parse().ok();
    }
    let rest = rest.strip_suffix(".stage")?;
    rest.rsplit_once('.')?.1.parse().ok()
}

/// Whether `file_name` is a temporary file or staging folder this module made for a process that is gone.
pub(crate) fn is_leftover(file_name: &str) -> bool {
    owner(file_name).is_some_and(|pid| !alive(pid))
}

/// Removes temporary files and staging folders in `dir` whose writing process is gone (killed mid-write): they
/// would otherwise stay for ever, some as large as an edition. Returns how many were removed.
pub(crate) fn clean_leftovers(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        if !is_leftover(&name.to_string_lossy()) {
            continue;
        }
        let path = e.path();
        let gone = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed += usize::from(gone.is_ok());
    }
    removed
}

/// An advisory lock (`flock`) on a folder or a lock file (created if missing), held until dropped. Another narrate
/// process taking the same lock waits for it.
pub(crate) struct Lock {
    _file: File,
}

impl Lock {
    /// Takes the lock at `path`, calling `waiting` once first if another process holds it (to say so).
    pub(crate) fn acquire(path: &Path, waiting: impl FnOnce()) -> io::Result<Lock> {
        let file = if path.is_dir() {
            File::open(path)?
        } else {
            File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path)?
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                waiting();
                file.lock()?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        Ok(Lock { _file: file })
    }
}

/// The files of one group (an edition), written into a hidden staging folder beside their final place and moved
/// there together by [`Staging::commit`]. The commit writes a journal first, so a process killed half-way
/// through the renames leaves a group that [`recover`] finishes: a reader sees the old group or, once recovered,
/// the new one, never a mix that stays. A staging folder dropped without a commit is removed.
pub(crate) struct Staging {
    dir: std::path::PathBuf,
    stage: std::path::PathBuf,
    committed: bool,
}

/// The journal a commit writes into its staging folder: the names to move, in order, one per line.
const JOURNAL: &str = "COMMIT";

impl Staging {
    /// A new staging folder for the group `name` in `dir`. Call [`recover`] first (under the group's lock).
    pub(crate) fn begin(dir: &Path, name: &str) -> io::Result<Staging> {
        let stage = dir.join(format!(
            ".{}.{}.stage",
            short_name(name),
            std::process::id()
        ));
        if stage.exists() {
            std::fs::remove_dir_all(&stage)?;
        }
        std::fs::create_dir(&stage)?;
        Ok(Staging {
            dir: dir.to_owned(),
            stage,
            committed: false,
        })
    }

    /// Where to write the file that will be `dir/file_name`.
    pub(crate) fn path(&self, file_name: &str) -> std::path::PathBuf {
        self.stage.join(file_name)
    }

    /// Moves the staged files into place in the order given (the last one is the group's commit point: the
    /// manifest), after syncing them and writing the journal. `outside` are files of the same group that live in
    /// another folder (a takes file beside its essay): each already written to a temporary name beside its final
    /// one (`(temporary, final)`), moved into place just before the last staged file. `retired` are files in
    /// `dir` the group had and has no more (a compressed edition of another format): moved into the staging
    /// folder after the last staged file, and gone with it.
    ///
    /// All or nothing: each file replaced is first linked into the staging folder, so when a rename fails the
    /// ones already made are undone (the previous files put back, new ones removed) and the error names the file.
    /// A process killed half-way leaves the journal, and [`recover`] finishes the commit.
    pub(crate) fn commit(
        mut self,
        order: &[String],
        retired: &[String],
        outside: &[(std::path::PathBuf, std::path::PathBuf)],
    ) -> Result<(), Failed> {
        let failed = |path: &Path| {
            let path = path.to_owned();
            move |source| Failed { path, source }
        };
        for name in order {
            let path = self.stage.join(name);
            File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(failed(&path))?;
        }
        let moves = self.moves(order, retired, outside);
        let gone = self.stage.join(RETIRED);
        std::fs::create_dir(&gone).map_err(failed(&gone))?;
        let journal = Journal { moves: &moves };
        let journal_path = self.stage.join(JOURNAL);
        write_bytes(&journal_path, &journal.to_bytes()).map_err(failed(&journal_path))?;
        let old = self.stage.join(OLD);
        std::fs::create_dir(&old).map_err(failed(&old))?;
        self.committed = true;
        let mut done: Vec<(usize, Option<std::path::PathBuf>)> = Vec::new();
        for (i, (from, to)) in moves.iter().enumerate() {
            let step = || -> io::Result<Option<std::path::PathBuf>> {
                let kept = old.join(i.to_string());
                let kept = match std::fs::hard_link(to, &kept) {
                    Ok(()) => Some(kept),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                    Err(e) => return Err(e),
                };
                failing_for_a_test(i + 1)?;
                std::fs::rename(from, to)?;
                Ok(kept)
            };
            match step() {
                Ok(kept) => done.push((i, kept)),
                Err(source) => {
                    // Undo, newest first: each file back where it came from (a new one into the staging
                    // folder, a retired one into place), then the one it replaced.
                    for (j, kept) in done.into_iter().rev() {
                        let (from, to) = &moves[j];
                        let _ = std::fs::rename(to, from);
                        if let Some(kept) = kept {
                            let _ = std::fs::rename(kept, to);
                        }
                    }
                    let _ = std::fs::remove_file(&journal_path);
                    for (from, _) in outside {
                        let _ = std::fs::remove_file(from);
                    }
                    let _ = std::fs::remove_dir_all(&self.stage);
                    // A retired file's move is named by the file, not by its place in the staging folder.
                    let path = if to.starts_with(&self.stage) {
                        from
                    } else {
                        to
                    };
                    return Err(Failed {
                        path: path.clone(),
                        source,
                    });
                }
            }
            killed_for_a_test(i + 1);
        }
        for dir in
            std::iter::once(self.dir.as_path()).chain(outside.iter().map(|(_, to)| parent(to)))
        {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        std::fs::remove_dir_all(&self.stage).map_err(failed(&self.stage))
    }

    /// Every rename of a commit, `(from, to)`, in order: the staged files, the outside ones before the last.
    fn moves(
        &self,
        order: &[String],
        retired: &[String],
        outside: &[(std::path::PathBuf, std::path::PathBuf)],
    ) -> Vec<(std::path::PathBuf, std::path::PathBuf)> {
        let staged = |name: &String| (self.stage.join(name), self.dir.join(name));
        let (last, first) = order
            .split_last()
            .map_or((None, &[][..]), |(l, f)| (Some(l), f));
        first
            .iter()
            .map(staged)
            .chain(outside.iter().cloned())
            .chain(last.map(staged))
            .chain(
                retired
                    .iter()
                    .map(|name| (self.dir.join(name), self.stage.join(RETIRED).join(name))),
            )
            .collect()
    }
}

/// A commit that could not be made (and was undone): the file whose step failed, and why.
#[derive(Debug)]
pub(crate) struct Failed {
    pub path: std::path::PathBuf,
    pub source: io::Error,
}

/// The folder in a staging folder where the files a commit replaces are linked, to be put back if it fails.
const OLD: &str = "replaced";
/// The folder in a staging folder where a commit moves the files the group has no more.
const RETIRED: &str = "retired";

/// A commit's journal: every rename, as (from, to) paths, one pair per two lines (JSON strings, so any path
/// fits on a line).
struct Journal<'a> {
    moves: &'a [(std::path::PathBuf, std::path::PathBuf)],
}

impl Journal<'_> {
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::from("narrate commit 2\n");
        for (from, to) in self.moves {
            for p in [from, to] {
                out.push_str(&serde_json::to_string(&p.to_string_lossy()).unwrap_or_default());
                out.push('\n');
            }
        }
        out.into_bytes()
    }

    /// The renames a journal lists (paths relative to `stage` and `dir` in a journal of an older narrate, which
    /// listed only the staged names).
    fn read(text: &str, stage: &Path, dir: &Path) -> Vec<(std::path::PathBuf, std::path::PathBuf)> {
        let Some(rest) = text.strip_prefix("narrate commit 2\n") else {
            return text
                .lines()
                .filter(|l| !l.is_empty())
                .map(|name| (stage.join(name), dir.join(name)))
                .collect();
        };
        let paths: Vec<std::path::PathBuf> = rest
            .lines()
            .filter_map(|l| serde_json::from_str::<String>(l).ok())
            .map(std::path::PathBuf::from)
            .collect();
        paths
            .chunks_exact(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect()
    }
}

/// Fault injection for the reliability tests: with `NARRATE_TEST_FAIL_RENAME=N`, the Nth rename of a commit fails
/// as a full disk or an immutable file would make it fail.
fn failing_for_a_test(renames: usize) -> io::Result<()> {
    let n = std::env::var("NARRATE_TEST_FAIL_RENAME")
        .ok()
        .and_then(|v| v.parse::<usize>().ok());
    if n == Some(renames) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "operation not permitted (a fault injected by NARRATE_TEST_FAIL_RENAME)",
        ));
    }
    Ok(())
}

/// Fault injection for the reliability tests: with `NARRATE_TEST_KILL_AFTER_RENAME=N`, the process kills itself
/// with SIGKILL right after the Nth rename of a commit, as a crash or `kill -9` would stop it there.
fn killed_for_a_test(renames: usize) {
    let Some(n) = std::env::var("NARRATE_TEST_KILL_AFTER_RENAME")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    else {
        return;
    };
    if renames == n {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &std::process::id().to_string()])
            .status();
        std::process::abort();
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.stage);
        }
    }
}

/// Finishes or discards what an interrupted writer of the group `name` left in `dir`: a staging folder with a
/// journal is committed (its remaining files moved into place), one without is removed. Call it under the
/// group's lock. Returns whether an interrupted commit was finished.
pub(crate) fn recover(dir: &Path, name: &str) -> io::Result<bool> {
    let prefix = format!(".{}.", short_name(name));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(false);
    };
    let mut finished = false;
    for e in entries.flatten() {
        let file_name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = file_name.strip_prefix(&prefix) else {
            continue;
        };
        let Some(pid) = rest
            .strip_suffix(".stage")
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let stage = e.path();
        if pid != std::process::id() && alive(pid) {
            continue;
        }
        if let Ok(journal) = std::fs::read_to_string(stage.join(JOURNAL)) {
            for (from, to) in Journal::read(&journal, &stage, dir) {
                if from.exists() {
                    std::fs::rename(&from, &to)?;
                }
            }
            finished = true;
        }
        std::fs::remove_dir_all(&stage)?;
    }
    Ok(finished)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_keeps_the_old_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        write_bytes(&path, b"old").unwrap();
        let err = write(
            &path,
            |f| {
                io::Write::write_all(f, b"half")?;
                Err::<(), _>(io::Error::other("boom"))
            },
            |e| e,
        );
        assert!(err.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn temp_names_carry_the_owner_and_leftovers_of_dead_owners_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.wav");
        let live = temp_beside(&path).unwrap();
        let name = live
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert_eq!(owner(&name), Some(std::process::id()), "{name}");
        // A process id that cannot be running (above the kernel's pid_max).
        let dead = dir.path().join(".e.wav.99999999.abc123.partial");
        std::fs::write(&dead, b"half").unwrap();
        let stage = dir.path().join(".e.99999999.stage");
        std::fs::create_dir(&stage).unwrap();
        std::fs::write(dir.path().join("keep.wav"), b"x").unwrap();
        assert_eq!(clean_leftovers(dir.path()), 2);
        assert!(!dead.exists() && !stage.exists() && live.path().exists());
        assert!(dir.path().join("keep.wav").exists());
    }

    #[test]
    fn a_linked_file_is_written_through_its_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let target = real.join("essay.md");
        std::fs::write(&target, b"old").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("essay.md");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_bytes_like(&link, b"new", &link).unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert_eq!(
            std::fs::read_dir(&real).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn long_names_are_shortened_with_a_hash() {
        let long = "é".repeat(150);
        let short = short_name(&long);
        assert!(short.len() <= MAX_NAME && short.len() > 80, "{short}");
        assert_ne!(short, short_name(&format!("{long}x")));
        assert_eq!(short_name("essay"), "essay");
    }

    #[test]
    fn a_group_commits_whole_and_an_interrupted_commit_is_finished() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in ["a.wav", "a.json"] {
            std::fs::write(d.join(f), b"old").unwrap();
        }
        // Dropped before commit: nothing changes, nothing is left.
        let s = Staging::begin(d, "a").unwrap();
        std::fs::write(s.path("a.wav"), b"new").unwrap();
        drop(s);
        assert_eq!(std::fs::read(d.join("a.wav")).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(d).unwrap().count(), 2);
        // Committed.
        let s = Staging::begin(d, "a").unwrap();
        for f in ["a.wav", "a.json"] {
            std::fs::write(s.path(f), b"new").unwrap();
        }
        s.commit(&["a.wav".into(), "a.json".into()], &[], &[])
            .unwrap();
        assert_eq!(std::fs::read(d.join("a.json")).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(d).unwrap().count(), 2);
        // A commit cut after its first rename (as a kill would leave it), from a process now gone.
        let stage = d.join(".a.99999999.stage");
        std::fs::create_dir(&stage).unwrap();
        std::fs::write(stage.join("a.json"), b"newer").unwrap();
        std::fs::write(d.join("a.wav"), b"newer").unwrap();
        std::fs::write(stage.join(JOURNAL), "a.wav\na.json").unwrap();
        assert!(recover(d, "a").unwrap());
        assert_eq!(std::fs::read(d.join("a.json")).unwrap(), b"newer");
        assert!(!stage.exists());
        // One cut before its journal: discarded.
        std::fs::create_dir(&stage).unwrap();
        std::fs::write(stage.join("a.json"), b"newest").unwrap();
        assert!(!recover(d, "a").unwrap());
        assert_eq!(std::fs::read(d.join("a.json")).unwrap(), b"newer");
        assert!(!stage.exists());
    }

    #[test]
    fn a_lock_is_exclusive_between_holders() {
        let dir = tempfile::tempdir().unwrap();
        for path in [dir.path().join(".lock"), dir.path().to_owned()] {
            let held = Lock::acquire(&path, || panic!("free")).unwrap();
            let other = File::open(&path).unwrap();
            assert!(matches!(
                other.try_lock(),
                Err(std::fs::TryLockError::WouldBlock)
            ));
            drop(held);
            assert!(other.try_lock().is_ok());
        }
    }
}
