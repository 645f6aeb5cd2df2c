//! Splitting a (seeded) Piper voice at its decoder and rewriting the decoder for the CPU's fast paths.
//!
//! A Piper voice is one VITS graph: text encoder, duration predictor and flow (with the random ops `graph`
//! seeds), then a HiFi-GAN decoder (`/dec/*`) that turns latent frames into samples and takes about three
//! quarters of the time. [`split`] cuts the graph at the decoder's input (the input of `/dec/conv_pre/Conv`):
//! the encoder keeps the noise inputs and hands the decoder its latent `z` (and, for multi-speaker voices, the
//! speaker embedding). The decoder is rewritten so that ONNX Runtime's x86 layout (NCHWc, 2-D convolutions
//! only) applies, with the same arithmetic:
//! - every 1-D tensor `[N, C, W]` becomes `[N, C, 1, W]` (same memory) and every convolution a 2-D one with a
//!   unit H axis;
//! - each `ConvTranspose` (stride s, output length s·W) becomes its exact polyphase form: a `Conv` with
//!   s·Cout outputs, `Reshape [0, s, Cout, W]`, `Transpose [0, 2, 3, 1]`, `Reshape [0, Cout, 1, s·W]`, `Add`
//!   bias;
//! - each `LeakyRelu` is preceded by a 1×1 identity depthwise `Conv`, which ONNX Runtime fuses with it;
//! - every decoder tensor gets a shape with a symbolic width per stage (`T`, `8*T`, …), so the residual
//!   `Add`s see equal shapes and fuse.

use std::collections::{HashMap, HashSet};

use prost::bytes::Bytes;

use super::graph::onnx::tensor_proto::DataType;
use super::graph::onnx::tensor_shape_proto::{dimension, Dimension};
use super::graph::onnx::{GraphProto, ModelProto, NodeProto, TensorProto};
use super::graph::{int, int64s, int_attr, ints, ints_attr, make, value_info};

/// The version of the rewrite [`split`] makes: part of the prepared files' names and of the voice's
/// fingerprint, so a change regenerates them and never mixes audio from two rewrites.
/// 2: the encoder also gives the frames of each phoneme ID ([`Split::durations`]).
pub(crate) const DECODER_REWRITE: u32 = 2;

/// A voice split at its decoder.
#[derive(Debug)]
pub(crate) struct Split {
    pub encoder: ModelProto,
    pub decoder: ModelProto,
    /// The tensors the encoder hands to the decoder, each an encoder output and a decoder input of that name,
    /// the latent `z` (`[1, C, T]`) first.
    pub links: Vec<String>,
    /// The decoder's output: `[1, 1, 1, hop·T]` samples.
    pub wave: String,
    /// An encoder output: the latent frames of each phoneme ID (`[1, 1, N]` floats), the output of the duration
    /// predictor's `Ceil` (VITS's `w_ceil`); their sum is the latent's length `T`.
    pub durations: String,
    /// Samples per latent frame (the product of the upsampling strides: 256 for every Piper voice so far).
    pub hop: usize,
    /// Channels of each link.
    pub channels: Vec<i64>,
}

/// Ops the rewritten decoder may contain as they are (elementwise, so a unit H axis changes nothing).
const ELEMENTWISE: &[&str] = &["Add", "Sub", "Mul", "Div", "Tanh", "Relu", "Identity"];

/// Ops that only reshape the decoder's output into the model's own output.
const RESHAPES: &[&str] = &["Unsqueeze", "Squeeze", "Reshape", "Identity", "Flatten"];

fn unknown(what: impl std::fmt::Display) -> String {
    format!("{what}; narrate does not know this voice's decoder layout")
}

/// Names a node reads, subgraphs included.
fn reads(node: &NodeProto) -> Vec<&str> {
    let mut names: Vec<&str> = node.input.iter().map(String::as_str).collect();
    for a in &node.attribute {
        for g in a.g.iter().chain(&a.graphs) {
            for n in &g.node {
                names.extend(reads(n));
            }
        }
    }
    names
}

/// Splits a seeded model (see `graph::seed_noise`) into encoder and rewritten decoder.
pub(crate) fn split(mut model: ModelProto) -> Result<Split, String> {
    let mut graph = model.graph.take().ok_or("the model has no graph")?;
    let (prefix, z) = decoder_start(&graph)?;
    let (dec, rest): (Vec<NodeProto>, Vec<NodeProto>) = std::mem::take(&mut graph.node)
        .into_iter()
        .partition(|n| n.name().starts_with(&prefix));
    let mut inits: HashMap<String, TensorProto> = std::mem::take(&mut graph.initializer)
        .into_iter()
        .filter_map(|t| Some((t.name.clone()?, t)))
        .collect();
    let made: HashSet<&str> = dec
        .iter()
        .flat_map(|n| n.output.iter().map(String::as_str))
        .collect();
    let links = links(z, &dec, &made, &inits);
    let wave = decoder_result(&graph, &rest, &made)?;
    let (encoder_nodes, after) = drop_after_decoder(rest, &wave)?;
    let durations = durations(&encoder_nodes)?;
    let outputs: Vec<String> = links.iter().cloned().chain([durations.clone()]).collect();
    let encoder_graph = encoder_graph(&mut graph, encoder_nodes, &after, &outputs, &inits);
    let dec_reads: HashSet<String> = dec.iter().flat_map(reads).map(str::to_string).collect();
    inits.retain(|name, _| dec_reads.contains(name));

    let mut rewrite = Rewrite {
        inits,
        new_inits: Vec::new(),
        channels: HashMap::new(),
        scale: HashMap::new(),
        identities: HashMap::new(),
        reshaped: HashSet::new(),
        nodes: Vec::new(),
    };
    rewrite.scale.insert(links[0].clone(), 1);
    for node in dec {
        rewrite.node(node)?;
    }
    let hop = *rewrite
        .scale
        .get(&wave)
        .ok_or_else(|| unknown("the decoder's output does not follow from `z`"))?;
    let channels = links
        .iter()
        .map(|l| {
            rewrite
                .channels
                .get(l)
                .copied()
                .ok_or_else(|| unknown(format!("channels of `{l}` unknown")))
        })
        .collect::<Result<_, _>>()?;
    let decoder_graph = rewrite.graph(graph.name(), &links, &wave, hop);
    let encoder = ModelProto {
        graph: Some(encoder_graph),
        ..model.clone()
    };
    let decoder = ModelProto {
        graph: Some(decoder_graph),
        ..model
    };
    Ok(Split {
        encoder,
        decoder,
        channels,
        links,
        wave,
        durations,
        hop: usize::try_from(hop).map_err(|_| unknown("a negative upsampling"))?,
    })
}

/// The frames of each phoneme ID: the output of the graph's one `Ceil` (VITS rounds its predicted durations up).
fn durations(nodes: &[NodeProto]) -> Result<String, String> {
    let mut ceils = nodes.iter().filter(|n| n.op_type() == "Ceil");
    match (ceils.next(), ceils.next()) {
        (Some(c), None) => c
            .output
            .first()
            .cloned()
            .ok_or_else(|| unknown("its `Ceil` has no output")),
        _ => Err(unknown(
            "the model has not exactly one `Ceil` (the durations)",
        )),
    }
}

/// The decoder's name prefix (`…/dec/`) and its input, the latent `z`: the input of `/dec/conv_pre/Conv`.
fn decoder_start(graph: &GraphProto) -> Result<(String, String), String> {
    let pre = graph
        .node
        .iter()
        .find(|n| n.op_type() == "Conv" && n.name().ends_with("dec/conv_pre/Conv"))
        .ok_or_else(|| unknown("the model has no `/dec/conv_pre/Conv`"))?;
    let prefix = pre.name().trim_end_matches("conv_pre/Conv").to_string();
    let z = pre
        .input
        .first()
        .cloned()
        .ok_or_else(|| unknown("`/dec/conv_pre/Conv` has no input"))?;
    Ok((prefix, z))
}

/// The tensors the decoder reads that neither it nor an initializer makes, `z` first.
fn links(
    z: String,
    dec: &[NodeProto],
    made: &HashSet<&str>,
    inits: &HashMap<String, TensorProto>,
) -> Vec<String> {
    let mut links = vec![z];
    for name in dec.iter().flat_map(reads) {
        if !name.is_empty()
            && !made.contains(name)
            && !inits.contains_key(name)
            && !links.iter().any(|l| l == name)
        {
            links.push(name.to_string());
        }
    }
    links
}

/// The decoder's result: the one decoder tensor the rest of the graph (or its output) reads.
fn decoder_result(
    graph: &GraphProto,
    rest: &[NodeProto],
    made: &HashSet<&str>,
) -> Result<String, String> {
    let outputs: HashSet<&str> = graph
        .output
        .iter()
        .filter_map(|o| o.name.as_deref())
        .collect();
    let mut read_outside: Vec<&str> = rest
        .iter()
        .flat_map(reads)
        .chain(outputs.iter().copied())
        .filter(|n| made.contains(n))
        .collect();
    read_outside.sort_unstable();
    read_outside.dedup();
    let [wave] = read_outside.as_slice() else {
        return Err(unknown(format!(
            "the decoder hands {} tensors to the rest of the graph, not one",
            read_outside.len()
        )));
    };
    Ok(wave.to_string())
}

/// The nodes outside the decoder that do not follow it, and the tensors that do. What follows the decoder may
/// only reshape its samples into the model's output; it is dropped.
fn drop_after_decoder(
    rest: Vec<NodeProto>,
    wave: &str,
) -> Result<(Vec<NodeProto>, HashSet<String>), String> {
    let mut after: HashSet<String> = HashSet::from([wave.to_string()]);
    let mut encoder_nodes = Vec::with_capacity(rest.len());
    for node in rest {
        if reads(&node).iter().any(|r| after.contains(*r)) {
            if !RESHAPES.contains(&node.op_type()) {
                return Err(unknown(format!(
                    "`{}` ({}) works on the decoder's output",
                    node.name(),
                    node.op_type()
                )));
            }
            after.extend(node.output.iter().cloned());
        } else {
            encoder_nodes.push(node);
        }
    }
    Ok((encoder_nodes, after))
}

/// The encoder: the model's inputs, its outputs that do not come from the decoder (the noise counts), and the
/// links and durations (`links`); only the nodes those need. Takes the model's outputs from `graph`.
fn encoder_graph(
    graph: &mut GraphProto,
    encoder_nodes: Vec<NodeProto>,
    after: &HashSet<String>,
    links: &[String],
    inits: &HashMap<String, TensorProto>,
) -> GraphProto {
    let mut encoder_outputs: Vec<_> = std::mem::take(&mut graph.output)
        .into_iter()
        .filter(|o| !after.contains(o.name()))
        .collect();
    for link in links {
        encoder_outputs.push(value_info(link, DataType::Float, vec![]));
        if let Some(vi) = encoder_outputs.last_mut() {
            if let Some(super::graph::onnx::type_proto::Value::TensorType(t)) =
                vi.r#type.as_mut().and_then(|t| t.value.as_mut())
            {
                t.shape = None;
            }
        }
    }
    let mut needed: HashSet<String> = encoder_outputs
        .iter()
        .filter_map(|o| o.name.clone())
        .collect();
    let mut kept = Vec::with_capacity(encoder_nodes.len());
    for node in encoder_nodes.into_iter().rev() {
        if node.output.iter().any(|o| needed.contains(o)) {
            needed.extend(reads(&node).into_iter().map(str::to_string));
            kept.push(node);
        }
    }
    kept.reverse();
    let encoder_made: HashSet<&str> = kept
        .iter()
        .flat_map(|n| n.output.iter().map(String::as_str))
        .collect();
    GraphProto {
        name: Some(format!("{} (encoder)", graph.name())),
        node: kept.clone(),
        initializer: inits
            .iter()
            .filter(|(name, _)| needed.contains(*name))
            .map(|(_, t)| t.clone())
            .collect(),
        input: graph.input.clone(),
        output: encoder_outputs,
        value_info: graph
            .value_info
            .iter()
            .filter(|v| encoder_made.contains(v.name()))
            .cloned()
            .collect(),
        ..Default::default()
    }
}

/// A width `scale` times the latent's: `T`, `8*T`, ….
fn width(scale: i64) -> Dimension {
    Dimension {
        value: Some(dimension::Value::DimParam(if scale == 1 {
            "T".into()
        } else {
            format!("{scale}*T")
        })),
        denotation: None,
    }
}

fn fixed(v: i64) -> Dimension {
    Dimension {
        value: Some(dimension::Value::DimValue(v)),
        denotation: None,
    }
}

fn symbol(s: &str) -> Dimension {
    Dimension {
        value: Some(dimension::Value::DimParam(s.into())),
        denotation: None,
    }
}

/// The state of one decoder rewrite.
struct Rewrite {
    /// The decoder's own initializers, by name.
    inits: HashMap<String, TensorProto>,
    new_inits: Vec<TensorProto>,
    /// Channels of each tensor known so far.
    channels: HashMap<String, i64>,
    /// Width of each tensor known so far, in multiples of the latent's `T`.
    scale: HashMap<String, i64>,
    /// The 1×1 identity depthwise weights made so far, by channel count.
    identities: HashMap<i64, String>,
    /// Convolution weights already given their unit H axis.
    reshaped: HashSet<String>,
    nodes: Vec<NodeProto>,
}

/// A float tensor's values (raw little-endian data or `float_data`).
fn floats(t: &TensorProto) -> Result<Vec<f32>, String> {
    if t.data_type() != DataType::Float as i32 {
        return Err(unknown(format!("`{}` is not float32", t.name())));
    }
    if t.data_location() != super::graph::onnx::tensor_proto::DataLocation::Default {
        return Err(unknown(format!(
            "`{}` is stored outside the model",
            t.name()
        )));
    }
    let count: i64 = t.dims.iter().product();
    let values: Vec<f32> = match &t.raw_data {
        Some(raw) if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        _ => t.float_data.clone(),
    };
    if values.len() as i64 != count {
        return Err(unknown(format!(
            "`{}` holds {} values for dims {:?}",
            t.name(),
            values.len(),
            t.dims
        )));
    }
    Ok(values)
}

fn float_tensor(name: &str, dims: Vec<i64>, values: &[f32]) -> TensorProto {
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    TensorProto {
        name: Some(name.into()),
        data_type: Some(DataType::Float as i32),
        dims,
        raw_data: Some(Bytes::from(raw)),
        ..Default::default()
    }
}

impl Rewrite {
    /// The rewritten decoder as a graph: the links as its inputs (`z` of width `T`), its output `wave` of width
    /// `hop·T`, every other tensor with its shape (channels and width), so that the residual `Add`s fuse.
    fn graph(self, model_name: &str, links: &[String], wave: &str, hop: i64) -> GraphProto {
        let inputs = links
            .iter()
            .enumerate()
            .map(|(i, link)| {
                let c = self
                    .channels
                    .get(link)
                    .map_or_else(|| symbol(&format!("C{i}")), |&c| fixed(c));
                let w = if i == 0 {
                    width(1)
                } else {
                    symbol(&format!("W{i}"))
                };
                value_info(link, DataType::Float, vec![fixed(1), c, fixed(1), w])
            })
            .collect();
        let shapes = self
            .nodes
            .iter()
            .flat_map(|n| n.output.iter())
            .filter(|o| **o != wave)
            .filter_map(|o| {
                let (c, s) = (self.channels.get(o)?, self.scale.get(o)?);
                Some(value_info(
                    o,
                    DataType::Float,
                    vec![fixed(1), fixed(*c), fixed(1), width(*s)],
                ))
            })
            .collect();
        let mut initializer: Vec<TensorProto> = self.inits.into_values().collect();
        initializer.extend(self.new_inits);
        GraphProto {
            name: Some(format!(
                "{model_name} (decoder, narrate rewrite {DECODER_REWRITE})"
            )),
            node: self.nodes,
            initializer,
            input: inputs,
            output: vec![value_info(
                wave,
                DataType::Float,
                vec![fixed(1), fixed(1), fixed(1), width(hop)],
            )],
            value_info: shapes,
            ..Default::default()
        }
    }

    fn init(&self, node: &NodeProto, at: usize) -> Result<&TensorProto, String> {
        node.input
            .get(at)
            .and_then(|name| self.inits.get(name))
            .ok_or_else(|| {
                unknown(format!(
                    "`{}`: input {at} is not a weight in the model",
                    node.name()
                ))
            })
    }

    fn propagate(&mut self, node: &NodeProto, channels: Option<i64>, scale: Option<i64>) {
        for o in &node.output {
            if let Some(c) = channels {
                self.channels.insert(o.clone(), c);
            }
            if let Some(s) = scale {
                self.scale.insert(o.clone(), s);
            }
        }
    }

    fn node(&mut self, node: NodeProto) -> Result<(), String> {
        let input = node.input.first().cloned().unwrap_or_default();
        let scale_in = self.scale.get(&input).copied();
        match node.op_type() {
            "Conv" => self.conv(node, scale_in),
            "ConvTranspose" => self.conv_transpose(node, scale_in),
            "LeakyRelu" => {
                let c = *self.channels.get(&input).ok_or_else(|| {
                    unknown(format!("`{}`: channels of its input unknown", node.name()))
                })?;
                let weight = match self.identities.get(&c) {
                    Some(w) => w.clone(),
                    None => {
                        let name = format!("narrate_dec/identity{c}");
                        self.new_inits.push(float_tensor(
                            &name,
                            vec![c, 1, 1, 1],
                            &vec![1.0; c as usize],
                        ));
                        self.identities.insert(c, name.clone());
                        name
                    }
                };
                let copy = format!("{}/narrate_identity_output", node.name());
                self.nodes.push(make(
                    &format!("{}/narrate_identity", node.name()),
                    "Conv",
                    [input.as_str(), weight.as_str()],
                    [copy.as_str()],
                    [ints_attr("kernel_shape", vec![1, 1]), int_attr("group", c)],
                ));
                self.channels.insert(copy.clone(), c);
                if let Some(s) = scale_in {
                    self.scale.insert(copy.clone(), s);
                }
                let mut node = node;
                node.input[0] = copy;
                self.propagate(&node, Some(c), scale_in);
                self.nodes.push(node);
                Ok(())
            }
            op if ELEMENTWISE.contains(&op) => {
                for i in node.input.iter().filter_map(|i| self.inits.get(i)) {
                    if i.dims.iter().filter(|&&d| d != 1).count() > 0 && i.dims.len() > 1 {
                        return Err(unknown(format!(
                            "`{}` takes a constant of shape {:?}",
                            node.name(),
                            i.dims
                        )));
                    }
                }
                let c = node
                    .input
                    .iter()
                    .filter_map(|i| self.channels.get(i))
                    .copied()
                    .max();
                let s = node
                    .input
                    .iter()
                    .filter_map(|i| self.scale.get(i))
                    .copied()
                    .max();
                self.propagate(&node, c, s);
                self.nodes.push(node);
                Ok(())
            }
            op => Err(unknown(format!(
                "the decoder has a `{op}` (`{}`)",
                node.name()
            ))),
        }
    }

    /// A 1-D convolution as a 2-D one with a unit H axis.
    fn conv(&mut self, mut node: NodeProto, scale_in: Option<i64>) -> Result<(), String> {
        let weight = self.init(&node, 1)?;
        let [out, per_group, k] = weight.dims[..] else {
            return Err(unknown(format!(
                "`{}` has weights of shape {:?}",
                node.name(),
                weight.dims
            )));
        };
        let stride = ints(&node, "strides").unwrap_or_else(|| vec![1]);
        if let Some(a) = node.attribute.iter().find(|a| a.name() == "auto_pad") {
            if !matches!(a.s.as_deref(), None | Some(b"NOTSET")) {
                return Err(unknown(format!("`{}` pads automatically", node.name())));
            }
        }
        let pads = ints(&node, "pads").unwrap_or_else(|| vec![0, 0]);
        let dilations = ints(&node, "dilations").unwrap_or_else(|| vec![1]);
        let (&[s], &[pb, pe], &[d]) = (&stride[..], &pads[..], &dilations[..]) else {
            return Err(unknown(format!(
                "`{}` is not a 1-D convolution",
                node.name()
            )));
        };
        // 'Same' length at stride 1 keeps the width; anything else (the speaker conditioning's 1×1 on a width
        // of 1 keeps it too) is left unknown.
        let scale = scale_in.filter(|_| s == 1 && pb + pe == d * (k - 1));
        let group = int(&node, "group").unwrap_or(1);
        self.channels
            .entry(node.input[0].clone())
            .or_insert(per_group * group);
        let name = node.input[1].clone();
        if self.reshaped.insert(name.clone()) {
            if let Some(w) = self.inits.get_mut(&name) {
                w.dims = vec![out, per_group, 1, k];
            }
        }
        node.attribute.retain(|a| {
            !matches!(
                a.name(),
                "kernel_shape" | "strides" | "pads" | "dilations" | "auto_pad"
            )
        });
        node.attribute.extend([
            ints_attr("kernel_shape", vec![1, k]),
            ints_attr("strides", vec![1, s]),
            ints_attr("pads", vec![0, pb, 0, pe]),
            ints_attr("dilations", vec![1, d]),
        ]);
        self.propagate(&node, Some(out), scale);
        self.nodes.push(node);
        Ok(())
    }

    /// A transposed convolution of stride s whose output is s times its input as a polyphase `Conv`.
    fn conv_transpose(&mut self, node: NodeProto, scale_in: Option<i64>) -> Result<(), String> {
        let what = format!("`{}`", node.name());
        let weight = self.init(&node, 1)?;
        let [cin, cout, k] = weight.dims[..] else {
            return Err(unknown(format!(
                "{what} has weights of shape {:?}",
                weight.dims
            )));
        };
        let w = floats(weight)?;
        let bias = match node.input.get(2).filter(|b| !b.is_empty()) {
            Some(_) => Some(floats(self.init(&node, 2)?)?),
            None => None,
        };
        let (s, p) = stride_and_pad(&node, &what, k)?;
        let Polyphase {
            weights: poly,
            dmin,
            dmax,
            taps,
        } = polyphase(&w, [cin, cout, k], s, p);
        let base = node.name().to_string();
        let n = |step: &str| format!("{base}/narrate_{step}");
        let out = node
            .output
            .first()
            .cloned()
            .ok_or_else(|| unknown(format!("{what} has no output")))?;
        let input = node.input[0].clone();
        let (wname, shape1, shape2, bname) = (n("weight"), n("shape1"), n("shape2"), n("bias"));
        self.new_inits
            .push(float_tensor(&wname, vec![s * cout, cin, 1, taps], &poly));
        self.new_inits
            .push(int64s(&shape1, &[0, s, cout, -1], false));
        self.new_inits
            .push(int64s(&shape2, &[0, cout, 1, -1], false));
        let (phases, split, moved) = (n("phases"), n("split"), n("interleaved"));
        let last = if bias.is_some() {
            n("unbiased")
        } else {
            out.clone()
        };
        self.nodes.push(make(
            &n("conv"),
            "Conv",
            [input.as_str(), wname.as_str()],
            [phases.as_str()],
            [
                ints_attr("kernel_shape", vec![1, taps]),
                ints_attr("pads", vec![0, dmax, 0, -dmin]),
            ],
        ));
        self.nodes.push(make(
            &n("reshape1"),
            "Reshape",
            [phases.as_str(), shape1.as_str()],
            [split.as_str()],
            [],
        ));
        self.nodes.push(make(
            &n("transpose"),
            "Transpose",
            [split.as_str()],
            [moved.as_str()],
            [ints_attr("perm", vec![0, 2, 3, 1])],
        ));
        self.nodes.push(make(
            &n("reshape2"),
            "Reshape",
            [moved.as_str(), shape2.as_str()],
            [last.as_str()],
            [],
        ));
        if let Some(b) = bias {
            self.new_inits
                .push(float_tensor(&bname, vec![cout, 1, 1], &b));
            self.nodes.push(make(
                &n("add_bias"),
                "Add",
                [last.as_str(), bname.as_str()],
                [out.as_str()],
                [],
            ));
            self.channels.insert(last.clone(), cout);
            if let Some(sc) = scale_in {
                self.scale.insert(last, sc * s);
            }
        }
        if let Some(sc) = scale_in {
            self.scale.insert(phases.clone(), sc);
        }
        self.channels.insert(phases, s * cout);
        self.channels.insert(out.clone(), cout);
        if let Some(sc) = scale_in {
            self.scale.insert(out, sc * s);
        }
        for old in node.input.iter().skip(1) {
            self.inits.remove(old);
        }
        Ok(())
    }
}

/// A `ConvTranspose`'s stride and padding, when it upsamples exactly by its stride (1-D, kernel = stride + 2·pad,
/// no groups, dilations or output padding).
fn stride_and_pad(node: &NodeProto, what: &str, k: i64) -> Result<(i64, i64), String> {
    let group = int(node, "group").unwrap_or(1);
    let dilations = ints(node, "dilations").unwrap_or_else(|| vec![1]);
    let out_pad = ints(node, "output_padding").unwrap_or_else(|| vec![0]);
    let strides = ints(node, "strides").unwrap_or_else(|| vec![1]);
    let pads = ints(node, "pads").unwrap_or_else(|| vec![0, 0]);
    let plain = group == 1
        && dilations == [1]
        && out_pad.iter().all(|&p| p == 0)
        && ints(node, "output_shape").is_none()
        && node.attribute.iter().all(|a| a.name() != "auto_pad");
    let (&[s], &[p, pe]) = (&strides[..], &pads[..]) else {
        return Err(unknown(format!("{what} is not 1-D")));
    };
    if !plain || p != pe || s < 1 || p < 0 || k - 2 * p != s {
        return Err(unknown(format!(
            "{what} (kernel {k}, stride {s}, pads {pads:?}) does not upsample exactly {s}×"
        )));
    }
    Ok((s, p))
}

/// A `ConvTranspose`'s weights as a `Conv`'s: s·Cout outputs over `taps` inputs, input offsets `dmin..=dmax`.
struct Polyphase {
    weights: Vec<f32>,
    dmin: i64,
    dmax: i64,
    taps: i64,
}

/// The polyphase form of `ConvTranspose` weights `w` (`[cin, cout, k]`) of stride `s` and padding `p`.
fn polyphase(w: &[f32], [cin, cout, k]: [i64; 3], s: i64, p: i64) -> Polyphase {
    // Output t = m·s + r reads input i = m − d with tap k = d·s + r + p, for d in dmin..=dmax.
    let dmax = (k - 1 - p).div_euclid(s);
    let dmin = -(s - 1 + p).div_euclid(s);
    let taps = dmax - dmin + 1;
    let (cin_u, cout_u, k_u, taps_u) = (cin as usize, cout as usize, k as usize, taps as usize);
    let mut poly = vec![0f32; s as usize * cout_u * cin_u * taps_u];
    for r in 0..s {
        for j in 0..taps {
            let kk = (dmax - j) * s + r + p;
            if !(0..k).contains(&kk) {
                continue;
            }
            for co in 0..cout_u {
                let row = (r as usize * cout_u + co) * cin_u;
                for ci in 0..cin_u {
                    poly[(row + ci) * taps_u + j as usize] =
                        w[(ci * cout_u + co) * k_u + kk as usize];
                }
            }
        }
    }
    Polyphase {
        weights: poly,
        dmin,
        dmax,
        taps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::piper::graph::onnx::attribute_proto::AttributeType;
    use crate::synth::piper::graph::onnx::{AttributeProto, OperatorSetIdProto};
    use ort::session::Session;
    use ort::value::Tensor;
    use prost::Message;

    fn weights(name: &str, dims: Vec<i64>, seed: u32) -> TensorProto {
        let n: i64 = dims.iter().product();
        let values: Vec<f32> = (0..n)
            .map(|i| {
                (((i as u32).wrapping_mul(2_654_435_761) ^ seed) % 1000) as f32 / 10_000.0 - 0.05
            })
            .collect();
        float_tensor(name, dims, &values)
    }

    fn conv(
        name: &str,
        x: &str,
        w: &str,
        b: Option<&str>,
        k: i64,
        pad: i64,
        dil: i64,
    ) -> NodeProto {
        let mut inputs = vec![x, w];
        inputs.extend(b);
        make(
            name,
            "Conv",
            inputs,
            [format!("{name}_output_0")],
            [
                ints_attr("kernel_shape", vec![k]),
                ints_attr("pads", vec![pad, pad]),
                ints_attr("dilations", vec![dil]),
                ints_attr("strides", vec![1]),
            ],
        )
    }

    fn leaky(name: &str, x: &str, alpha: f32) -> NodeProto {
        let mut n = make(name, "LeakyRelu", [x], [format!("{name}_output_0")], []);
        n.attribute.push(AttributeProto {
            name: Some("alpha".into()),
            r#type: Some(AttributeType::Float as i32),
            f: Some(alpha),
            ..Default::default()
        });
        n
    }

    fn up(name: &str, x: &str, w: &str, b: &str, s: i64) -> NodeProto {
        make(
            name,
            "ConvTranspose",
            [x, w, b],
            [format!("{name}_output_0")],
            [
                ints_attr("kernel_shape", vec![2 * s]),
                ints_attr("strides", vec![s]),
                ints_attr("pads", vec![s / 2, s / 2]),
            ],
        )
    }

    fn dyn_dims(d: &[&str]) -> Vec<Dimension> {
        d.iter()
            .map(|s| Dimension {
                value: Some(match s.parse::<i64>() {
                    Ok(v) => dimension::Value::DimValue(v),
                    Err(_) => dimension::Value::DimParam((*s).into()),
                }),
                denotation: None,
            })
            .collect()
    }

    /// The nodes of [`voice_like`], in order.
    fn voice_like_nodes() -> Vec<NodeProto> {
        vec![
            make("/Mul_7", "Mul", ["x", "two"], ["z"], []),
            // As a voice's speaker embedding, `g` is made by the encoder (an output that is a graph input
            // would alias the caller's buffer).
            make("/emb_g", "Mul", ["speaker", "two"], ["g"], []),
            // As a voice's durations: the one `Ceil`, read by the nodes that make `z` in a real voice.
            make("/Ceil", "Ceil", ["speaker"], ["/Ceil_output_0"], []),
            conv("/dec/conv_pre/Conv", "z", "pre.w", Some("pre.b"), 7, 3, 1),
            conv("/dec/cond/Conv", "g", "cond.w", Some("cond.b"), 1, 0, 1),
            make(
                "/dec/Add",
                "Add",
                ["/dec/conv_pre/Conv_output_0", "/dec/cond/Conv_output_0"],
                ["/dec/Add_output_0"],
                [],
            ),
            leaky("/dec/LeakyRelu", "/dec/Add_output_0", 0.1),
            up(
                "/dec/ups.0/ConvTranspose",
                "/dec/LeakyRelu_output_0",
                "up0.w",
                "up0.b",
                2,
            ),
            leaky(
                "/dec/rb/LeakyRelu",
                "/dec/ups.0/ConvTranspose_output_0",
                0.1,
            ),
            conv(
                "/dec/rb/Conv",
                "/dec/rb/LeakyRelu_output_0",
                "rb.w",
                Some("rb.b"),
                3,
                2,
                2,
            ),
            make(
                "/dec/rb/Add",
                "Add",
                ["/dec/rb/Conv_output_0", "/dec/ups.0/ConvTranspose_output_0"],
                ["/dec/rb/Add_output_0"],
                [],
            ),
            leaky("/dec/LeakyRelu_1", "/dec/rb/Add_output_0", 0.1),
            up(
                "/dec/ups.1/ConvTranspose",
                "/dec/LeakyRelu_1_output_0",
                "up1.w",
                "up1.b",
                4,
            ),
            leaky(
                "/dec/LeakyRelu_2",
                "/dec/ups.1/ConvTranspose_output_0",
                0.01,
            ),
            conv(
                "/dec/conv_post/Conv",
                "/dec/LeakyRelu_2_output_0",
                "post.w",
                None,
                7,
                3,
                1,
            ),
            make(
                "/dec/Tanh",
                "Tanh",
                ["/dec/conv_post/Conv_output_0"],
                ["/dec/Tanh_output_0"],
                [],
            ),
            make(
                "/Unsqueeze",
                "Unsqueeze",
                ["/dec/Tanh_output_0", "axes"],
                ["output"],
                [],
            ),
        ]
    }

    /// The weights of [`voice_like`]'s nodes.
    fn voice_like_weights() -> Vec<TensorProto> {
        vec![
            float_tensor("two", vec![], &[2.0]),
            int64s("axes", &[1], false),
            weights("pre.w", vec![32, 6, 7], 1),
            weights("pre.b", vec![32], 2),
            weights("cond.w", vec![32, 3, 1], 3),
            weights("cond.b", vec![32], 4),
            weights("up0.w", vec![32, 16, 4], 5),
            weights("up0.b", vec![16], 6),
            weights("rb.w", vec![16, 16, 3], 7),
            weights("rb.b", vec![16], 8),
            weights("up1.w", vec![16, 16, 8], 9),
            weights("up1.b", vec![16], 10),
            weights("post.w", vec![1, 16, 7], 11),
        ]
    }

    /// A multi-speaker VITS-shaped graph: an "encoder" (here a Mul) makes `z`, the speaker embedding `g`
    /// conditions the decoder, which upsamples twice (strides 2 and 3, as low-quality voices differ from the
    /// medium ones) with a residual block between.
    fn voice_like() -> ModelProto {
        let (nodes, initializer) = (voice_like_nodes(), voice_like_weights());
        ModelProto {
            ir_version: Some(8),
            opset_import: vec![OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(15),
            }],
            graph: Some(GraphProto {
                name: Some("voice-like".into()),
                node: nodes,
                initializer,
                input: vec![
                    value_info("x", DataType::Float, dyn_dims(&["1", "6", "T"])),
                    value_info("speaker", DataType::Float, dyn_dims(&["1", "3", "1"])),
                ],
                output: vec![value_info("output", DataType::Float, vec![])],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_multi_speaker_graph_with_other_strides_splits_and_decodes_as_the_original() {
        let split = split(voice_like()).unwrap();
        assert_eq!(split.links, ["z", "g"]);
        assert_eq!(split.durations, "/Ceil_output_0");
        assert_eq!(split.channels, [6, 3]);
        assert_eq!(split.hop, 8);
        let ops: Vec<&str> = split
            .decoder
            .graph
            .as_ref()
            .unwrap()
            .node
            .iter()
            .map(|n| n.op_type())
            .collect();
        assert!(!ops.contains(&"ConvTranspose"), "{ops:?}");
        let Some(env) = crate::synth::piper::tests::runtime() else {
            return;
        };
        let session = |m: &ModelProto| {
            Session::builder(env)
                .unwrap()
                .commit_from_memory(&m.encode_to_vec())
                .unwrap()
        };
        let (t, x): (usize, Vec<f32>) = (
            37,
            (0..6 * 37)
                .map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0)
                .collect(),
        );
        let g = vec![0.3f32, -0.7, 1.1];
        let mut stock = session(&voice_like());
        let outputs = stock
            .run(ort::inputs![
                "x" => Tensor::from_array(([1usize, 6, t], x.clone())).unwrap(),
                "speaker" => Tensor::from_array(([1usize, 3, 1], g.clone())).unwrap(),
            ])
            .unwrap();
        let want = outputs["output"]
            .try_extract_tensor::<f32>()
            .unwrap()
            .1
            .to_vec();
        let mut encoder = session(&split.encoder);
        let out = encoder
            .run(ort::inputs![
                "x" => Tensor::from_array(([1usize, 6, t], x)).unwrap(),
                "speaker" => Tensor::from_array(([1usize, 3, 1], g)).unwrap(),
            ])
            .unwrap();
        let durations = out[split.durations.as_str()]
            .try_extract_tensor::<f32>()
            .unwrap()
            .1
            .to_vec();
        assert_eq!(
            durations,
            [1.0, -0.0, 2.0],
            "the encoder gives the durations"
        );
        let z = out["z"].try_extract_tensor::<f32>().unwrap().1.to_vec();
        let g = out["g"].try_extract_tensor::<f32>().unwrap().1.to_vec();
        let mut decoder = session(&split.decoder);
        let out = decoder
            .run(ort::inputs![
                "z" => Tensor::from_array(([1usize, 6, 1, t], z)).unwrap(),
                "g" => Tensor::from_array(([1usize, 3, 1, 1], g)).unwrap(),
            ])
            .unwrap();
        let got = out[split.wave.as_str()]
            .try_extract_tensor::<f32>()
            .unwrap()
            .1
            .to_vec();
        assert_eq!(got.len(), t * 8);
        assert_eq!(want.len(), got.len());
        let snr = crate::synth::piper::tests::snr(&want, &got);
        assert!(snr >= 100.0, "{snr:.1} dB");
    }
}
