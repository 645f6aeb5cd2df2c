//! Finding Piper voices (`NAME.onnx` + `NAME.onnx.json`) and the ONNX Runtime library, and reading a voice's
//! config.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The parts of a Piper `.onnx.json` narrate uses.
#[derive(Debug, Clone, Deserialize)]
pub struct VoiceConfig {
    pub audio: AudioConfig,
    pub espeak: EspeakConfig,
    #[serde(default)]
    pub inference: InferenceConfig,
    #[serde(default = "default_phoneme_type")]
    pub phoneme_type: String,
    pub phoneme_id_map: HashMap<String, Vec<i64>>,
    #[serde(default)]
    pub num_symbols: Option<i64>,
    #[serde(default = "one")]
    pub num_speakers: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AudioConfig {
    pub sample_rate: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EspeakConfig {
    pub voice: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InferenceConfig {
    #[serde(default = "noise_scale")]
    pub noise_scale: f32,
    #[serde(default = "one_f")]
    pub length_scale: f32,
    #[serde(default = "noise_w")]
    pub noise_w: f32,
}

impl Default for InferenceConfig {
    fn default() -> Self {
        InferenceConfig {
            noise_scale: noise_scale(),
            length_scale: one_f(),
            noise_w: noise_w(),
        }
    }
}

fn default_phoneme_type() -> String {
    "espeak".into()
}
fn one() -> i64 {
    1
}
fn one_f() -> f32 {
    1.0
}
fn noise_scale() -> f32 {
    0.667
}
fn noise_w() -> f32 {
    0.8
}

impl VoiceConfig {
    pub fn load(path: &Path) -> Result<VoiceConfig, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let config: VoiceConfig = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a Piper voice config: {e}", path.display()))?;
        if config.phoneme_type != "espeak" {
            return Err(format!(
                "{}: phoneme_type `{}` is not supported (only espeak)",
                path.display(),
                config.phoneme_type
            ));
        }
        for key in ["^", "$", "_"] {
            if !config.phoneme_id_map.contains_key(key) {
                return Err(format!("{}: phoneme_id_map has no `{key}`", path.display()));
            }
        }
        if let Some(n) = config.num_symbols {
            if let Some((p, id)) = config
                .phoneme_id_map
                .iter()
                .flat_map(|(p, ids)| ids.iter().map(move |id| (p, *id)))
                .find(|&(_, id)| id < 0 || id >= n)
            {
                return Err(format!(
                    "{}: phoneme `{p}` has id {id}, outside the model's {n} symbols",
                    path.display()
                ));
            }
        }
        Ok(config)
    }
}

/// A voice on disk.
#[derive(Debug, Clone)]
pub struct VoiceFiles {
    pub name: String,
    pub model: PathBuf,
    pub config: PathBuf,
}

/// Where voices are looked for: `$NARRATE_VOICES` (colon-separated), then `$XDG_DATA_HOME/narrate/voices` or
/// `~/.local/share/narrate/voices` (where `scripts/fetch-voice` puts them).
pub fn voice_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("NARRATE_VOICES")
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    dirs.push(data_dir().join("voices"));
    dirs
}

pub use crate::synth::data_dir;
pub use crate::synth::onnx::onnxruntime_library;

/// Finds a voice by name (`en_US-joe-medium`) or by path to its `.onnx` file.
pub fn find(voice: &str) -> Result<VoiceFiles, String> {
    let as_path = Path::new(voice);
    let candidates: Vec<PathBuf> = if voice.ends_with(".onnx") || as_path.components().count() > 1 {
        vec![as_path.to_path_buf()]
    } else {
        voice_dirs()
            .iter()
            .map(|d| d.join(format!("{voice}.onnx")))
            .collect()
    };
    for model in candidates {
        if model.is_file() {
            let mut config = model.clone().into_os_string();
            config.push(".json");
            let config = PathBuf::from(config);
            if !config.is_file() {
                return Err(format!(
                    "{} has no config beside it ({}); download both files of the voice",
                    model.display(),
                    config.display()
                ));
            }
            let name = model
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            return Ok(VoiceFiles {
                name,
                model,
                config,
            });
        }
    }
    let dirs: Vec<String> = voice_dirs()
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    Err(format!(
        "voice `{voice}` not found in {}; run scripts/fetch-voice, or give --voice PATH/TO/VOICE.onnx",
        dirs.join(", ")
    ))
}

/// Every voice in the voice folders.
pub fn installed() -> Vec<VoiceFiles> {
    let mut out: Vec<VoiceFiles> = Vec::new();
    for dir in voice_dirs() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter_map(|n| n.strip_suffix(".onnx").map(str::to_string))
            .collect();
        names.sort();
        for name in names {
            if out.iter().all(|v| v.name != name) {
                if let Ok(v) = find(&dir.join(format!("{name}.onnx")).to_string_lossy()) {
                    out.push(v);
                }
            }
        }
    }
    out
}

/// The public Piper voice repository.
pub const VOICE_REPOSITORY: &str = "https://huggingface.co/rhasspy/piper-voices/resolve/main";

/// Where a voice lives in a repository laid out like Piper's: `en/en_US/lessac/medium/en_US-lessac-medium`.
pub fn repository_path(name: &str) -> Result<String, String> {
    let bad = || {
        format!("`{name}` is not a Piper voice name (language_REGION-dataset-quality, e.g. en_US-lessac-medium)")
    };
    let (lang, rest) = name.split_once('-').ok_or_else(bad)?;
    let (dataset, quality) = rest.rsplit_once('-').ok_or_else(bad)?;
    let family = lang
        .split('_')
        .next()
        .filter(|f| !f.is_empty())
        .ok_or_else(bad)?;
    if dataset.is_empty() || quality.is_empty() || name.contains(['/', '\\']) {
        return Err(bad());
    }
    Ok(format!("{family}/{lang}/{dataset}/{quality}/{name}"))
}

/// Downloads a voice (`NAME.onnx.json`, checked, then `NAME.onnx`) from `base` into the voice folder. Both files
/// are written to temporary names and renamed, so an interrupted download leaves nothing half-written.
pub fn download(name: &str, base: &str) -> Result<VoiceFiles, String> {
    let path = repository_path(name)?;
    let dir = data_dir().join("voices");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let fetch = |suffix: &str, dest: &Path| -> Result<(), String> {
        let url = format!("{}/{path}{suffix}", base.trim_end_matches('/'));
        let response = ureq::get(&url).call().map_err(|e| match e {
            ureq::Error::StatusCode(404) => {
                format!("{url}: not found; check the voice name (see the voice list)")
            }
            other => format!("{url}: {other}"),
        })?;
        let mut body = response.into_body().into_reader();
        crate::atomic::write(
            dest,
            |file| {
                std::io::copy(&mut body, file)
                    .map_err(|e| format!("{url}: download interrupted: {e}"))
            },
            |e| format!("{}: {e}", dest.display()),
        )?;
        Ok(())
    };
    let model = dir.join(format!("{name}.onnx"));
    let config = dir.join(format!("{name}.onnx.json"));
    fetch(".onnx.json", &config)?;
    if let Err(e) = VoiceConfig::load(&config) {
        let _ = std::fs::remove_file(&config);
        return Err(e);
    }
    fetch(".onnx", &model)?;
    if std::fs::metadata(&model).map_or(0, |m| m.len()) < 1024 {
        let _ = std::fs::remove_file(&model);
        return Err(format!(
            "{}: the downloaded model is empty or truncated",
            model.display()
        ));
    }
    Ok(VoiceFiles {
        name: name.to_string(),
        model,
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_paths() {
        assert_eq!(
            repository_path("en_US-lessac-medium").unwrap(),
            "en/en_US/lessac/medium/en_US-lessac-medium"
        );
        assert_eq!(
            repository_path("de_DE-thorsten_emotional-medium").unwrap(),
            "de/de_DE/thorsten_emotional/medium/de_DE-thorsten_emotional-medium"
        );
        assert!(repository_path("joe").is_err());
        assert!(repository_path("../x-y-z").is_err());
    }
}
