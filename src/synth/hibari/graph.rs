//! Opening hibari's duration predictor to the host: an in-memory edit of the model's graph (with the prost
//! machinery Piper's backend uses, `synth::piper::graph`), made once at load. The model file is never written.
//!
//! The model turns its predictor's log-durations into frames per phoneme as
//! `Cast<int64>(Clip(Round((exp(x) − 1) / speed), min))`. The edit makes that
//! `Cast<int64>(Min(Clip(Round((exp(x) − 1) / speed · scale + offset), min), cap))` with three new float inputs
//! of one value per phoneme, [`SCALE`] (duration multipliers), [`OFFSET`] (added before rounding: the predictor's
//! durations sit within a few hundredths of whole steps, so a change of a few percent only shows once it is
//! dithered) and [`CAP`] (the most steps a phoneme may take), and adds the steps per phoneme as a new output,
//! [`FRAMES`]. With every scale 1, every offset 0 and every cap +∞ the arithmetic is the model's own, so the
//! features, and the audio, are bit for bit the same.
//!
//! A second edit ([`expose_spectra`]) hands the vocoder the model's five spectra as its head computes them,
//! frame by frame ([`SPECTRA`]), instead of the five bin-major outputs the model makes of them with a
//! transpose and a split: the same values in the order the vocoder reads them, without a copy of the largest
//! tensor of the run (about a seventh of ONNX Runtime's time on this model went to that transpose and split).

use crate::synth::piper::graph::onnx::tensor_proto::DataType;
use crate::synth::piper::graph::onnx::tensor_shape_proto::{dimension, Dimension};
use crate::synth::piper::graph::onnx::{GraphProto, ModelProto, NodeProto};
use crate::synth::piper::graph::{int, ints, make, value_info};

/// The new input: a multiplier per phoneme ID (float32 `[L]`), applied to the predicted duration before
/// rounding.
pub(crate) const SCALE: &str = "narrate_duration_scale";
/// The new input: added to each phoneme ID's scaled duration before rounding (float32 `[L]`).
pub(crate) const OFFSET: &str = "narrate_duration_offset";
/// The new input: the most steps each phoneme ID may take (float32 `[L]`; +∞ for no limit), applied after
/// rounding.
pub(crate) const CAP: &str = "narrate_duration_cap";
/// The new output: the predictor's steps per phoneme ID (int64 `[L]`), as the model expands them: each step is
/// [`FRAMES_PER_STEP`] frames of its features (the model tiles its expanded features by two).
pub(crate) const FRAMES: &str = "narrate_frames";
/// Output frames (12.5 ms, 300 samples each) per duration step.
pub(crate) const FRAMES_PER_STEP: usize = 2;

/// The version of the edit: part of the fingerprint.
pub(crate) const REWRITE: u32 = 1;

/// The model's five spectra outputs, in the order its head computes them.
pub(crate) const HEAD: [&str; 5] = ["lh", "theta", "ln", "lr", "phi"];
/// The new output replacing [`HEAD`]: float32 `[1, frames, 5 · bins]`, each frame's `lh`, `theta`, `ln`, `lr` and
/// `phi` rows one after the other.
pub(crate) const SPECTRA: &str = "narrate_spectra";
/// The version of [`expose_spectra`]: part of the optimized copy's name, not of the fingerprint (the values are
/// the model's own; only their order changes).
pub(crate) const LAYOUT: u32 = 1;

fn unknown(what: impl std::fmt::Display) -> String {
    unknown_in(what, "duration")
}

/// The error for a model whose graph is not laid out as the edit of `part` expects.
fn unknown_in(what: impl std::fmt::Display, part: &str) -> String {
    format!("{what}; narrate does not know this model's {part} layout")
}

/// Whether `graph` already has a value named `name` (written by a node, an input or an initializer).
fn taken(graph: &GraphProto, name: &str) -> bool {
    graph
        .node
        .iter()
        .any(|x| x.output.iter().any(|o| o == name))
        || graph.input.iter().any(|i| i.name() == name)
        || graph.initializer.iter().any(|t| t.name() == name)
}

/// The one node that writes `value`.
fn writer<'a>(nodes: &'a [NodeProto], value: &str) -> Option<(usize, &'a NodeProto)> {
    nodes
        .iter()
        .enumerate()
        .find(|(_, n)| n.output.iter().any(|o| o == value))
}

/// The only node that reads `value`, if exactly one does.
fn only_reader(nodes: &[NodeProto], value: &str) -> Option<usize> {
    let mut readers = nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.input.iter().any(|i| i == value));
    match (readers.next(), readers.next()) {
        (Some((i, _)), None) => Some(i),
        _ => None,
    }
}

fn per_phoneme(name: &str, elem: DataType) -> crate::synth::piper::graph::onnx::ValueInfoProto {
    value_info(
        name,
        elem,
        vec![Dimension {
            value: Some(dimension::Value::DimParam("phonemes".into())),
            denotation: None,
        }],
    )
}

/// Makes the edit described at the top of this module.
pub(crate) fn open_durations(model: &mut ModelProto) -> Result<(), String> {
    let graph = model.graph.as_mut().ok_or("the model has no graph")?;
    let nodes = &graph.node;
    // Round(Div(_, speed)) → Clip → Cast: the only Round of the graph, fed by the division by `speed`.
    let (round, round_node) = nodes
        .iter()
        .enumerate()
        .find(|(_, n)| n.op_type() == "Round")
        .ok_or_else(|| unknown("the model has no Round"))?;
    let divided = round_node
        .input
        .first()
        .cloned()
        .ok_or_else(|| unknown("Round has no input"))?;
    let (_, div) = writer(nodes, &divided).ok_or_else(|| unknown("Round's input has no writer"))?;
    if div.op_type() != "Div" || div.input.get(1).map(String::as_str) != Some("speed") {
        return Err(unknown("Round does not read the division by `speed`"));
    }
    let rounded = round_node.output.first().cloned().unwrap_or_default();
    let clip = only_reader(nodes, &rounded)
        .filter(|&i| nodes[i].op_type() == "Clip")
        .ok_or_else(|| unknown("Round is not read by one Clip"))?;
    let clipped = nodes[clip].output.first().cloned().unwrap_or_default();
    let cast = only_reader(nodes, &clipped)
        .filter(|&i| nodes[i].op_type() == "Cast")
        .ok_or_else(|| unknown("Clip is not read by one Cast"))?;
    let frames = nodes[cast].output.first().cloned().unwrap_or_default();
    if frames.is_empty() {
        return Err(unknown("the Cast of the durations has no output"));
    }
    let scaled = "narrate_durations/scaled".to_string();
    let shifted = "narrate_durations/shifted".to_string();
    let capped = "narrate_durations/capped".to_string();
    if let Some(n) = [SCALE, OFFSET, CAP, FRAMES, &scaled, &shifted, &capped]
        .into_iter()
        .find(|n| taken(graph, n))
    {
        return Err(format!("the model already has a value named `{n}`"));
    }

    graph.node[round].input[0] = shifted.clone();
    graph.node[cast].input[0] = capped.clone();
    let mul = make(
        "/narrate_durations/Mul",
        "Mul",
        [&divided, SCALE],
        [&scaled],
        [],
    );
    let add = make(
        "/narrate_durations/Add",
        "Add",
        [&scaled, OFFSET],
        [&shifted],
        [],
    );
    let min = make(
        "/narrate_durations/Min",
        "Min",
        [&clipped, CAP],
        [&capped],
        [],
    );
    let identity = make(
        "/narrate_durations/Identity",
        "Identity",
        [&frames],
        [FRAMES],
        [],
    );
    // Keep the graph topologically sorted: each new node right before its reader (or after its input).
    graph.node.insert(cast, min);
    graph.node.insert(round, add);
    graph.node.insert(round, mul);
    let cast = cast + 3;
    graph.node.insert(cast + 1, identity);
    graph.input.push(per_phoneme(SCALE, DataType::Float));
    graph.input.push(per_phoneme(OFFSET, DataType::Float));
    graph.input.push(per_phoneme(CAP, DataType::Float));
    graph.output.push(per_phoneme(FRAMES, DataType::Int64));
    Ok(())
}

/// Makes the head's `[1, frames, 5 · bins]` result the output [`SPECTRA`], in place of the transpose to
/// `[1, 5 · bins, frames]` and the split into the five [`HEAD`] outputs of `[1, bins, frames]`, which it
/// removes (with the split's sizes, when nothing else reads them).
pub(crate) fn expose_spectra(model: &mut ModelProto) -> Result<(), String> {
    let unknown = |what: &str| unknown_in(what, "output");
    let graph = model.graph.as_mut().ok_or("the model has no graph")?;
    let nodes = &graph.node;
    let (split, split_node) = nodes
        .iter()
        .enumerate()
        .find(|(_, n)| n.op_type() == "Split" && n.output.iter().eq(HEAD.iter()))
        .ok_or_else(|| unknown("no Split writes lh, theta, ln, lr and phi"))?;
    let axis = int(split_node, "axis");
    let transposed = split_node.input.first().cloned().unwrap_or_default();
    let (transpose, transpose_node) =
        writer(nodes, &transposed).ok_or_else(|| unknown("the Split's input has no writer"))?;
    let perm = ints(transpose_node, "perm");
    if axis != Some(1) || transpose_node.op_type() != "Transpose" || perm != Some(vec![0, 2, 1]) {
        return Err(unknown(
            "the outputs are not split on axis 1 of a [0, 2, 1] transpose",
        ));
    }
    if only_reader(nodes, &transposed) != Some(split) {
        return Err(unknown("the transposed head has other readers"));
    }
    let head = transpose_node.input.first().cloned().unwrap_or_default();
    if only_reader(nodes, &head) != Some(transpose) || graph.output.iter().any(|o| o.name() == head)
    {
        return Err(unknown("the head has other readers"));
    }
    if taken(graph, SPECTRA) {
        return Err(format!("the model already has a value named `{SPECTRA}`"));
    }
    let sizes = split_node.input.get(1).cloned();
    let (head_writer, _) = writer(nodes, &head).ok_or_else(|| unknown("the head has no writer"))?;
    for o in graph.node[head_writer]
        .output
        .iter_mut()
        .filter(|o| **o == head)
    {
        *o = SPECTRA.to_string();
    }
    graph.node.remove(split.max(transpose));
    graph.node.remove(split.min(transpose));
    // The split's sizes, if a Constant node nothing else reads.
    if let Some(sizes) = sizes {
        let unread = !graph.node.iter().any(|n| n.input.contains(&sizes));
        if let (true, Some((i, n))) = (unread, writer(&graph.node, &sizes)) {
            if n.op_type() == "Constant" {
                graph.node.remove(i);
            }
        }
    }
    // Its shape: the first output's batch dimension, its frames, and five rows of its bins.
    let lh = graph.output.iter().find(|o| o.name() == HEAD[0]).cloned();
    let dims = lh
        .and_then(|o| match o.r#type?.value? {
            crate::synth::piper::graph::onnx::type_proto::Value::TensorType(t) => {
                Some(t.shape?.dim)
            }
            _ => None,
        })
        .filter(|d| d.len() == 3);
    let dims = match dims {
        Some(d) => {
            let bins = match d[1].value {
                Some(dimension::Value::DimValue(v)) => Some(v * HEAD.len() as i64),
                _ => None,
            };
            vec![
                d[0].clone(),
                d[2].clone(),
                Dimension {
                    value: bins.map(dimension::Value::DimValue),
                    denotation: None,
                },
            ]
        }
        None => vec![Dimension::default(); 3],
    };
    graph.output.retain(|o| !HEAD.contains(&o.name()));
    graph
        .output
        .insert(0, value_info(SPECTRA, DataType::Float, dims));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::piper::graph::onnx::tensor_shape_proto::{dimension, Dimension};
    use crate::synth::piper::graph::onnx::OperatorSetIdProto;
    use crate::synth::piper::graph::{decode, encode};

    /// A model of opset 17 (hibari's) around `graph`.
    fn opset17(graph: GraphProto) -> ModelProto {
        ModelProto {
            ir_version: Some(8),
            opset_import: vec![OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(17),
            }],
            graph: Some(graph),
            ..Default::default()
        }
    }

    /// A model with the duration tail of hibari's graph: `x` and `speed` in, frames out.
    fn tail() -> ModelProto {
        let f = |n: &str| value_info(n, DataType::Float, vec![]);
        opset17(GraphProto {
            name: Some("tail".into()),
            node: vec![
                make("/Div_40", "Div", ["x", "speed"], ["d"], []),
                make("/Round", "Round", ["d"], ["r"], []),
                make("/Clip", "Clip", ["r", "one"], ["c"], []),
                make(
                    "/Cast_32",
                    "Cast",
                    ["c"],
                    ["n"],
                    [crate::synth::piper::graph::int_attr(
                        "to",
                        DataType::Int64 as i64,
                    )],
                ),
                make("/ReduceSum", "ReduceSum", ["n"], ["total"], []),
            ],
            initializer: vec![crate::synth::piper::graph::float_scalar("one", 1.0)],
            input: vec![f("x"), f("speed")],
            output: vec![value_info("total", DataType::Int64, vec![])],
            ..Default::default()
        })
    }

    #[test]
    fn the_edit_scales_before_rounding_caps_after_and_exposes_the_frames() {
        let mut model = tail();
        open_durations(&mut model).unwrap();
        let ops: Vec<&str> = model
            .graph
            .as_ref()
            .unwrap()
            .node
            .iter()
            .map(|n| n.op_type())
            .collect();
        assert_eq!(
            ops,
            [
                "Div",
                "Mul",
                "Add",
                "Round",
                "Clip",
                "Min",
                "Cast",
                "Identity",
                "ReduceSum"
            ]
        );
        // A second edit finds its own names taken.
        let err = open_durations(&mut model.clone()).unwrap_err();
        assert!(
            err.contains("does not read the division") || err.contains("already"),
            "{err}"
        );
        let bytes = encode(&model);
        assert_eq!(decode(bytes.clone()).unwrap(), model);

        let Some(env) = crate::synth::piper::tests::runtime() else {
            return;
        };
        let mut session = ort::session::Session::builder(env)
            .unwrap()
            .commit_from_memory(&bytes)
            .unwrap();
        let t = |v: Vec<f32>| ort::value::Tensor::from_array(([v.len()], v)).unwrap();
        let outputs = session
            .run(ort::inputs![
                "x" => t(vec![2.4, 0.2, 7.0, 3.0]),
                "speed" => t(vec![1.0]),
                SCALE => t(vec![1.0, 1.0, 1.5, 1.2]),
                OFFSET => t(vec![0.0, 0.0, 0.0, -0.2]),
                CAP => t(vec![f32::INFINITY, 9.0, 5.0, 9.0]),
            ])
            .unwrap();
        let (_, frames) = outputs[FRAMES].try_extract_tensor::<i64>().unwrap();
        // 2.4 → 2; 0.2 → 0 → Clip to 1; 7·1.5 = 10.5 → 10 (half to even) → capped at 5; 3·1.2 − 0.2 = 3.4 → 3.
        assert_eq!(frames, [2, 1, 5, 3]);
        let (_, total) = outputs["total"].try_extract_tensor::<i64>().unwrap();
        assert_eq!(total, [11]);
    }

    /// A model with the head of hibari's graph: `x` `[1, frames, 5 · 2]` plus a bias, transposed and split into
    /// five `[1, 2, frames]` outputs.
    fn head() -> ModelProto {
        let dims = |d: &[i64]| {
            d.iter()
                .map(|&v| Dimension {
                    value: Some(if v < 0 {
                        dimension::Value::DimParam("F".into())
                    } else {
                        dimension::Value::DimValue(v)
                    }),
                    denotation: None,
                })
                .collect()
        };
        let perm = crate::synth::piper::graph::ints_attr("perm", vec![0, 2, 1]);
        let sizes = crate::synth::piper::graph::int64s("sizes", &[2; 5], false);
        let mut constant = make("/Constant_175", "Constant", [""; 0], ["sizes"], []);
        constant
            .attribute
            .push(crate::synth::piper::graph::onnx::AttributeProto {
                name: Some("value".into()),
                r#type: Some(
                    crate::synth::piper::graph::onnx::attribute_proto::AttributeType::Tensor as i32,
                ),
                t: Some(sizes),
                ..Default::default()
            });
        opset17(GraphProto {
            name: Some("head".into()),
            node: vec![
                make("/head/Add", "Add", ["x", "bias"], ["head"], []),
                make("/Transpose_58", "Transpose", ["head"], ["t"], [perm]),
                constant,
                make(
                    "/Split",
                    "Split",
                    ["t", "sizes"],
                    HEAD,
                    [crate::synth::piper::graph::int_attr("axis", 1)],
                ),
            ],
            initializer: vec![crate::synth::piper::graph::float_scalar("bias", 0.5)],
            input: vec![value_info("x", DataType::Float, dims(&[1, -1, 10]))],
            output: HEAD
                .iter()
                .map(|n| value_info(n, DataType::Float, dims(&[1, 2, -1])))
                .collect(),
            ..Default::default()
        })
    }

    #[test]
    fn the_spectra_come_out_frame_by_frame_with_the_model_s_values() {
        let mut model = head();
        expose_spectra(&mut model).unwrap();
        let graph = model.graph.as_ref().unwrap();
        let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type()).collect();
        assert_eq!(ops, ["Add"]);
        let outputs: Vec<&str> = graph.output.iter().map(|o| o.name()).collect();
        assert_eq!(outputs, [SPECTRA]);
        assert!(expose_spectra(&mut model.clone())
            .unwrap_err()
            .contains("no Split writes"));

        let Some(env) = crate::synth::piper::tests::runtime() else {
            return;
        };
        let frames = 3;
        let x: Vec<f32> = (0..frames * 10).map(|i| i as f32).collect();
        let run = |model: &ModelProto| {
            let mut session = ort::session::Session::builder(env)
                .unwrap()
                .commit_from_memory(&encode(model))
                .unwrap();
            let input = ort::value::Tensor::from_array(([1, frames, 10], x.clone())).unwrap();
            let outputs = session.run(ort::inputs!["x" => input]).unwrap();
            let names: Vec<String> = outputs.keys().map(str::to_string).collect();
            names
                .into_iter()
                .map(|n| {
                    let (_, v) = outputs[n.as_str()].try_extract_tensor::<f32>().unwrap();
                    (n, v.to_vec())
                })
                .collect::<std::collections::HashMap<_, _>>()
        };
        let (before, after) = (run(&head()), run(&model));
        let spectra = &after[SPECTRA];
        assert_eq!(spectra.len(), frames * 10);
        // Frame f's row r, bin b is output r's [b, f].
        for f in 0..frames {
            for (r, name) in HEAD.iter().enumerate() {
                for b in 0..2 {
                    assert_eq!(
                        spectra[f * 10 + r * 2 + b],
                        before[*name][b * frames + f],
                        "frame {f}, {name}, bin {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_model_without_the_layout_is_an_error_naming_what_is_missing() {
        let mut model = tail();
        model.graph.as_mut().unwrap().node.remove(1);
        let err = open_durations(&mut model).unwrap_err();
        assert!(err.contains("no Round"), "{err}");
    }
}
