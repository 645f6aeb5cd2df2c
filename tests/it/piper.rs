//! The Piper backend: phoneme IDs against the reference implementation, and real synthesis with the joe voice.

use std::collections::HashMap;

use serde_json::Value;

use narrate::testing::{phoneme_ids, phonemize, voice};

use crate::support::*;

/// Sentences whose phonemes differ from piper-tts 1.8.0's because Debian's espeak-ng 1.51 is older than the
/// espeak-ng 1.52 bundled in piper-tts; each is explained in docs/PIPER.md. Any other difference fails.
const KNOWN_DIFFERENCES: &[&str] = &[];

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/piper-phonemes.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn id_map() -> Option<HashMap<String, Vec<i64>>> {
    let v = match voice::find("en_US-joe-medium") {
        Ok(v) => v,
        Err(e) => {
            assert!(std::env::var_os("NARRATE_REQUIRE_TOOLS").is_none(), "{e}");
            eprintln!("skipping: {e}");
            return None;
        }
    };
    Some(voice::VoiceConfig::load(&v.config).unwrap().phoneme_id_map)
}

#[test]
fn piper_phoneme_ids_match_the_reference() {
    let Some(map) = id_map() else { return };
    let fixture = fixture();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 60);
    let mut differ = Vec::new();
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let ours = phonemize::phonemize("en-us", text).unwrap();
        let ours_text: Vec<String> = ours.iter().map(|s| s.iter().collect()).collect();
        let ours_ids: Vec<Vec<i64>> = ours.iter().map(|s| phoneme_ids(s, &map)).collect();
        let want_ids: Vec<Vec<i64>> = serde_json::from_value(case["ids"].clone()).unwrap();
        if ours_ids != want_ids {
            differ.push(format!(
                "{text}\n  ours:   {ours_text:?}\n  piper:  {}",
                case["phonemes"]
            ));
        }
    }
    let unexpected: Vec<&String> = differ
        .iter()
        .filter(|d| !KNOWN_DIFFERENCES.iter().any(|k| d.starts_with(k)))
        .collect();
    eprintln!(
        "{} of {} sentences match piper-tts exactly",
        cases.len() - differ.len(),
        cases.len()
    );
    assert!(
        unexpected.is_empty(),
        "{} unexpected differences:\n{}",
        unexpected.len(),
        differ.join("\n")
    );
}

/// The decoder engines this machine can run: ONNX Runtime always, OpenVINO where `narrate voices` says it runs
/// (installed, and a CPU with BF16).
fn engines(env: &Env) -> Vec<&'static str> {
    let out = env
        .cmd()
        .env("NARRATE_PIPER_ENGINE", "openvino")
        .args(["voices", "--backend", "piper", "--json"])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&out.stdout).into_owned();
    if status.contains("OpenVINO in bfloat16") {
        vec!["ort", "openvino"]
    } else {
        eprintln!("OpenVINO does not run here: {status}");
        vec!["ort"]
    }
}

/// `narrate build ESSAY --json` plus extra flags, with the given Piper decoder engine.
fn build_with(env: &Env, engine: &str, essay: &std::path::Path, extra: &[&str]) -> Value {
    let out = env
        .cmd()
        .env("NARRATE_PIPER_ENGINE", engine)
        .arg("build")
        .arg(essay)
        .args(extra)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{engine}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn piper_narrates_an_essay_with_the_joe_voice_with_each_engine() {
    if id_map().is_none() {
        return;
    }
    let env = Env::new();
    for engine in engines(&env) {
        narrate_short_essay(&env, engine);
    }
}

fn narrate_short_essay(env: &Env, engine: &str) {
    let essay = env.essay(
        "short.md",
        "# A Short Test\n\nThe kettle boiled twice before anyone noticed. Nobody minded.\n\n## Later\n\nWe drank the tea on the step, watching the rain.\n",
    );
    let cache = format!("cache-{engine}");
    let summary = build_with(
        env,
        engine,
        &essay,
        &[
            "--backend",
            "piper",
            "-o",
            "out",
            "--jobs",
            "2",
            "--cache",
            &cache,
        ],
    );
    assert_eq!(summary["chapters"], 3);
    let manifest = read_json(env.path("out/short.json"));
    assert_eq!(manifest["backend"], "piper");
    assert_eq!(manifest["voice"], "en_US-joe-medium");
    assert_eq!(manifest["sample_rate"], 22050);
    check_chapters(&env.path("out/short.wav"), &manifest);
    // Audible speech at natural speed: roughly 2 to 4 words a second.
    check_speech(&env.path("out/short.wav"), &manifest, 0.02, (0.2, 0.7), 0.8);
    if have("sndfile-info") {
        check_wav_against_manifest(&env.path("out/short.wav"), &manifest);
    }
    // The default backend is piper once the voice is installed (unless hibari's model is too: it comes first).
    let plan = env
        .cmd()
        .env_remove("NARRATE_BACKEND")
        .args(["plan", "short.md", "--json"])
        .assert()
        .success();
    let plan: Value = serde_json::from_slice(&plan.get_output().stdout).unwrap();
    let hibari = cfg!(feature = "hibari") && voice::data_dir().join("hibari/hibari.onnx").is_file();
    assert_eq!(plan["backend"], if hibari { "hibari" } else { "piper" });
}

#[test]
fn piper_editions_can_have_another_sample_rate() {
    if id_map().is_none() {
        return;
    }
    let env = Env::new();
    // Piper's segments are whole 256-sample frames, so about a quarter of them are multiples of the resampler's
    // 1024-sample chunk (which used to fail the build); the tone test in master.rs hits those lengths for sure.
    let essay = env.essay(
        "rates.md",
        "# Rates\n\nThe orchard was quiet. A gate creaked. Two crows argued on the wall.\n\n\
         Somebody had left a ladder against the pear tree. The pears were nearly ripe.\n\n\
         We counted the hives. Then we went home.\n",
    );
    for rate in [44_100, 16_000] {
        let out = format!("at{rate}");
        env.build(
            &essay,
            &[
                "--backend",
                "piper",
                "-o",
                &out,
                "--sample-rate",
                &rate.to_string(),
            ],
        );
        let wav = env.path(&format!("{out}/rates.wav"));
        let manifest = read_json(wav.with_extension("json"));
        assert_eq!(manifest["sample_rate"], rate);
        check_chapters(&wav, &manifest);
        check_speech(&wav, &manifest, 0.02, (0.2, 0.7), 0.8);
        if have("sndfile-info") {
            check_wav_against_manifest(&wav, &manifest);
        }
    }
}

/// The bytes of an edition's WAV.
fn wav_bytes(env: &Env, path: &str) -> Vec<u8> {
    std::fs::read(env.path(path)).unwrap()
}

#[test]
fn piper_takes_are_the_same_from_any_empty_cache_and_a_new_take_differs() {
    if id_map().is_none() {
        return;
    }
    let text = "# Rain\n\nThe kettle boiled twice before anyone noticed. Nobody minded at all.\n\n\
                We drank the tea on the step, watching the rain. It came down in long grey sheets, and the \
                gutters sang.\n\n## Later\n\nBy evening the garden had turned into a shallow lake.\n";
    // Two folders, two empty caches, another number of workers (and so of sessions).
    let (a, b) = (Env::new(), Env::new());
    let (essay_a, essay_b) = (a.essay("rain.md", text), b.essay("rain.md", text));
    let piper = ["--backend", "piper", "-o", "out"];
    let built = a.build(&essay_a, &[&piper[..], &["--jobs", "2"]].concat());
    b.build(&essay_b, &[&piper[..], &["--jobs", "1"]].concat());
    let first = wav_bytes(&a, "out/rain.wav");
    let take1 = samples(a.path("out/rain.wav"));
    assert!(
        first == wav_bytes(&b, "out/rain.wav"),
        "the same essay gave different audio from two empty caches"
    );

    // A new take of one segment in one folder; the same take asked for by number in the other.
    let manifest = read_json(a.path("out/rain.json"));
    let id = manifest["segments"][2]["id"].as_str().unwrap().to_string();
    let regen = |env: &Env, essay: &std::path::Path, extra: &[&str]| {
        let mut args = vec!["regen", essay.to_str().unwrap(), &id];
        args.extend_from_slice(extra);
        args.extend_from_slice(&piper);
        env.json(&args)
    };
    let new = regen(&a, &essay_a, &[]);
    assert_eq!(new["regenerated"][0]["take"], 2);
    let asked = regen(&b, &essay_b, &["--take", "2"]);
    assert_eq!(
        asked["synthesized"], 1,
        "take 2 was rendered anew in the second cache"
    );
    let second = wav_bytes(&a, "out/rain.wav");
    assert!(
        second == wav_bytes(&b, "out/rain.wav"),
        "take 2 differs between two caches"
    );
    let after = read_json(a.path("out/rain.json"));
    let span = |m: &Value| {
        let s = &m["segments"][2];
        s["start_sample"].as_u64().unwrap() as usize..s["end_sample"].as_u64().unwrap() as usize
    };
    let take2 = samples(a.path("out/rain.wav"));
    assert_ne!(
        take1[span(&manifest)],
        take2[span(&after)],
        "take 2 sounds like take 1"
    );

    // After the cache is gone (as after `cache gc`), a build renders every take again, to the same bytes (into
    // another folder: the edition in `out` is up to date and would be left alone).
    std::fs::remove_dir_all(&a.cache).unwrap();
    let rebuilt = a.build(&essay_a, &["--backend", "piper", "-o", "again"]);
    assert_eq!(rebuilt["synthesized"], built["synthesized"]);
    assert!(wav_bytes(&a, "again/rain.wav") == second);
}

/// Runs a piper build that must fail and returns its one-line error.
fn piper_error(env: &Env, extra: &[&str], vars: &[(&str, &str)]) -> String {
    let essay = env.essay("e.txt", "Title\n\nOne sentence here.\n");
    let mut cmd = env.cmd();
    cmd.args([
        "build",
        essay.to_str().unwrap(),
        "--backend",
        "piper",
        "-o",
        "out",
    ])
    .args(extra);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let stderr = one_error(&cmd.output().unwrap());
    assert!(!env.path("out/e.wav").exists());
    stderr
}

#[test]
fn piper_errors_say_how_to_fix_them() {
    if id_map().is_none() {
        return;
    }
    let env = Env::new();
    let err = piper_error(&env, &["--voice", "en_XX-nobody-low"], &[]);
    assert!(
        err.contains("voice `en_XX-nobody-low` not found") && err.contains("scripts/fetch-voice"),
        "{err}"
    );

    let real = voice::find("en_US-joe-medium").unwrap();
    let dir = env.path("voices");
    std::fs::create_dir(&dir).unwrap();
    // A damaged model file.
    std::fs::write(dir.join("broken.onnx"), b"this is not a model").unwrap();
    std::fs::copy(&real.config, dir.join("broken.onnx.json")).unwrap();
    let err = piper_error(
        &env,
        &["--voice", dir.join("broken.onnx").to_str().unwrap()],
        &[],
    );
    assert!(
        err.contains("broken.onnx: cannot load the model") && err.contains("fetch it again"),
        "{err}"
    );

    // A config that does not belong to the model (it claims several speakers; the model has one).
    std::os::unix::fs::symlink(&real.model, dir.join("odd.onnx")).unwrap();
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(&real.config).unwrap()).unwrap();
    config["num_speakers"] = 4.into();
    std::fs::write(dir.join("odd.onnx.json"), config.to_string()).unwrap();
    let err = piper_error(
        &env,
        &["--voice", dir.join("odd.onnx").to_str().unwrap()],
        &[],
    );
    assert!(
        err.contains("does not match") && err.contains("no `sid` input"),
        "{err}"
    );

    // A config that is not a Piper config at all.
    std::os::unix::fs::symlink(&real.model, dir.join("junk.onnx")).unwrap();
    std::fs::write(dir.join("junk.onnx.json"), "{\"hello\": 1}").unwrap();
    let err = piper_error(
        &env,
        &["--voice", dir.join("junk.onnx").to_str().unwrap()],
        &[],
    );
    assert!(
        err.contains("junk.onnx.json: not a Piper voice config"),
        "{err}"
    );

    // ONNX Runtime missing.
    let err = piper_error(
        &env,
        &[],
        &[("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")],
    );
    assert!(
        err.contains("ORT_DYLIB_PATH=/nonexistent/libonnxruntime.so does not exist"),
        "{err}"
    );
    assert!(err.contains("hint: scripts/fetch-voice"), "{err}");
}

#[test]
fn piper_speech_is_intelligible_to_a_speech_recognizer_with_each_engine() {
    if id_map().is_none() || !have("ffmpeg") {
        return;
    }
    let Some(python) = asr_python() else { return };
    let env = Env::new();
    for engine in engines(&env) {
        recognize(&env, &python, engine);
    }
}

fn recognize(env: &Env, python: &str, engine: &str) {
    let sentence = ASR_SENTENCE;
    let essay = env.essay("asr.txt", &format!("{sentence}\n"));
    let cache = format!("cache-{engine}");
    build_with(
        env,
        engine,
        &essay,
        &["--backend", "piper", "-o", "out", "--cache", &cache],
    );
    let (recognized, words, heard) =
        words_recognized(env, python, &env.path("out/asr.wav"), sentence);
    // A small general-purpose recognizer gets most, not all, words of clear speech; babble gets almost none.
    eprintln!("{engine}: {recognized} of {words} words heard");
    assert!(
        recognized * 10 >= words * 6,
        "{engine}: heard {heard:?} for {sentence:?}"
    );
}

#[test]
fn piper_takes_ipa_between_slashes_from_the_lexicon() {
    if id_map().is_none() {
        return;
    }
    assert_eq!(
        phonemize::phonemize("en-us", "I met /wˈɪn/ today.").unwrap(),
        phonemize::phonemize("en-us", "I met win today.").unwrap()
    );
}

/// A minimal HTTP file server on 127.0.0.1 for `root`, on a thread that lives as long as the test.
fn serve(root: std::path::PathBuf) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            match std::fs::read(root.join(path)) {
                Ok(body) => {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream
                        .write_all(head.as_bytes())
                        .and_then(|()| stream.write_all(&body));
                }
                Err(_) => {
                    let _ = stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            }
        }
    });
    port
}

#[test]
fn piper_voices_download_from_a_repository_laid_out_like_piper_s() {
    if id_map().is_none() {
        return;
    }
    let env = Env::new();
    let real = voice::find("en_US-joe-medium").unwrap();
    // A copy of the repository's layout, served over HTTP on 127.0.0.1.
    let repo = env.path("repo/en/en_US/joe/medium");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::copy(&real.model, repo.join("en_US-joe-medium.onnx")).unwrap();
    std::fs::copy(&real.config, repo.join("en_US-joe-medium.onnx.json")).unwrap();
    let port = serve(env.path("repo"));
    let url = format!("http://127.0.0.1:{port}");
    let data = env.path("data");
    let out = env
        .cmd()
        .env("XDG_DATA_HOME", &data)
        .args(["voices", "--download", "en_US-joe-medium", "--from", &url])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&out).contains("downloaded en_US-joe-medium"));
    let got = data.join("narrate/voices/en_US-joe-medium.onnx");
    assert_eq!(
        std::fs::read(&got).unwrap(),
        std::fs::read(&real.model).unwrap()
    );
    // The downloaded voice is the one a build finds.
    let listed = env
        .cmd()
        .env("XDG_DATA_HOME", &data)
        .args(["voices", "--backend", "piper", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&listed).contains(&got.display().to_string()));
    // A voice the repository does not have: a clear error, and nothing left behind.
    let err = env
        .cmd()
        .env("XDG_DATA_HOME", &data)
        .args(["voices", "--download", "en_US-nobody-low", "--from", &url])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&err);
    assert!(
        err.contains("en_US-nobody-low.onnx.json: not found"),
        "{err}"
    );
    assert!(!data
        .join("narrate/voices/en_US-nobody-low.onnx.json")
        .exists());
}

#[test]
fn piper_follows_the_speaking_rate() {
    if id_map().is_none() {
        return;
    }
    let env = Env::new();
    let essay = env.essay(
        "r.txt",
        "The kettle boiled twice before anyone noticed the smoke.\n",
    );
    let slow = env.build(
        &essay,
        &["--backend", "piper", "--rate", "120", "-o", "slow"],
    );
    let fast = env.build(
        &essay,
        &["--backend", "piper", "--rate", "220", "-o", "fast"],
    );
    let (s, f) = (
        slow["duration_seconds"].as_f64().unwrap(),
        fast["duration_seconds"].as_f64().unwrap(),
    );
    assert!(s > f * 1.4, "120 wpm took {s} s, 220 wpm {f} s");
}

/// `narrate voices --prepare` on a copy of the joe voice in a fresh voice folder (linked, not copied): the first
/// call prepares it beside the link, stage by stage on stderr, with the encoder's graph as ONNX Runtime optimizes
/// it for this CPU; the second says it is already prepared, and `-q` keeps stderr empty.
#[test]
fn piper_voices_prepare_ahead_once_and_then_say_so() {
    if id_map().is_none() {
        return;
    }
    let env = Env::new();
    let real = voice::find("en_US-joe-medium").unwrap();
    let voices = env.path("voices");
    std::fs::create_dir_all(&voices).unwrap();
    std::os::unix::fs::symlink(&real.model, voices.join("en_US-joe-medium.onnx")).unwrap();
    std::os::unix::fs::symlink(&real.config, voices.join("en_US-joe-medium.onnx.json")).unwrap();
    let prepare = |quiet: bool| {
        let mut cmd = env.cmd();
        cmd.env("NARRATE_VOICES", &voices)
            .env("XDG_DATA_HOME", env.path("data"))
            .env("ORT_DYLIB_PATH", voice::onnxruntime_library().unwrap())
            .args(["voices", "--prepare", "en_US-joe-medium"]);
        if quiet {
            cmd.arg("-q");
        }
        let out = cmd.assert().success().get_output().clone();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (stdout, stderr) = prepare(false);
    assert!(
        stdout.starts_with("prepared the Piper voice en_US-joe-medium in "),
        "{stdout}"
    );
    let stages: Vec<&str> = stderr.lines().collect();
    assert!(
        stages.len() >= 4
            && stages.iter().all(|l| l
                .starts_with("preparing the Piper voice en_US-joe-medium (once): ")
                && l.ends_with(" s)")),
        "{stderr}"
    );
    let prepared: Vec<String> = std::fs::read_dir(&voices)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".narrate-v"))
        .collect();
    assert_eq!(prepared.len(), 4, "{prepared:?}");
    assert_eq!(
        prepared
            .iter()
            .filter(|n| n.contains(".encoder.optimized-") && n.ends_with(".onnx"))
            .count(),
        1,
        "{prepared:?}"
    );
    assert!(
        std::fs::read_dir(&voices).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("tmp")),
        "a temporary file was left behind"
    );
    let (stdout, stderr) = prepare(true);
    assert!(
        stdout.starts_with("the Piper voice en_US-joe-medium is already prepared"),
        "{stdout}"
    );
    assert_eq!(stderr, "");
}

/// A voice that is not installed: one line naming it and what to do, exit 2, nothing written.
#[test]
fn piper_voices_prepare_names_an_unknown_voice() {
    let env = Env::new();
    let out = env
        .cmd()
        .env("NARRATE_VOICES", env.path("voices"))
        .env("XDG_DATA_HOME", env.path("data"))
        .args(["voices", "--prepare", "en_US-nobody-low"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: no Piper voice `en_US-nobody-low` is installed;")
            && stderr.contains("narrate voices --backend piper"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    assert!(!env.path("data").exists());
}
