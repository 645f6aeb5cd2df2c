//! Compressed editions made by ffmpeg from the finished WAV: M4B (AAC in MP4, chapters and tags from the
//! ffmetadata export) and MP3 (ID3v2 tags with CHAP/CTOC chapter frames, which ffmpeg's MP3 muxer writes).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};
use crate::export::FFMETADATA;
use crate::manifest::Manifest;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    M4b,
    Mp3,
}

impl Encoding {
    fn extension(self) -> &'static str {
        match self {
            Encoding::M4b => "m4b",
            Encoding::Mp3 => "mp3",
        }
    }

    /// ffmpeg's arguments for the codec and container.
    fn args(self) -> &'static [&'static str] {
        match self {
            Encoding::M4b => &[
                "-c:a",
                "aac",
                "-b:a",
                "64k",
                "-f",
                "mp4",
                "-movflags",
                "+faststart",
            ],
            Encoding::Mp3 => &[
                "-c:a",
                "libmp3lame",
                "-b:a",
                "64k",
                "-f",
                "mp3",
                "-id3v2_version",
                "3",
            ],
        }
    }
}

/// Encodes `wav` into `<stem>.m4b` / `<stem>.mp3` beside it, with the manifest's chapters and tags. Each file is
/// written under a temporary name and renamed.
pub fn encode(wav: &Path, manifest: &Manifest, encodings: &[Encoding]) -> Result<Vec<PathBuf>> {
    if encodings.is_empty() {
        return Ok(Vec::new());
    }
    let missing = |e: std::io::Error| {
        Error::BackendUnavailable {
        backend: "ffmpeg".into(),
        reason: match e.kind() {
            std::io::ErrorKind::NotFound => {
                "ffmpeg is not installed; install it with `apt-get install ffmpeg` to make M4B or MP3 editions".into()
            }
            _ => format!("cannot run ffmpeg: {e}"),
        },
    }
    };
    let dir = wav.parent().unwrap_or(Path::new("."));
    let out_err = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Output {
            path: path.clone(),
            source,
        }
    };
    let mut metadata = tempfile::Builder::new()
        .prefix(".narrate-chapters.")
        .tempfile_in(dir)
        .map_err(out_err(dir))?;
    std::io::Write::write_all(
        metadata.as_file_mut(),
        FFMETADATA.render(manifest).as_bytes(),
    )
    .map_err(out_err(dir))?;
    let mut written = Vec::new();
    for &enc in encodings {
        let target = wav.with_extension(enc.extension());
        let partial = crate::atomic::temp_beside(&target).map_err(out_err(dir))?;
        let out = Command::new("ffmpeg")
            .args(["-nostdin", "-loglevel", "error", "-y", "-i"])
            .arg(wav)
            .arg("-i")
            .arg(metadata.path())
            .args(["-map", "0:a", "-map_metadata", "1", "-map_chapters", "1"])
            .args(enc.args())
            .arg(partial.path())
            .output()
            .map_err(missing)?;
        if !out.status.success() {
            let msg = String::from_utf8_lossy(&out.stderr);
            return Err(Error::Invalid(format!(
                "{}: ffmpeg could not encode: {}",
                target.display(),
                msg.lines().next().unwrap_or("no message")
            )));
        }
        partial.persist(&target).map_err(|e| Error::Output {
            path: target.clone(),
            source: e.error,
        })?;
        written.push(target);
    }
    Ok(written)
}
