//! The hibari backend through the binary: a sample essay narrated with the voice heart, read back by
//! independent readers, heard by a speech recognizer, rendered twice from empty caches to the same bytes; its
//! voice listing and attribution; and its errors. (Its phonemes and vocoder are checked against the Python
//! reference in src/synth/hibari/mod.rs.)

use serde_json::Value;

use narrate::testing::voice;

use crate::support::*;

/// The model's folder, or `None` (the test skips) where it is not installed; scripts/test installs it (through
/// scripts/fetch-voice) and sets NARRATE_REQUIRE_TOOLS, which makes its absence a failure.
fn installed() -> Option<std::path::PathBuf> {
    let dir = voice::data_dir().join("hibari");
    if dir.join("hibari.onnx").is_file() && voice::onnxruntime_library().is_ok() {
        return Some(dir);
    }
    let why = format!("the hibari model is not installed in {}", dir.display());
    assert!(std::env::var_os("NARRATE_REQUIRE_TOOLS").is_none(), "{why}");
    eprintln!("skipping: {why}");
    None
}

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/audio/samples/tide-clocks.md");

#[test]
fn hibari_narrates_a_sample_essay_the_same_from_any_empty_cache() {
    if installed().is_none() {
        return;
    }
    let (a, b) = (Env::new(), Env::new());
    let essay_a = a.path("tide-clocks.md");
    let essay_b = b.path("tide-clocks.md");
    std::fs::copy(SAMPLE, &essay_a).unwrap();
    std::fs::copy(SAMPLE, &essay_b).unwrap();
    let built = a.build(
        &essay_a,
        &["--backend", "hibari", "-o", "out", "--jobs", "2"],
    );
    let wav = a.path("out/tide-clocks.wav");
    let manifest = read_json(a.path("out/tide-clocks.json"));
    assert_eq!(manifest["backend"], "hibari");
    assert_eq!(manifest["voice"], "heart");
    assert_eq!(manifest["sample_rate"], 24_000);
    // The title, the opening paragraphs and three sections.
    assert_eq!(built["chapters"], 5);
    check_chapters(&wav, &manifest);
    // Every segment audible (the voice is about −26 LUFS), at an audiobook pace: 0.2 to 0.65 s a word.
    check_speech(&wav, &manifest, 0.01, (0.2, 0.65), 0.8);
    if have("sndfile-info") {
        check_wav_against_manifest(&wav, &manifest);
    }
    // Another folder, another empty cache, one worker (so other sessions): the same bytes.
    b.build(
        &essay_b,
        &["--backend", "hibari", "-o", "out", "--jobs", "1"],
    );
    let again = std::fs::read(b.path("out/tide-clocks.wav")).unwrap();
    assert!(
        std::fs::read(&wav).unwrap() == again,
        "the same essay gave different audio from two empty caches"
    );
}

#[test]
fn hibari_speech_is_intelligible_to_a_speech_recognizer() {
    if installed().is_none() || !have("ffmpeg") {
        return;
    }
    let Some(python) = asr_python() else { return };
    let env = Env::new();
    let sentence = ASR_SENTENCE;
    let essay = env.essay("asr.txt", &format!("{sentence}\n"));
    env.build(&essay, &["--backend", "hibari", "-o", "out"]);
    let (recognized, words, heard) =
        words_recognized(&env, &python, &env.path("out/asr.wav"), sentence);
    eprintln!("recognized {recognized} of {words} words: {heard:?}");
    // The same bar as Piper's test: a small recognizer gets most words of clear speech, babble almost none.
    assert!(
        recognized * 10 >= words * 6,
        "heard {heard:?} for {sentence:?}"
    );
}

#[test]
fn hibari_is_the_default_voice_and_lists_its_licence() {
    if installed().is_none() {
        return;
    }
    let env = Env::new();
    env.essay("e.txt", "Title\n\nOne sentence here.\n");
    let plan = env
        .cmd()
        .env_remove("NARRATE_BACKEND")
        .args(["plan", "e.txt", "--json"])
        .assert()
        .success();
    let plan: Value = serde_json::from_slice(&plan.get_output().stdout).unwrap();
    assert_eq!(plan["backend"], "hibari");
    assert_eq!(plan["voice"], "heart");

    let listing = env.json(&["voices", "--backend", "hibari"]);
    assert_eq!(voice_names(&listing), ["heart"]);
    let heart = &listing[0]["voices"][0];
    assert_eq!(heart["language"], "en-US");
    let description = heart["description"].as_str().unwrap();
    assert!(
        description.contains("female") && description.contains("Apache-2.0"),
        "{description}"
    );
    let attribution = listing[0]["attribution"].as_str().unwrap();
    assert!(
        attribution.contains("Apache License") && attribution.contains("Kokoro-82M"),
        "{attribution}"
    );
    let text = env.stdout(&["voices", "--backend", "hibari"]);
    assert!(
        text.contains("Kokoro-82M") && text.contains("LICENSE"),
        "{text}"
    );
}

/// Runs a hibari build that must fail and returns its one-line error.
fn hibari_error(env: &Env, vars: &[(&str, &str)]) -> String {
    let essay = env.essay("e.txt", "Title\n\nOne sentence here.\n");
    let mut cmd = env.cmd();
    cmd.args([
        "build",
        essay.to_str().unwrap(),
        "--backend",
        "hibari",
        "-o",
        "out",
    ]);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let stderr = one_error(&cmd.output().unwrap());
    assert!(!env.path("out/e.wav").exists());
    stderr
}

#[test]
fn hibari_errors_say_how_to_fix_them() {
    let Some(real) = installed() else { return };
    let env = Env::new();
    let ort = voice::onnxruntime_library().unwrap();
    let ort = ort.to_str().unwrap();
    let data = env.path("data");
    let data = data.to_str().unwrap();
    let vars = [("XDG_DATA_HOME", data), ("ORT_DYLIB_PATH", ort)];

    // No model.
    let err = hibari_error(&env, &vars);
    assert!(
        err.contains("the hibari model is not installed")
            && err.contains("run scripts/fetch-voice"),
        "{err}"
    );

    // A damaged model, and a file that is not a model at all.
    let dir = env.path("data/narrate/hibari");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["vocab.json", "LICENSE", "NOTICE"] {
        std::fs::copy(real.join(name), dir.join(name)).unwrap();
    }
    let mut model = std::fs::read(real.join("hibari.onnx")).unwrap();
    let middle = model.len() / 2;
    model[middle] ^= 0x55;
    for bytes in [&model[..], b"this is not a model"] {
        std::fs::write(dir.join("hibari.onnx"), bytes).unwrap();
        let err = hibari_error(&env, &vars);
        assert!(
            err.contains("hibari.onnx is damaged or not hibari-tts 0.2.1's model")
                && err.contains("run scripts/fetch-voice"),
            "{err}"
        );
    }

    // ONNX Runtime missing.
    let err = hibari_error(
        &env,
        &[("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")],
    );
    assert!(
        err.contains("ORT_DYLIB_PATH=/nonexistent/libonnxruntime.so does not exist"),
        "{err}"
    );
    assert!(err.contains("scripts/fetch-voice"), "{err}");
}

/// A take other than 1 is another reading (durations varied within natural bounds, see
/// src/synth/hibari/durations.rs), each heard as the same words, each the same bytes when made again from an
/// empty cache. (How far the words move between takes is measured from the word spans in the backend's tests.)
#[test]
fn hibari_takes_are_other_readings_each_intelligible_and_the_same_from_any_empty_cache() {
    if installed().is_none() || !have("ffmpeg") {
        return;
    }
    let Some(python) = asr_python() else { return };
    let (a, b) = (Env::new(), Env::new());
    let text = format!("{ASR_SENTENCE}\n");
    let (essay_a, essay_b) = (a.essay("takes.txt", &text), b.essay("takes.txt", &text));
    let flags = ["--backend", "hibari", "-o", "out"];
    a.build(&essay_a, &flags);
    let segments = ids(&read_json(a.path("out/takes.json")));
    assert_eq!(segments.len(), 3, "{segments:?}");
    let regen = |env: &Env, essay: &std::path::Path, take: Option<u32>| {
        let mut cmd = env.cmd();
        cmd.arg("regen").arg(essay).args(&segments).args(flags);
        if let Some(t) = take {
            cmd.args(["--take", &t.to_string()]);
        }
        cmd.assert().success();
        std::fs::read(env.path("out/takes.wav")).unwrap()
    };
    let mut takes = vec![std::fs::read(a.path("out/takes.wav")).unwrap()];
    takes.push(regen(&a, &essay_a, None));
    takes.push(regen(&a, &essay_a, None));
    let manifest = read_json(a.path("out/takes.json"));
    assert!(manifest["segments"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["take"] == 3));
    for (i, wav) in takes.iter().enumerate() {
        let path = a.path(&format!("take{}.wav", i + 1));
        std::fs::write(&path, wav).unwrap();
        let (recognized, words, heard) = words_recognized(&a, &python, &path, ASR_SENTENCE);
        eprintln!(
            "take {}: {} samples, recognized {recognized} of {words} words: {heard:?}",
            i + 1,
            samples(&path).len()
        );
        assert!(
            recognized * 10 >= words * 6,
            "take {}: heard {heard:?}",
            i + 1
        );
    }
    let lengths: Vec<usize> = (1..=3)
        .map(|t| samples(a.path(&format!("take{t}.wav"))).len())
        .collect();
    assert!(
        lengths.iter().any(|&l| l != lengths[0]),
        "three takes of the same length: {lengths:?}"
    );
    assert!(takes[0] != takes[1] && takes[1] != takes[2] && takes[0] != takes[2]);
    // Another folder, another empty cache: each take is the same bytes.
    b.build(&essay_b, &flags);
    assert!(std::fs::read(b.path("out/takes.wav")).unwrap() == takes[0]);
    assert!(
        regen(&b, &essay_b, Some(3)) == takes[2],
        "take 3 from an empty cache"
    );
    assert!(
        regen(&b, &essay_b, Some(2)) == takes[1],
        "take 2 from an empty cache"
    );
}

/// `regen` says how the new take differs: its length and its longest pause inside the speech, before → after,
/// measured on the audio (a pause inside a word counts as one between words): here the test's own reading of
/// the segment's span in the edition's WAV, before and after, 10 ms frames under both -55 dBFS and 35 dB below
/// the segment's loud frames, the silences before its first sound and after its last left out.
#[test]
fn regen_prints_the_longest_pause_inside_the_speech_before_and_after() {
    if installed().is_none() {
        return;
    }
    let env = Env::new();
    let essay = env.essay(
        "pause.md",
        "# Pause\n\nThe kettle boiled twice, and nobody in the house noticed the smoke drifting out of the window.\n",
    );
    env.build(&essay, &["--backend", "hibari", "-o", "out"]);
    let longest = |wav: &[u8], m: &serde_json::Value, id: &str| -> f64 {
        let seg = m["segments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()
            .clone();
        let reader = hound::WavReader::new(std::io::Cursor::new(wav)).unwrap();
        let rate = reader.spec().sample_rate as usize;
        let all: Vec<i16> = reader.into_samples().map(Result::unwrap).collect();
        let (a, b) = (
            seg["start_sample"].as_u64().unwrap() as usize,
            seg["end_sample"].as_u64().unwrap() as usize,
        );
        let levels: Vec<f64> = all[a..b]
            .chunks_exact(rate / 100)
            .map(|f| {
                let ms = f
                    .iter()
                    .map(|&s| (f64::from(s) / 32768.0).powi(2))
                    .sum::<f64>()
                    / f.len() as f64;
                10.0 * (ms + 1e-12).log10()
            })
            .collect();
        let mut sorted = levels.clone();
        sorted.sort_by(f64::total_cmp);
        let floor = (sorted[sorted.len() * 9 / 10] - 35.0).max(-55.0);
        let loud: Vec<usize> = (0..levels.len()).filter(|&i| levels[i] >= floor).collect();
        let (mut best, mut run) = (0usize, 0usize);
        for &l in &levels[loud[0]..=*loud.last().unwrap()] {
            run = if l < floor { run + 1 } else { 0 };
            best = best.max(run);
        }
        best as f64 / 100.0
    };
    let before = read_json(env.path("out/pause.json"));
    let wav_before = std::fs::read(env.path("out/pause.wav")).unwrap();
    let id = before["segments"][1]["id"].as_str().unwrap().to_string();
    let out = env
        .cmd()
        .args(["regen", essay.to_str().unwrap(), &id, "-o", "out"])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let after = read_json(env.path("out/pause.json"));
    let wav_after = std::fs::read(env.path("out/pause.wav")).unwrap();
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("{id}: take 1 → 2 (")))
        .unwrap_or_else(|| panic!("{stdout}"));
    let figures = regex::Regex::new(r"longest pause ([0-9.]+) s → ([0-9.]+) s")
        .unwrap()
        .captures(line)
        .unwrap_or_else(|| panic!("{line}"));
    let said = |k: usize| figures[k].parse::<f64>().unwrap();
    let (was, now) = (
        longest(&wav_before, &before, &id),
        longest(&wav_after, &after, &id),
    );
    eprintln!("{line}\nmeasured here: {was:.2} s → {now:.2} s");
    assert!(
        (said(1) - was).abs() <= 0.021 && (said(2) - now).abs() <= 0.021,
        "{line}: the WAV's segment gives {was:.2} s → {now:.2} s"
    );
    assert!(was > 0.05, "a sentence with a comma has a pause: {line}");
}
