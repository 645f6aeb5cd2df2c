//! The espeak-ng backend for real: speech out, chapters read back by libsndfile.

use crate::support::*;

#[test]
fn espeak_narrates_an_essay_with_chapters() {
    if !have("espeak-ng") {
        return;
    }
    let env = Env::new();
    let essay = env.fixture("headings.md");
    let summary = env.build(&essay, &["--backend", "espeak", "-o", "out"]);
    assert_eq!(summary["synthesized"], summary["segments"]);
    let wav = env.path("out/headings.wav");
    let manifest = read_json(env.path("out/headings.json"));
    assert_eq!(manifest["backend"], "espeak");
    assert_eq!(manifest["sample_rate"], 22050);
    check_chapters(&wav, &manifest);
    // Every segment is real speech, well above -30 dBFS RMS, at about espeak-ng's 175 words a minute.
    check_speech(&wav, &manifest, 0.03, (0.12, 0.8), 1.0);
    if have("sndfile-info") {
        check_wav_against_manifest(&wav, &manifest);
    }
    // A rebuild takes everything from the cache.
    assert_eq!(
        env.build(&essay, &["--backend", "espeak", "-o", "out"])["synthesized"],
        0
    );
}

#[test]
fn espeak_builds_a_900_word_op_ed_into_paragraph_chapters() {
    if !have("espeak-ng") {
        return;
    }
    let env = Env::new();
    let essay = env.fixture("op-ed.txt");
    let summary = env.build(&essay, &["--backend", "espeak", "-o", "out", "--jobs", "2"]);
    assert_eq!(summary["chapters"], 12);
    let manifest = read_json(env.path("out/op-ed.json"));
    check_chapters(&env.path("out/op-ed.wav"), &manifest);
    // 869 words at espeak-ng's default rate is well over four minutes.
    let secs = summary["duration_seconds"].as_f64().unwrap();
    assert!(secs > 240.0 && secs < 480.0, "{secs}");
    if have("sndfile-info") {
        check_wav_against_manifest(&env.path("out/op-ed.wav"), &manifest);
    }
}

#[test]
fn espeak_takes_differ_and_voices_are_listed() {
    if !have("espeak-ng") {
        return;
    }
    let env = Env::new();
    let essay = env.essay("tiny.txt", "Tiny\n\nOne short sentence here.\n");
    env.build(&essay, &["--backend", "espeak", "-o", "out"]);
    let first = samples(env.path("out/tiny.wav"));
    let m = read_json(env.path("out/tiny.json"));
    let id = m["segments"][1]["id"].as_str().unwrap();
    let summary = env.json(&[
        "regen",
        essay.to_str().unwrap(),
        id,
        "--backend",
        "espeak",
        "-o",
        "out",
    ]);
    assert_eq!(summary["synthesized"], 1);
    assert_ne!(samples(env.path("out/tiny.wav")), first);
    let voices = env.json(&["voices", "--backend", "espeak"]);
    let names = voice_names(&voices);
    assert!(
        names.iter().any(|n| n == "en-us") && names.len() > 50,
        "{names:?}"
    );
    let err = env
        .cmd()
        .args([
            "build",
            essay.to_str().unwrap(),
            "--backend",
            "espeak",
            "--voice",
            "xx-nonsense",
            "-o",
            "bad",
        ])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&err.get_output().stderr).to_string();
    assert!(
        stderr.starts_with("error: ") && stderr.contains("segment") && stderr.contains("espeak"),
        "{stderr}"
    );
    assert!(!env.path("bad/tiny.wav").exists());
}
