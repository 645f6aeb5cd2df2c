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

#[test]
fn espeak_through_its_server_gives_the_program_s_samples_and_the_same_words_in_any_order() {
    use narrate::testing::{espeak, espeak_program, Backend, SpeechRequest};
    if !have("espeak-ng") {
        return;
    }
    let backend = espeak(std::path::Path::new(env!("CARGO_BIN_EXE_narrate")));
    let cases: [(&str, &str, Option<u32>, u32); 5] = [
        (
            "The quick brown fox jumps over the lazy dog.",
            "en-us",
            None,
            1,
        ),
        (
            "Numbers like one thousand two hundred and four are read out; so are dates, slowly.",
            "en-us",
            Some(140),
            2,
        ),
        (
            "A second take moves the pitch, and a British voice reads it.",
            "en-gb+m2",
            None,
            2,
        ),
        (
            "\u{201c}Quotes\u{201d}, dashes \u{2014} and caf\u{e9} accents [[h@'loU]] too.",
            "en-gb+m2",
            Some(210),
            3,
        ),
        ("Short.", "en-us", None, 1),
    ];
    let request = |i: usize| SpeechRequest {
        text: cases[i].0,
        voice: cases[i].1,
        rate: cases[i].2,
        take: cases[i].3,
    };
    let program: Vec<_> = (0..cases.len())
        .map(|i| espeak_program(&request(i)).unwrap())
        .collect();
    let mut words = vec![None; cases.len()];
    // Each order also starts from whatever the servers spoke before: the audio must not depend on it.
    for order in [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 4, 0, 3, 1]] {
        for i in order {
            let audio = backend.synthesize(&request(i)).unwrap();
            assert_eq!(audio.sample_rate, program[i].sample_rate);
            assert!(
                audio.samples == program[i].samples,
                "case {i}: {} samples through the server, {} from espeak-ng",
                audio.samples.len(),
                program[i].samples.len()
            );
            let spans = audio.words.expect("espeak-ng's word events");
            let spoken: Vec<&str> = spans.iter().map(|w| w.text.as_str()).collect();
            // The spoken words, as every word span names them.
            let expected: Vec<&str> = cases[i]
                .0
                .split_whitespace()
                .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
                .filter(|w| !w.is_empty())
                .collect();
            assert_eq!(spoken, expected, "case {i}");
            assert!(
                spans
                    .windows(2)
                    .all(|w| w[0].start_sample <= w[1].start_sample)
                    && spans.iter().all(|w| w.start_sample <= w.end_sample
                        && w.end_sample as usize <= audio.samples.len()),
                "case {i}: {spans:?}"
            );
            match &words[i] {
                None => words[i] = Some(spans),
                Some(first) => assert_eq!(first, &spans, "case {i}"),
            }
        }
    }
    // Two threads at once, each with its own server.
    let backend = &backend;
    std::thread::scope(|s| {
        let jobs: Vec<_> = [1, 3]
            .into_iter()
            .map(|i| s.spawn(move || (i, backend_samples(backend, &request(i)))))
            .collect();
        for job in jobs {
            let (i, samples) = job.join().unwrap();
            assert!(samples == program[i].samples, "case {i} in parallel");
        }
    });
}

fn backend_samples(
    backend: &impl narrate::testing::Backend,
    request: &narrate::testing::SpeechRequest,
) -> Vec<i16> {
    backend.synthesize(request).unwrap().samples
}

#[test]
fn an_espeak_voice_s_language_is_what_espeak_ng_lists_for_it_found_without_the_listing_where_a_file_names_it(
) {
    use narrate::testing::{espeak, Backend};
    if !have("espeak-ng") {
        return;
    }
    let backend = espeak(std::path::Path::new(env!("CARGO_BIN_EXE_narrate")));
    // Every voice espeak-ng lists is known by its name, with itself as its language.
    let listed = backend.voices().unwrap();
    assert!(listed.len() > 50);
    for v in &listed {
        assert_eq!(
            backend.voice_language(&v.name).as_deref(),
            Some(v.name.as_str()),
            "{}",
            v.name
        );
    }
    assert_eq!(backend.voice_language("en-us+f3").as_deref(), Some("en-us"));
    // Plain `en` (the file gmw/en) speaks British English; a voice espeak-ng lacks says nothing.
    assert_eq!(backend.voice_language("en").as_deref(), Some("en-GB"));
    assert_eq!(backend.voice_language("xx-nonsense"), None);
}
