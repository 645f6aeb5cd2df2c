//! `narrate export`: chapter and caption files from an existing manifest, without synthesizing.

use crate::cli::ExportArgs;
use crate::error::{Error, Result};
use crate::export;
use crate::manifest::Manifest;

pub(super) fn run(args: ExportArgs) -> Result<()> {
    let manifest = Manifest::load(&args.manifest)?.ok_or_else(|| Error::Manifest {
        path: args.manifest.clone(),
        reason: "no such file".into(),
    })?;
    let exporters: export::Exports = args
        .format
        .parse()
        .map_err(|e| Error::Usage(format!("--format: {e}")))?;
    let exporters = exporters.0;
    let dir = args.output.clone().unwrap_or_else(|| {
        args.manifest
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .to_path_buf()
    });
    std::fs::create_dir_all(&dir).map_err(|source| Error::Output {
        path: dir.clone(),
        source,
    })?;
    let stem = manifest
        .audio
        .strip_suffix(".wav")
        .unwrap_or(&manifest.audio)
        .to_string();
    let edition = crate::edition::Edition::from_manifest(manifest);
    let audio_dir = match args.manifest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let written = export::write_all(&edition, audio_dir, &dir, &stem, &exporters)?;
    let list: Vec<String> = written
        .iter()
        .map(|p| format!("wrote {}\n", p.display()))
        .collect();
    super::print(&list.concat());
    Ok(())
}
