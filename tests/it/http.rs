//! The `http` backend and `narrate serve`, over real sockets on 127.0.0.1: a build through `narrate serve`
//! matches the tone backend, faults from a scripted server are retried or named, the server refuses what it
//! should, and a load of 500 requests from this (second) process succeeds.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use narrate::testing::Backend;

use crate::support::*;

/// `narrate serve` on a free loopback port, with its own cache; stopped with SIGTERM when dropped.
pub(crate) struct Serve {
    child: Option<Child>,
    pub(crate) url: String,
    _env: Env,
}

impl Serve {
    pub(crate) fn start(args: &[&str], token: Option<&str>) -> Serve {
        Serve::start_with(args, token, &[])
    }

    /// As `start`, with extra environment variables.
    pub(crate) fn start_with(args: &[&str], token: Option<&str>, vars: &[(&str, &str)]) -> Serve {
        let env = Env::new();
        let mut cmd = env.std_cmd();
        cmd.args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(token) = token {
            cmd.env("NARRATE_API_TOKEN", token);
        }
        cmd.envs(vars.iter().copied());
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("http://127.0.0.1:"), "{line:?}");
        Serve {
            child: Some(child),
            url: line.trim().to_string(),
            _env: env,
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGTERM, then what the server said and how it ended.
    pub(crate) fn stop(mut self) -> (std::process::ExitStatus, String) {
        let mut child = self.child.take().unwrap();
        terminate(&child);
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (child.wait().unwrap(), stderr)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&child);
            let _ = child.wait();
        }
    }
}

fn terminate(child: &Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// Requests to a server at `base`, answered by their status code (for the studios' refusal tests).
pub(crate) struct Asker {
    agent: ureq::Agent,
    base: String,
}

impl Asker {
    pub(crate) fn new(base: &str) -> Asker {
        Asker {
            agent: agent(),
            base: base.to_string(),
        }
    }

    /// A GET of `path`.
    pub(crate) fn get(&self, path: &str) -> u16 {
        let url = format!("{}{path}", self.base);
        self.agent.get(url).call().unwrap().status().as_u16()
    }

    /// A POST of the JSON `body` to `path`, with the token and the Origin given.
    pub(crate) fn post(
        &self,
        path: &str,
        token: Option<&str>,
        origin: Option<&str>,
        body: &str,
    ) -> u16 {
        let mut request = self
            .agent
            .post(format!("{}{path}", self.base))
            .content_type("application/json");
        if let Some(t) = token {
            request = request.header("X-Narrate-Token", t);
        }
        if let Some(o) = origin {
            request = request.header("Origin", o);
        }
        request.send(body).unwrap().status().as_u16()
    }
}

/// POSTs a speech request; returns the status, the content type and the body.
pub(crate) fn post(url: &str, token: Option<&str>, body: &str) -> (u16, String, Vec<u8>) {
    let mut request = agent()
        .post(format!("{url}/v1/audio/speech"))
        .content_type("application/json");
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let mut response = request.send(body).unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(50 << 20)
        .read_to_vec()
        .unwrap();
    (status, content_type, bytes)
}

fn error_code(body: &[u8]) -> String {
    let json: serde_json::Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)));
    json["error"]["code"].as_str().unwrap().to_string()
}

#[test]
fn a_build_through_narrate_serve_matches_the_tone_backend() {
    let server = Serve::start(&["--backend", "tone"], None);
    let env = Env::new();
    let essay = env.fixture("headings.md");
    let direct = env.build(&essay, &["-o", "direct"]);
    let through = env.build(
        &essay,
        &["-o", "http", "--backend", "http", "--http-url", &server.url],
    );
    assert_eq!(through["synthesized"], direct["synthesized"], "{through}");
    let direct_wav = env.path("direct/headings.wav");
    let http_wav = env.path("http/headings.wav");
    assert_eq!(samples(&direct_wav), samples(&http_wav));
    let manifest = read_json(env.path("http/headings.json"));
    assert_eq!(manifest["backend"], "http");
    assert_eq!(manifest["voice"], "default");
    check_chapters(&http_wav, &manifest);
    if have("sndfile-info") {
        check_wav_against_manifest(&http_wav, &manifest);
    }
    // The API key is never written down.
    let key = "sk-test-never-written";
    env.cmd()
        .args(["build", "headings.md", "-o", "http", "--backend", "http"])
        .args(["--http-url", &server.url])
        .env("NARRATE_HTTP_API_KEY", key)
        .assert()
        .success();
    for file in ["http/headings.json", "http/headings.wav"] {
        let bytes = std::fs::read(env.path(file)).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(key), "{file}");
    }

    // A new take of one segment goes through the server too, and sounds different (a different speed).
    let id = manifest["segments"][3]["id"].as_str().unwrap().to_string();
    let before = manifest["segments"][3]["end_sample"].as_u64().unwrap()
        - manifest["segments"][3]["start_sample"].as_u64().unwrap();
    env.cmd()
        .args([
            "regen",
            "headings.md",
            &id,
            "-o",
            "http",
            "--backend",
            "http",
        ])
        .args(["--http-url", &server.url])
        .assert()
        .success();
    let after = read_json(env.path("http/headings.json"));
    let seg = &after["segments"][3];
    assert_eq!(seg["take"], 2);
    assert_ne!(
        seg["end_sample"].as_u64().unwrap() - seg["start_sample"].as_u64().unwrap(),
        before
    );

    // SIGTERM stops the server cleanly.
    let (status, stderr) = server.stop();
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("narrate serve: stopped"), "{stderr}");
}

#[test]
fn serve_refuses_bad_requests_with_proper_status_codes() {
    let token = "s3cret-token";
    let server = Serve::start(
        &[
            "--backend",
            "tone",
            "--max-body",
            "2048",
            "--max-input",
            "200",
        ],
        Some(token),
    );
    let url = &server.url;
    let ok = r#"{"model": "tts-1", "input": "A short test line.", "voice": "sine", "response_format": "wav"}"#;

    // Health needs no token; everything else does.
    let mut health = agent().get(format!("{url}/health")).call().unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert!(health.body_mut().read_to_string().unwrap().contains("ok"));
    let (status, _, body) = post(url, None, ok);
    assert_eq!(
        (status, error_code(&body).as_str()),
        (401, "missing_api_key")
    );
    let (status, _, body) = post(url, Some("wrong-token!"), ok);
    assert_eq!(
        (status, error_code(&body).as_str()),
        (401, "invalid_api_key")
    );

    let (status, content_type, body) = post(url, Some(token), ok);
    assert_eq!((status, content_type.as_str()), (200, "audio/wav"));
    let audio = narrate::testing::read_bytes(body).unwrap();
    assert_eq!(audio.sample_rate, 22_050);
    let expected = narrate::testing::tone()
        .synthesize(&narrate::testing::SpeechRequest {
            text: "A short test line.",
            voice: "sine",
            rate: None,
            take: 1,
        })
        .unwrap();
    assert_eq!(audio, expected);

    let cases = [
        (
            r#"{"input": "Hello.", "voice": "nobody"}"#.to_string(),
            400,
            "voice_not_found",
        ),
        (
            r#"{"model": "whisper-1", "input": "Hello."}"#.to_string(),
            400,
            "model_not_found",
        ),
        (
            format!(r#"{{"input": "{}"}}"#, "word ".repeat(600)),
            413,
            "request_too_large",
        ),
        (
            format!(r#"{{"input": "{}"}}"#, "word ".repeat(60)),
            400,
            "input_too_long",
        ),
        (r#"{"input": "  "}"#.to_string(), 400, "empty_input"),
        (r#"{"input": "?! -- ..."}"#.to_string(), 400, "empty_input"),
        (
            r#"{"input": "\u0001\u0002\u001b[2J\u0007"}"#.to_string(),
            400,
            "invalid_input",
        ),
        (r#"{"voice": "sine""#.to_string(), 400, "invalid_json"),
        (
            r#"{"input": "Hello.", "response_format": "ogg"}"#.to_string(),
            400,
            "unsupported_format",
        ),
        (
            r#"{"input": "Hello.", "speed": 9}"#.to_string(),
            400,
            "invalid_speed",
        ),
    ];
    for (body, want_status, want_code) in cases {
        let (status, content_type, answer) = post(url, Some(token), &body);
        assert_eq!(status, want_status, "{body}");
        assert_eq!(content_type, "application/json", "{body}");
        assert_eq!(error_code(&answer), want_code, "{body}");
    }

    // pcm is OpenAI's raw 16-bit mono at 24 kHz.
    let (status, content_type, body) = post(
        url,
        Some(token),
        r#"{"input": "A short test line.", "response_format": "pcm"}"#,
    );
    assert_eq!((status, content_type.as_str()), (200, "audio/pcm"));
    let seconds = body.len() as f64 / 2.0 / 24_000.0;
    assert!((seconds - expected.seconds()).abs() < 0.01, "{seconds}");

    let auth = format!("Bearer {token}");
    let mut models = agent()
        .get(format!("{url}/v1/models"))
        .header("Authorization", &auth)
        .call()
        .unwrap();
    let models: serde_json::Value =
        serde_json::from_str(&models.body_mut().read_to_string().unwrap()).unwrap();
    assert!(models["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == "tone"));
    let missing = agent()
        .get(format!("{url}/v2/nothing"))
        .header("Authorization", &auth)
        .call()
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let wrong_method = agent()
        .get(format!("{url}/v1/audio/speech"))
        .header("Authorization", &auth)
        .call()
        .unwrap();
    assert_eq!(wrong_method.status().as_u16(), 405);

    // The token is never logged.
    let (_, stderr) = server.stop();
    assert!(!stderr.contains(token), "{stderr}");
}

#[test]
fn five_hundred_requests_eight_at_a_time_all_succeed() {
    let server = Serve::start(&["--backend", "tone", "-q"], None);
    let url = server.url.clone();
    let failures = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let (url, failures) = (url.clone(), failures.clone());
            std::thread::spawn(move || {
                for n in 0..500 / 8 + usize::from(worker < 500 % 8) {
                    // 40 distinct sentences: the first of each is synthesized, the rest come from the cache.
                    let input = format!("Load test sentence number {}.", (n * 8 + worker) % 40);
                    let body = serde_json::json!({"input": input, "voice": "sine", "response_format": "wav"})
                        .to_string();
                    let (status, content_type, bytes) = post(&url, None, &body);
                    let good = status == 200
                        && content_type == "audio/wav"
                        && narrate::testing::read_bytes(bytes).is_ok_and(|a| a.seconds() > 0.5);
                    if !good {
                        failures.lock().unwrap().push((input, status));
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(*failures.lock().unwrap(), vec![]);
}

/// What the scripted server does with one request, given the input and how many times it has seen it.
#[derive(Clone, Copy)]
enum Reply {
    /// The tone backend's audio for the input, as a WAV.
    Audio,
    /// A status with a JSON error body and, for 429, a Retry-After in seconds.
    Status(u16, Option<u64>),
    /// Audio, but only after this long.
    Slow(Duration),
    /// 200 with an HTML page, as a misconfigured proxy answers.
    Html,
    /// The audio's WAV cut off at a third of its body, with a Content-Length saying the cut length (a server that
    /// died mid-answer behind a buffering proxy).
    CutOff,
    /// A valid WAV header over white noise.
    Noise,
    /// The audio's samples under a header claiming 96 kHz.
    WrongRate,
    /// A valid WAV of a tenth of the audio.
    Short,
}

type Script = dyn Fn(&str, usize) -> Reply + Send + Sync;

/// A small HTTP/1.1 server on 127.0.0.1 that answers `/v1/audio/speech` as its script says, and records when
/// each input was asked for.
struct FaultServer {
    url: String,
    seen: Arc<Mutex<HashMap<String, Vec<Instant>>>>,
}

impl FaultServer {
    fn start(script: Arc<Script>) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<HashMap<String, Vec<Instant>>>> = Arc::default();
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (script, log) = (script.clone(), log.clone());
                std::thread::spawn(move || {
                    let _ = answer(stream, &*script, &log);
                });
            }
        });
        FaultServer { url, seen }
    }

    fn attempts(&self, input: &str) -> Vec<Instant> {
        self.seen
            .lock()
            .unwrap()
            .get(input)
            .cloned()
            .unwrap_or_default()
    }
}

fn answer(
    mut stream: TcpStream,
    script: &Script,
    log: &Mutex<HashMap<String, Vec<Instant>>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let request = read_json_request(&mut reader)?.unwrap_or_default();
    let input = request["input"].as_str().unwrap_or("").to_string();
    if input.is_empty() {
        // narrate's reachability check connects and hangs up without a request.
        return Ok(());
    }
    let attempt = {
        let mut log = log.lock().unwrap();
        let times = log.entry(input.clone()).or_default();
        times.push(Instant::now());
        times.len()
    };
    let respond = |stream: &mut TcpStream, status: &str, headers: &str, body: &[u8]| {
        let head = format!(
            "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)
    };
    let audio = || {
        let audio = narrate::testing::tone()
            .synthesize(&narrate::testing::SpeechRequest {
                text: &input,
                voice: "sine",
                rate: None,
                take: 1,
            })
            .unwrap();
        let mut bytes = std::io::Cursor::new(Vec::new());
        narrate::testing::write_to(&mut bytes, &audio).unwrap();
        bytes.into_inner()
    };
    match script(&input, attempt) {
        Reply::Audio => respond(
            &mut stream,
            "200 OK",
            "Content-Type: audio/wav\r\n",
            &audio(),
        ),
        Reply::Slow(wait) => {
            std::thread::sleep(wait);
            respond(
                &mut stream,
                "200 OK",
                "Content-Type: audio/wav\r\n",
                &audio(),
            )
        }
        Reply::Status(code, retry_after) => {
            let headers = retry_after.map_or(String::new(), |s| format!("Retry-After: {s}\r\n"));
            let body = format!(r#"{{"error": {{"message": "scripted failure {code}"}}}}"#);
            respond(
                &mut stream,
                &format!("{code} Scripted"),
                &format!("{headers}Content-Type: application/json\r\n"),
                body.as_bytes(),
            )
        }
        Reply::Html => respond(
            &mut stream,
            "200 OK",
            "Content-Type: text/html\r\n",
            b"<html><body>Welcome to the captive portal</body></html>",
        ),
        Reply::CutOff => {
            let bytes = audio();
            respond(
                &mut stream,
                "200 OK",
                "Content-Type: audio/wav\r\n",
                &bytes[..bytes.len() / 3],
            )
        }
        Reply::Noise | Reply::WrongRate | Reply::Short => {
            let mut wav = narrate::testing::read_bytes(audio()).unwrap();
            match script(&input, attempt) {
                Reply::Noise => {
                    let mut x = 7u32;
                    for s in &mut wav.samples {
                        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        *s = ((x >> 16) as i16) / 3;
                    }
                }
                Reply::WrongRate => wav.sample_rate = 96_000,
                _ => wav.samples.truncate(wav.samples.len() / 10),
            }
            let mut bytes = std::io::Cursor::new(Vec::new());
            narrate::testing::write_to(&mut bytes, &wav).unwrap();
            respond(
                &mut stream,
                "200 OK",
                "Content-Type: audio/wav\r\n",
                &bytes.into_inner(),
            )
        }
    }
}

const RIVER: &str = "# Three Bridges\n\nThe first bridge is stone. The second bridge is iron and painted green. \
The third bridge is only a plank.\n\n## Crossing\n\nA heron waits under the plank. Gravel shifts when you step. \
Nobody hurries here.\n";

/// A narrate.toml for the http backend (the tests' NARRATE_BACKEND=tone still wins, so commands pass
/// `--backend http`).
/// Writes narrate.toml: `top` keys, then `[http]` with the server's url and `http` keys.
fn settings(env: &Env, url: &str, top: &str, http: &str) {
    std::fs::write(
        env.path("narrate.toml"),
        format!("{top}[http]\nurl = \"{url}\"\n{http}"),
    )
    .unwrap();
}

#[test]
fn transient_faults_are_retried_until_the_build_succeeds() {
    // Each sentence's first request fails in one of three ways; the second succeeds.
    let script: Arc<Script> = Arc::new(|input: &str, attempt| {
        if attempt > 1 {
            return Reply::Audio;
        }
        match input.len() % 3 {
            0 => Reply::Status(429, Some(1)),
            1 => Reply::Status(503, None),
            _ => Reply::Slow(Duration::from_secs(8)),
        }
    });
    let server = FaultServer::start(script);
    let env = Env::new();
    let essay = env.essay("bridges.md", RIVER);
    // Slow answers come after 8 s; normal ones would have to be 4 times slower than that to time out too.
    settings(&env, &server.url, "", "timeout = \"2s\"\n");
    let built = env.build(&essay, &["-o", "http", "--backend", "http"]);
    let direct = env.build(&essay, &["-o", "tone", "--backend", "tone"]);
    let manifest = read_json(env.path("http/bridges.json"));
    assert_eq!(
        samples(env.path("http/bridges.wav")),
        samples(env.path("tone/bridges.wav"))
    );
    let mut kinds = [0; 3];
    for s in manifest["segments"].as_array().unwrap() {
        let spoken = s["spoken"].as_str().unwrap();
        let attempts = server.attempts(spoken);
        assert!(attempts.len() >= 2, "{spoken}: the fault was not retried");
        kinds[spoken.len() % 3] += 1;
        if spoken.len() % 3 == 0 {
            // Retry-After: 1 was honoured.
            assert!(
                attempts[1] - attempts[0] >= Duration::from_secs(1),
                "{spoken}"
            );
        }
    }
    assert!(
        kinds.iter().all(|&k| k > 0),
        "every fault was tried: {kinds:?}"
    );
    assert_eq!(direct["synthesized"], built["synthesized"]);
}

#[test]
fn permanent_faults_name_the_failed_segments_and_keep_the_rest() {
    let healthy = Arc::new(AtomicBool::new(false));
    let flag = healthy.clone();
    let script: Arc<Script> = Arc::new(move |input: &str, _| {
        if flag.load(Ordering::SeqCst) {
            Reply::Audio
        } else if input.contains("heron") {
            Reply::Status(500, None)
        } else if input.contains("Gravel") {
            Reply::Html
        } else {
            Reply::Audio
        }
    });
    let server = FaultServer::start(script);
    let env = Env::new();
    let essay = env.essay("bridges.md", RIVER);
    settings(&env, &server.url, "retries = 1\n", "");
    let plan = env.json(&["plan", "bridges.md", "--backend", "http"]);
    // The plan's segment whose text holds a word.
    let segment = |word: &str| {
        plan["segments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["text"].as_str().unwrap().contains(word))
            .unwrap()
    };
    let mut build = env.cmd();
    build.args(["build", "bridges.md", "--backend", "http"]);
    let error = error_of(build);
    for (word, reason) in [
        (
            "heron",
            "the server answered 500: scripted failure 500 (tried 2 times)",
        ),
        (
            "Gravel",
            "the server answered text/html, not audio: <html><body>Welcome to the captive portal</body></html> (tried 2 times)",
        ),
    ] {
        let (id, line) = (&segment(word)["id"], &segment(word)["line"]);
        let id = id.as_str().unwrap();
        assert!(
            error.contains(&format!(
                "segment {id} (line {line}): http failed: {reason}"
            )),
            "{error}"
        );
    }
    assert!(error.contains("2 of 8 segments failed"), "{error}");
    assert!(!env.path("audio/out/bridges/bridges.wav").exists());
    let spoken = |word: &str| segment(word)["spoken"].as_str().unwrap().to_string();
    assert_eq!(server.attempts(&spoken("heron")).len(), 2);
    // A 200 that is not audio (a proxy's page) may pass: it is retried like a 500.
    assert_eq!(server.attempts(&spoken("Gravel")).len(), 2);

    // The finished segments were kept: once the server is healthy, only the two failed ones are asked for.
    healthy.store(true, Ordering::SeqCst);
    let rebuilt = env.build(&essay, &["--backend", "http"]);
    assert_eq!(rebuilt["synthesized"], 2, "{rebuilt}");
    assert_eq!(rebuilt["cached"], 6, "{rebuilt}");
}

#[test]
fn audio_that_cannot_be_the_sentence_is_never_cached() {
    // Four sentences answered with bad audio every time, one cut off only on its first answer.
    let script: Arc<Script> = Arc::new(|input: &str, attempt| {
        if input.contains("stone") {
            Reply::CutOff
        } else if input.contains("iron") {
            Reply::Noise
        } else if input.contains("plank.") && input.contains("third") {
            Reply::WrongRate
        } else if input.contains("heron") {
            Reply::Short
        } else if input.contains("Gravel") && attempt == 1 {
            Reply::CutOff
        } else {
            Reply::Audio
        }
    });
    let server = FaultServer::start(script);
    let env = Env::new();
    env.essay("bridges.md", RIVER);
    settings(&env, &server.url, "retries = 1\n", "");
    let mut build = env.cmd();
    build.args(["build", "bridges.md", "--backend", "http"]);
    let error = error_of(build);
    for reason in [
        "the audio is cut off: its header promises more than the answer holds (tried 2 times)",
        "its audio is noise, not speech",
        "far less than its text needs",
    ] {
        assert!(error.contains(reason), "{reason}: {error}");
    }
    assert!(error.contains("4 of 8 segments failed"), "{error}");
    assert!(!env.path("audio/out/bridges/bridges.wav").exists());
    // Only whole, plausible audio is in the cache: the four good sentences and the one whose second answer was
    // whole.
    let verified = env.stdout(&["cache", "verify"]);
    assert!(
        verified.contains("4 segments read, 0 damaged"),
        "{verified}"
    );
    let plan = env.json(&["plan", "bridges.md", "--backend", "http"]);
    assert_eq!(plan["cached"], 4, "{plan}");
}

#[test]
fn an_unreachable_or_unset_server_is_one_clear_error() {
    let env = Env::new();
    let essay = env.essay("bridges.md", RIVER);
    let mut unset = env.cmd();
    unset.args(["build", "bridges.md", "--backend", "http"]);
    let error = error_of(unset);
    assert!(error.contains("no server URL"), "{error}");
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut dead = env.cmd();
    dead.args(["build", essay.to_str().unwrap(), "--backend", "http"])
        .args(["--http-url", &format!("http://127.0.0.1:{port}")]);
    let error = error_of(dead);
    assert!(error.contains("nothing answers at"), "{error}");
}

#[test]
fn http_voices_come_from_the_server() {
    let server = Serve::start(&["--backend", "tone", "-q"], None);
    let env = Env::new();
    let voices = env.json(&["voices", "--backend", "http", "--http-url", &server.url]);
    assert_eq!(voice_names(&voices), ["sine", "abrupt"]);
}

#[test]
fn pcm_answers_make_a_24_khz_edition() {
    let server = Serve::start(&["--backend", "tone", "-q"], None);
    let env = Env::new();
    let essay = env.essay("bridges.md", RIVER);
    settings(&env, &server.url, "", "format = \"pcm\"\n");
    env.build(&essay, &["-o", "pcm", "--backend", "http"]);
    env.build(&essay, &["-o", "tone", "--backend", "tone"]);
    let pcm = read_json(env.path("pcm/bridges.json"));
    let tone = read_json(env.path("tone/bridges.json"));
    assert_eq!(pcm["sample_rate"], 24_000);
    assert_eq!(tone["sample_rate"], 22_050);
    let (a, b) = (
        pcm["duration_seconds"].as_f64().unwrap(),
        tone["duration_seconds"].as_f64().unwrap(),
    );
    assert!((a - b).abs() < 0.05, "{a} s against {b} s");
    check_chapters(&env.path("pcm/bridges.wav"), &pcm);
}
