//! User-facing errors: each names what went wrong and what the user can do about it.

use std::path::PathBuf;

/// Every error the library reports to a user. `main` prints the message on one line and the hint, if any, below.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: cannot read the essay: {source}")]
    ReadEssay {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: is {kind}, not an essay file; give a Markdown (.md), HTML or plain-text file"
    )]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error("{path}: the essay is {mb} MB, over the limit of {limit_mb} MB; raise `max_essay_mb` (or --max-essay-mb) if it really is one essay")]
    EssayTooLarge {
        path: PathBuf,
        mb: u64,
        limit_mb: u64,
    },
    #[error("{path}: the essay is empty; write some text into it (Markdown or plain text)")]
    EmptyEssay { path: PathBuf },
    #[error("{path}:{line}: not valid UTF-8 text (byte {byte}); save the essay as UTF-8")]
    NotUtf8 {
        path: PathBuf,
        line: usize,
        byte: usize,
    },
    #[error("{path}:{line}: looks like a binary file, not an essay; give a Markdown (.md) or plain-text (.txt) file")]
    Binary { path: PathBuf, line: usize },
    /// An EPUB that cannot be read safely or at all: damaged, DRM, a zip bomb, a path out of the book.
    #[error("{path}: cannot read the book: {problem}; {remedy}")]
    Book {
        path: PathBuf,
        problem: String,
        remedy: &'static str,
    },
    #[error(
        "unknown segment id `{id}` in {path}; run `narrate plan {path}` to list the segment ids"
    )]
    UnknownSegment { id: String, path: PathBuf },
    #[error(
        "segment id `{id}` is ambiguous in {path}: it matches {matches}; give more characters"
    )]
    AmbiguousSegment {
        id: String,
        path: PathBuf,
        matches: String,
    },
    #[error("{path}: cannot write output here: {source}; choose another directory with -o DIR")]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An edition's audio that cannot be read (`check`): the fix is a rebuild, not another output directory.
    #[error("{path}: cannot read the edition's audio: {reason}; the file is damaged or cut short: build the edition again")]
    ReadAudio { path: PathBuf, reason: String },
    /// `check --listen` without its recognizer.
    #[error("cannot listen to the edition: {reason}")]
    Listen { reason: String },
    #[error("{path}: cache error: {source}; pick another cache with --cache DIR or NARRATE_CACHE")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: corrupt cached audio ({reason}); delete the file and build again")]
    CorruptCache { path: PathBuf, reason: String },
    #[error("backend `{backend}` is not available: {}", reason.split_whitespace().collect::<Vec<_>>().join(" "))]
    BackendUnavailable { backend: String, reason: String },
    #[error("unknown backend `{name}`; run `narrate voices` to list backends")]
    UnknownBackend { name: String },
    #[error("segment {id} (line {line}): {backend} failed: {reason}")]
    Synthesis {
        id: String,
        line: usize,
        backend: String,
        reason: String,
    },
    #[error("{} of {total} segments failed{}: {}; the segments that finished are cached, so running the same command again only retries these",
        failed.len(),
        if *skipped > 0 { format!(" ({skipped} more not tried)") } else { String::new() },
        list_failures(failed))]
    SegmentsFailed {
        total: usize,
        skipped: usize,
        failed: Vec<Error>,
    },
    #[error("{path}: bad state file: {reason}; fix or delete it (it only records chosen takes)")]
    State { path: PathBuf, reason: String },
    #[error("{path}: unreadable manifest: {reason}; delete it and build again")]
    Manifest { path: PathBuf, reason: String },
    #[error("{path}: bad settings file: {reason}")]
    Settings { path: PathBuf, reason: String },
    #[error("{failed} of {total} essays failed; their errors are in {report}")]
    BatchFailed {
        failed: usize,
        total: usize,
        report: PathBuf,
    },
    #[error("{wav}: the check found {problems} problem(s)")]
    CheckFailed { wav: PathBuf, problems: usize },
    #[error(
        "{cache}: {damaged} damaged segment(s); `narrate cache verify --repair` moves them aside"
    )]
    CacheDamaged { cache: PathBuf, damaged: usize },
    #[error("{0}")]
    Invalid(String),
    /// A bad command line (a value clap could not check on its own).
    #[error("{0}")]
    Usage(String),
}

/// Exit codes, as ripgrep's: 0 success; 1 the command ran and found problems (`check` findings, essays of a batch
/// that failed); 2 it could not do what was asked (bad settings or input, a failed build).
impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::CheckFailed { .. } | Error::BatchFailed { .. } | Error::CacheDamaged { .. } => 1,
            _ => 2,
        }
    }

    /// An optional second line telling the user how to fix the problem (a backend that cannot run says how to
    /// install it: `narrate::hint`, which asks the backend registry).
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Listen { .. } => Some(
                "--listen needs PocketSphinx and its English model: `apt-get install libpocketsphinx3 pocketsphinx-en-us` (scripts/demo does this)"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// The first few failures of a run, `; `-separated, then how many more.
/// When every failure has the same reason (a wrong voice, a server that refuses everything), the reason is
/// said once and the segments are only named.
fn list_failures(failed: &[Error]) -> String {
    const SHOWN: usize = 3;
    let reason_of = |e: &Error| match e {
        Error::Synthesis {
            backend, reason, ..
        } => Some(format!("{backend} failed: {reason}")),
        _ => None,
    };
    let first = failed.first().and_then(reason_of);
    if failed.len() > 1 && first.is_some() && failed.iter().all(|e| reason_of(e) == first) {
        let mut names: Vec<String> = failed
            .iter()
            .take(SHOWN)
            .filter_map(|e| match e {
                Error::Synthesis { id, line, .. } => Some(format!("{id} (line {line})")),
                _ => None,
            })
            .collect();
        if failed.len() > SHOWN {
            names.push(format!("and {} more", failed.len() - SHOWN));
        }
        return format!(
            "segments {}, all with: {}",
            names.join(", "),
            first.unwrap_or_default()
        );
    }
    let mut list: Vec<String> = failed.iter().take(SHOWN).map(Error::to_string).collect();
    if failed.len() > SHOWN {
        list.push(format!("and {} more", failed.len() - SHOWN));
    }
    list.join("; ")
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
