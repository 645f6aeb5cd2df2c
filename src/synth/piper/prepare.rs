//! Preparing a voice once: its graph seeded (`graph`), split at the decoder and the decoder rewritten
//! (`decoder`), written beside the voice as `NAME.narrate-vN.M-SHA.{encoder,decoder}.onnx` plus a manifest
//! (`….json`, written last: its presence says the pair is complete). The name carries the voice file's sha256
//! and the rewrite versions, so a changed voice or a newer narrate prepares again; the voice file itself is
//! never written. Where the voice's folder is read-only, the files go under narrate's data folder instead.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::decoder::{self, DECODER_REWRITE};
use super::graph::{self, NoiseInput, NOISE_REWRITE};
use super::voice::{self, VoiceFiles};

/// What the prepared files hold, beyond the graphs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Manifest {
    /// `vNOISE.DECODER`: the rewrites that made the files.
    pub version: String,
    /// The voice file's sha256.
    pub sha256: String,
    /// The encoder's noise inputs, in the order of the random ops they replaced.
    pub noise: Vec<NoiseInput>,
    /// Encoder outputs that are decoder inputs, the latent first.
    pub links: Vec<String>,
    /// The decoder's output.
    pub wave: String,
    /// The encoder's output of the latent frames of each phoneme ID.
    pub durations: String,
    /// Samples per latent frame.
    pub hop: usize,
    /// Channels of each link.
    pub channels: Vec<i64>,
}

/// A prepared voice: where its two graphs are, and what they need.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub encoder: PathBuf,
    pub decoder: PathBuf,
    pub manifest: Manifest,
}

fn version() -> String {
    format!("v{NOISE_REWRITE}.{DECODER_REWRITE}")
}

/// The sha256 of a file, in hex.
fn sha256(path: &Path) -> Result<String, String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The three files of a prepared voice in `dir`.
fn names(dir: &Path, files: &VoiceFiles, sha: &str) -> [PathBuf; 3] {
    let stem = format!("{}.narrate-{}-{}", files.name, version(), &sha[..16]);
    ["encoder.onnx", "decoder.onnx", "json"].map(|ext| dir.join(format!("{stem}.{ext}")))
}

/// The prepared files in `dir`, if a complete set for this voice file is there.
fn existing(dir: &Path, files: &VoiceFiles, sha: &str) -> Option<Prepared> {
    let [encoder, decoder, manifest] = names(dir, files, sha);
    let manifest: Manifest = serde_json::from_slice(&std::fs::read(&manifest).ok()?).ok()?;
    (manifest.version == version()
        && manifest.sha256 == sha
        && encoder.is_file()
        && decoder.is_file())
    .then_some(Prepared {
        encoder,
        decoder,
        manifest,
    })
}

/// Where prepared files may go: beside the voice, else narrate's data folder.
fn dirs(files: &VoiceFiles) -> Vec<PathBuf> {
    let beside = files
        .model
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    vec![beside, voice::data_dir().join("prepared")]
}

/// The voice prepared: found from an earlier run, or made now (a few seconds, once per voice and narrate
/// version), each stage said on stderr as it ends (`synth::note`, silenced by `--quiet`).
pub(crate) fn prepare(files: &VoiceFiles) -> Result<Prepared, String> {
    prepare_reporting(files, &mut |line| crate::synth::note(line)).map(|(p, _)| p)
}

/// Like [`prepare`], with each stage of a preparation (and how long since it began) handed to `progress`; also
/// says whether the files were made now (`true`) or found from an earlier run.
pub(crate) fn prepare_reporting(
    files: &VoiceFiles,
    progress: &mut dyn FnMut(&str),
) -> Result<(Prepared, bool), String> {
    let start = std::time::Instant::now();
    let sha = sha256(&files.model)?;
    let dirs = dirs(files);
    if let Some(found) = dirs.iter().find_map(|d| existing(d, files, &sha)) {
        return Ok((found, false));
    }
    let mut stage = |what: &str| {
        progress(&format!(
            "preparing the Piper voice {} (once): {what} ({:.1} s)",
            files.name,
            start.elapsed().as_secs_f64()
        ))
    };
    stage("voice file read and checksummed");
    let path = &files.model;
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let damaged = |e: String| {
        format!(
            "{}: cannot load the model ({e}); the file may be damaged: fetch it again with \
             scripts/fetch-voice",
            path.display()
        )
    };
    let mut proto = graph::decode(bytes).map_err(damaged)?;
    stage("graph read");
    let noise = graph::seed_noise(&mut proto).map_err(|e| format!("{}: {e}", path.display()))?;
    stage("noise seeded");
    let split = decoder::split(proto).map_err(|e| format!("{}: {e}", path.display()))?;
    stage("split at the decoder, decoder rewritten");
    let manifest = Manifest {
        version: version(),
        sha256: sha.clone(),
        noise,
        links: split.links,
        wave: split.wave,
        durations: split.durations,
        hop: split.hop,
        channels: split.channels,
    };
    let encoder = graph::encode(&split.encoder);
    let decoder = graph::encode(&split.decoder);
    let json = serde_json::to_vec_pretty(&manifest).expect("plain data serializes");
    let mut failures = Vec::new();
    for dir in &dirs {
        let [enc, dec, man] = names(dir, files, &sha);
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| crate::atomic::write_bytes(&enc, &encoder))
            .and_then(|()| crate::atomic::write_bytes(&dec, &decoder))
            .and_then(|()| crate::atomic::write_bytes(&man, &json));
        match written {
            Ok(()) => {
                stage(&format!("written to {}", dir.display()));
                return Ok((
                    Prepared {
                        encoder: enc,
                        decoder: dec,
                        manifest,
                    },
                    true,
                ));
            }
            Err(e) => failures.push(format!("{}: {e}", dir.display())),
        }
    }
    Err(format!(
        "cannot write the prepared voice {} ({}); make one of those folders writable",
        files.name,
        failures.join("; ")
    ))
}
