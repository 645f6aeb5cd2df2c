//! Which engine runs a Piper voice's rewritten decoder, and the OpenVINO one.
//!
//! The encoder, duration predictor and flow always run in ONNX Runtime in float32 (their durations and noise
//! must not move). The decoder (three quarters of the time) runs either in ONNX Runtime (float32, the same
//! samples as the voice file within float rounding) or, where OpenVINO's runtime is installed
//! (`scripts/fetch-voice` puts the PyPI wheel's libraries under the data folder) and the CPU reports BF16, in
//! OpenVINO in bfloat16: one compiled model of static 256-frame windows with two streams, an infer request per
//! worker. `NARRATE_PIPER_ENGINE=ort|openvino|auto` overrides the choice; a fallback is said once.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use openvino::{CompiledModel, Core, DeviceType, ElementType, InferRequest, PartialShape};
use openvino::{PropertyKey, RwPropertyKey, Shape, Tensor};

use super::prepare::Prepared;
use super::voice;

/// Latent frames per decoder window (OpenVINO compiles one static shape).
pub(crate) const WINDOW: usize = 256;
/// Frames of context each side of a window's kept part (the decoder sees about ±11 frames).
pub(crate) const CONTEXT: usize = 16;

/// The engine that decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// ONNX Runtime, float32, the whole sentence at once.
    Ort,
    /// OpenVINO, bfloat16, static windows.
    OpenVino,
}

/// The engine chosen for this process, and why.
#[derive(Debug, Clone)]
pub(crate) struct Choice {
    pub kind: Kind,
    pub reason: String,
}

impl Choice {
    /// What a voice's fingerprint says about the decoder: the samples differ between engines.
    pub(crate) fn fingerprint(&self) -> String {
        match self.kind {
            Kind::Ort => "ort-f32".into(),
            Kind::OpenVino => format!("openvino-bf16-w{WINDOW}c{CONTEXT}"),
        }
    }
}

/// The engine for this process: `NARRATE_PIPER_ENGINE`, else OpenVINO bf16 where it can run, else ONNX Runtime.
pub(crate) fn choice() -> &'static Choice {
    static CHOICE: OnceLock<Choice> = OnceLock::new();
    CHOICE.get_or_init(|| {
        let asked = std::env::var("NARRATE_PIPER_ENGINE").unwrap_or_default();
        let asked = asked.trim().to_ascii_lowercase();
        let ort = |reason: String| Choice {
            kind: Kind::Ort,
            reason,
        };
        let choice = match asked.as_str() {
            "ort" => ort("NARRATE_PIPER_ENGINE=ort".into()),
            "" | "auto" | "openvino" => match runtime() {
                Ok(rt) => Choice {
                    kind: Kind::OpenVino,
                    reason: format!(
                        "OpenVINO {} ({}) and the CPU reports BF16{}",
                        rt.version,
                        rt.library.display(),
                        if asked == "openvino" {
                            ", NARRATE_PIPER_ENGINE=openvino"
                        } else {
                            ""
                        }
                    ),
                },
                Err(e) => ort(e),
            },
            other => ort(format!(
                "NARRATE_PIPER_ENGINE={other} is not one of ort, openvino, auto"
            )),
        };
        if choice.kind == Kind::Ort && asked != "ort" {
            eprintln!(
                "note: Piper voices decode with ONNX Runtime in float32: {}",
                choice.reason
            );
        }
        choice
    })
}

/// OpenVINO's runtime, loaded once.
struct Runtime {
    core: Mutex<Core>,
    version: String,
    library: PathBuf,
}

/// `libopenvino_c.so.VERSION`: in `$NARRATE_OPENVINO` (a folder or the file), else in the data folder's
/// `openvino/`, where `scripts/fetch-voice` puts the PyPI wheel's libraries.
fn library() -> Result<PathBuf, String> {
    let dir = match std::env::var_os("NARRATE_OPENVINO").filter(|v| !v.is_empty()) {
        Some(p) if PathBuf::from(&p).is_file() => return Ok(PathBuf::from(p)),
        Some(p) => PathBuf::from(p),
        None => voice::data_dir().join("openvino"),
    };
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| {
            format!(
                "OpenVINO is not installed ({}: {e}); scripts/fetch-voice installs it",
                dir.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libopenvino_c.so"))
        })
        .collect();
    found.sort();
    found.pop().ok_or_else(|| {
        format!(
            "OpenVINO is not installed (no libopenvino_c.so in {}); scripts/fetch-voice installs it",
            dir.display()
        )
    })
}

fn runtime() -> Result<&'static Runtime, String> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let library = library()?;
            let unusable = |e: String| format!("OpenVINO at {} is unusable: {e}", library.display());
            openvino_sys::library::load_from(library.clone()).map_err(unusable)?;
            let core = Core::new().map_err(|e| unusable(e.to_string()))?;
            let version = openvino::version().build_number;
            let caps = core
                .get_property(
                    &DeviceType::CPU,
                    &PropertyKey::Other("OPTIMIZATION_CAPABILITIES".into()),
                )
                .map_err(|e| unusable(e.to_string()))?;
            if !caps.split([' ', ',']).any(|c| c == "BF16") {
                return Err(format!(
                    "this CPU does not report BF16 to OpenVINO ({caps}), and OpenVINO in float32 is no faster"
                ));
            }
            Ok(Runtime {
                core: Mutex::new(core),
                version,
                library,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// One window of the decoder: input frames `start..start + WINDOW` (zero past the end), of which frames
/// `keep.0..keep.1` are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub start: usize,
    pub keep: (usize, usize),
}

/// The windows that decode `frames` latent frames: each keeps what lies at least `context` frames from its
/// edges (except at the sentence's own ends); the next starts at `min(done − context, frames − window)`.
pub(crate) fn windows(frames: usize, window: usize, context: usize) -> Vec<Window> {
    if frames <= window {
        return vec![Window {
            start: 0,
            keep: (0, frames),
        }];
    }
    let mut out = Vec::new();
    let mut done = 0;
    while done < frames {
        let start = if done == 0 {
            0
        } else {
            (done - context).min(frames - window)
        };
        let end = if start + window >= frames {
            frames
        } else {
            start + window - context
        };
        out.push(Window {
            start,
            keep: (done, end),
        });
        done = end;
    }
    out
}

/// A voice's decoder compiled by OpenVINO in bf16, with its infer requests.
pub(crate) struct OpenVinoDecoder {
    compiled: Mutex<CompiledModel>,
    requests: Mutex<Vec<InferRequest>>,
}

fn ov(e: impl std::fmt::Display) -> String {
    format!("OpenVINO: {e}")
}

impl OpenVinoDecoder {
    pub(crate) fn new(prepared: &Prepared) -> Result<OpenVinoDecoder, String> {
        let rt = runtime()?;
        let m = &prepared.manifest;
        let mut core = rt.core.lock().unwrap_or_else(|e| e.into_inner());
        let path = prepared.decoder.to_string_lossy();
        let mut model = core.read_model_from_file(&path, "").map_err(ov)?;
        let mut shapes = Vec::new();
        for (i, (name, &c)) in m.links.iter().zip(&m.channels).enumerate() {
            let w = if i == 0 { WINDOW as i64 } else { 1 };
            shapes.push((
                name.as_str(),
                PartialShape::new_static(4, &[1, c, 1, w]).map_err(ov)?,
            ));
        }
        let refs: Vec<(&str, &PartialShape)> = shapes.iter().map(|(n, s)| (*n, s)).collect();
        model.reshape(&refs).map_err(ov)?;
        core.set_properties(
            &DeviceType::CPU,
            [
                (RwPropertyKey::HintInferencePrecision, "bf16"),
                (RwPropertyKey::NumStreams, "2"),
                (RwPropertyKey::InferenceNumThreads, "2"),
            ],
        )
        .map_err(ov)?;
        let compiled = core.compile_model(&model, DeviceType::CPU).map_err(ov)?;
        Ok(OpenVinoDecoder {
            compiled: Mutex::new(compiled),
            requests: Mutex::new(Vec::new()),
        })
    }

    /// Decodes the encoder's links (`[1, C, W]` each, the latent first) window by window.
    pub(crate) fn decode(
        &self,
        prepared: &Prepared,
        links: &[(Vec<usize>, Vec<f32>)],
    ) -> Result<Vec<f32>, String> {
        let m = &prepared.manifest;
        let taken = self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop();
        let mut request = match taken {
            Some(r) => r,
            None => self
                .compiled
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .create_infer_request()
                .map_err(ov)?,
        };
        let result = Self::run(&mut request, m, links);
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(request);
        result
    }

    fn run(
        request: &mut InferRequest,
        m: &super::prepare::Manifest,
        links: &[(Vec<usize>, Vec<f32>)],
    ) -> Result<Vec<f32>, String> {
        let Some(((zshape, z), rest)) = links.split_first() else {
            return Err("the encoder gave the decoder nothing".into());
        };
        let &[_, c, t] = zshape.as_slice() else {
            return Err(format!("the latent has shape {zshape:?}, not [1, C, T]"));
        };
        for (name, (shape, values)) in m.links[1..].iter().zip(rest) {
            let dims: Vec<i64> = match shape[..] {
                [n, c, w] => vec![n as i64, c as i64, 1, w as i64],
                _ => shape.iter().map(|&d| d as i64).collect(),
            };
            let mut tensor =
                Tensor::new(ElementType::F32, &Shape::new(&dims).map_err(ov)?).map_err(ov)?;
            tensor
                .get_data_mut::<f32>()
                .map_err(ov)?
                .copy_from_slice(values);
            request.set_tensor(name, &tensor).map_err(ov)?;
        }
        let mut tensor = Tensor::new(
            ElementType::F32,
            &Shape::new(&[1, c as i64, 1, WINDOW as i64]).map_err(ov)?,
        )
        .map_err(ov)?;
        windowed(z, c, t, m.hop, |window| {
            tensor
                .get_data_mut::<f32>()
                .map_err(ov)?
                .copy_from_slice(window);
            request.set_tensor(&m.links[0], &tensor).map_err(ov)?;
            request.infer().map_err(ov)?;
            let out = request.get_tensor(&m.wave).map_err(ov)?;
            Ok(out.get_data::<f32>().map_err(ov)?.to_vec())
        })
    }
}

/// Decodes a latent `z` (`c` channels × `t` frames, row-major) window by window with `decode`, which takes
/// one window (`c` × [`WINDOW`] frames, zero past the end) and gives its `WINDOW · hop` samples.
pub(crate) fn windowed(
    z: &[f32],
    c: usize,
    t: usize,
    hop: usize,
    mut decode: impl FnMut(&[f32]) -> Result<Vec<f32>, String>,
) -> Result<Vec<f32>, String> {
    let mut samples = Vec::with_capacity(t * hop);
    let mut buffer = vec![0f32; c * WINDOW];
    for w in windows(t, WINDOW, CONTEXT) {
        let n = WINDOW.min(t - w.start);
        for ch in 0..c {
            let row = &mut buffer[ch * WINDOW..(ch + 1) * WINDOW];
            row[..n].copy_from_slice(&z[ch * t + w.start..ch * t + w.start + n]);
            row[n..].fill(0.0);
        }
        let wave = decode(&buffer)?;
        let (from, to) = ((w.keep.0 - w.start) * hop, (w.keep.1 - w.start) * hop);
        samples.extend_from_slice(wave.get(from..to).ok_or_else(|| {
            format!(
                "the decoder gave {} samples for a window, not {}",
                wave.len(),
                WINDOW * hop
            )
        })?);
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::piper::tests::{joe, snr};
    use crate::synth::piper::{decode, noise, open_session, run_seeded, DEFAULT_VOICE};

    /// OpenVINO, or `None` (the test skips) where it is not installed; under NARRATE_REQUIRE_TOOLS a missing
    /// install fails (a CPU without BF16 still skips: the engine is not meant to run there).
    fn openvino() -> Option<()> {
        match runtime() {
            Ok(_) => Some(()),
            Err(e) => {
                assert!(
                    !(std::env::var_os("NARRATE_REQUIRE_TOOLS").is_some()
                        && e.contains("not installed")),
                    "{e}"
                );
                eprintln!("skipping: {e}");
                None
            }
        }
    }

    const SENTENCES: [&str; 3] = [
        "Seven herons stood in the shallows, waiting.",
        "The ferry left at noon, and by the time it reached the far shore the wind had turned, the gulls had \
         gone quiet, and the passengers were counting the minutes until they could stand on something that \
         did not move beneath their feet.",
        "At dusk the market closed, and the square fell quiet again, apart from the pigeons.",
    ];

    /// The latent and the whole-sentence float32 decoding of each sentence, noise on (a real take).
    /// Each sentence's encoder links and its whole-sentence float32 samples.
    type Case = (Vec<super::super::Link>, Vec<f32>);

    fn latents() -> Option<(super::super::prepare::Prepared, Vec<Case>)> {
        let (piper, model) = joe()?;
        let prepared = (*piper.prepared(&model).unwrap()).clone();
        let mut encoder = piper.encoder_session(&model).unwrap();
        let mut decoder = open_session(&prepared.decoder).unwrap();
        let inf = &model.config.inference;
        let scales = [inf.noise_scale, inf.length_scale, inf.noise_w];
        let links: Vec<&str> = prepared.manifest.links.iter().map(String::as_str).collect();
        let out = SENTENCES
            .iter()
            .map(|text| {
                let sentences =
                    super::super::phonemize::phonemize(&model.config.espeak.voice, text).unwrap();
                let ids = super::super::phoneme_ids(&sentences[0], &model.config.phoneme_id_map);
                let seed = noise::seed(DEFAULT_VOICE, None, text, 1);
                let split =
                    run_seeded(&mut encoder, &model, &ids, scales, &seed, 0, &links).unwrap();
                let whole = decode(&mut decoder, &prepared.manifest, split.clone()).unwrap();
                (split, whole)
            })
            .collect();
        Some((prepared, out))
    }

    #[test]
    fn windowed_decoding_matches_whole_sentence_decoding() {
        let Some((prepared, cases)) = latents() else {
            return;
        };
        let mut decoder = open_session(&prepared.decoder).unwrap();
        let m = &prepared.manifest;
        let mut long = false;
        for (links, whole) in cases {
            let (shape, z) = &links[0];
            let (c, t) = (shape[1], shape[2]);
            long |= t > 2 * WINDOW;
            let got = windowed(z, c, t, m.hop, |window| {
                let one = vec![(vec![1, c, WINDOW], window.to_vec())];
                decode(&mut decoder, m, one).map_err(|e| e.to_string())
            })
            .unwrap();
            let snr = snr(&whole, &got);
            eprintln!("{t} frames: {snr:.1} dB");
            // Short sentences are zero-padded to one window: their last frames see zeros where the whole
            // sentence saw the convolutions' own padding, so they are held to a lower (still inaudible) bar.
            let bar = if t > WINDOW { 90.0 } else { 60.0 };
            assert!(snr >= bar, "{t} frames: {snr:.1} dB");
        }
        assert!(long, "no sentence needed more than two windows");
    }

    #[test]
    fn bf16_decoding_keeps_the_durations_and_stays_within_35_db_of_float32() {
        if openvino().is_none() {
            return;
        }
        let Some((prepared, cases)) = latents() else {
            return;
        };
        let decoder = OpenVinoDecoder::new(&prepared).unwrap();
        for (links, whole) in cases {
            let got = decoder.decode(&prepared, &links).unwrap();
            assert_eq!(got.len(), whole.len(), "durations differ");
            let snr = snr(&whole, &got);
            eprintln!("{} samples: {snr:.1} dB", got.len());
            assert!(snr >= 35.0, "{snr:.1} dB");
        }
    }

    #[test]
    fn windows_cover_every_frame_once_with_context_inside_the_sentence() {
        for frames in [1, 200, 256, 257, 300, 480, 481, 1000, 4097] {
            let ws = windows(frames, WINDOW, CONTEXT);
            let mut next = 0;
            for (i, w) in ws.iter().enumerate() {
                assert_eq!(w.keep.0, next, "{frames}: {ws:?}");
                assert!(w.keep.1 > w.keep.0);
                assert!(w.keep.0 >= w.start && w.keep.1 <= w.start + WINDOW);
                if i > 0 {
                    assert!(w.keep.0 >= w.start + CONTEXT, "{frames}: {w:?}");
                }
                if w.keep.1 < frames {
                    assert!(w.keep.1 + CONTEXT <= w.start + WINDOW, "{frames}: {w:?}");
                }
                if frames > WINDOW {
                    assert!(w.start + WINDOW <= frames, "{frames}: {w:?}");
                }
                next = w.keep.1;
            }
            assert_eq!(next, frames);
        }
    }
}
