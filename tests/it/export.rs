//! Chapter and caption exports: written beside the edition, re-exported from a manifest, read by ffmpeg.

use serde_json::Value;

use crate::support::*;

#[test]
fn build_writes_every_export_and_ffmpeg_reads_the_chapters() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    env.build(&essay, &["-o", "out", "--export", "all"]);
    for suffix in [
        ".cue",
        ".labels.txt",
        ".ffmetadata",
        ".chapters.vtt",
        ".chapters.json",
        ".srt",
        ".vtt",
        ".html",
    ] {
        assert!(
            env.path(&format!("out/headings{suffix}")).is_file(),
            "{suffix}"
        );
    }
    let manifest = read_json(env.path("out/headings.json"));
    let chapters = manifest["chapters"].as_array().unwrap();
    let srt = std::fs::read_to_string(env.path("out/headings.srt")).unwrap();
    assert_eq!(
        srt.matches(" --> ").count(),
        manifest["segments"].as_array().unwrap().len()
    );
    let podcast: Value = serde_json::from_str(
        &std::fs::read_to_string(env.path("out/headings.chapters.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        podcast["chapters"].as_array().unwrap().len(),
        chapters.len()
    );

    if !have("ffmpeg") {
        return;
    }
    // ffmpeg takes the chapters from the ffmetadata file, and ffprobe reads them back from the result.
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-loglevel",
            "error",
            "-y",
            "-i",
            "out/headings.wav",
            "-i",
            "out/headings.ffmetadata",
        ])
        .args([
            "-map",
            "0:a",
            "-map_metadata",
            "1",
            "-map_chapters",
            "1",
            "-c",
            "copy",
            "out/check.mka",
        ])
        .current_dir(env.dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    check_probed_chapters(&ffprobe(&env.path("out/check.mka")), &manifest, "mka");
}

#[test]
fn export_rewrites_files_from_a_manifest_without_synthesizing() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    env.build(&essay, &["-o", "out"]);
    let out = env
        .cmd()
        .args([
            "export",
            "out/headings.json",
            "--format",
            "cue,srt",
            "-o",
            "exports",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(String::from_utf8_lossy(&out).lines().count(), 2);
    let cue = std::fs::read_to_string(env.path("exports/headings.cue")).unwrap();
    assert!(
        cue.contains("FILE \"headings.wav\" WAVE") && cue.contains("TITLE \"Where They Start\"")
    );
    let err = env
        .cmd()
        .args(["export", "out/headings.json", "--format", "mp4"])
        .output()
        .unwrap();
    assert!(one_error(&err).contains("unknown export format `mp4`"));
}

#[test]
fn m4b_and_mp3_editions_carry_the_chapters_and_tags() {
    if !have("ffmpeg") {
        return;
    }
    let env = Env::new();
    let essay = env.fixture("headings.md");
    env.build(&essay, &["-o", "out", "--format", "m4b,mp3"]);
    let manifest = read_json(env.path("out/headings.json"));
    for file in ["out/headings.m4b", "out/headings.mp3"] {
        let probe = ffprobe(&env.path(file));
        check_probed_chapters(&probe, &manifest, file);
        assert_eq!(probe["format"]["tags"]["artist"], "Ada Fenwick", "{file}");
    }
    // Without ffmpeg, a clear message saying what to install, before anything is synthesized or written (an
    // edition is written whole or not at all).
    let empty = env.path("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    let out = env
        .cmd()
        .env("PATH", &empty)
        .args(["build", "headings.md", "-o", "bare", "--format", "mp3"])
        .output()
        .unwrap();
    let err = one_error(&out);
    assert!(
        err.contains("ffmpeg is not installed; install it with `apt-get install ffmpeg`"),
        "{err}"
    );
    assert!(!env.path("bare/headings.wav").exists());
}
