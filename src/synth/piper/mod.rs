//! The Piper backend: VITS voices in ONNX run natively through ONNX Runtime, phonemes from libespeak-ng,
//! mapped to IDs exactly as Piper does. No Python at run time.
//!
//! Sessions are pooled per voice: each worker takes one, runs, and puts it back, so `--jobs N` runs N
//! inferences at once and loads the model at most N times per run, never once per segment. ONNX Runtime's
//! `Run` is not safe to call concurrently on one session (see the `ort` crate), hence a pool, not sharing.

pub mod phonemize;
pub mod voice;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;

use super::{Audio, Backend, SpeechRequest, SynthError, VoiceInfo};
use crate::error::{Error, Result};
use voice::{VoiceConfig, VoiceFiles};

pub const DEFAULT_VOICE: &str = "en_US-joe-medium";

/// Roughly how fast Piper voices speak at their configured length_scale, in words a minute.
const NATURAL_WPM: f32 = 170.0;

/// One loaded voice: its config and a pool of sessions.
struct Model {
    files: VoiceFiles,
    config: VoiceConfig,
    pool: Mutex<Vec<Session>>,
    fingerprint: String,
}

#[derive(Default)]
pub struct Piper {
    models: Mutex<HashMap<String, Arc<Model>>>,
    /// Workers the run will use (set by `prepare`); each session gets cores / jobs intra-op threads.
    jobs: AtomicUsize,
}

static ENVIRONMENT: OnceLock<std::result::Result<ort::environment::Environment, String>> =
    OnceLock::new();

fn environment() -> std::result::Result<&'static ort::environment::Environment, String> {
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

fn unavailable(reason: String) -> Error {
    Error::BackendUnavailable {
        backend: "piper".into(),
        reason,
    }
}

/// BLAKE3 of a file's bytes (the first 16 hex digits).
fn file_hash(path: &Path) -> std::result::Result<String, String> {
    let mut hasher = blake3::Hasher::new();
    hasher
        .update_mmap(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(hasher.finalize().to_hex()[..16].to_string())
}

/// Phoneme IDs for one sentence, as Piper builds them: `^`, pad, then each phoneme followed by pad, then `$`.
/// Phonemes missing from the map are skipped (Piper logs and skips them too).
pub fn phoneme_ids(phonemes: &[char], map: &HashMap<String, Vec<i64>>) -> Vec<i64> {
    let mut ids = Vec::with_capacity(phonemes.len() * 2 + 3);
    let mut buf = [0u8; 4];
    ids.extend(&map["^"]);
    ids.extend(&map["_"]);
    for p in phonemes {
        if let Some(id) = map.get(p.encode_utf8(&mut buf) as &str) {
            ids.extend(id);
            ids.extend(&map["_"]);
        }
    }
    ids.extend(&map["$"]);
    ids
}

impl Piper {
    fn model(&self, name: &str) -> std::result::Result<Arc<Model>, String> {
        let mut models = self.models.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = models.get(name) {
            return Ok(m.clone());
        }
        let files = voice::find(name)?;
        let config = VoiceConfig::load(&files.config)?;
        let fingerprint = format!(
            "piper model={} config={} espeak={}",
            file_hash(&files.model)?,
            file_hash(&files.config)?,
            phonemize::version()?
        );
        let model = Arc::new(Model {
            files,
            config,
            pool: Mutex::new(Vec::new()),
            fingerprint,
        });
        models.insert(name.to_string(), model.clone());
        Ok(model)
    }

    fn new_session(&self, model: &Model) -> std::result::Result<Session, String> {
        let env = environment()?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = (cores / self.jobs.load(Ordering::Relaxed).max(1)).max(1);
        let path = &model.files.model;
        // Measured on 2 cores (docs/BENCHMARKS.md): one single-threaded session per worker beats fewer sessions
        // with more intra-op threads; spinning threads only burn the other worker's core.
        let open = || -> ort::Result<Session> {
            Session::builder(env)?
                .with_optimization_level(GraphOptimizationLevel::All)?
                .with_intra_threads(threads)?
                .with_inter_threads(1)?
                .with_config_entry("session.intra_op.allow_spinning", "0")?
                .commit_from_file(path)
        };
        let session = open().map_err(|e| {
            format!(
                "{}: cannot load the model ({e}); the file may be damaged: fetch it again with scripts/fetch-voice",
                path.display()
            )
        })?;
        let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        let mut wanted = vec!["input", "input_lengths", "scales"];
        if model.config.num_speakers > 1 {
            wanted.push("sid");
        }
        if let Some(missing) = wanted.iter().find(|w| !inputs.contains(w)) {
            return Err(format!(
                "{} does not match {}: the model has no `{missing}` input (it has {inputs:?}); use the config \
                 that came with the model",
                model.files.config.display(),
                path.display()
            ));
        }
        Ok(session)
    }

    /// Runs the model on one sentence's IDs and returns its samples. `speed` scales the speaking rate (1.0: the
    /// voice's own).
    fn infer(
        &self,
        model: &Model,
        ids: Vec<i64>,
        speed: f32,
    ) -> std::result::Result<Vec<f32>, String> {
        let taken = model.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut session = match taken {
            Some(s) => s,
            None => self.new_session(model)?,
        };
        let inf = &model.config.inference;
        let n = ids.len();
        let result = (|| -> ort::Result<Vec<f32>> {
            let mut inputs = ort::inputs![
                "input" => Tensor::from_array(([1usize, n], ids))?,
                "input_lengths" => Tensor::from_array(([1usize], vec![n as i64]))?,
                "scales" => Tensor::from_array(([3usize], vec![inf.noise_scale, inf.length_scale / speed, inf.noise_w]))?,
            ];
            if model.config.num_speakers > 1 {
                inputs.push((
                    "sid".into(),
                    Tensor::from_array(([1usize], vec![0i64]))?.into(),
                ));
            }
            let outputs = session.run(inputs)?;
            let (_, samples) = outputs[0].try_extract_tensor::<f32>()?;
            Ok(samples.to_vec())
        })();
        model
            .pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(session);
        result.map_err(|e| {
            format!(
                "inference failed ({e}); if this voice's config does not belong to its model, use the pair \
                 that was published together"
            )
        })
    }
}

impl Backend for Piper {
    fn name(&self) -> &'static str {
        "piper"
    }
    fn describe(&self) -> &'static str {
        "Piper neural voices (VITS/ONNX, natural speech on the CPU)"
    }
    fn check(&self) -> Result<()> {
        environment().map_err(unavailable)?;
        phonemize::version().map_err(unavailable)?;
        Ok(())
    }
    fn installed(&self) -> bool {
        voice::find(DEFAULT_VOICE).is_ok()
            && voice::onnxruntime_library().is_ok()
            && phonemize::version().is_ok()
    }
    fn default_voice(&self) -> String {
        DEFAULT_VOICE.into()
    }
    fn voices(&self) -> Result<Vec<VoiceInfo>> {
        let voices = voice::installed();
        if voices.is_empty() {
            return Err(unavailable(format!(
                "no Piper voices in {}; run scripts/fetch-voice",
                voice::voice_dirs()
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(voices
            .into_iter()
            .map(|v| {
                let lang = VoiceConfig::load(&v.config).map_or_else(|e| e, |c| c.espeak.voice);
                VoiceInfo {
                    description: v.model.display().to_string(),
                    language: lang,
                    name: v.name,
                }
            })
            .collect())
    }
    fn fingerprint(&self, voice: &str) -> Result<String> {
        Ok(self.model(voice).map_err(unavailable)?.fingerprint.clone())
    }
    fn prepare(&self, jobs: usize) {
        self.jobs.store(jobs, Ordering::Relaxed);
    }
    fn synthesize(&self, request: &SpeechRequest) -> std::result::Result<Audio, SynthError> {
        let model = self.model(request.voice)?;
        let sentences = phonemize::phonemize(&model.config.espeak.voice, request.text)?;
        // --rate in words a minute, against the ~170 a Piper voice speaks at its own length_scale.
        let speed = request.rate.map_or(1.0, |wpm| wpm as f32 / NATURAL_WPM);
        let mut samples: Vec<i16> = Vec::new();
        for sentence in sentences.iter().filter(|s| !s.is_empty()) {
            let ids = phoneme_ids(sentence, &model.config.phoneme_id_map);
            let audio = self.infer(&model, ids, speed)?;
            samples.extend(
                audio
                    .iter()
                    .map(|&v| (v * 32767.0).clamp(-32767.0, 32767.0) as i16),
            );
        }
        Ok(Audio {
            sample_rate: model.config.audio.sample_rate,
            samples,
        })
    }
}
