//! ONNX Runtime for the neural backends (Piper, hibari): one environment per process, loaded at run time from
//! `libonnxruntime.so` (found by `piper::voice::onnxruntime_library`), and sessions built the one way narrate
//! runs them.

use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::session::Session;

use super::piper::voice;

static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

/// The process's ONNX Runtime environment, loaded on first use; the error says how to install the library.
pub(crate) fn environment() -> Result<&'static Environment, String> {
    ENVIRONMENT
        .get_or_init(|| {
            let lib = voice::onnxruntime_library()?;
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
