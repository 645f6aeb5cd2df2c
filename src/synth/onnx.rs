//! ONNX Runtime for the neural backends (Piper, hibari): one environment per process, loaded at run time from
//! `libonnxruntime.so` (found by `onnxruntime_library`), and sessions built the one way narrate
//! runs them, from an optimized copy of the model kept beside it once one is made ([`open_optimized`]).

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};

use ort::environment::Environment;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::session::Session;

static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

/// The process's ONNX Runtime environment, loaded on first use; the error says how to install the library.
pub(crate) fn environment() -> Result<&'static Environment, String> {
    ENVIRONMENT
        .get_or_init(|| {
            let lib = onnxruntime_library()?;
            ort::init_from(&lib)
                .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", lib.display()))?
                .with_name("narrate")
                .with_telemetry(false)
                .build()
                .map_err(|e| format!("cannot start ONNX Runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A session builder with one intra-op thread and no spinning, whatever the cores and `--jobs`: ONNX Runtime's
/// kernels round differently when split over another number of threads, and a take must give the same samples
/// everywhere. Parallelism comes from one session per worker (a pool per model), which measured faster on 2
/// cores anyway (docs/BENCHMARKS.md); spinning threads would only burn the other worker's core.
pub(crate) fn builder(env: &Environment) -> ort::Result<SessionBuilder> {
    Ok(Session::builder(env)?
        .with_optimization_level(GraphOptimizationLevel::All)?
        .with_intra_threads(1)?
        .with_inter_threads(1)?
        .with_config_entry("session.intra_op.allow_spinning", "0")?)
}

/// The sessions of one model not in use, shared by the workers (ONNX Runtime's `Run` is not called on one session
/// from two threads at once): a worker takes one or opens one, runs, and puts it back. A session can be opened
/// ahead of need ([`Pool::open_ahead`], while a build plans its essay); a worker that finds none idle waits for
/// one being opened ahead when no other worker waits for it already, rather than open another.
#[derive(Default)]
pub(crate) struct Pool {
    state: Mutex<PoolState>,
    opened: Condvar,
}

#[derive(Default)]
struct PoolState {
    idle: Vec<Session>,
    opening: usize,
    waiting: usize,
}

impl Pool {
    fn state(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An idle session (perhaps one being opened ahead, waited for), else one `open` makes.
    pub(crate) fn take(
        &self,
        open: impl FnOnce() -> Result<Session, String>,
    ) -> Result<Session, String> {
        let mut state = self.state();
        loop {
            if let Some(session) = state.idle.pop() {
                return Ok(session);
            }
            if state.opening <= state.waiting {
                break;
            }
            state.waiting += 1;
            state = self.opened.wait(state).unwrap_or_else(|e| e.into_inner());
            state.waiting -= 1;
        }
        drop(state);
        open()
    }

    /// Gives a session back for the next request.
    pub(crate) fn put(&self, session: Session) {
        self.state().idle.push(session);
    }

    /// Opens a session with `open` for the first request, unless one is idle or being opened already. A failure
    /// is left to that request, which opens one again and says why.
    pub(crate) fn open_ahead(&self, open: impl FnOnce() -> Result<Session, String>) {
        {
            let mut state = self.state();
            if !state.idle.is_empty() || state.opening > 0 {
                return;
            }
            state.opening += 1;
        }
        let opened = open();
        let mut state = self.state();
        state.opening -= 1;
        if let Ok(session) = opened {
            state.idle.push(session);
        }
        drop(state);
        self.opened.notify_all();
    }

    /// How many sessions are idle.
    #[cfg(test)]
    pub(crate) fn idle(&self) -> usize {
        self.state().idle.len()
    }

    /// Whether a session is idle or being opened.
    #[cfg(test)]
    pub(crate) fn opening_or_idle(&self) -> bool {
        let state = self.state();
        state.opening > 0 || !state.idle.is_empty()
    }
}

/// Where a model's optimized copies are kept, and what names them.
pub(crate) struct Optimized<'a> {
    /// The folder of the copies (the model's own, or narrate's data folder).
    pub dir: &'a Path,
    /// The start of the copies' file names (`NAME.optimized-KEY-CONTENT.onnx`).
    pub name: &'a str,
    /// What the model is: its file's hash and the version of any edit narrate makes to it. With ONNX Runtime's
    /// build and the CPU's features it makes the copy's KEY, so another model, library or CPU makes another copy.
    pub identity: String,
}

/// The version of how copies are made and named: part of every KEY.
const OPTIMIZED_RULE: &str = "narrate-onnx-optimized-v1";

/// A session for a model, as [`builder`] makes it, without optimizing the graph again on every start: the
/// first session writes the graph ONNX Runtime optimized (all levels) into `copy.dir`, and later ones load that
/// copy with the optimizer off, which takes a fifth of the time (for hibari, about 100 ms less at every start,
/// on each worker). The copy gives the same samples bit for bit (a test compares them). It is named by
/// everything that shapes it — the model, the library's build, the CPU's features (some rewrites are for this
/// CPU's instruction set) — and by the hash of its own bytes, checked before each use: a damaged copy is removed
/// and made again. `model` gives the model's bytes, and is only called when a copy has to be made; where the
/// folder cannot be written, the session is made as before and nothing is kept.
pub(crate) fn open_optimized<'m>(
    env: &Environment,
    copy: &Optimized,
    model: impl FnOnce() -> Result<Cow<'m, [u8]>, String>,
) -> Result<Session, String> {
    let key = optimized_key(&copy.identity);
    let prefix = format!("{}.optimized-{key}-", copy.name);
    for (path, named) in optimized_copies(copy.dir, &prefix) {
        // Read one at a time: the first whole copy is the one used.
        let bytes = std::fs::read(&path).unwrap_or_default();
        let opened = (named == content_hash(&bytes))
            .then(|| {
                builder(env)
                    .and_then(|b| Ok(b.with_optimization_level(GraphOptimizationLevel::Disable)?))
                    .and_then(|mut b| b.commit_from_memory(&bytes))
                    .ok()
            })
            .flatten();
        match opened {
            Some(session) => return Ok(session),
            // Damaged, or not loadable by this library after all: made again below.
            None => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    let bytes = model()?;
    crate::atomic::clean_leftovers(copy.dir);
    let failed = |e: ort::Error| e.to_string();
    let Ok(tmp) = crate::atomic::temp_beside(&copy.dir.join(format!("{prefix}new.onnx"))) else {
        return builder(env)
            .and_then(|mut b| b.commit_from_memory(&bytes))
            .map_err(failed);
    };
    let session = builder(env)
        .and_then(|b| Ok(b.with_optimized_model_path(tmp.path())?))
        .and_then(|mut b| b.commit_from_memory(&bytes))
        .map_err(failed)?;
    // Kept only when it was written whole; a copy that cannot be kept costs the next start its optimizing.
    if let Ok(written) = std::fs::read(tmp.path()) {
        if !written.is_empty() {
            let name = format!("{prefix}{}.onnx", content_hash(&written));
            let _ = tmp.persist(copy.dir.join(name));
        }
    }
    Ok(session)
}

/// The optimized copies in `dir` whose names start with `prefix` (`PREFIX` `HASH` `.onnx`), with the HASH each
/// name gives.
fn optimized_copies(dir: &Path, prefix: &str) -> Vec<(PathBuf, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?;
            let named = name.strip_prefix(prefix)?.strip_suffix(".onnx")?.to_owned();
            Some((p, named))
        })
        .collect()
}

/// The KEY of a model's optimized copy: the model, ONNX Runtime's build and the CPU's features.
fn optimized_key(identity: &str) -> String {
    let mut h = blake3::Hasher::new();
    for part in [OPTIMIZED_RULE, identity, ort::info(), &cpu_features()] {
        h.update(part.as_bytes());
        h.update(&[0]);
    }
    h.finalize().to_hex()[..16].to_string()
}

/// The CPU's feature flags as the kernel lists them (ONNX Runtime picks its kernels and layouts by them).
fn cpu_features() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let mut flags: Vec<&str> = info
        .lines()
        .find(|l| l.starts_with("flags") || l.starts_with("Features"))
        .and_then(|l| l.split_once(':'))
        .map_or(Vec::new(), |(_, f)| f.split_whitespace().collect());
    flags.sort_unstable();
    format!("{} {}", std::env::consts::ARCH, flags.join(" "))
}

/// The first 16 hex digits of the BLAKE3 hash of a copy's bytes: the last part of its name.
fn content_hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex()[..16].to_string()
}

/// Finds `libonnxruntime.so`: `$ORT_DYLIB_PATH`, then the copy `scripts/fetch-voice` installs, then a Python
/// `onnxruntime` package.
pub fn onnxruntime_library() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("ORT_DYLIB_PATH={} does not exist", p.display()))
        };
    }
    // The installed copy first, and only then (a Python start-up, a tenth of a second) the Python package's.
    let python = || {
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))",
            ])
            .output()
            .ok()
            .filter(|out| out.status.success())?;
        Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("capi"))
    };
    let dirs = std::iter::once(Some(super::data_dir().join("onnxruntime")))
        .chain(std::iter::once_with(python))
        .flatten();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut libs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("libonnxruntime.so"))
            })
            .collect();
        libs.sort();
        if let Some(lib) = libs.pop() {
            return Ok(lib);
        }
    }
    Err("the ONNX Runtime library (libonnxruntime.so) is not installed; run scripts/fetch-voice, or set \
         ORT_DYLIB_PATH"
        .into())
}
