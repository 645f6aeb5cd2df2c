//! The hibari backend: hibari-tts 0.2.1's voice `heart` (a small student of Kokoro-82M's af_heart, Apache-2.0)
//! run natively: phonemes from libespeak-ng mapped to the model's misaki symbols (`phonemes`), the 8 MB int8 ONNX
//! model through ONNX Runtime (`synth::onnx`, one single-threaded session per worker from a pool), and the
//! host-side vocoder in Rust (`dsp`). 24 kHz output. No Python at run time.
//!
//! The model's duration predictor is opened at load (`graph`): the host gives a multiplier and a cap per phoneme
//! (`durations`: the cap on unpunctuated pauses in every take, another reading in a later take) and reads back
//! the frames of each phoneme, from which each spoken word's span in the audio follows.
//!
//! Takes are reproducible: the vocoder's noise and a later take's durations are drawn from a seed of the request
//! (`noise`), and the model is checked against its published sha256, which is part of the fingerprint.

pub(crate) mod dsp;
pub(crate) mod durations;
pub(crate) mod graph;
pub(crate) mod math;
pub(crate) mod noise;
pub(crate) mod phonemes;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use ort::session::Session;
use ort::value::Tensor;
use sha2::Digest;

use super::onnx;
use super::piper::graph as piper_graph;
use super::piper::{phonemize, voice};
use super::{Audio, Backend, SpeechRequest, SynthError, VoiceInfo};
use crate::audio::WordSpan;
use crate::error::{Error, Result};

/// The one voice hibari-tts ships in its package (its others are fetched from a model hub).
pub(crate) const VOICE: &str = "heart";
/// The release the model comes from, and the model's sha256 there.
pub(crate) const RELEASE: &str = "hibari-tts 0.2.1";
pub(crate) const MODEL_SHA256: &str =
    "5f70741d4e900f4e85d0037498736cc1b3e1b9a63a13546a5da1e63abf4fccd8";
/// How fast the voice speaks at speed 1.0, in words a minute (measured on a ~900-word essay).
const NATURAL_WPM: f32 = 154.0;
/// The model's inputs and outputs (with the edits of module `graph`: the five spectra in one frame-major output).
const INPUTS: [&str; 2] = ["ids", "speed"];
const OUTPUTS: [&str; 2] = [graph::SPECTRA, "f0"];

/// Where `scripts/fetch-voice` installs the model, its vocabulary and its licence and notice.
pub(crate) fn model_dir() -> PathBuf {
    voice::data_dir().join("hibari")
}

/// The loaded model: its file's bytes (checked against the published sha256; the duration predictor is opened
/// in a copy of them only when ONNX Runtime has to optimize the graph again, `onnx::open_optimized`),
/// vocabulary and a pool of sessions.
struct Model {
    bytes: Vec<u8>,
    vocab: HashMap<char, i64>,
    sha256: String,
    pool: onnx::Pool,
}

#[derive(Default)]
pub(crate) struct Hibari {
    model: OnceLock<std::result::Result<Arc<Model>, String>>,
}

fn unavailable(reason: String) -> Error {
    Error::BackendUnavailable {
        backend: "hibari".into(),
        reason,
    }
}

/// How to install or repair the model.
const FIX: &str = "run scripts/fetch-voice to install it (from PyPI hibari-tts 0.2.1)";

fn load() -> std::result::Result<Model, String> {
    let dir = model_dir();
    let path = dir.join("hibari.onnx");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "the hibari model is not installed ({} is missing); {FIX}",
                path.display()
            ))
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let sha256 = format!("{:x}", sha2::Sha256::digest(&bytes));
    if sha256 != MODEL_SHA256 {
        return Err(format!(
            "{} is damaged or not {RELEASE}'s model (its sha256 is {}…, not {}…); {FIX} again",
            path.display(),
            &sha256[..12],
            &MODEL_SHA256[..12]
        ));
    }
    let vocab_path = dir.join("vocab.json");
    let text = std::fs::read_to_string(&vocab_path)
        .map_err(|e| format!("{}: {e}; {FIX}", vocab_path.display()))?;
    let table: HashMap<String, i64> = serde_json::from_str(&text).map_err(|e| {
        format!(
            "{}: not hibari's vocabulary ({e}); {FIX} again",
            vocab_path.display()
        )
    })?;
    let mut vocab = HashMap::new();
    for (symbol, id) in table {
        let mut chars = symbol.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if id > 0 => {
                vocab.insert(c, id);
            }
            _ => {
                return Err(format!(
                    "{}: entry `{symbol}` = {id} is not one symbol with a positive id; {FIX} again",
                    vocab_path.display()
                ))
            }
        }
    }
    Ok(Model {
        bytes,
        vocab,
        sha256,
        pool: onnx::Pool::default(),
    })
}

/// The vocoder, planned once per process.
fn vocoder() -> &'static dsp::Vocoder {
    static VOCODER: OnceLock<dsp::Vocoder> = OnceLock::new();
    VOCODER.get_or_init(dsp::Vocoder::default)
}

/// Model IDs for one chunk of misaki phonemes: 0 at both ends; symbols outside the vocabulary are skipped (as
/// hibari-tts does).
pub(crate) fn ids(phonemes: &str, vocab: &HashMap<char, i64>) -> Vec<i64> {
    let mut ids = vec![0];
    ids.extend(phonemes.chars().filter_map(|c| vocab.get(&c)));
    ids.push(0);
    ids
}

impl Model {
    /// The model with its duration predictor opened and its spectra in one frame-major output (module
    /// `graph`), in memory: the file is never changed.
    fn edited(&self) -> std::result::Result<Vec<u8>, String> {
        let mut model = piper_graph::decode(self.bytes.clone())?;
        graph::open_durations(&mut model)?;
        graph::expose_spectra(&mut model)?;
        Ok(piper_graph::encode(&model))
    }

    /// Where the optimized copies of the edited model are kept, and what they are made of.
    fn optimized<'a>(&self, dir: &'a std::path::Path) -> onnx::Optimized<'a> {
        onnx::Optimized {
            dir,
            name: "hibari",
            identity: format!(
                "{} durations v{} spectra v{}",
                self.sha256,
                graph::REWRITE,
                graph::LAYOUT
            ),
        }
    }
}

impl Hibari {
    /// The model, loaded once per process: every backend value shares it and its idle sessions, so a studio's
    /// or a server's next build opens none, and the end of a build frees none (the process's end does, at once).
    /// A failure is not kept: a later backend value tries again.
    fn model(&self) -> std::result::Result<Arc<Model>, String> {
        static LOADED: Mutex<Option<Arc<Model>>> = Mutex::new(None);
        self.model
            .get_or_init(|| {
                let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(model) = &*loaded {
                    return Ok(model.clone());
                }
                let model = Arc::new(load()?);
                *loaded = Some(model.clone());
                Ok(model)
            })
            .clone()
    }

    fn new_session(&self, model: &Model) -> std::result::Result<Session, String> {
        let env = onnx::environment()?;
        let dir = model_dir();
        let path = dir.join("hibari.onnx");
        let session = onnx::open_optimized(env, &model.optimized(&dir), || {
            model.edited().map(std::borrow::Cow::Owned)
        })
        .map_err(|e| {
            format!(
                "{}: cannot load the model ({e}); {FIX} again",
                path.display()
            )
        })?;
        let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        if INPUTS
            .iter()
            .chain(&[graph::SCALE, graph::OFFSET, graph::CAP])
            .any(|i| !inputs.contains(i))
            || OUTPUTS
                .iter()
                .chain(&[graph::FRAMES])
                .any(|o| !outputs.contains(o))
        {
            return Err(format!(
                "{} is not hibari's model (inputs {inputs:?}, outputs {outputs:?}); {FIX} again",
                path.display()
            ));
        }
        Ok(session)
    }

    /// Runs the model on one chunk's IDs with the durations `plan` and the vocoder on its outputs, with the noise
    /// of chunk `chunk` of the request whose seed is `seed`: the samples and the duration steps of each ID.
    fn render(
        &self,
        model: &Model,
        ids: &[i64],
        plan: &durations::Plan,
        speed: f32,
        seed: &[u8; 32],
        chunk: usize,
    ) -> std::result::Result<(Vec<i16>, Vec<i64>), String> {
        let mut session = model.pool.take(|| self.new_session(model))?;
        let result = run(&mut session, ids, plan, speed, seed, chunk);
        model.pool.put(session);
        result
    }
}

/// One run of the model and the vocoder: the samples (16-bit) and the duration steps of each ID.
fn run(
    session: &mut Session,
    ids: &[i64],
    plan: &durations::Plan,
    speed: f32,
    seed: &[u8; 32],
    chunk: usize,
) -> std::result::Result<(Vec<i16>, Vec<i64>), String> {
    let failed = |e: ort::Error| format!("inference failed: {e}");
    let per_id = |v: &[f32]| Tensor::from_array(([v.len()], v.to_vec())).map_err(failed);
    let inputs = ort::inputs![
        "ids" => Tensor::from_array(([1usize, ids.len()], ids.to_vec())).map_err(failed)?,
        "speed" => Tensor::from_array(([1usize], vec![speed])).map_err(failed)?,
        graph::SCALE => per_id(&plan.scale)?,
        graph::OFFSET => per_id(&plan.offset)?,
        graph::CAP => per_id(&plan.cap)?,
    ];
    let outputs = session.run(inputs).map_err(failed)?;
    let get = |name: &str| -> std::result::Result<&[f32], String> {
        Ok(outputs[name].try_extract_tensor::<f32>().map_err(failed)?.1)
    };
    let frames = dsp::Frames {
        spectra: get(graph::SPECTRA)?,
        f0: get("f0")?,
    };
    let per_id = outputs[graph::FRAMES]
        .try_extract_tensor::<i64>()
        .map_err(failed)?
        .1
        .to_vec();
    if !frames.consistent()
        || per_id.len() != ids.len()
        || per_id.iter().sum::<i64>() * graph::FRAMES_PER_STEP as i64 != frames.f0.len() as i64
    {
        return Err("inference failed: the model's outputs disagree in length".into());
    }
    let mut samples = Vec::with_capacity(frames.f0.len() * dsp::HOP);
    NOISE.with_borrow_mut(|noise| {
        noise::fill(seed, chunk, dsp::BINS * 2 * frames.f0.len(), noise);
        vocoder().render(&frames, noise, |s| {
            samples.extend(s.iter().map(|&v| (v.clamp(-1.0, 1.0) * 32767.0) as i16))
        });
    });
    Ok((samples, per_id))
}

thread_local! {
    /// A worker's noise buffer, kept between runs (a run of 30 s draws 11 MB of it).
    static NOISE: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How many duration steps (25 ms each) a word's sound comes before its steps on the model's duration grid.
///
/// The model speaks ahead of its own durations: the expansion itself is exact (phoneme k fills steps
/// `cumsum[k-1]..cumsum[k]`, and the vocoder's centred frames put frame f at sample f·300), yet a word's sound
/// starts 75 ms before its first step, steadily, through a sentence: measured against PocketSphinx's forced
/// alignment on two essays (the median signed difference 78 and 85 ms; energy onsets after a silence 20–50 ms
/// before the step, the ±25 ms synthesis window and the decoder's convolutions spreading each step's sound).
/// hibari's teacher does the same: Kokoro's own word timestamps (`KPipeline.join_timestamps`) take 3 steps off
/// the first padding's duration, which moves every word 75 ms earlier. The audio is the model's; only the spans
/// move.
const LEAD_STEPS: u64 = 3;

/// One chunk's model IDs, which of them are spaces, and its words as ID ranges.
struct Tokens {
    ids: Vec<i64>,
    space: Vec<bool>,
    words: Vec<durations::TokenWord>,
}

impl Tokens {
    fn new(chunk: &str, words: &[phonemes::Word], vocab: &HashMap<char, i64>) -> Tokens {
        let ids = ids(chunk, vocab);
        let mut space = vec![false; ids.len()];
        // The ID index of each byte of the chunk that starts a symbol in the vocabulary (0 is the padding).
        let mut first_id_at = vec![0usize; chunk.len() + 1];
        let mut next = 1;
        for (at, c) in chunk.char_indices() {
            first_id_at[at] = next;
            if vocab.contains_key(&c) {
                space[next] = c == ' ';
                next += 1;
            }
        }
        first_id_at[chunk.len()] = next;
        let words = words
            .iter()
            .map(|w| durations::TokenWord {
                tokens: first_id_at[w.range.start]..first_id_at[w.range.end],
                pause_after: w.pause_after,
            })
            .collect();
        Tokens { ids, space, words }
    }

    /// The spans of the chunk's words, from the duration steps of each ID, in a segment where the chunk's audio starts at
    /// sample `offset` and ends at `end`: each word where its steps begin, [`LEAD_STEPS`] earlier (not before the
    /// chunk's first sample).
    fn spans(
        &self,
        words: &[phonemes::Word],
        frames: &[i64],
        offset: u64,
        end: u64,
    ) -> Vec<WordSpan> {
        let mut starts = Vec::with_capacity(frames.len() + 1);
        let mut at = 0u64;
        for &f in frames {
            starts.push(at);
            at += f.max(0) as u64;
        }
        starts.push(at);
        let per_step = (graph::FRAMES_PER_STEP * dsp::HOP) as u64;
        let sample = |id: usize| {
            (offset
                + (starts[id.min(frames.len())] * per_step).saturating_sub(LEAD_STEPS * per_step))
            .min(end)
        };
        words
            .iter()
            .zip(&self.words)
            .filter(|(_, t)| !t.tokens.is_empty())
            .map(|(w, t)| WordSpan {
                text: w.text.clone(),
                start_sample: sample(t.tokens.start),
                end_sample: sample(t.tokens.end),
            })
            .collect()
    }
}

/// The model's `speed` for a rate in words a minute (`None`: the voice's own pace), kept where it still sounds
/// like speech.
fn speed(rate: Option<u32>) -> f32 {
    rate.map_or(1.0, |wpm| (wpm as f32 / NATURAL_WPM).clamp(0.5, 2.0))
}

/// The model's licence and notice, as installed beside it.
fn attribution() -> std::result::Result<String, String> {
    let dir = model_dir();
    let notice = std::fs::read_to_string(dir.join("NOTICE"))
        .map_err(|e| format!("{}: {e}; {FIX}", dir.join("NOTICE").display()))?;
    if !dir.join("LICENSE").is_file() {
        return Err(format!(
            "{} is missing; {FIX}",
            dir.join("LICENSE").display()
        ));
    }
    Ok(format!(
        "The voice `heart` is the model of {RELEASE}, licensed under the Apache License 2.0 (full text: {}).\n\
         Its notice:\n\n{}",
        dir.join("LICENSE").display(),
        notice.trim_end()
    ))
}

impl Backend for Hibari {
    fn install_hint(&self) -> Option<&'static str> {
        Some("scripts/fetch-voice installs the hibari voice and ONNX Runtime; or use --backend piper or espeak")
    }
    fn name(&self) -> &'static str {
        "hibari"
    }
    fn takes_differ(&self) -> bool {
        true
    }
    fn warm_up(&self, _voice: &str) {
        // ONNX Runtime's library first: it does not need the model, which the caller may be loading meanwhile.
        if onnx::environment().is_err() {
            return;
        }
        if let Ok(model) = self.model() {
            model.pool.open_ahead(|| self.new_session(&model));
        }
    }
    fn describe(&self) -> &'static str {
        "hibari: a Kokoro-class voice in 8 MB (ONNX, natural speech on the CPU)"
    }
    fn check(&self) -> Result<()> {
        onnx::environment().map_err(unavailable)?;
        phonemize::version().map_err(unavailable)?;
        self.model().map_err(unavailable)?;
        Ok(())
    }
    fn installed(&self) -> bool {
        model_dir().join("hibari.onnx").is_file()
            && super::onnx::onnxruntime_library().is_ok()
            && phonemize::version().is_ok()
    }
    fn default_voice(&self) -> String {
        VOICE.into()
    }
    fn voice_language(&self, _voice: &str) -> Option<String> {
        Some("en-US".into())
    }
    fn voices(&self) -> Result<Vec<VoiceInfo>> {
        self.model().map_err(unavailable)?;
        Ok(vec![VoiceInfo {
            name: VOICE.into(),
            language: "en-US".into(),
            description: format!(
                "en-US, female; {RELEASE}, Apache-2.0 (a student of Kokoro-82M's af_heart)"
            ),
        }])
    }
    fn attribution(&self) -> Option<Result<String>> {
        Some(attribution().map_err(unavailable))
    }
    fn fingerprint(&self, voice: &str) -> Result<String> {
        check_voice(voice).map_err(unavailable)?;
        let model = self.model().map_err(unavailable)?;
        Ok(format!(
            "hibari model=sha256:{} graph=durations-v{} espeak={} phonemes={} noise={} durations={} words=lead-{}",
            model.sha256,
            graph::REWRITE,
            phonemize::version().map_err(unavailable)?,
            phonemes::RULE,
            noise::RULE,
            durations::RULE,
            LEAD_STEPS
        ))
    }
    fn synthesize(&self, request: &SpeechRequest) -> std::result::Result<Audio, SynthError> {
        check_voice(request.voice)?;
        let model = self.model()?;
        let seed = noise::seed(request.voice, request.rate, request.text, request.take);
        let speed = speed(request.rate);
        let mut samples: Vec<i16> = Vec::new();
        let mut words: Vec<WordSpan> = Vec::new();
        let chunks = phonemes::read(request.text)?
            .iter()
            .flat_map(phonemes::chunk_words)
            .collect::<Vec<_>>();
        for (i, (chunk, chunk_words)) in chunks.iter().enumerate() {
            let tokens = Tokens::new(chunk, chunk_words, &model.vocab);
            if tokens.ids.len() < 3 {
                continue;
            }
            let plan = durations::plan(
                tokens.ids.len(),
                &tokens.words,
                &tokens.space,
                request.take,
                &seed,
                i,
            );
            let (audio, frames) = self.render(&model, &tokens.ids, &plan, speed, &seed, i)?;
            let offset = samples.len() as u64;
            samples.extend_from_slice(&audio);
            words.extend(tokens.spans(chunk_words, &frames, offset, samples.len() as u64));
        }
        Ok(Audio {
            sample_rate: dsp::SAMPLE_RATE,
            samples,
            words: Some(words),
        })
    }
}

fn check_voice(voice: &str) -> std::result::Result<(), String> {
    if voice == VOICE {
        Ok(())
    } else {
        Err(format!(
            "hibari has one voice, `{VOICE}` (not `{voice}`); leave --voice out or give --voice {VOICE}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The model, or `None` (the test skips) where it or ONNX Runtime is not installed; scripts/test installs
    /// both and sets NARRATE_REQUIRE_TOOLS, which makes their absence a failure.
    fn model() -> Option<(Hibari, Arc<Model>)> {
        let hibari = Hibari::default();
        match hibari
            .check()
            .map_err(|e| e.to_string())
            .and_then(|()| hibari.model())
        {
            Ok(model) => Some((hibari, model)),
            Err(e) => {
                assert!(std::env::var_os("NARRATE_REQUIRE_TOOLS").is_none(), "{e}");
                eprintln!("skipping: {e}");
                None
            }
        }
    }

    /// The fixture tests/hibari_reference.py made with the Python reference (hibari-tts 0.2.1).
    fn fixture() -> (serde_json::Value, Vec<f32>) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
        let json = std::fs::read_to_string(format!("{dir}hibari-reference.json")).unwrap();
        let bytes = std::fs::read(format!("{dir}hibari-reference.f32")).unwrap();
        let audio = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        (serde_json::from_str(&json).unwrap(), audio)
    }

    /// The fixture's noise rule (see tests/hibari_reference.py): xorshift32, values in [-1, 1).
    fn test_noise(index: u32, n: usize) -> Vec<f32> {
        let mut x = 0x9E37_79B9u32 ^ index;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                ((x >> 8) as f64 / 8_388_608.0 - 1.0) as f32
            })
            .collect()
    }

    #[test]
    fn phonemes_are_the_notes_mapping_of_espeak_and_close_to_hibari_s_own_g2p() {
        let Some((_, model)) = model() else { return };
        let (fixture, _) = fixture();
        for case in fixture["cases"].as_array().unwrap() {
            let text = case["text"].as_str().unwrap();
            let ours = phonemes::sentences(text).unwrap();
            assert_eq!(ours.len(), 1, "{text}: {ours:?}");
            // The same words as the mapping written independently in Python over espeak-ng's command line.
            let words: Vec<String> = ours[0]
                .split_whitespace()
                .map(|w| {
                    w.trim_end_matches([',', '.', '?', '!', ';', ':'])
                        .to_string()
                })
                .collect();
            let want: Vec<String> = serde_json::from_value(case["espeak_mapped"].clone()).unwrap();
            assert_eq!(words, want, "{text}");
            // Against hibari's own G2P (misaki's lexicon and POS tagger), espeak reads a few vowels otherwise
            // (unstressed ɪ/ə, a secondary stress): most IDs agree, and the punctuation is the same.
            let ours_ids = ids(&ours[0], &model.vocab);
            let theirs: Vec<i64> = serde_json::from_value(case["hibari_ids"].clone()).unwrap();
            let distance = super::phonemes::edit_distance(&ours_ids, &theirs);
            eprintln!(
                "{text}: {distance} of {} IDs differ\n  ours:   {}\n  hibari: {}",
                theirs.len(),
                ours[0],
                case["hibari_phonemes"]
            );
            assert!(
                distance * 10 <= theirs.len(),
                "{text}: {distance} edits from hibari's own G2P"
            );
            assert_eq!(ours_ids.last(), Some(&0));
            assert_eq!(
                ours_ids[ours_ids.len() - 2],
                theirs[theirs.len() - 2],
                "{text}: end punctuation"
            );
        }
    }

    /// The model's outputs and the vocoder against the reference's audio for the same IDs and the same noise:
    /// equal to float rounding: within 1e-5 (a third of a 16-bit step) sample by sample and 100 dB SNR (measured:
    /// 1.2e-7 and 134 dB; the FFTs and `sin` round differently, pocketfft and numpy's SIMD `sin` there).
    #[test]
    fn the_vocoder_matches_the_python_reference() {
        let Some((_, model)) = model() else { return };
        let (fixture, audio) = fixture();
        let mut session = Hibari::default().new_session(&model).unwrap();
        let mut compared = 0;
        for (i, case) in fixture["cases"].as_array().unwrap().iter().enumerate() {
            let Some(offset) = case["audio_offset"].as_u64() else {
                continue;
            };
            let want = &audio[offset as usize..][..case["audio_len"].as_u64().unwrap() as usize];
            let ids: Vec<i64> = serde_json::from_value(case["hibari_ids"].clone()).unwrap();
            // The opened graph with every multiplier 1, no offset and no cap: the model's own durations.
            let n = ids.len();
            let inputs = ort::inputs![
                "ids" => Tensor::from_array(([1usize, n], ids.clone())).unwrap(),
                "speed" => Tensor::from_array(([1usize], vec![1.0f32])).unwrap(),
                graph::SCALE => Tensor::from_array(([n], vec![1.0f32; n])).unwrap(),
                graph::OFFSET => Tensor::from_array(([n], vec![0.0f32; n])).unwrap(),
                graph::CAP => Tensor::from_array(([n], vec![f32::INFINITY; n])).unwrap(),
            ];
            let outputs = session.run(inputs).unwrap();
            let get = |name: &str| outputs[name].try_extract_tensor::<f32>().unwrap().1;
            let frames = dsp::Frames {
                spectra: get(graph::SPECTRA),
                f0: get("f0"),
            };
            assert_eq!(frames.f0.len() as u64, case["frames"].as_u64().unwrap());
            let noise = test_noise(i as u32, dsp::BINS * 2 * frames.f0.len());
            let got = vocoder().synth(&frames, &noise);
            assert_eq!(got.len(), want.len());
            let peak = want.iter().fold(0.0f32, |m, s| m.max(s.abs()));
            let max_diff = got
                .iter()
                .zip(want)
                .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            let signal: f64 = want.iter().map(|&s| (s as f64).powi(2)).sum();
            let error: f64 = got
                .iter()
                .zip(want)
                .map(|(&a, &b)| ((a - b) as f64).powi(2))
                .sum();
            let snr = 10.0 * (signal / error.max(1e-30)).log10();
            eprintln!(
                "{}: peak {peak}, largest difference {max_diff:e}, SNR {snr:.1} dB",
                case["text"]
            );
            assert!(peak > 0.05, "the reference is speech, not silence");
            assert!(
                max_diff < 1e-5 && snr > 100.0,
                "{}: differs by up to {max_diff} ({snr:.1} dB)",
                case["text"]
            );
            compared += 1;
        }
        assert!(compared >= 2);
    }

    /// The optimized copy stands for the model: a session from it gives the same outputs, bit for bit, as one
    /// that optimizes the graph itself; it is made once and then used; a damaged copy is removed and made again.
    #[test]
    fn a_session_from_the_optimized_copy_gives_the_same_bits() {
        let Some((_, model)) = model() else { return };
        let env = onnx::environment().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let copy = model.optimized(dir.path());
        let made = std::cell::Cell::new(0);
        let open = || {
            onnx::open_optimized(env, &copy, || {
                made.set(made.get() + 1);
                model.edited().map(std::borrow::Cow::Owned)
            })
            .unwrap()
        };
        let copies = || -> Vec<std::path::PathBuf> {
            std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect()
        };
        let bits = |session: &mut Session| -> Vec<Vec<u32>> {
            let mut all = Vec::new();
            for ids in [
                "həlˈO.",
                "ðə ɹˈAn kˈɛpt fˈɔlɪŋ, ænd nˈOb\u{0259}di mˈInd\u{0259}d.",
            ]
            .map(|p| ids(p, &model.vocab))
            {
                let n = ids.len();
                let inputs = ort::inputs![
                    "ids" => Tensor::from_array(([1usize, n], ids)).unwrap(),
                    "speed" => Tensor::from_array(([1usize], vec![1.0f32])).unwrap(),
                    graph::SCALE => Tensor::from_array(([n], vec![1.1f32; n])).unwrap(),
                    graph::OFFSET => Tensor::from_array(([n], vec![0.25f32; n])).unwrap(),
                    graph::CAP => Tensor::from_array(([n], vec![f32::INFINITY; n])).unwrap(),
                ];
                let outputs = session.run(inputs).unwrap();
                for name in OUTPUTS {
                    let (_, v) = outputs[name].try_extract_tensor::<f32>().unwrap();
                    all.push(v.iter().map(|x| x.to_bits()).collect());
                }
            }
            all
        };
        // The model optimized in the session, as every start did before copies were kept.
        let mut own = onnx::builder(env)
            .unwrap()
            .commit_from_memory(&model.edited().unwrap())
            .unwrap();
        let want = bits(&mut own);
        assert!(want.iter().all(|v| !v.is_empty()));
        assert_eq!(bits(&mut open()), want, "the session that makes the copy");
        assert_eq!((made.get(), copies().len()), (1, 1));
        assert_eq!(bits(&mut open()), want, "a session from the copy");
        assert_eq!(made.get(), 1, "the copy is used, not made again");
        // A damaged copy: found by its hash, removed, made again.
        let path = copies().remove(0);
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(bits(&mut open()), want, "after the damaged copy");
        assert_eq!(made.get(), 2);
        // The same graph again, so the same name; and used from then on.
        assert_eq!(copies(), vec![path]);
        assert_eq!(bits(&mut open()), want);
        assert_eq!(made.get(), 2);
    }

    /// A session opened ahead of need (while a build plans) is the one the first request uses: it waits for it
    /// rather than opening a second, and the samples are those of a backend that opened its own.
    #[test]
    fn a_request_waits_for_the_session_opened_ahead_and_sounds_the_same() {
        let Some((fresh, _)) = model() else { return };
        let request = SpeechRequest {
            text: "The ferry left at noon.",
            voice: VOICE,
            rate: None,
            take: 1,
        };
        let want = fresh.synthesize(&request).unwrap();
        // A model of its own (not the process's), so that its pool starts empty.
        let model = Arc::new(load().unwrap());
        let hibari = Hibari {
            model: OnceLock::from(Ok(model.clone())),
        };
        let got = std::thread::scope(|s| {
            s.spawn(|| hibari.warm_up(VOICE));
            while !model.pool.opening_or_idle() {
                std::thread::yield_now();
            }
            hibari.synthesize(&request).unwrap()
        });
        assert_eq!(got, want);
        assert_eq!(model.pool.idle(), 1, "one session, opened once");
        // Warmed again with a session idle: nothing more is opened.
        hibari.warm_up(VOICE);
        assert_eq!(model.pool.idle(), 1);
    }

    #[test]
    fn a_take_is_the_same_every_time_and_another_take_differs() {
        let Some((hibari, _)) = model() else { return };
        let request = |take| SpeechRequest {
            text: "We drank the tea on the step. The rain kept falling, and nobody minded.",
            voice: VOICE,
            rate: None,
            take,
        };
        let first = hibari.synthesize(&request(1)).unwrap();
        assert!(first.samples.len() > 24_000 * 2, "{}", first.samples.len());
        assert_eq!(first.sample_rate, 24_000);
        // Another backend value gives the same samples.
        assert_eq!(Hibari::default().synthesize(&request(1)).unwrap(), first);
        let second = hibari.synthesize(&request(2)).unwrap();
        assert_ne!(second.samples, first.samples);
        // Faster speech is shorter.
        let fast = hibari
            .synthesize(&SpeechRequest {
                rate: Some(230),
                ..request(1)
            })
            .unwrap();
        assert!(
            fast.samples.len() * 10 < first.samples.len() * 8,
            "{} vs {}",
            fast.samples.len(),
            first.samples.len()
        );
    }

    /// A long sentence with words espeak runs together ("in the", "out of") and the phrase where the model put a
    /// 0.43 s pause with no punctuation ("licenses of parties who have received").
    const LONG: &str = "Termination of your rights under this section does not terminate the licenses of parties \
                        who have received copies or rights from you under this License, and the kettle boiled \
                        twice before anyone in the house noticed the smoke drifting out of the kitchen window.";

    /// The spoken words of `text` as the spans name them, each with whether punctuation follows it.
    fn spoken(text: &str) -> Vec<(String, bool)> {
        text.split_whitespace()
            .map(|w| {
                let word = w.trim_matches(phonemes::is_trimmed).to_string();
                let end = w.trim_end_matches(['"', '\'', '”', '’', ')', ']']);
                (word, end.ends_with([',', '.', ';', ':', '?', '!', '—']))
            })
            .filter(|(w, _)| !w.is_empty())
            .collect()
    }

    /// Word spans in order, inside the audio, one per spoken word of `text`.
    fn check_spans(audio: &Audio, text: &str) -> Vec<WordSpan> {
        let words = audio.words.clone().expect("hibari gives word spans");
        let texts: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
        let want: Vec<String> = spoken(text).into_iter().map(|(w, _)| w).collect();
        assert_eq!(texts, want);
        let mut last = 0;
        for w in &words {
            assert!(
                last <= w.start_sample && w.start_sample < w.end_sample,
                "{words:?}"
            );
            assert!(w.end_sample <= audio.samples.len() as u64, "{w:?}");
            last = w.end_sample;
        }
        words
    }

    /// Silences (10 ms frames 40 dB under the loudest) longer than `longest` seconds between two words with no
    /// punctuation between them: (the word before, seconds).
    fn unpunctuated_silences(audio: &Audio, text: &str, longest: f64) -> Vec<(String, f64)> {
        let words = check_spans(audio, text);
        let punct = spoken(text);
        let rms: Vec<f64> = audio
            .samples
            .chunks(240)
            .map(|c| (c.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / c.len() as f64).sqrt())
            .collect();
        let loudest = rms.iter().cloned().fold(0.0, f64::max);
        let quiet = |i: usize| rms[i] < loudest / 100.0;
        let mut found = Vec::new();
        let mut i = 0;
        while i < rms.len() {
            if !quiet(i) {
                i += 1;
                continue;
            }
            let start = i;
            while i < rms.len() && quiet(i) {
                i += 1;
            }
            let (a, b) = ((start * 240) as u64, (i * 240) as u64);
            let seconds = (b - a) as f64 / 24_000.0;
            // The word boundary the silence is at: the last word that starts before it (a pause is held on the
            // last phoneme of the word before it, so it starts inside that word's span).
            let Some(k) = words.iter().rposition(|w| w.start_sample <= a) else {
                continue;
            };
            if k + 1 < words.len() && !punct[k].1 && seconds > longest {
                found.push((words[k].text.clone(), seconds));
            }
        }
        found
    }

    fn starts(audio: &Audio) -> Vec<f64> {
        audio
            .words
            .iter()
            .flatten()
            .map(|w| w.start_sample as f64 / 24_000.0)
            .collect()
    }

    #[test]
    fn takes_are_other_readings_each_the_same_every_time_with_words_in_place() {
        let Some((hibari, _)) = model() else { return };
        let request = |take| SpeechRequest {
            text: LONG,
            voice: VOICE,
            rate: None,
            take,
        };
        let takes: Vec<Audio> = (1..=3)
            .map(|t| hibari.synthesize(&request(t)).unwrap())
            .collect();
        for (t, audio) in takes.iter().enumerate() {
            check_spans(audio, LONG);
            let long = unpunctuated_silences(audio, LONG, 0.3);
            eprintln!(
                "take {}: {:.3} s, {} words, unpunctuated silences over 0.3 s: {long:?}, over 0.2 s: {:?}",
                t + 1,
                audio.seconds(),
                starts(audio).len(),
                unpunctuated_silences(audio, LONG, 0.2)
            );
            assert!(long.is_empty(), "take {}: {long:?}", t + 1);
        }
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            let (x, y) = (starts(&takes[a]), starts(&takes[b]));
            let shift = x.iter().zip(&y).map(|(p, q)| (p - q).abs()).sum::<f64>() / x.len() as f64;
            eprintln!(
                "takes {} and {}: mean word-start shift {:.0} ms, lengths {:.3} s and {:.3} s",
                a + 1,
                b + 1,
                shift * 1000.0,
                takes[a].seconds(),
                takes[b].seconds()
            );
            assert!(shift >= 0.030, "takes {} and {}: {shift}", a + 1, b + 1);
        }
        let lengths: Vec<usize> = takes.iter().map(|a| a.samples.len()).collect();
        assert!(lengths.iter().any(|&l| l != lengths[0]), "{lengths:?}");
        // Made again by a fresh backend, each take is the same.
        let again = Hibari::default();
        for (t, audio) in takes.iter().enumerate() {
            assert_eq!(&again.synthesize(&request(t as u32 + 1)).unwrap(), audio);
        }
    }

    /// The sample essay's paragraphs (headings and byline left out; narrate's normalizer is not applied, so
    /// espeak reads the numbers): in no take a silence over 0.3 s between words with no punctuation between them.
    #[test]
    fn no_take_of_the_sample_essay_pauses_where_the_text_does_not() {
        let Some((hibari, _)) = model() else { return };
        let essay = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/audio/samples/tide-clocks.md"
        ))
        .unwrap();
        let paragraphs: Vec<&str> = essay
            .split("\n\n")
            .map(str::trim)
            .filter(|p| !p.starts_with('#') && !p.starts_with("By ") && !p.is_empty())
            .collect();
        assert!(paragraphs.len() >= 5);
        let mut worst = (0.0f64, String::new());
        for take in 1..=3 {
            for p in &paragraphs {
                let text = p.replace(['*', '_'], "");
                let audio = hibari
                    .synthesize(&SpeechRequest {
                        text: &text,
                        voice: VOICE,
                        rate: None,
                        take,
                    })
                    .unwrap();
                let long = unpunctuated_silences(&audio, &text, 0.0);
                for (w, s) in &long {
                    if *s > worst.0 {
                        worst = (*s, format!("take {take}: after {w:?} in {text:?}"));
                    }
                }
            }
        }
        eprintln!(
            "longest unpunctuated silence: {:.3} s ({})",
            worst.0, worst.1
        );
        assert!(worst.0 <= 0.3, "{worst:?}");
    }

    #[test]
    fn rate_maps_to_speed_around_the_voice_s_own_pace() {
        assert_eq!(speed(None), 1.0);
        assert!((speed(Some(154)) - 1.0).abs() < 1e-6);
        assert!((speed(Some(231)) - 1.5).abs() < 1e-6);
        assert_eq!(speed(Some(20)), 0.5);
        assert_eq!(speed(Some(1000)), 2.0);
    }

    #[test]
    fn ids_pad_both_ends_and_skip_unknown_symbols() {
        let vocab: HashMap<char, i64> = [('h', 50), ('ə', 83), ('O', 31), ('.', 4)].into();
        assert_eq!(ids("hə☃O.", &vocab), vec![0, 50, 83, 31, 4, 0]);
    }
}
