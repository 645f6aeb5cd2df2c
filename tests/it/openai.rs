//! `narrate serve` as OpenAI's own Python client sees it (the real `openai` package, which scripts/test installs
//! into target/test-venv), with the tone backend and with espeak-ng; and the server under abuse on 127.0.0.1:
//! stalled bodies, HTTP/2 prefaces and malformed requests, after which it still answers, holds no more file
//! descriptors or threads than before, and stops on SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use narrate::testing::{Backend, SpeechRequest};
use serde_json::Value;

use crate::http::{agent, post, Serve};
use crate::support::*;

/// The Python with the `openai` package (scripts/test sets NARRATE_OPENAI_PYTHON; else the worktree's venv).
fn openai_python() -> Option<String> {
    let python = std::env::var("NARRATE_OPENAI_PYTHON")
        .unwrap_or_else(|_| format!("{}/target/test-venv/bin/python", env!("CARGO_MANIFEST_DIR")));
    let ok = Command::new(&python)
        .args(["-c", "import openai"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("NARRATE_REQUIRE_TOOLS").is_none(),
            "{python} has no `openai` package; scripts/test installs it"
        );
        eprintln!("skipping: no Python with the openai package (scripts/test installs it)");
    }
    ok.then_some(python)
}

/// Runs tests/data/openai_client.py in `mode` against `url`; its JSON report.
fn client(python: &str, url: &str, mode: &str, out: &Path, vars: &[(&str, &str)]) -> Value {
    let hold = out.join("hold");
    data_script(
        python,
        "openai_client.py",
        &[url, mode, out.to_str().unwrap(), hold.to_str().unwrap()],
        vars,
    )
}

/// What ffprobe reads in an audio file: format name, codec, sample rate and the samples it decodes.
fn probe(file: &Path) -> (String, String, u32, u64) {
    let run = |args: &[&str]| {
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "a:0"])
            .args(args)
            .arg(file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {:?}", file.display(), out);
        String::from_utf8(out.stdout).unwrap()
    };
    let head = run(&[
        "-show_entries",
        "format=format_name:stream=codec_name,sample_rate",
        "-of",
        "default=noprint_wrappers=1",
    ]);
    let field = |key: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key} in {head}"))
            .to_string()
    };
    let samples = run(&["-show_entries", "frame=nb_samples", "-of", "csv=p=0"])
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse::<u64>().ok())
        .sum();
    (
        field("format_name"),
        field("codec_name"),
        field("sample_rate").parse().unwrap(),
        samples,
    )
}

/// The samples at `rate` the tone backend gives a text the server plans: each sentence as `narrate plan` reads
/// it, with the planned pause after every sentence but the last.
fn tone_length(env: &Env, text: &str) -> f64 {
    std::fs::write(env.path("input.txt"), text).unwrap();
    let plan = env.json(&["plan", "input.txt"]);
    let segments = plan["segments"].as_array().unwrap();
    let mut seconds = 0.0;
    for (i, s) in segments.iter().enumerate() {
        let audio = narrate::testing::tone()
            .synthesize(&SpeechRequest {
                text: s["spoken"].as_str().unwrap(),
                voice: "sine",
                rate: None,
                take: 1,
            })
            .unwrap();
        seconds += audio.seconds();
        if i + 1 < segments.len() {
            seconds += s["pause_after_ms"].as_f64().unwrap() / 1000.0;
        }
    }
    seconds
}

/// Samples a codec adds in front (priming) and may add at the end (up to a frame), at its rate: MP3 and ADTS
/// AAC in a stream carry no header saying how many to drop; Ogg Opus, FLAC and WAV do or need none.
fn codec_slack(format: &str) -> (u64, u64) {
    match format {
        "mp3" => (1105, 1152),
        "aac" => (1024, 1024),
        "opus" => (0, 960),
        _ => (0, 1),
    }
}

const THREE: &str =
    "Dr. Smith sold the boat for $3.5m in 1998. The harbour was quiet that morning. \
Gulls circled over the empty slipway.";

#[test]
fn openai_client_gets_every_format_at_the_right_length_from_the_tone_backend() {
    let Some(python) = openai_python() else {
        return;
    };
    if !have("ffprobe") {
        return;
    }
    let server = Serve::start(&["--backend", "tone"], None);
    let env = Env::new();
    let expected = tone_length(&env, THREE);
    let report = client(
        &python,
        &server.url,
        "formats",
        env.dir.path(),
        &[("NARRATE_TEST_INPUT", THREE)],
    );
    assert_eq!(report["default_content_type"], "audio/mpeg");
    let (format, codec, rate, samples) = probe(&env.path("default.mp3"));
    assert_eq!((format.as_str(), codec.as_str()), ("mp3", "mp3"));
    let (lead, frame) = codec_slack("mp3");
    let want = (expected * f64::from(rate)).round() as u64;
    assert!(
        samples >= want + lead && samples <= want + lead + frame,
        "default mp3: {samples} samples, want {want} (+{lead} priming, + under a frame)"
    );
    for (fmt, content_type, container, codec_name) in [
        ("mp3", "audio/mpeg", "mp3", "mp3"),
        ("opus", "audio/ogg", "ogg", "opus"),
        ("aac", "audio/aac", "aac", "aac"),
        ("flac", "audio/flac", "flac", "flac"),
        ("wav", "audio/wav", "wav", "pcm_s16le"),
    ] {
        assert_eq!(report[fmt], content_type, "{fmt}");
        let (format, codec, rate, samples) = probe(&env.path(&format!("speech.{fmt}")));
        assert_eq!((format.as_str(), codec.as_str()), (container, codec_name));
        let want = (expected * f64::from(rate)).round() as u64;
        let (lead, frame) = codec_slack(fmt);
        assert!(
            samples + 2 >= want + lead && samples <= want + lead + frame,
            "{fmt}: {samples} samples at {rate} Hz, want {want} (+{lead} priming, + under a frame)"
        );
    }
    // pcm: OpenAI's raw 16-bit mono at 24 kHz.
    assert_eq!(report["pcm"], "audio/pcm");
    let bytes = std::fs::metadata(env.path("speech.pcm")).unwrap().len();
    let seconds = bytes as f64 / 2.0 / 24_000.0;
    assert!(
        (seconds - expected).abs() < 0.005,
        "pcm: {seconds} s, want {expected} s"
    );
    let (_, stderr) = server.stop();
    assert!(stderr.contains("instructions ignored"), "{stderr}");
}

#[test]
fn a_streamed_answer_starts_before_its_last_sentence_is_synthesized() {
    let Some(python) = openai_python() else {
        return;
    };
    let env = Env::new();
    let hold = env.path("hold");
    let server = Serve::start_with(
        &["--backend", "tone", "-q"],
        None,
        &[("NARRATE_TONE_HOLD", hold.to_str().unwrap())],
    );
    // The tone backend synthesizes the sentence with "Holdfast" only once the client has created `hold`, which it
    // does on its first bytes: the answer can only finish if they came before that sentence was made.
    let text = "The first sentence leaves at once. The second follows it. Holdfast waits for the listener.";
    let report = client(
        &python,
        &server.url,
        "stream",
        env.dir.path(),
        &[("NARRATE_TEST_INPUT", text)],
    );
    let events = report["events"].as_array().unwrap();
    assert_eq!(events[0][0], "first_bytes", "{report}");
    assert_eq!(
        events[0][2], false,
        "the hold file existed before the first bytes: {report}"
    );
    assert_eq!(events[1][0], "end", "{report}");
    let audio =
        narrate::testing::read_bytes(std::fs::read(env.path("stream.wav")).unwrap()).unwrap();
    let want = tone_length(&env, text);
    assert!(
        (audio.seconds() - want).abs() < 0.001,
        "{} s, want {want} s",
        audio.seconds()
    );
}

#[test]
fn errors_reach_the_openai_client_as_its_typed_exceptions() {
    let Some(python) = openai_python() else {
        return;
    };
    let token = "open-sesame-test";
    let server = Serve::start(
        &["--backend", "tone", "-q", "--max-input", "4096"],
        Some(token),
    );
    let env = Env::new();
    let report = client(
        &python,
        &server.url,
        "errors",
        env.dir.path(),
        &[
            ("NARRATE_TEST_INPUT", "A short line."),
            ("NARRATE_TEST_TOKEN", token),
        ],
    );
    for (case, exception, status, code) in [
        ("unknown_voice", "BadRequestError", 400, "voice_not_found"),
        ("unknown_model", "BadRequestError", 400, "model_not_found"),
        ("bad_format", "BadRequestError", 400, "unsupported_format"),
        ("too_fast", "BadRequestError", 400, "invalid_speed"),
        ("too_long", "BadRequestError", 400, "input_too_long"),
        ("wrong_token", "AuthenticationError", 401, "invalid_api_key"),
    ] {
        let r = &report[case];
        assert_eq!(r["exception"], exception, "{case}: {r}");
        assert_eq!(r["status"], status, "{case}: {r}");
        assert_eq!(r["code"], code, "{case}: {r}");
    }
    assert_eq!(report["unknown_voice"]["type"], "invalid_request_error");
    assert!(report["bad_format"]["message"]
        .as_str()
        .unwrap()
        .contains("mp3, opus, aac, flac, wav, pcm"));
    // No server paths in any answer.
    assert!(!report.to_string().contains(env!("CARGO_MANIFEST_DIR")));
    let voices = agent()
        .get(format!("{}/v1/audio/voices?model=espeak", server.url))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(!voices.contains('/'), "{voices}");
}

#[test]
fn openai_client_hears_espeak_through_openai_voice_names() {
    let Some(python) = openai_python() else {
        return;
    };
    if !have("espeak-ng") || !have("ffprobe") {
        return;
    }
    let server = Serve::start(&["--backend", "espeak"], None);
    let env = Env::new();
    let report = client(
        &python,
        &server.url,
        "formats",
        env.dir.path(),
        &[
            ("NARRATE_TEST_INPUT", THREE),
            ("NARRATE_TEST_VOICE", "nova"),
        ],
    );
    assert_eq!(report["default_content_type"], "audio/mpeg");
    let wav = narrate::testing::read_bytes(std::fs::read(env.path("speech.wav")).unwrap()).unwrap();
    assert!(wav.seconds() > 3.0, "{} s", wav.seconds());
    for fmt in ["mp3", "opus", "aac", "flac"] {
        let (_, _, rate, samples) = probe(&env.path(&format!("speech.{fmt}")));
        let want = (wav.seconds() * f64::from(rate)).round() as u64;
        let (lead, frame) = codec_slack(fmt);
        assert!(
            samples + 2 >= want + lead && samples <= want + lead + frame,
            "{fmt}: {samples} samples at {rate} Hz, want {want}"
        );
    }
    // nova is one of espeak-ng's female variants (the built-in table).
    let (_, stderr) = server.stop();
    assert!(stderr.contains("espeak/en-us+f4"), "{stderr}");
}

/// Open file descriptors and threads of a process.
fn resources(pid: u32) -> (usize, usize) {
    let count = |dir: &str| {
        std::fs::read_dir(format!("/proc/{pid}/{dir}"))
            .unwrap()
            .count()
    };
    (count("fd"), count("task"))
}

/// `/health` and a speech request both answer (ureq's own timeouts are generous: a slow machine is no failure).
fn still_answers(url: &str) {
    let health = agent().get(format!("{url}/health")).call().unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let (status, content_type, body) = post(
        url,
        None,
        r#"{"input": "Still here.", "voice": "sine", "response_format": "wav"}"#,
    );
    assert_eq!((status, content_type.as_str()), (200, "audio/wav"));
    assert!(narrate::testing::read_bytes(body).unwrap().seconds() > 0.3);
}

/// Sends `bytes` on a new connection and reads until the server closes it (or answers and closes).
fn send_and_drain(url: &str, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(url.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let _ = stream.write_all(bytes);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

#[test]
fn the_server_cannot_be_stalled_and_gives_back_what_abuse_took() {
    let server = Serve::start(&["--backend", "tone", "-q", "--read-timeout", "2s"], None);
    let url = server.url.clone();
    let pid = server.pid();
    let (fds, threads) = resources(pid);

    // 32 clients send a head with a Content-Length and never the body.
    let address = url.trim_start_matches("http://").to_string();
    let stalled: Vec<TcpStream> = (0..32)
        .map(|_| {
            let mut s = TcpStream::connect(&address).unwrap();
            s.write_all(
                b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n",
            )
            .unwrap();
            s
        })
        .collect();
    still_answers(&url);
    for mut s in stalled {
        // The read timeout ends each one: a 408 answer, then the connection closes.
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
    }

    // 700 connections that open with HTTP/2's preface, 100 at a time.
    for _ in 0..7 {
        let batch: Vec<_> = (0..100)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || {
                    send_and_drain(
                        &url,
                        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0",
                    )
                })
            })
            .collect();
        still_answers(&url);
        for t in batch {
            t.join().unwrap();
        }
    }

    // 200 malformed requests of five kinds.
    let long_header = format!(
        "GET /health HTTP/1.1\r\nX-Long: {}\r\n\r\n",
        "a".repeat(600_000)
    );
    let kinds: [&[u8]; 5] = [
        b"GARBAGE\r\n\r\n",
        b"POST /v1/audio/speech HTTP/1.1\r\nContent-Length: lots\r\n\r\n",
        b"GET /health HTTP/1.1\r\nBad\x01Header: x\r\n\r\n",
        b"POST /v1/audio/speech HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nnot hex\r\n",
        long_header.as_bytes(),
    ];
    for round in 0..40 {
        for kind in kinds {
            let answer = send_and_drain(&url, kind);
            let answer = String::from_utf8_lossy(&answer);
            assert!(
                answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
                "round {round}: {answer}"
            );
        }
    }
    still_answers(&url);

    // What the abuse took comes back (idle worker threads leave after 2 s; polled, not timed).
    let started = Instant::now();
    let mut now = resources(pid);
    while (now.0 > fds || now.1 > threads) && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(200));
        now = resources(pid);
    }
    assert!(
        now.0 <= fds && now.1 <= threads,
        "{now:?} against {:?}",
        (fds, threads)
    );

    // SIGTERM stops it within 5 s.
    let stopping = Instant::now();
    let (status, stderr) = server.stop();
    assert!(status.success(), "{status}: {stderr}");
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopping.elapsed()
    );
}
