//! Writing files so that a crash, a kill or an error never leaves a half-written file under the final name.
//!
//! The temporary file is created with the permissions a plain `File::create` would give (0666 less the umask),
//! not tempfile's private 0600, so the rename does not narrow them.

use std::fs::File;
use std::io;
use std::path::Path;

/// Writes `path` through `fill`: into a temporary file in the same directory, synced to disk, then renamed
/// into place. On any error the temporary file is removed and an existing `path` is left as it was. `io_err`
/// turns this function's own I/O errors into the caller's error type.
pub fn write<T, E>(
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
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".partial");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    builder.tempfile_in(parent(path))
}

/// Writes bytes atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write(path, |f| io::Write::write_all(f, bytes), |e| e)
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
}
