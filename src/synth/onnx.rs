//! ONNX Runtime for the neural backends (Piper, hibari): one environment per process, loaded at run time from
//! `libonnxruntime.so` (found by `onnxruntime_library`), and sessions built the one way narrate
//! runs them.

use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::session::Session;

use std::path::PathBuf;

static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

/// The process's ONNX Runtime environment, loaded on first use; the error says how to install the library.
pub(crate) fn environment() -> Result<&'static Environment, String> {
    ENVIRONMENT
        .get_or_init(|| {
            let lib = onnxruntime_library()?;
            ort::init_from(&lib)
                .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", lib.display()))?
                .with_name("narrate")
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
