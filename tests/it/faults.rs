//! Faults between narrate and a speech server, and clients that abuse or leave `narrate serve`, over real sockets
//! on 127.0.0.1: a proxy that passes on `narrate serve`'s streamed WAV answers (placeholder sizes) cut at random
//! points in every framing, or garbage, never gets a cut answer into an edition; `serve` refuses control
//! characters, answers `/health` and speech beside 1,000 idle connections, and stops a request's work when its
//! client leaves.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::http::{agent, Serve};
use crate::support::*;

/// What the proxy made of one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Served {
    /// The whole answer (ended by a length, by the terminating chunk, or by the connection's close).
    Whole,
    /// Cut, ended by the connection's close: no framing says it is short.
    CutClosed,
    /// Cut, chunked, without the terminating chunk.
    CutChunked,
    /// Cut, short of its Content-Length.
    CutSized,
    /// 200 with random bytes.
    Random,
    /// 200 with an HTML page.
    Html,
}

/// A proxy in front of a speech server that spoils answers as its seeded script says, and counts what it served.
struct Proxy {
    url: String,
    served: Arc<Mutex<Vec<(String, Served)>>>,
    /// Each input's whole answer, in samples.
    whole: Arc<Mutex<HashMap<String, usize>>>,
}

/// A number from 0 to 999 drawn from `input`, `attempt` and `what` (the same every run).
fn draw(input: &str, attempt: usize, what: &str) -> u64 {
    let mut h = DefaultHasher::new();
    (input, attempt, what).hash(&mut h);
    h.finish() % 1000
}

/// What the script serves for `input`'s `attempt`-th request: most first answers spoiled, many second ones.
fn script(input: &str, attempt: usize) -> Served {
    let roll = draw(input, attempt, "kind");
    match attempt {
        1 => match roll / 100 {
            0..=3 => Served::CutClosed,
            4 => Served::CutChunked,
            5 => Served::CutSized,
            6 => Served::Random,
            7 => Served::Html,
            _ => Served::Whole,
        },
        2 if roll < 400 => Served::CutClosed,
        _ => Served::Whole,
    }
}

impl Proxy {
    fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served: Arc<Mutex<Vec<(String, Served)>>> = Arc::default();
        let whole: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (log, lengths) = (served.clone(), whole.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (upstream, log, lengths) = (upstream.clone(), log.clone(), lengths.clone());
                std::thread::spawn(move || {
                    let _ = pass_on(stream, &upstream, &log, &lengths);
                });
            }
        });
        Proxy { url, served, whole }
    }

    fn count(&self, kind: Served) -> usize {
        let served = self.served.lock().unwrap();
        served.iter().filter(|(_, k)| *k == kind).count()
    }
}

fn pass_on(
    mut stream: TcpStream,
    upstream: &str,
    log: &Mutex<Vec<(String, Served)>>,
    lengths: &Mutex<HashMap<String, usize>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let Some(request) = read_json_request(&mut reader)? else {
        return Ok(());
    };
    let input = request["input"].as_str().unwrap_or("").to_string();
    let mut response = agent()
        .post(format!("{upstream}/v1/audio/speech"))
        .content_type("application/json")
        .send(request.to_string())
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let wav = response.body_mut().read_to_vec().unwrap();
    // narrate serve streams its WAV with placeholder sizes, as OpenAI and Kokoro-FastAPI do.
    assert_eq!(&wav[4..8], &[0xFF; 4]);
    let samples = narrate::testing::read_bytes(wav.clone())
        .unwrap()
        .samples
        .len();
    lengths.lock().unwrap().insert(input.clone(), samples);
    let attempt = {
        let mut log = log.lock().unwrap();
        let attempt = 1 + log.iter().filter(|(i, _)| *i == input).count();
        let kind = script(&input, attempt);
        log.push((input.clone(), kind));
        attempt
    };
    // A cut between 40 % and 80 % of the body, at any byte.
    let cut = &wav
        [..44 + (wav.len() - 44) * (400 + draw(&input, attempt, "cut") as usize * 2 / 5) / 1000];
    let head = |framing: &str, kind: &str| {
        format!("HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\n{framing}\r\n").into_bytes()
    };
    let chunked = |body: &[u8], terminated: bool| {
        let mut out = head("Transfer-Encoding: chunked\r\n", "audio/wav");
        for chunk in body.chunks(4096) {
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        if terminated {
            out.extend_from_slice(b"0\r\n\r\n");
        }
        out
    };
    let answer = match script(&input, attempt) {
        Served::Whole => match draw(&input, attempt, "framing") % 3 {
            0 => [head("Connection: close\r\n", "audio/wav"), wav.clone()].concat(),
            1 => chunked(&wav, true),
            _ => [
                head(&format!("Content-Length: {}\r\n", wav.len()), "audio/wav"),
                wav.clone(),
            ]
            .concat(),
        },
        Served::CutClosed => [head("Connection: close\r\n", "audio/wav"), cut.to_vec()].concat(),
        Served::CutChunked => chunked(cut, false),
        Served::CutSized => [
            head(&format!("Content-Length: {}\r\n", wav.len()), "audio/wav"),
            cut.to_vec(),
        ]
        .concat(),
        Served::Random => {
            let mut x = draw(&input, attempt, "noise") as u32 + 1;
            let noise: Vec<u8> = (0..wav.len())
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (x >> 24) as u8
                })
                .collect();
            [head("Connection: close\r\n", "audio/wav"), noise].concat()
        }
        Served::Html => [
            head("Connection: close\r\n", "text/html"),
            b"<html><body><h1>502 Bad Gateway</h1></body></html>".to_vec(),
        ]
        .concat(),
    };
    stream.write_all(&answer)?;
    stream.shutdown(Shutdown::Both)
}

const HARBOUR: &str = "# The Night Ferry\n\nThe ferry leaves at eleven, whatever the weather. Its captain has \
crossed the strait four thousand times. Yes. She counts the crossings in a notebook with a green cover.\n\n\
## Below Deck\n\nThe engine room is warm and smells of oil. Two mechanics play cards between the shifts. One \
of them keeps the score in chalk on a pipe. Nobody remembers who is winning.\n\n## Arrival\n\nThe lights of the \
far harbour appear after forty minutes. Gulls follow the wake, hoping for bread. The ramp comes down with a \
long groan, and the cars roll off one by one. Then the ferry turns around.\n";

#[test]
fn cut_streamed_answers_never_reach_the_edition() {
    let server = Serve::start(&["--backend", "espeak", "-q"], None);
    let proxy = Proxy::start(server.url.clone());
    let env = Env::new();
    let essay = env.essay("ferry.md", HARBOUR);
    std::fs::write(
        env.path("narrate.toml"),
        format!("retries = 8\n[http]\nurl = \"{}\"\n", proxy.url),
    )
    .unwrap();
    let built = env.build(&essay, &["--backend", "http"]);

    // The same essay from the server's whole answers, through no proxy, into another cache.
    let clean = Env::new();
    let essay_clean = clean.essay("ferry.md", HARBOUR);
    clean.build(
        &essay_clean,
        &["--backend", "http", "--http-url", &server.url],
    );

    let counts: Vec<(Served, usize)> = [
        Served::CutClosed,
        Served::CutChunked,
        Served::CutSized,
        Served::Random,
        Served::Html,
        Served::Whole,
    ]
    .into_iter()
    .map(|k| (k, proxy.count(k)))
    .collect();
    eprintln!("served: {counts:?}; {built}");
    let cuts = proxy.count(Served::CutClosed)
        + proxy.count(Served::CutChunked)
        + proxy.count(Served::CutSized);
    // Every kind of fault was served, cuts ended by the connection's close most of all. (Each sentence's first
    // answer is drawn from its text alone; later ones depend on how many answers the build asked for.)
    assert!(counts.iter().all(|(_, n)| *n > 0), "{counts:?}");
    assert!(proxy.count(Served::CutClosed) >= 4, "{counts:?}");
    assert!(cuts >= 8, "{counts:?}");

    // 0 cut answers in the edition: it is, sample for sample, the edition of the whole answers, and each
    // segment's span the same.
    let manifest = read_json(env.path("audio/out/ferry/ferry.json"));
    let reference = read_json(clean.path("audio/out/ferry/ferry.json"));
    let spans = |m: &serde_json::Value| -> Vec<(String, u64, u64)> {
        m["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["spoken"].as_str().unwrap().to_string(),
                    s["start_sample"].as_u64().unwrap(),
                    s["end_sample"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(spans(&manifest), spans(&reference));
    assert_eq!(
        samples(env.path("audio/out/ferry/ferry.wav")),
        samples(clean.path("audio/out/ferry/ferry.wav"))
    );
    // Every sentence was asked for (its whole length known to the proxy) and the build retried the spoiled ones.
    let whole = proxy.whole.lock().unwrap().clone();
    for (spoken, _, _) in spans(&manifest) {
        assert!(whole.contains_key(&spoken), "{spoken}");
    }
    let check = env
        .cmd()
        .args(["check", "audio/out/ferry/ferry.json"])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

/// `narrate serve` with its stderr read line by line as it runs.
struct Logged {
    child: Child,
    url: String,
    lines: mpsc::Receiver<String>,
    _env: Env,
}

impl Logged {
    fn start(args: &[&str], vars: &[(&str, &str)]) -> Logged {
        let env = Env::new();
        let mut cmd = env.std_cmd();
        cmd.args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .envs(vars.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let (send, lines) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = send.send(line);
            }
        });
        Logged {
            child,
            url: line.trim().to_string(),
            lines,
            _env: env,
        }
    }

    /// The next log line that contains `text` (a minute at most: the server has failed by then).
    fn wait_for(&self, text: &str) -> String {
        let until = Instant::now() + Duration::from_secs(60);
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("the server never said `{text}`");
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// A ureq agent that gives up after 30 s: the hard limit for liveness, never a claim about speed.
fn patient() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

#[test]
fn health_and_speech_answer_beside_idle_connections_and_control_characters() {
    let server = Serve::start(&["--backend", "tone", "-q"], None);
    let url = server.url.clone();
    let address = url.trim_start_matches("http://").to_string();

    // /health is asked for on a new connection every 50 ms from the start to the end.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let health = {
        let (url, done) = (url.clone(), done.clone());
        std::thread::spawn(move || {
            let mut latencies = Vec::new();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let asked = Instant::now();
                let response = patient().get(format!("{url}/health")).call();
                let status = response.map(|r| r.status().as_u16());
                assert_eq!(status.ok(), Some(200), "/health did not answer");
                latencies.push(asked.elapsed());
                std::thread::sleep(Duration::from_millis(50));
            }
            latencies
        })
    };

    // 20 requests of control characters and 1,000 idle connections at once.
    let controls: Vec<_> = (0..20)
        .map(|n| {
            let url = url.clone();
            std::thread::spawn(move || {
                let input: String = (0..200)
                    .map(|i| char::from(((i + n) % 31 + 1) as u8))
                    .collect();
                let body =
                    serde_json::json!({"input": input, "voice": "sine", "response_format": "wav"});
                let mut response = patient()
                    .post(format!("{url}/v1/audio/speech"))
                    .content_type("application/json")
                    .send(body.to_string())
                    .unwrap();
                let text = response.body_mut().read_to_string().unwrap();
                (response.status().as_u16(), text)
            })
        })
        .collect();
    let idle: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(&address).unwrap())
        .collect();
    for c in controls {
        let (status, text) = c.join().unwrap();
        assert_eq!(status, 400, "{text}");
        assert!(
            text.contains("invalid_input") || text.contains("empty_input"),
            "{text}"
        );
    }

    // Then a good request, while the idle connections are still open.
    let asked = Instant::now();
    let mut response = patient()
        .post(format!("{url}/v1/audio/speech"))
        .content_type("application/json")
        .send(
            r#"{"input": "Still here, and answering.", "voice": "sine", "response_format": "wav"}"#,
        )
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let wav = response.body_mut().read_to_vec().unwrap();
    let good = asked.elapsed();
    assert!(narrate::testing::read_bytes(wav).unwrap().seconds() > 0.5);
    drop(idle);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let latencies = health.join().unwrap();
    let slowest = latencies.iter().max().copied().unwrap_or_default();
    eprintln!(
        "good request answered in {good:?}; /health answered {} times, slowest {slowest:?}",
        latencies.len()
    );
    assert!(!latencies.is_empty());
}

#[test]
fn a_client_that_leaves_stops_its_request_s_work() {
    let env = Env::new();
    let hold = env.path("hold");
    let server = Logged::start(
        &["--backend", "tone", "--jobs", "2"],
        &[("NARRATE_TONE_HOLD", hold.to_str().unwrap())],
    );
    // Three sentences, one the tone backend holds until `hold` exists, then forty more.
    let mut text = String::from(
        "The first sentence leaves at once. The second follows it. So does the third. ",
    );
    text.push_str("Holdfast waits for the listener. ");
    for n in 1..=40 {
        text.push_str(&format!(
            "Sentence number {n} would follow if anyone listened. "
        ));
    }
    let body =
        serde_json::json!({"input": text, "voice": "sine", "response_format": "wav"}).to_string();
    let mut stream = TcpStream::connect(server.url.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    // The answer starts (its head and the first sentences), then the client leaves.
    let mut first = [0u8; 1024];
    let n = stream.read(&mut first).unwrap();
    assert!(
        String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&first[..n])
    );
    drop(stream);

    let cancelled = server.wait_for("cancelled after");
    // Only now may the held sentence go on: the request was cancelled while it was being synthesized.
    std::fs::write(&hold, "").unwrap();
    let stopped = server.wait_for("stopped:");
    eprintln!("{cancelled}\n{stopped}");
    let number = |line: &str, before: &str| -> usize {
        let head = &line[..line.find(before).unwrap()];
        head.split_whitespace().last().unwrap().parse().unwrap()
    };
    let sent = number(&cancelled, " of ");
    let synthesized = number(&stopped, " of ");
    let total: usize = stopped
        .split(" of ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(cancelled.contains("request 1 "), "{cancelled}");
    assert_eq!(total, 44, "{stopped}");
    assert!(sent <= 3, "{cancelled}");
    // Besides what was sent, at most the sentences already in flight (2 slots + 1 ahead) were synthesized.
    assert!(synthesized <= sent + 3, "{cancelled}\n{stopped}");
    // The server goes on serving.
    let health = patient()
        .get(format!("{}/health", server.url))
        .call()
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
}
