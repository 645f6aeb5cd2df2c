//! The Piper backend: VITS voices in ONNX run natively through ONNX Runtime, phonemes from libespeak-ng,
//! mapped to IDs exactly as Piper does. No Python at run time.
//!
//! Sessions are pooled per voice: each worker takes one, runs, and puts it back, so `--jobs N` runs N
//! single-threaded inferences at once and loads the model at most N times per run, never once per segment.
//! ONNX Runtime's `Run` is not safe to call concurrently on one session (see the `ort` crate), hence a pool.
//!
//! Takes are reproducible: the voice's random ops are replaced in memory by noise inputs (`graph`), which
//! narrate fills from a seed of the request (`noise`), so the same voice, rate, text and take give the same
//! samples however often, wherever and in whichever session they are rendered.

pub(crate) mod decoder;
pub(crate) mod engine;
pub(crate) mod graph;
pub(crate) mod noise;
pub mod phonemize;
pub(crate) mod prepare;
pub mod voice;
pub(crate) mod words;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use ort::session::Session;
use ort::value::Tensor;

use super::onnx::environment;
use super::{Audio, Backend, SpeechRequest, SynthError, VoiceInfo};
use crate::error::{Error, Result};
use prepare::Prepared;
use voice::{VoiceConfig, VoiceFiles};

pub(crate) const DEFAULT_VOICE: &str = "en_US-joe-medium";

/// Roughly how fast Piper voices speak at their configured length_scale, in words a minute.
const NATURAL_WPM: f32 = 170.0;

/// Noise values a first run gives each random op per phoneme ID, before the voice has shown what it needs
/// (the joe voice's flow uses about 450 at its own speed, its duration predictor 2).
const FIRST_NOISE_PER_ID: usize = 1024;

/// One loaded voice: its config, its prepared graphs and pools of sessions for each.
struct Model {
    files: VoiceFiles,
    config: VoiceConfig,
    fingerprint: String,
    /// The prepared encoder and decoder (`prepare`), once the first request needed them.
    prepared: Mutex<Option<Arc<Prepared>>>,
    /// The noise inputs of the encoder (set when the voice is prepared).
    noise: OnceLock<Vec<Noise>>,
    encoders: super::onnx::Pool,
    /// The engine that decodes (fixed for the process, as the fingerprint says).
    engine: engine::Kind,
    /// ONNX Runtime decoder sessions (engine `Ort`).
    decoders: super::onnx::Pool,
    /// The OpenVINO decoder (engine `OpenVino`), compiled on first use.
    openvino: Mutex<Option<Arc<engine::OpenVinoDecoder>>>,
}

/// One noise input and how long its buffers are made.
struct Noise {
    input: graph::NoiseInput,
    /// Values per phoneme ID for a first try: the most a run has needed so far, with a margin (0 before the
    /// first run). A run that needs more is repeated with exactly what it needed (the noise keeps its values,
    /// see `noise`), so this only saves time; it never changes the audio.
    per_id: AtomicUsize,
}

#[derive(Default)]
pub(crate) struct Piper {
    models: Mutex<HashMap<String, Arc<Model>>>,
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
        let engine = engine::choice();
        let fingerprint = format!(
            "piper model={} config={} espeak={} noise=rewrite-v{}+{} decoder={}-rewrite-v{}",
            file_hash(&files.model)?,
            file_hash(&files.config)?,
            phonemize::version()?,
            graph::NOISE_REWRITE,
            noise::RULE,
            engine.fingerprint(),
            decoder::DECODER_REWRITE,
        );
        let model = Arc::new(Model {
            files,
            config,
            fingerprint,
            prepared: Mutex::new(None),
            noise: OnceLock::new(),
            encoders: super::onnx::Pool::default(),
            engine: engine.kind,
            decoders: super::onnx::Pool::default(),
            openvino: Mutex::new(None),
        });
        models.insert(name.to_string(), model.clone());
        Ok(model)
    }

    /// The voice prepared (`prepare`): found beside it, or made on its first use.
    fn prepared(&self, model: &Model) -> std::result::Result<Arc<Prepared>, String> {
        let mut prepared = model.prepared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = &*prepared {
            return Ok(p.clone());
        }
        let p = Arc::new(prepare::prepare(&model.files)?);
        model.noise.get_or_init(|| {
            p.manifest
                .noise
                .iter()
                .map(|input| Noise {
                    input: input.clone(),
                    per_id: AtomicUsize::new(0),
                })
                .collect()
        });
        *prepared = Some(p.clone());
        Ok(p)
    }

    fn encoder_session(&self, model: &Model) -> std::result::Result<Session, String> {
        let prepared = self.prepared(model)?;
        let session = open_session(&prepared.encoder)?;
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
                model.files.model.display()
            ));
        }
        Ok(session)
    }

    /// Runs the voice on one sentence's IDs and returns its samples and the latent frames of each ID (`hop`
    /// samples each). `speed` scales the speaking rate (1.0: the voice's own); the noise is sentence
    /// `sentence`'s of the request whose seed is `seed`.
    fn infer(
        &self,
        model: &Model,
        ids: &[i64],
        speed: f32,
        seed: &[u8; 32],
        sentence: usize,
    ) -> std::result::Result<(Vec<f32>, Vec<f32>), String> {
        let prepared = self.prepared(model)?;
        let inf = &model.config.inference;
        let scales = [inf.noise_scale, inf.length_scale / speed, inf.noise_w];
        let links = {
            let mut session = model.encoders.take(|| self.encoder_session(model))?;
            let outputs: Vec<&str> = prepared
                .manifest
                .links
                .iter()
                .chain([&prepared.manifest.durations])
                .map(String::as_str)
                .collect();
            let result = run_seeded(&mut session, model, ids, scales, seed, sentence, &outputs);
            model.encoders.put(session);
            result?
        };
        let mut links = links;
        let (_, durations) = links.pop().ok_or("inference failed: no durations")?;
        if durations.len() != ids.len() {
            return Err("inference failed: the durations are not one per phoneme ID".into());
        }
        if model.engine == engine::Kind::OpenVino {
            let decoder = openvino_decoder(model, &prepared)?;
            return Ok((decoder.decode(&prepared, &links)?, durations));
        }
        let mut session = model.decoders.take(|| open_session(&prepared.decoder))?;
        let result = decode(&mut session, &prepared.manifest, links).map_err(inference_failed);
        model.decoders.put(session);
        Ok((result?, durations))
    }

    /// Opens the voice's encoder and decoder ahead of its first request (preparing the voice first if it is
    /// not yet).
    fn open_ahead(&self, voice: &str) {
        let Ok(model) = self.model(voice) else { return };
        let Ok(prepared) = self.prepared(&model) else {
            return;
        };
        model.encoders.open_ahead(|| self.encoder_session(&model));
        if model.engine == engine::Kind::OpenVino {
            let _ = openvino_decoder(&model, &prepared);
        } else {
            model
                .decoders
                .open_ahead(|| open_session(&prepared.decoder));
        }
    }
}

/// The voice's OpenVINO decoder, compiled on first use (a request made meanwhile waits for it).
fn openvino_decoder(
    model: &Model,
    prepared: &Prepared,
) -> std::result::Result<Arc<engine::OpenVinoDecoder>, String> {
    let mut ov = model.openvino.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = &*ov {
        return Ok(d.clone());
    }
    let d =
        Arc::new(engine::OpenVinoDecoder::new(prepared).map_err(|e| {
            format!("{e}; set NARRATE_PIPER_ENGINE=ort to decode with ONNX Runtime")
        })?);
    *ov = Some(d.clone());
    Ok(d)
}

/// A session on a prepared graph. One intra-op thread, whatever the cores and --jobs: ONNX Runtime's
/// convolutions round differently when split over another number of threads (±1 in a few 16-bit samples of one
/// sentence in six), and a take must give the same samples everywhere. Parallelism comes from one session per
/// worker, which measured faster on 2 cores anyway (docs/BENCHMARKS.md); spinning threads would only burn the
/// other worker's core.
///
/// The graph ONNX Runtime optimizes is kept beside the prepared file (`super::onnx::open_optimized`), named by
/// the prepared file's name (its voice's hash and the rewrites' versions) and length.
fn open_session(path: &Path) -> std::result::Result<Session, String> {
    open_session_keeping(path, path.parent().unwrap_or(Path::new(".")))
}

/// [`open_session`], keeping the optimized graph in `dir`.
fn open_session_keeping(path: &Path, dir: &Path) -> std::result::Result<Session, String> {
    let env = environment()?;
    let name = path
        .file_stem()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let length = std::fs::metadata(path).map_or(0, |m| m.len());
    let copy = super::onnx::Optimized {
        dir,
        name: &name,
        identity: format!("{name} {length}"),
    };
    super::onnx::open_optimized(env, &copy, || {
        std::fs::read(path)
            .map(std::borrow::Cow::Owned)
            .map_err(|e| e.to_string())
    })
    .map_err(|e| {
        format!(
            "{}: cannot load the prepared voice ({e}); delete it and run again to prepare the voice anew",
            path.display()
        )
    })
}

/// A float tensor taken out of a run: its shape and values.
type Link = (Vec<usize>, Vec<f32>);

/// Runs the rewritten decoder on the encoder's links (`[1, C, W]` each, given to it as `[1, C, 1, W]`).
fn decode(
    session: &mut Session,
    manifest: &prepare::Manifest,
    links: Vec<Link>,
) -> ort::Result<Vec<f32>> {
    let frames = links
        .first()
        .and_then(|(shape, _)| shape.last().copied())
        .unwrap_or(0);
    let mut inputs = Vec::with_capacity(links.len());
    for (name, (shape, values)) in manifest.links.iter().zip(links) {
        let shape4: Vec<usize> = match shape[..] {
            [n, c, w] => vec![n, c, 1, w],
            _ => shape,
        };
        inputs.push((
            std::borrow::Cow::from(name.as_str()),
            ort::session::SessionInputValue::from(Tensor::from_array((shape4, values))?),
        ));
    }
    let outputs = session.run(inputs)?;
    let (_, samples) = outputs[manifest.wave.as_str()].try_extract_tensor::<f32>()?;
    debug_assert_eq!(samples.len(), frames * manifest.hop);
    Ok(samples.to_vec())
}

/// Runs a seeded session on one sentence. Each noise buffer is first made as long as the model has needed so
/// far per phoneme ID; a run that needed more is repeated with exactly as much. The longer buffer starts with
/// the shorter one's values, so the audio never depends on the first guess, only on the seed.
fn run_seeded(
    session: &mut Session,
    model: &Model,
    ids: &[i64],
    scales: [f32; 3],
    seed: &[u8; 32],
    sentence: usize,
    outputs: &[&str],
) -> std::result::Result<Vec<Link>, String> {
    // Set when the voice was prepared.
    let noise = model.noise.get().map_or(&[][..], Vec::as_slice);
    let n = ids.len().max(1);
    let mut lens: Vec<usize> = noise
        .iter()
        .map(|z| match z.per_id.load(Ordering::Relaxed) {
            0 => FIRST_NOISE_PER_ID * n,
            per_id => per_id.saturating_mul(n),
        })
        .collect();
    // Each repeat settles at least one more op (an op's needs depend only on the noise of the ops before it).
    for _ in 0..=noise.len() {
        let buffers: Vec<(&str, Vec<f32>)> = noise
            .iter()
            .zip(&lens)
            .enumerate()
            .map(|(k, (z, &len))| {
                let values = noise::values(seed, sentence, k, z.input.distribution, len);
                (z.input.input.as_str(), values)
            })
            .collect();
        let needed: Vec<&str> = noise.iter().map(|z| z.input.needed.as_str()).collect();
        let (samples, used) = run(
            session,
            &model.config,
            ids,
            scales,
            buffers,
            outputs,
            &needed,
        )
        .map_err(inference_failed)?;
        let mut short = false;
        for ((z, len), used) in noise.iter().zip(&mut lens).zip(used) {
            z.per_id
                .fetch_max(used.div_ceil(n) * 5 / 4 + 1, Ordering::Relaxed);
            if used > *len {
                *len = used;
                short = true;
            }
        }
        if !short {
            return Ok(samples);
        }
    }
    Err(format!(
        "inference failed: {} kept needing more noise; this voice's graph is not one narrate knows",
        model.files.model.display()
    ))
}

fn inference_failed(e: ort::Error) -> String {
    format!(
        "inference failed ({e}); if this voice's config does not belong to its model, use the pair that was \
         published together"
    )
}

/// One run of a session on one sentence's IDs with `scales` (noise_scale, length_scale, noise_w) and the given
/// noise buffers: the float `outputs`, and the values each of the `needed` outputs reports.
fn run(
    session: &mut Session,
    config: &VoiceConfig,
    ids: &[i64],
    scales: [f32; 3],
    noise: Vec<(&str, Vec<f32>)>,
    outputs: &[&str],
    needed: &[&str],
) -> ort::Result<(Vec<Link>, Vec<usize>)> {
    let n = ids.len();
    let mut inputs = ort::inputs![
        "input" => Tensor::from_array(([1usize, n], ids.to_vec()))?,
        "input_lengths" => Tensor::from_array(([1usize], vec![n as i64]))?,
        "scales" => Tensor::from_array(([3usize], scales.to_vec()))?,
    ];
    if config.num_speakers > 1 {
        inputs.push((
            "sid".into(),
            Tensor::from_array(([1usize], vec![0i64]))?.into(),
        ));
    }
    for (name, values) in noise {
        let len = values.len();
        inputs.push((name.into(), Tensor::from_array(([len], values))?.into()));
    }
    let results = session.run(inputs)?;
    let mut floats = Vec::with_capacity(outputs.len());
    for name in outputs {
        let (shape, values) = results[*name].try_extract_tensor::<f32>()?;
        let shape = shape.iter().map(|&d| d.max(0) as usize).collect();
        floats.push((shape, values.to_vec()));
    }
    let mut used = Vec::with_capacity(needed.len());
    for name in needed {
        let (_, count) = results[*name].try_extract_tensor::<i64>()?;
        used.push(count.first().map_or(0, |&c| c.max(0) as usize));
    }
    Ok((floats, used))
}

/// What `narrate voices --prepare` did: the voice, its prepared graphs, whether they were made now (else found
/// from an earlier run) and how long it took.
pub(crate) struct Preparation {
    pub voice: String,
    pub encoder: std::path::PathBuf,
    pub decoder: std::path::PathBuf,
    pub made: bool,
    pub seconds: f64,
}

/// Prepares the installed voice `name` now (`narrate voices --prepare`), each stage handed to `progress`.
pub(crate) fn prepare_voice(
    name: &str,
    progress: &mut dyn FnMut(&str),
) -> std::result::Result<Preparation, String> {
    let start = std::time::Instant::now();
    let by_path = name.ends_with(".onnx") || Path::new(name).components().count() > 1;
    if !by_path && voice::installed().iter().all(|v| v.name != name) {
        return Err(format!(
            "no Piper voice `{name}` is installed; `narrate voices --backend piper` lists the installed ones, \
             `narrate voices --download {name}` fetches one from the Piper voice repository"
        ));
    }
    let files = voice::find(name)?;
    let (prepared, made) = prepare::prepare_reporting(&files, progress)?;
    // The encoder's graph optimized for this CPU too (kept beside it; a fraction of a second), so the first
    // build starts as fast as later ones. Without ONNX Runtime here yet, the first build makes it instead.
    let _ = open_session(&prepared.encoder);
    Ok(Preparation {
        voice: files.name,
        encoder: prepared.encoder,
        decoder: prepared.decoder,
        made,
        seconds: start.elapsed().as_secs_f64(),
    })
}

impl Backend for Piper {
    fn warm_up(&self, voice: &str) {
        self.open_ahead(voice);
    }
    fn install_hint(&self) -> Option<&'static str> {
        Some("scripts/fetch-voice installs the en_US-joe-medium voice and ONNX Runtime; or use --backend espeak")
    }
    fn name(&self) -> &'static str {
        "piper"
    }
    fn takes_differ(&self) -> bool {
        true
    }
    fn describe(&self) -> &'static str {
        "Piper neural voices (VITS/ONNX, natural speech on the CPU)"
    }
    fn check(&self) -> Result<()> {
        environment().map_err(unavailable)?;
        phonemize::version().map_err(unavailable)?;
        Ok(())
    }
    fn status(&self) -> Option<String> {
        let choice = engine::choice();
        Some(match choice.kind {
            engine::Kind::OpenVino => format!(
                "decoder: OpenVINO in bfloat16, {}-frame windows (encoder in ONNX Runtime float32): {}",
                engine::WINDOW,
                choice.reason
            ),
            engine::Kind::Ort => format!(
                "decoder: ONNX Runtime in float32 (rewritten for 2-D convolutions): {}",
                choice.reason
            ),
        })
    }
    fn installed(&self) -> bool {
        voice::find(DEFAULT_VOICE).is_ok()
            && super::onnx::onnxruntime_library().is_ok()
            && phonemize::version().is_ok()
    }
    fn voice_language(&self, voice: &str) -> Option<String> {
        let model = self.model(voice).ok()?;
        let lang = &model.config.espeak.voice;
        Some(if lang == "en" {
            "en-GB".into()
        } else {
            lang.clone()
        })
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
    fn synthesize(&self, request: &SpeechRequest) -> std::result::Result<Audio, SynthError> {
        let model = self.model(request.voice)?;
        let sentences = phonemize::phonemize(&model.config.espeak.voice, request.text)?;
        // --rate in words a minute, against the ~170 a Piper voice speaks at its own length_scale.
        let speed = request.rate.map_or(1.0, |wpm| wpm as f32 / NATURAL_WPM);
        let seed = noise::seed(request.voice, request.rate, request.text, request.take);
        let hop = self.prepared(&model)?.manifest.hop as u64;
        let mut samples: Vec<i16> = Vec::new();
        let mut said: Vec<words::Said> = Vec::new();
        for (i, sentence) in sentences.iter().filter(|s| !s.is_empty()).enumerate() {
            let ids = phoneme_ids(sentence, &model.config.phoneme_id_map);
            let (audio, durations) = self.infer(&model, &ids, speed, &seed, i)?;
            let offset = samples.len() as u64;
            samples.extend(
                audio
                    .iter()
                    .map(|&v| (v * 32767.0).clamp(-32767.0, 32767.0) as i16),
            );
            said.extend(words::said(
                sentence,
                &model.config.phoneme_id_map,
                &durations,
                hop,
                offset..samples.len() as u64,
            ));
        }
        let words = words::spans(&model.config.espeak.voice, request.text, &said)?;
        Ok(Audio {
            sample_rate: model.config.audio.sample_rate,
            samples,
            words: Some(words),
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// ONNX Runtime, or `None` (the test skips) where it is not installed; scripts/test installs it and sets
    /// NARRATE_REQUIRE_TOOLS, which makes its absence a failure.
    pub(in crate::synth) fn runtime() -> Option<&'static ort::environment::Environment> {
        match environment() {
            Ok(env) => Some(env),
            Err(e) => {
                assert!(std::env::var_os("NARRATE_REQUIRE_TOOLS").is_none(), "{e}");
                eprintln!("skipping: {e}");
                None
            }
        }
    }

    /// The joe voice, loaded as a build loads it, or `None` (the test skips) where it is not installed.
    pub(super) fn joe() -> Option<(Piper, Arc<Model>)> {
        runtime()?;
        let piper = Piper::default();
        match piper.model(DEFAULT_VOICE) {
            Ok(model) => Some((piper, model)),
            Err(e) => {
                assert!(std::env::var_os("NARRATE_REQUIRE_TOOLS").is_none(), "{e}");
                eprintln!("skipping: {e}");
                None
            }
        }
    }

    fn ids(model: &Model, text: &str) -> Vec<i64> {
        let sentences = phonemize::phonemize(&model.config.espeak.voice, text).unwrap();
        phoneme_ids(&sentences[0], &model.config.phoneme_id_map)
    }

    fn request(text: &str, take: u32) -> SpeechRequest<'_> {
        SpeechRequest {
            text,
            voice: DEFAULT_VOICE,
            rate: None,
            take,
        }
    }

    fn stock_session(model: &Model) -> Session {
        Session::builder(runtime().unwrap())
            .unwrap()
            .with_optimization_level(ort::session::builder::GraphOptimizationLevel::All)
            .unwrap()
            .with_intra_threads(1)
            .unwrap()
            .commit_from_file(&model.files.model)
            .unwrap()
    }

    /// Signal-to-noise ratio of `got` against `want`, in dB.
    pub(super) fn snr(want: &[f32], got: &[f32]) -> f64 {
        assert_eq!(want.len(), got.len(), "lengths differ");
        let signal: f64 = want.iter().map(|&w| (w as f64).powi(2)).sum();
        let noise: f64 = want
            .iter()
            .zip(got)
            .map(|(&w, &g)| (w as f64 - g as f64).powi(2))
            .sum();
        10.0 * (signal / noise.max(1e-30)).log10()
    }

    /// Sessions on the prepared encoder and decoder from their optimized copies (made in a fresh folder, then
    /// loaded from it) give the same bits as sessions that optimize the graphs themselves.
    #[test]
    fn sessions_from_the_optimized_copies_give_the_same_bits() {
        let Some((piper, model)) = joe() else { return };
        let prepared = piper.prepared(&model).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let own = |path: &Path| {
            super::super::onnx::builder(runtime().unwrap())
                .unwrap()
                .commit_from_file(path)
                .unwrap()
        };
        let inf = &model.config.inference;
        let scales = [inf.noise_scale, inf.length_scale, inf.noise_w];
        let links: Vec<&str> = prepared.manifest.links.iter().map(String::as_str).collect();
        let text = "The kettle boiled twice before anyone noticed.";
        let seed = noise::seed(DEFAULT_VOICE, None, text, 1);
        let ids = ids(&model, text);
        let bits = |encoder: &mut Session, decoder: &mut Session| -> Vec<u32> {
            let split = run_seeded(encoder, &model, &ids, scales, &seed, 0, &links).unwrap();
            let mut all: Vec<u32> = split
                .iter()
                .flat_map(|(_, v)| v.iter().map(|x| x.to_bits()))
                .collect();
            let wave = decode(decoder, &prepared.manifest, split).unwrap();
            assert!(wave.len() > 10_000);
            all.extend(wave.iter().map(|x| x.to_bits()));
            all
        };
        let want = bits(&mut own(&prepared.encoder), &mut own(&prepared.decoder));
        for round in ["makes the copies", "loads them"] {
            let mut encoder = open_session_keeping(&prepared.encoder, dir.path()).unwrap();
            let mut decoder = open_session_keeping(&prepared.decoder, dir.path()).unwrap();
            assert!(
                bits(&mut encoder, &mut decoder) == want,
                "the session that {round}"
            );
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        }
    }

    #[test]
    fn with_its_noise_scaled_to_zero_the_seeded_graph_renders_exactly_as_the_voice_file() {
        let Some((_, model)) = joe() else { return };
        let ids = ids(
            &model,
            "The kettle boiled twice before anyone noticed the smoke in the kitchen.",
        );
        let mut original = stock_session(&model);
        let mut proto = graph::decode(std::fs::read(&model.files.model).unwrap()).unwrap();
        let noise = graph::seed_noise(&mut proto).unwrap();
        let mut ours = Session::builder(runtime().unwrap())
            .unwrap()
            .with_optimization_level(ort::session::builder::GraphOptimizationLevel::All)
            .unwrap()
            .with_intra_threads(1)
            .unwrap()
            .commit_from_memory(&graph::encode(&proto))
            .unwrap();
        assert_eq!(noise.len(), 2, "the joe voice draws noise twice");
        // noise_scale and noise_w at 0 multiply the drawn noise away: what is left must not change at all.
        let quiet = [0.0, model.config.inference.length_scale, 0.0];
        let (want, _) = run(
            &mut original,
            &model.config,
            &ids,
            quiet,
            vec![],
            &["output"],
            &[],
        )
        .unwrap();
        let seed = noise::seed(DEFAULT_VOICE, None, "any", 1);
        let buffers = noise
            .iter()
            .enumerate()
            .map(|(k, z)| {
                let values = noise::values(&seed, 0, k, z.distribution, 200_000);
                (z.input.as_str(), values)
            })
            .collect();
        let needed: Vec<&str> = noise.iter().map(|z| z.needed.as_str()).collect();
        let (got, used) = run(
            &mut ours,
            &model.config,
            &ids,
            quiet,
            buffers,
            &["output"],
            &needed,
        )
        .unwrap();
        let (want, got) = (&want[0].1, &got[0].1);
        assert!(want.len() > 22050, "{} samples", want.len());
        assert!(want == got, "the seeded graph changed more than the noise");
        // The duration predictor draws 2 values per phoneme ID; the flow one per latent channel and frame.
        assert_eq!(used[0], 2 * ids.len());
        assert_eq!(used[1] % (want.len() / 256), 0, "{used:?}");
    }

    #[test]
    fn the_split_voice_with_its_rewritten_decoder_renders_as_the_voice_file_within_float_rounding()
    {
        let Some((piper, model)) = joe() else { return };
        let prepared = piper.prepared(&model).unwrap();
        assert_eq!(prepared.manifest.hop, 256);
        let mut original = stock_session(&model);
        let mut encoder = piper.encoder_session(&model).unwrap();
        let mut decoder = open_session(&prepared.decoder).unwrap();
        let quiet = [0.0, model.config.inference.length_scale, 0.0];
        let links: Vec<&str> = prepared.manifest.links.iter().map(String::as_str).collect();
        let seed = noise::seed(DEFAULT_VOICE, None, "quiet", 1);
        for text in [
            "The kettle boiled twice before anyone noticed the smoke in the kitchen.",
            "Seven herons stood in the shallows, waiting.",
            "Why would a lighthouse keeper need three clocks?",
            "Numbers like 1,204 and 36.5 are read out in words.",
            "At dusk the market closed, and the square fell quiet again, apart from the pigeons.",
        ] {
            let ids = ids(&model, text);
            let (want, _) = run(
                &mut original,
                &model.config,
                &ids,
                quiet,
                vec![],
                &["output"],
                &[],
            )
            .unwrap();
            let split = run_seeded(&mut encoder, &model, &ids, quiet, &seed, 0, &links).unwrap();
            let got = decode(&mut decoder, &prepared.manifest, split).unwrap();
            let snr = snr(&want[0].1, &got);
            eprintln!("{snr:.1} dB: {text}");
            assert!(snr >= 100.0, "{snr:.1} dB for {text:?}");
        }
    }

    #[test]
    fn a_voice_is_prepared_once_beside_itself_and_its_file_left_untouched() {
        let Some((_, model)) = joe() else { return };
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("en_US-joe-medium.onnx");
        std::fs::copy(&model.files.model, &copy).unwrap();
        let before = std::fs::read(&copy).unwrap();
        let files = VoiceFiles {
            name: "en_US-joe-medium".into(),
            model: copy.clone(),
            config: model.files.config.clone(),
        };
        let first = prepare::prepare(&files).unwrap();
        assert_eq!(first.decoder.parent(), Some(dir.path()));
        let name = first
            .decoder
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            name.starts_with(&format!(
                "en_US-joe-medium.narrate-v{}.{}-",
                graph::NOISE_REWRITE,
                decoder::DECODER_REWRITE
            )),
            "{name}"
        );
        let made = std::fs::metadata(&first.decoder)
            .unwrap()
            .modified()
            .unwrap();
        let again = prepare::prepare(&files).unwrap();
        assert_eq!(again.decoder, first.decoder);
        assert_eq!(again.manifest, first.manifest);
        assert_eq!(
            std::fs::metadata(&again.decoder)
                .unwrap()
                .modified()
                .unwrap(),
            made
        );
        assert!(
            std::fs::read(&copy).unwrap() == before,
            "the voice file changed"
        );
        // Another voice file (one byte changed) is another key.
        let mut other = before;
        let last = other.len() - 1;
        other[last] ^= 1;
        std::fs::write(&copy, &other).unwrap();
        let changed = prepare::prepare(&files).unwrap();
        assert_ne!(changed.decoder, first.decoder);
        assert_ne!(changed.manifest.sha256, first.manifest.sha256);
    }

    #[test]
    fn a_take_sounds_the_same_in_any_session_however_its_noise_was_first_sized() {
        let Some((piper, model)) = joe() else { return };
        let text = "We drank the tea on the step. The rain kept falling, and nobody minded.";
        let first = piper.synthesize(&request(text, 1)).unwrap();
        // Another backend value: a new model, new sessions, noise buffers far too short for a first run (each
        // run is repeated with what it needed).
        let (other, again) = joe().unwrap();
        other.prepared(&again).unwrap();
        for z in again.noise.get().unwrap() {
            z.per_id.store(1, Ordering::Relaxed);
        }
        assert_eq!(other.synthesize(&request(text, 1)).unwrap(), first);
        let flow = &again.noise.get().unwrap()[1];
        assert!(
            flow.per_id.load(Ordering::Relaxed) > 100,
            "the repeat learned"
        );
        // The same session again (ONNX Runtime's own generator would have moved on), then another take.
        assert_eq!(piper.synthesize(&request(text, 1)).unwrap(), first);
        let second = piper.synthesize(&request(text, 2)).unwrap();
        assert_ne!(second.samples, first.samples);
        assert_eq!(piper.synthesize(&request(text, 2)).unwrap(), second);
        drop(model);
    }
}
