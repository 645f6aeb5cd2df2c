//! `narrate check`: passes a clean edition, and names what was damaged in one.

use std::path::Path;

use serde_json::Value;

use crate::support::*;

/// Byte offset of a RIFF chunk's body in a WAV file.
fn chunk(bytes: &[u8], id: &[u8; 4]) -> usize {
    let mut at = 12;
    loop {
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if &bytes[at..at + 4] == id {
            return at + 8;
        }
        at += 8 + size + size % 2;
    }
}

/// Rewrites the samples `from..to` of a 16-bit mono WAV in place.
fn damage(wav: &Path, from: usize, to: usize, value: impl Fn(usize) -> i16) {
    let mut bytes = std::fs::read(wav).unwrap();
    let data = chunk(&bytes, b"data");
    for n in from..to {
        bytes[data + 2 * n..data + 2 * n + 2].copy_from_slice(&value(n).to_le_bytes());
    }
    std::fs::write(wav, bytes).unwrap();
}

fn check(env: &Env, wav: &str) -> (i32, Value) {
    let out = env.cmd().args(["check", wav, "--json"]).output().unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

fn kinds_for(report: &Value, id: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["segment"] == id)
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

/// A built edition and the id and span of its longest segment.
fn edition(env: &Env) -> (Value, String, usize, usize) {
    let essay = env.fixture("op-ed.txt");
    let summary = env.build(&essay, &["-o", "out"]);
    assert_eq!(summary["check"]["passed"], true, "{summary}");
    let m = read_json(env.path("out/op-ed.json"));
    let s = m["segments"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|s| s["end_sample"].as_u64().unwrap() - s["start_sample"].as_u64().unwrap())
        .unwrap()
        .clone();
    let (a, b) = (
        s["start_sample"].as_u64().unwrap() as usize,
        s["end_sample"].as_u64().unwrap() as usize,
    );
    (m, s["id"].as_str().unwrap().to_string(), a, b)
}

#[test]
fn a_clean_edition_passes() {
    let env = Env::new();
    edition(&env);
    let out = env.stdout(&["check", "out/op-ed.wav"]);
    assert!(
        out.contains("out/op-ed.wav: passed") && out.contains("LUFS"),
        "{out}"
    );
}

#[test]
fn a_segment_replaced_by_silence_is_named_with_the_regen_command() {
    let env = Env::new();
    let (_, id, a, b) = edition(&env);
    damage(&env.path("out/op-ed.wav"), a, b, |_| 0);
    let (code, report) = check(&env, "out/op-ed.wav");
    assert_eq!(code, 1);
    assert_eq!(kinds_for(&report, &id), vec!["silent"]);
    let human = env
        .cmd()
        .args(["check", "out/op-ed.json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains(&format!(
            "narrate regen {} {id}",
            env.path("op-ed.txt").display()
        )),
        "{text}"
    );
}

#[test]
fn a_clipped_segment_is_named() {
    let env = Env::new();
    let (_, id, a, b) = edition(&env);
    let mid = (a + b) / 2;
    damage(&env.path("out/op-ed.wav"), mid, mid + 40, |n| {
        if n % 20 < 10 {
            32767
        } else {
            -32768
        }
    });
    let (code, report) = check(&env, "out/op-ed.wav");
    assert_eq!(code, 1);
    assert!(
        kinds_for(&report, &id).contains(&"clipped".to_string()),
        "{report}"
    );
}

#[test]
fn a_segment_cut_short_is_named() {
    let env = Env::new();
    let (m, id, _, _) = edition(&env);
    // Cut the cached audio of the segment to a tenth and join again: the edition is now short of it.
    let key = m["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id.as_str())
        .unwrap()["cache_key"]
        .as_str()
        .unwrap()
        .to_string();
    let cached = env
        .cache
        .join("segments")
        .join(&key[..2])
        .join(format!("{key}.wav"));
    // The cache keeps only whole, checked entries, so the damage is another whole entry in its place: the
    // shortest segment's audio (a heading), as a cache mix-up would leave it.
    let shortest = m["segments"]
        .as_array()
        .unwrap()
        .iter()
        .min_by_key(|s| s["end_sample"].as_u64().unwrap() - s["start_sample"].as_u64().unwrap())
        .unwrap()["cache_key"]
        .as_str()
        .unwrap()
        .to_string();
    let short = env
        .cache
        .join("segments")
        .join(&shortest[..2])
        .join(format!("{shortest}.wav"));
    assert!(samples(&short).len() * 5 < samples(&cached).len());
    cache_mix_up(&env.cache, &shortest, &key);
    std::fs::remove_dir_all(env.path("out")).unwrap();
    let summary = env.build(&env.path("op-ed.txt"), &["-o", "out"]);
    assert_eq!(summary["check"]["passed"], false);
    let (code, report) = check(&env, "out/op-ed.wav");
    assert_eq!(code, 1);
    assert_eq!(kinds_for(&report, &id), vec!["truncated"], "{report}");
}

#[test]
fn a_removed_chapter_marker_is_named() {
    let env = Env::new();
    let (m, _, _, _) = edition(&env);
    let wav = env.path("out/op-ed.wav");
    let mut bytes = std::fs::read(&wav).unwrap();
    let cue = chunk(&bytes, b"cue ");
    let count = m["chapters"].as_array().unwrap().len() as u32;
    bytes[cue..cue + 4].copy_from_slice(&(count - 1).to_le_bytes());
    std::fs::write(&wav, bytes).unwrap();
    let (code, report) = check(&env, "out/op-ed.wav");
    assert_eq!(code, 1);
    let chapter: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "chapter")
        .collect();
    assert_eq!(chapter.len(), 1, "{report}");
    assert!(chapter[0]["message"]
        .as_str()
        .unwrap()
        .contains("no chapter marker"));
}

/// A real voice's edition of the op-ed (None when the voice is not installed and tools are not required).
/// The tests share one cache for real voices (content-addressed, written atomically), so each sentence is
/// synthesized once per run rather than once per test.
fn voiced_env() -> Env {
    let mut env = Env::new();
    env.cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("check-voices-cache");
    env
}

fn voiced(env: &Env, backend: &str) -> Option<Value> {
    let ready = match backend {
        "espeak" => have("espeak-ng"),
        "hibari" => hibari_ready(),
        _ => piper_ready(),
    };
    if !ready {
        return None;
    }
    let essay = env.fixture(fixture(backend));
    let summary = env.build(&essay, &["--backend", backend, "-o", "out"]);
    assert_eq!(summary["check"]["passed"], true, "{summary}");
    Some(read_json(env.path(&format!("out/{}.json", stem(backend)))))
}

/// The essay each voice's damage tests narrate: the op-ed, or for hibari (the default voice, slower to
/// synthesize on few cores) a shorter essay of three chapters.
fn fixture(backend: &str) -> &'static str {
    if backend == "hibari" {
        "orchard-ledger.md"
    } else {
        "op-ed.txt"
    }
}

fn stem(backend: &str) -> &'static str {
    fixture(backend).split('.').next().unwrap_or_default()
}

/// The edition's WAV, relative to the test's folder.
fn out_wav(backend: &str) -> String {
    format!("out/{}.wav", stem(backend))
}

/// Whether the hibari model is installed (scripts/fetch-voice); never without the `hibari` feature.
#[cfg(feature = "hibari")]
fn hibari_ready() -> bool {
    let dir = narrate::testing::voice::data_dir().join("hibari");
    let found =
        dir.join("hibari.onnx").is_file() && narrate::testing::voice::onnxruntime_library().is_ok();
    if !found {
        assert!(
            std::env::var_os("NARRATE_REQUIRE_TOOLS").is_none(),
            "the hibari model is not installed; scripts/test installs it"
        );
        eprintln!("skipping: the hibari model is not installed (scripts/fetch-voice)");
    }
    found
}

#[cfg(not(feature = "hibari"))]
fn hibari_ready() -> bool {
    eprintln!("skipping: built without the hibari feature");
    false
}

/// Whether the Piper joe voice is installed (scripts/fetch-voice).
fn piper_ready() -> bool {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let found = home.is_some_and(|h| {
        h.join(".local/share/narrate/voices/en_US-joe-medium.onnx")
            .exists()
    });
    if !found {
        assert!(
            std::env::var_os("NARRATE_REQUIRE_TOOLS").is_none(),
            "the Piper joe voice is not installed; scripts/test installs it"
        );
        eprintln!("skipping: the Piper joe voice is not installed (scripts/fetch-voice)");
    }
    found
}

fn span(s: &Value) -> (usize, usize) {
    (
        s["start_sample"].as_u64().unwrap() as usize,
        s["end_sample"].as_u64().unwrap() as usize,
    )
}

/// The longest segment, or the longest whose text asks for no pause (no comma, colon… inside).
fn longest(m: &Value, unpunctuated: bool) -> Value {
    m["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            !unpunctuated
                || !s["spoken"]
                    .as_str()
                    .unwrap()
                    .trim_end_matches(['.', '!', '?'])
                    .contains([',', ';', ':', '—', '–', '(', ')', '.', '!', '?'])
        })
        .max_by_key(|s| span(s).1 - span(s).0)
        .unwrap()
        .clone()
}

fn findings(report: &Value) -> Vec<Value> {
    report["findings"].as_array().unwrap().clone()
}

/// Zeroes `seconds` of audio in the middle of a segment: one finding, a gap at that place, fixed by regen (by an
/// edit or another voice for espeak-ng, whose takes cannot differ).
fn dropout_is_found(backend: &str, seconds: f64, unpunctuated: bool) {
    let env = voiced_env();
    let Some(m) = voiced(&env, backend) else {
        return;
    };
    let rate = m["sample_rate"].as_u64().unwrap() as f64;
    let seg = longest(&m, unpunctuated);
    let id = seg["id"].as_str().unwrap();
    let (a, b) = span(&seg);
    let half = (seconds * rate / 2.0) as usize;
    let mid = (a + b) / 2;
    assert!(b - a > 2 * half + rate as usize / 2, "{seg}");
    damage(&env.path(&out_wav(backend)), mid - half, mid + half, |_| 0);
    let (code, report) = check(&env, &out_wav(backend));
    assert_eq!(code, 1, "{report}");
    let gaps: Vec<Value> = findings(&report)
        .into_iter()
        .filter(|f| f["kind"] == "gap")
        .collect();
    assert_eq!(gaps.len(), 1, "{report}");
    let g = &gaps[0];
    assert_eq!(g["segment"], id, "{report}");
    // The gap holds the dropout (and may run on into the silence next to it).
    let (from, to) = ((mid - half) as f64 / rate, (mid + half) as f64 / rate);
    assert!(
        g["start_seconds"].as_f64().unwrap() <= from + 0.011
            && g["end_seconds"].as_f64().unwrap() >= to - 0.011
            && g["value"].as_f64().unwrap() >= seconds - 0.02
            && g["value"].as_f64().unwrap() > g["threshold"].as_f64().unwrap(),
        "{g}"
    );
    let source = env.path(fixture(backend)).display().to_string();
    if backend == "espeak" {
        // espeak-ng's takes all read a sentence the same way: the fix is an edit or another voice.
        assert_eq!(g["remedy"]["action"], "edit", "{g}");
        let command = g["remedy"]["command"].as_str().unwrap();
        assert!(
            command.starts_with(&format!("edit line {} of {source} ", seg["line"]))
                && command.contains(&format!("then narrate build {source} -o out")),
            "{g}"
        );
    } else {
        assert_eq!(g["remedy"]["action"], "regen");
        assert_eq!(
            g["remedy"]["command"],
            format!("narrate regen {source} {id} -o out")
        );
    }
    // Nothing else in the edition is blamed.
    for f in findings(&report) {
        assert_eq!(f["segment"], id, "{report}");
    }
}

#[test]
fn a_half_second_dropout_inside_an_espeak_sentence_is_a_gap() {
    dropout_is_found("espeak", 0.5, true);
}

#[test]
fn a_half_second_dropout_inside_a_piper_sentence_is_a_gap() {
    dropout_is_found("piper", 0.5, true);
}

#[test]
fn a_half_second_dropout_inside_a_hibari_sentence_is_a_gap() {
    dropout_is_found("hibari", 0.5, true);
}

#[test]
fn a_dropout_of_a_second_and_a_half_is_a_gap_in_espeak_piper_and_hibari() {
    dropout_is_found("espeak", 1.5, false);
    dropout_is_found("piper", 1.5, false);
    dropout_is_found("hibari", 1.5, false);
}

/// From the middle of the longest segment, samples moved by a fifth of full scale (away from the side the first
/// one is on): one sample (a click), or 20 ms of them (`step`, as a bad splice makes). One finding, a click, in
/// that segment, at the moved stretch's start or (a step having two edges) its end, to be regenerated.
fn moved_stretch_is_found(backend: &str, step: bool) {
    let env = voiced_env();
    let Some(m) = voiced(&env, backend) else {
        return;
    };
    let rate = m["sample_rate"].as_u64().unwrap() as f64;
    let length = if step { rate as usize / 50 } else { 1 };
    let seg = longest(&m, false);
    let (a, b) = span(&seg);
    let mid = (a + b) / 2;
    let wav = env.path(&out_wav(backend));
    let was = samples(&wav);
    let down = was[mid] > 0;
    damage(&wav, mid, mid + length, |n| {
        let v = i32::from(was[n]) + if down { -6554 } else { 6554 };
        v.clamp(-32768, 32767) as i16
    });
    let (code, report) = check(&env, &out_wav(backend));
    assert_eq!(code, 1, "{backend}: {report}");
    let all = findings(&report);
    assert_eq!(all.len(), 1, "{backend}: {report}");
    let f = &all[0];
    assert_eq!(f["kind"], "click", "{backend}");
    assert_eq!(f["segment"], seg["id"], "{backend}");
    let edges: &[usize] = if step { &[mid, mid + length] } else { &[mid] };
    let at = f["start_seconds"].as_f64().unwrap() * rate;
    assert!(
        edges
            .iter()
            .any(|&edge| (at - edge as f64).abs() < rate / 1000.0),
        "{backend}: {f}"
    );
    assert_eq!(f["remedy"]["action"], "regen");
}

#[test]
fn a_step_of_a_fifth_of_full_scale_mid_segment_is_found_in_espeak_piper_and_hibari() {
    for backend in ["espeak", "piper", "hibari"] {
        moved_stretch_is_found(backend, true);
    }
}

#[test]
fn a_single_sample_click_mid_segment_is_found_in_espeak_piper_and_hibari() {
    for backend in ["espeak", "piper", "hibari"] {
        moved_stretch_is_found(backend, false);
    }
}

/// +12 dB over the whole edition: clipping everywhere, fixed by mastering, with no segment to regenerate.
fn gain_is_found(backend: &str) {
    let env = voiced_env();
    let Some(_) = voiced(&env, backend) else {
        return;
    };
    let wav = env.path(&out_wav(backend));
    let all = samples(&wav);
    let gain = 10f64.powf(12.0 / 20.0);
    damage(&wav, 0, all.len(), |n| {
        (f64::from(all[n]) * gain).clamp(-32768.0, 32767.0) as i16
    });
    let (code, report) = check(&env, &out_wav(backend));
    assert_eq!(code, 1);
    let kinds: Vec<Value> = findings(&report)
        .iter()
        .map(|f| f["kind"].clone())
        .collect();
    assert!(kinds.contains(&Value::from("clipping")), "{report}");
    for f in findings(&report) {
        assert_eq!(f["remedy"]["action"], "master", "{report}");
        assert!(f["segment"].is_null(), "{report}");
    }
    assert_eq!(report["regenerate"].as_array().unwrap().len(), 0);
    assert_eq!(
        report["remedies"][0]["command"],
        format!(
            "narrate build {} -o out --backend {backend} --voice {} --master podcast",
            env.path(fixture(backend)).display(),
            read_json(env.path(&format!("out/{}.json", stem(backend))))["voice"]
                .as_str()
                .unwrap()
        )
    );
}

#[test]
fn twelve_decibels_of_gain_is_a_mastering_fault_in_espeak_piper_and_hibari() {
    gain_is_found("espeak");
    gain_is_found("piper");
    gain_is_found("hibari");
}

/// The WAV cut in the middle of its third chapter: one finding at the cut, fixed by a rebuild, said as a
/// reading problem.
fn truncation_is_found(backend: &str) {
    let env = voiced_env();
    let Some(m) = voiced(&env, backend) else {
        return;
    };
    let rate = m["sample_rate"].as_u64().unwrap() as f64;
    let chapter = &m["chapters"][2];
    let cut = ((chapter["start_sample"].as_u64().unwrap()
        + chapter["end_sample"].as_u64().unwrap())
        / 2) as usize;
    let wav = env.path(&out_wav(backend));
    let bytes = std::fs::read(&wav).unwrap();
    let data = chunk(&bytes, b"data");
    std::fs::write(&wav, &bytes[..data + 2 * cut]).unwrap();
    let (code, report) = check(&env, &out_wav(backend));
    assert_eq!(code, 1);
    let all = findings(&report);
    assert_eq!(all.len(), 1, "{report}");
    let f = &all[0];
    assert_eq!(f["kind"], "cut-short");
    assert_eq!(f["chapter"], 2);
    let at = m["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| span(s).1 > cut)
        .unwrap();
    assert_eq!(f["segment"], at["id"]);
    assert!((f["start_seconds"].as_f64().unwrap() - cut as f64 / rate).abs() < 0.001);
    assert_eq!(f["remedy"]["action"], "rebuild");
    let out = env
        .cmd()
        .args(["check", &out_wav(backend)])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("cannot read the audio past"), "{text}");
    assert!(
        !text.contains("-o DIR") && !text.contains("cannot write"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "narrate build {} -o out --backend {backend}",
            env.path(fixture(backend)).display()
        )),
        "{text}"
    );
}

#[test]
fn a_wav_cut_short_mid_chapter_is_named_with_a_rebuild_in_espeak_piper_and_hibari() {
    truncation_is_found("espeak");
    truncation_is_found("piper");
    truncation_is_found("hibari");
}

#[test]
fn a_wav_that_is_not_audio_is_a_reading_error_not_a_writing_one() {
    let env = Env::new();
    edition(&env);
    std::fs::write(env.path("out/op-ed.wav"), b"RIFF\0\0\0\0WAVEnothing").unwrap();
    let err = error_of({
        let mut c = env.cmd();
        c.args(["check", "out/op-ed.wav"]);
        c
    });
    assert!(err.contains("cannot read the edition's audio"), "{err}");
    assert!(!err.contains("-o DIR"), "{err}");
}

/// Clean editions of every backend pass: the sample essays and the test essays.
#[test]
fn clean_editions_of_every_backend_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut essays: Vec<std::path::PathBuf> = std::fs::read_dir(root.join("audio/samples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    for name in [
        "op-ed.txt",
        "ferry.md",
        "reads-like-a-person.md",
        "structure.md",
        "orchard-ledger.md",
    ] {
        essays.push(root.join("tests/data").join(name));
    }
    essays.sort();
    let mut backends = vec!["tone"];
    if have("espeak-ng") {
        backends.push("espeak");
    }
    if piper_ready() {
        backends.push("piper");
    }
    if hibari_ready() {
        backends.push("hibari");
    }
    for backend in backends {
        let env = voiced_env();
        for essay in &essays {
            let copy = env.path(essay.file_name().unwrap().to_str().unwrap());
            std::fs::copy(essay, &copy).unwrap();
            let summary = env.build(&copy, &["--backend", backend, "-o", backend]);
            assert_eq!(
                summary["check"]["passed"],
                true,
                "{backend} {}: {summary}",
                essay.display()
            );
        }
    }
}

/// Whether `--listen`'s recognizer is installed (Debian libpocketsphinx3 and pocketsphinx-en-us).
fn recognizer_ready() -> bool {
    let found = Path::new("/usr/share/pocketsphinx/model/en-us/en-us/mdef").exists()
        && [
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/usr/lib",
        ]
        .iter()
        .any(|d| Path::new(d).join("libpocketsphinx.so.3").exists());
    if !found {
        assert!(
            std::env::var_os("NARRATE_REQUIRE_TOOLS").is_none(),
            "PocketSphinx is not installed; scripts/test installs it"
        );
        eprintln!("skipping: PocketSphinx is not installed (scripts/test installs it)");
    }
    found
}

fn listen(env: &Env, backend: &str) -> (i32, Value) {
    let out = env
        .cmd()
        .args(["check", &out_wav(backend), "--listen", "--json"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr))),
    )
}

fn word_findings(report: &Value) -> Vec<Value> {
    findings(report)
        .into_iter()
        .filter(|f| f["kind"] == "words")
        .collect()
}

#[test]
fn listening_to_clean_editions_names_no_segment() {
    if !recognizer_ready() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for backend in ["piper", "espeak", "hibari"] {
        let env = voiced_env();
        let Some(m) = voiced(&env, backend) else {
            continue;
        };
        let (code, report) = listen(&env, backend);
        assert_eq!(code, 0, "{backend}: {report}");
        assert_eq!(
            report["listened"]["segments"],
            m["segments"].as_array().unwrap().len(),
            "{backend}: {report}"
        );
        // The sample essays too, through `build --check listen`.
        for sample in ["the-borrowed-ladder.txt", "tide-clocks.md"] {
            std::fs::copy(root.join("audio/samples").join(sample), env.path(sample)).unwrap();
            let summary = env.build(
                &env.path(sample),
                &["--backend", backend, "-o", "samples", "--check", "listen"],
            );
            assert_eq!(
                summary["check"]["passed"], true,
                "{backend} {sample}: {summary}"
            );
        }
    }
}

/// An edition with one segment's audio damaged: `--listen` names that segment and no other.
fn listen_names_only(env: &Env, backend: &str, id: &str) {
    let (code, report) = listen(env, backend);
    assert_eq!(code, 1, "{report}");
    assert!(report["listened"]["fit_threshold"].is_number(), "{report}");
    let words = word_findings(&report);
    assert_eq!(words.len(), 1, "{backend}: {report}");
    assert_eq!(words[0]["segment"], id, "{backend}: {report}");
    assert!(
        words[0]["message"]
            .as_str()
            .unwrap()
            .contains("expected \"")
            && words[0]["message"].as_str().unwrap().contains("heard \""),
        "{}",
        words[0]
    );
    assert_eq!(
        words[0]["remedy"]["command"],
        format!(
            "narrate regen {} {id} -o out",
            env.path(fixture(backend)).display()
        )
    );
}

#[test]
fn listening_names_a_segment_whose_cache_file_holds_another_sentence() {
    if !recognizer_ready() {
        return;
    }
    for backend in ["espeak", "piper", "hibari"] {
        swapped_segment_is_named(backend);
    }
}

fn swapped_segment_is_named(backend: &str) {
    let env = voiced_env();
    let Some(m) = voiced(&env, backend) else {
        return;
    };
    // The longest segment, and the other sentence closest to it in length.
    let seg = longest(&m, false);
    let len = |s: &Value| span(s).1 - span(s).0;
    let other = m["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["id"] != seg["id"])
        .min_by_key(|s| len(s).abs_diff(len(&seg)))
        .unwrap();
    // A private cache: the shared one must keep every sentence's own audio.
    let private = Env::new();
    copy_dir(&env.cache, &private.cache);
    let env = Env {
        cache: private.cache.clone(),
        ..env
    };
    // As a backend that answered with another sentence's audio would leave it.
    cache_mix_up(
        &env.cache,
        other["cache_key"].as_str().unwrap(),
        seg["cache_key"].as_str().unwrap(),
    );
    std::fs::remove_dir_all(env.path("out")).unwrap();
    env.build(
        &env.path(fixture(backend)),
        &["--backend", backend, "-o", "out"],
    );
    listen_names_only(&env, backend, seg["id"].as_str().unwrap());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn listening_names_a_segment_played_backwards() {
    if !recognizer_ready() {
        return;
    }
    for backend in ["espeak", "piper", "hibari"] {
        let env = voiced_env();
        let Some(m) = voiced(&env, backend) else {
            continue;
        };
        let seg = longest(&m, false);
        let (a, b) = span(&seg);
        let wav = env.path(&out_wav(backend));
        let all = samples(&wav);
        damage(&wav, a, b, |n| all[a + b - 1 - n]);
        listen_names_only(&env, backend, seg["id"].as_str().unwrap());
    }
}
