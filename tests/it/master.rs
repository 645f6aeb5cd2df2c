//! Click-free joins and loudness mastering, measured independently with ffmpeg.

use std::process::Command;

use crate::support::*;

#[test]
fn joins_never_step_further_than_the_audio_itself() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    // The `abrupt` tone voice starts and ends every segment at full level, with no silence around it.
    env.build(&essay, &["--voice", "abrupt", "-o", "out"]);
    let manifest = read_json(env.path("out/headings.json"));
    let audio = samples(env.path("out/headings.wav"));
    let step = |a: &[i16]| {
        a.windows(2)
            .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
            .max()
            .unwrap_or(0)
    };
    let spans: Vec<(usize, usize)> = manifest["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["start_sample"].as_u64().unwrap() as usize,
                s["end_sample"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    let margin = 22050 / 50; // the 20 ms kept around speech, and the fade
    let inside = spans
        .iter()
        .map(|&(a, b)| step(&audio[a + margin..b - margin]))
        .max()
        .unwrap();
    for (i, &(a, b)) in spans.iter().enumerate() {
        let start = step(&audio[a.saturating_sub(2)..a + margin]);
        let end = step(&audio[b - margin..(b + 2).min(audio.len())]);
        assert!(
            start <= inside && end <= inside,
            "segment {i}: steps {start}/{end} at its joins, {inside} inside"
        );
        assert_eq!(audio[a], 0, "segment {i} starts from silence");
    }
}

/// Whole-file RMS level (dB) as ffmpeg's astats filter reports it.
fn rms_db(wav: &std::path::Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-i"])
        .arg(wav)
        .args(["-af", "astats=measure_perchannel=none", "-f", "null", "-"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let line = log.lines().rfind(|l| l.contains("RMS level dB")).unwrap();
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn mastering_presets_land_on_target_by_ffmpeg_s_measure() {
    if !have("ffmpeg") || !have("espeak-ng") {
        return;
    }
    let env = Env::new();
    let essay = env.fixture("headings.md");
    for (preset, target, ceiling) in [("podcast", -16.0, -1.0), ("ebu", -23.0, -1.0)] {
        env.build(
            &essay,
            &["--backend", "espeak", "--master", preset, "-o", preset],
        );
        let wav = env.path(&format!("{preset}/headings.wav"));
        let (lufs, peak) = ebur128(&wav);
        assert!((lufs - target).abs() <= 1.0, "{preset}: {lufs} LUFS");
        assert!(peak <= ceiling, "{preset}: true peak {peak} dBTP");
        let m = read_json(wav.with_extension("json"));
        assert_eq!(m["loudness"]["preset"], preset);
        assert!((m["loudness"]["output"]["integrated_lufs"].as_f64().unwrap() - lufs).abs() < 0.3);
        check_wav_against_manifest(&wav, &m);
    }
    env.build(
        &essay,
        &["--backend", "espeak", "--master", "acx", "-o", "acx"],
    );
    let wav = env.path("acx/headings.wav");
    let rms = rms_db(&wav);
    let (_, peak) = ebur128(&wav);
    assert!((-23.0..=-18.0).contains(&rms), "acx: RMS {rms} dB");
    assert!(peak <= -3.0, "acx: peak {peak}");
    let m = read_json(wav.with_extension("json"));
    assert!(
        m["loudness"]["output"]["noise_floor_dbfs"]
            .as_f64()
            .unwrap()
            <= -60.0,
        "{}",
        m["loudness"]
    );
}

#[test]
fn the_edition_can_have_another_sample_rate() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    env.build(&essay, &["-o", "native"]);
    env.build(&essay, &["-o", "resampled", "--sample-rate", "44100"]);
    let native = read_json(env.path("native/headings.json"));
    let resampled = read_json(env.path("resampled/headings.json"));
    assert_eq!(resampled["sample_rate"], 44100);
    let (a, b) = (
        native["duration_seconds"].as_f64().unwrap(),
        resampled["duration_seconds"].as_f64().unwrap(),
    );
    assert!((a - b).abs() < 0.05, "{a} s vs {b} s");
    check_chapters(&env.path("resampled/headings.wav"), &resampled);
    if have("sndfile-info") {
        check_wav_against_manifest(&env.path("resampled/headings.wav"), &resampled);
    }
}

/// The number of samples of every segment in a cache, read back with hound.
fn cached_lengths(cache: &std::path::Path) -> Vec<usize> {
    let mut lengths = Vec::new();
    for shard in std::fs::read_dir(cache.join("segments")).unwrap() {
        for file in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            lengths.push(samples(file.unwrap().path()).len());
        }
    }
    lengths
}

#[test]
fn segments_of_any_length_resample_to_any_rate() {
    let env = Env::new();
    // At 427 words a minute the tone backend makes these three sentences 22527, 28672 and 34817 samples long
    // (22050 Hz): one short of, exactly, and one past a multiple of the resampler's 1024-sample chunk.
    let essay = env.essay(
        "lengths.md",
        "# Chunks\n\n\
         The grey heron waited by the reeds till the water went still again.\n\n\
         Each lantern on the quay was lit before the ferry came round the point, and no one spoke.\n\n\
         She folded the map twice, put it in her coat, and walked up to the hills without glancing back at the old town.\n",
    );
    env.build(&essay, &["--rate", "427", "-o", "native"]);
    let lengths = cached_lengths(&env.cache);
    for residue in [1023, 0, 1] {
        assert!(
            lengths.iter().any(|l| l % 1024 == residue),
            "no segment is {residue} past a multiple of 1024: {lengths:?}; pick other sentences"
        );
    }
    let native = read_json(env.path("native/lengths.json"));
    for rate in [44_100, 48_000, 16_000] {
        let out = format!("at{rate}");
        let rate_arg = rate.to_string();
        env.build(
            &essay,
            &["--rate", "427", "-o", &out, "--sample-rate", &rate_arg],
        );
        let wav = env.path(&format!("{out}/lengths.wav"));
        let m = read_json(wav.with_extension("json"));
        assert_eq!(m["sample_rate"], rate);
        let (a, b) = (
            native["duration_seconds"].as_f64().unwrap(),
            m["duration_seconds"].as_f64().unwrap(),
        );
        assert!((a - b).abs() < 0.01, "{rate} Hz: {b} s, natively {a} s");
        check_chapters(&wav, &m);
        if have("sndfile-info") {
            check_wav_against_manifest(&wav, &m);
        }
    }
}

#[test]
fn compressed_editions_stay_under_the_preset_s_ceiling() {
    if !have("ffmpeg") || !have("espeak-ng") {
        return;
    }
    let env = Env::new();
    let essay = env.fixture("headings.md");
    for (preset, formats, target, ceiling) in [
        ("podcast", "m4b,mp3", -16.0, -1.0),
        ("ebu", "m4b", -23.0, -1.0),
    ] {
        env.build(
            &essay,
            &[
                "--backend",
                "espeak",
                "--master",
                preset,
                "--format",
                formats,
                "-o",
                preset,
            ],
        );
        let manifest = read_json(env.path(&format!("{preset}/headings.json")));
        for ext in formats.split(',') {
            // Encoded as they were, the podcast M4B measured −0.9 dBTP.
            let file = env.path(&format!("{preset}/headings.{ext}"));
            assert_on_target(
                &file,
                &manifest,
                (target, ceiling),
                &format!("{preset} {ext}"),
            );
        }
    }
    // The same WAV gives the same files.
    let first = std::fs::read(env.path("podcast/headings.m4b")).unwrap();
    env.build(
        &essay,
        &[
            "--backend",
            "espeak",
            "--master",
            "podcast",
            "--format",
            "m4b",
            "-o",
            "again",
        ],
    );
    assert!(first == std::fs::read(env.path("again/headings.m4b")).unwrap());
}

#[test]
fn a_long_mastered_edition_is_fitted_on_an_excerpt_and_lands_under_the_ceiling() {
    // Over three minutes of speech: the encoder's overshoot is measured on an excerpt of the loudest moments and
    // an even sample of the rest, and the whole book is encoded from what that found.
    if !have("ffmpeg") || !have("espeak-ng") {
        return;
    }
    let env = Env::new();
    let essay = env.fixture("op-ed.txt");
    env.build(
        &essay,
        &[
            "--backend",
            "espeak",
            "--master",
            "podcast",
            "--format",
            "m4b,mp3",
            "-o",
            "long",
        ],
    );
    let manifest = read_json(env.path("long/op-ed.json"));
    let expected = manifest["duration_seconds"].as_f64().unwrap();
    assert!(expected > 180.0, "the essay reads in {expected} s");
    for ext in ["m4b", "mp3"] {
        let file = env.path(&format!("long/op-ed.{ext}"));
        assert_on_target(&file, &manifest, (-16.0, -1.0), &format!("long {ext}"));
    }
}

/// A compressed edition measured by ffmpeg: under the ceiling, within 1 LU of the target, with the manifest's
/// chapters and length (limiting neither shifts nor shortens the audio under the chapters).
fn assert_on_target(
    file: &std::path::Path,
    manifest: &serde_json::Value,
    (target, ceiling): (f64, f64),
    what: &str,
) {
    let (lufs, peak) = ebur128(file);
    eprintln!("{what}: {lufs} LUFS, {peak} dBTP");
    assert!(peak <= ceiling, "{what}: true peak {peak} dBTP");
    assert!((lufs - target).abs() <= 1.0, "{what}: {lufs} LUFS");
    let probe = ffprobe(file);
    let ext = file.extension().unwrap().to_str().unwrap();
    check_probed_chapters(&probe, manifest, ext);
    let duration: f64 = probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let expected = manifest["duration_seconds"].as_f64().unwrap();
    assert!(
        (duration - expected).abs() < 0.1,
        "{what}: {duration} s, not {expected} s"
    );
}
