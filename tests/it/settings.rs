//! Settings: every `narrate.toml` key is checked as its flag is (one-line error naming the file and the key, exit
//! code 2, never a panic), good values take effect exactly as the flags do, every command honours the file, and
//! the exit codes follow ripgrep's contract: 0 success, 1 ran and found problems, 2 could not run.

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

const ESSAY: &str = "# Settings at Sea\n\nBy Ilse Marten\n\n\
The harbour master keeps 14 ledgers. Each one is bound in blue cloth.\n\n\
She writes the tides in the first one, and the second holds the names of the boats.\n\n\
## Winter\n\nIn January the ledgers stay shut for weeks.\n";

/// Settings that must be refused: (the settings file's text, the key the error must name, the same value as a
/// command line after `narrate`, or empty when no flag takes it).
type Bad = (&'static str, &'static str, &'static [&'static str]);

const BAD: &[Bad] = &[
    ("backend = 42", "backend", &[]),
    ("voice = 42", "voice", &[]),
    ("rate = 5", "rate", &["build", "sea.md", "--rate", "5"]),
    ("jobs = 0", "jobs", &["build", "sea.md", "--jobs", "0"]),
    ("cache = 42", "cache", &[]),
    (
        "chapters = \"sometimes\"",
        "chapters",
        &["build", "sea.md", "--chapters", "sometimes"],
    ),
    (
        "chapters = \"heading:0\"",
        "chapters",
        &["build", "sea.md", "--chapters", "heading:x"],
    ),
    (
        "max_chars = 10",
        "max_chars",
        &["build", "sea.md", "--max-chars", "10"],
    ),
    (
        "pause = \"breath=1s\"",
        "pause",
        &["build", "sea.md", "--pause", "breath=1s"],
    ),
    (
        "normalize = \"maybe\"",
        "normalize",
        &["build", "sea.md", "--normalize", "maybe"],
    ),
    (
        "format = [\"ogg\"]",
        "format",
        &["build", "sea.md", "--format", "ogg"],
    ),
    (
        "sample_rate = 0",
        "sample_rate",
        &["build", "sea.md", "--sample-rate", "0"],
    ),
    (
        "master = \"loud\"",
        "master",
        &["build", "sea.md", "--master", "loud"],
    ),
    (
        "export = \"pdf\"",
        "export",
        &["build", "sea.md", "--export", "pdf"],
    ),
    (
        "language = \"english please\"",
        "language",
        &["build", "sea.md", "--language", "english please"],
    ),
    (
        "footnotes = \"maybe\"",
        "footnotes",
        &["build", "sea.md", "--footnotes", "maybe"],
    ),
    ("author = 42", "author", &[]),
    ("retries = -1", "retries", &["batch", "in", "--retries=-1"]),
    ("acronyms = [1, 2]", "acronyms", &[]),
    ("initialisms = [true]", "initialisms", &[]),
    ("[lexicon]\nharbour = 5", "harbour", &[]),
    ("[http]\nurl = \"not a url\"", "url", &[]),
    (
        "[http]\nurl = \"http://127.0.0.1:9\"\nmodel = 42",
        "model",
        &[],
    ),
    (
        "[http]\nurl = \"http://127.0.0.1:9\"\napi_key_env = 42",
        "api_key_env",
        &[],
    ),
    (
        "[http]\nurl = \"http://127.0.0.1:9\"\nformat = \"ogg\"",
        "format",
        &[],
    ),
    (
        "[http]\nurl = \"http://127.0.0.1:9\"\npcm_rate = 0",
        "pcm_rate",
        &[],
    ),
    (
        "[http]\nurl = \"http://127.0.0.1:9\"\ntimeout = \"soon\"",
        "timeout",
        &[],
    ),
    (
        "[http]\nurl = \"http://127.0.0.1:9\"\ntimeout = \"0s\"",
        "timeout",
        &[],
    ),
    (
        "[http]\nurl = \"http://127.0.0.1:9\"\nconcurrency = 0",
        "concurrency",
        &[],
    ),
    (
        "[http]\nurl = \"http://127.0.0.1:9\"\nretries = -1",
        "retries",
        &[],
    ),
    (
        "[http]\nurl = \"http://127.0.0.1:9\"\ncolour = \"red\"",
        "colour",
        &[],
    ),
    ("colour = \"red\"", "colour", &[]),
    ("sample_reat = 44100", "sample_reat", &[]),
];

/// What is wrong with a run that had to fail for bad settings in `file`, if anything: exit code 2, stderr one
/// `error:` line naming the file and the key (and at most one `hint:` line), no panic, no edition written.
fn refused(env: &Env, args: &[&str], file: &str, key: &str) -> Option<String> {
    let out = env.cmd().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().collect();
    let mut problems = Vec::new();
    if out.status.code() != Some(2) {
        problems.push(format!("exit code {:?}, not 2", out.status.code()));
    }
    if stderr.contains("panicked") {
        problems.push("a panic".to_string());
    } else if lines.is_empty()
        || !lines[0].starts_with("error: ")
        || lines.len() > 2
        || (lines.len() == 2 && !lines[1].starts_with("hint: "))
    {
        problems.push("not one `error:` line (and at most one `hint:` line)".into());
    } else if !lines[0].contains(file) || !lines[0].contains(key) {
        problems.push(format!("the error does not name both `{file}` and `{key}`"));
    }
    if env.path("out/sea.wav").exists() {
        problems.push("an edition was written".into());
    }
    if problems.is_empty() {
        return None;
    }
    let shown: String = stderr.chars().take(240).collect();
    Some(format!("{}: {shown:?}", problems.join("; ")))
}

fn check_all(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_bad_key_beside_the_essay_is_one_error_naming_file_and_key() {
    let mut failures = Vec::new();
    for &(toml, key, _) in BAD {
        let env = Env::new();
        env.essay("sea.md", ESSAY);
        env.essay("narrate.toml", &format!("{toml}\n"));
        if let Some(p) = refused(&env, &["build", "sea.md", "-o", "out"], "narrate.toml", key) {
            failures.push(format!("{toml:?}: {p}"));
        }
    }
    check_all(failures);
}

#[test]
fn every_bad_key_in_a_config_file_is_one_error_naming_file_and_key() {
    let mut failures = Vec::new();
    for &(toml, key, _) in BAD {
        let env = Env::new();
        env.essay("sea.md", ESSAY);
        std::fs::create_dir(env.path("conf")).unwrap();
        env.essay("conf/ship.toml", &format!("{toml}\n"));
        let args = ["build", "sea.md", "-o", "out", "--config", "conf/ship.toml"];
        if let Some(p) = refused(&env, &args, "ship.toml", key) {
            failures.push(format!("{toml:?}: {p}"));
        }
    }
    check_all(failures);
}

/// Runs a command that must fail with exit code 2 and an `error:` line, without a panic; says how it did not.
fn not_a_usage_error(env: &Env, args: &[&str]) -> Option<String> {
    let out = env.cmd().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    (out.status.code() != Some(2) || !stderr.starts_with("error: ") || stderr.contains("panicked"))
        .then(|| {
            format!(
                "{:?}: exit code {:?}: {stderr:?}",
                args.join(" "),
                out.status.code()
            )
        })
}

#[test]
fn every_bad_value_as_a_flag_is_a_usage_error() {
    let mut failures = Vec::new();
    for &(_, _, flag) in BAD.iter().filter(|b| !b.2.is_empty()) {
        let env = Env::new();
        env.essay("sea.md", ESSAY);
        std::fs::create_dir(env.path("in")).unwrap();
        env.essay("in/sea.md", ESSAY);
        failures.extend(not_a_usage_error(&env, flag));
    }
    check_all(failures);
}

/// Every file of an edition folder, by name.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Whether two edition folders hold the same files with the same bytes (compressed editions, whose encoder may
/// stamp them, only by name); `Err` says where they differ.
fn same_files(a: &Path, b: &Path) -> Result<(), String> {
    let (fa, fb) = (files(a), files(b));
    let (na, nb): (Vec<&String>, Vec<&String>) = (fa.keys().collect(), fb.keys().collect());
    if na != nb {
        return Err(format!("files {na:?} against {nb:?}"));
    }
    for (name, bytes) in &fa {
        if !name.ends_with(".m4b") && !name.ends_with(".mp3") && bytes != &fb[name] {
            return Err(format!("{name} differs"));
        }
    }
    Ok(())
}

#[test]
fn good_values_in_narrate_toml_act_as_their_flags() {
    let with_ffmpeg = have("ffmpeg");
    let rows: &[(&str, &[&str])] = &[
        ("sample_rate = 44100", &["--sample-rate", "44100"]),
        ("format = \"m4b\"", &["--format", "m4b"]),
        ("format = [\"m4b\"]", &["--format", "m4b"]),
        ("export = \"cue,srt\"", &["--export", "cue,srt"]),
        ("export = [\"cue\", \"srt\"]", &["--export", "cue,srt"]),
        ("normalize = false", &["--normalize", "off"]),
        ("normalize = \"off\"", &["--normalize", "off"]),
        ("chapters = \"paragraph\"", &["--chapters", "paragraph"]),
        ("max_chars = 40", &["--max-chars", "40"]),
        ("pause = \"section=2s\"", &["--pause", "section=2s"]),
        ("master = \"podcast\"", &["--master", "podcast"]),
        ("author = \"Q. Tester\"", &["--author", "Q. Tester"]),
        ("voice = \"abrupt\"", &["--voice", "abrupt"]),
        ("rate = 120", &["--rate", "120"]),
    ];
    let env = Env::new();
    let essay = env.essay("sea.md", ESSAY);
    env.build(&essay, &["-o", "default"]);
    let mut failures = Vec::new();
    for (i, (toml, flags)) in rows.iter().enumerate() {
        if flags.contains(&"m4b") && !with_ffmpeg {
            continue;
        }
        let (by_file, by_flag) = (format!("file-{i}"), format!("flag-{i}"));
        env.essay("narrate.toml", &format!("{toml}\n"));
        let out = env
            .cmd()
            .args(["build", "sea.md", "-o", &by_file])
            .output()
            .unwrap();
        std::fs::remove_file(env.path("narrate.toml")).unwrap();
        if !out.status.success() {
            failures.push(format!(
                "{toml:?} is refused: {:?}",
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        }
        env.cmd()
            .args(["build", "sea.md", "-o", &by_flag])
            .args(*flags)
            .assert()
            .success();
        if let Err(e) = same_files(&env.path(&by_file), &env.path(&by_flag)) {
            failures.push(format!(
                "{toml:?} and {flags:?} make different editions: {e}"
            ));
        }
        if same_files(&env.path(&by_file), &env.path("default")).is_ok() {
            failures.push(format!("{toml:?} changes nothing"));
        }
    }
    check_all(failures);
    let rate = hound::WavReader::open(env.path("file-0/sea.wav"))
        .unwrap()
        .spec()
        .sample_rate;
    assert_eq!(rate, 44100);

    // `jobs` changes no output, only how the work is spread: the summary says how many workers ran.
    env.essay("narrate.toml", "jobs = 1\n");
    let summary = env.build(&essay, &["-o", "jobs"]);
    assert_eq!(summary["jobs"], 1, "{summary}");
}

#[test]
fn cache_commands_honour_cache_from_narrate_toml() {
    let env = Env::new();
    env.essay("sea.md", ESSAY);
    env.essay("narrate.toml", "cache = \"ship-cache\"\n");
    // The default cache would be here: empty, so a command that ignores the file sees no segments.
    let default = env.path("xdg-cache");
    let run = |args: &[&str]| -> Value {
        let out = env
            .cmd()
            .env_remove("NARRATE_CACHE")
            .env("XDG_CACHE_HOME", &default)
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let built = run(&["build", "sea.md", "-o", "out"]);
    let segments = built["segments"].as_u64().unwrap();
    assert!(env.path("ship-cache").is_dir(), "build uses `cache =`");
    assert!(!env.cache.exists() && !default.exists());

    let stats = run(&["cache", "stats"]);
    let gc = run(&["cache", "gc", "--older-than", "0s", "--dry-run"]);
    assert!(
        stats["segments"].as_u64() == Some(segments) && gc["deleted"].as_u64() == Some(segments),
        "the cache holds {segments} segments; `cache stats` says {stats}, `cache gc` says {gc}"
    );
}

/// A speech server on 127.0.0.1 that holds each request until a second one is in flight (or its hold time
/// passes), so the most requests it saw at once is how many workers the client ran (up to 2).
struct CountingServer {
    url: String,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<Counts>,
    changed: Condvar,
}

#[derive(Default)]
struct Counts {
    in_flight: usize,
    most: usize,
    hold: Duration,
}

impl CountingServer {
    fn start() -> CountingServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared: Arc<Shared> = Arc::default();
        let server = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = server.clone();
                std::thread::spawn(move || {
                    let _ = serve_one(stream, &shared);
                });
            }
        });
        CountingServer { url, shared }
    }

    /// Starts a new count; each request then waits up to `hold` for company.
    fn reset(&self, hold: Duration) {
        let mut s = self.shared.state.lock().unwrap();
        s.most = 0;
        s.hold = hold;
    }

    /// The most requests in flight at once since the last reset.
    fn most(&self) -> usize {
        self.shared.state.lock().unwrap().most
    }
}

fn serve_one(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let Some(request) = read_json_request(&mut reader)? else {
        return Ok(()); // a reachability check: connected, then hung up
    };
    let input = request["input"].as_str().unwrap_or("").to_string();
    {
        // Wait for company until two requests have been in flight at once (then the count has its answer).
        let mut s = shared.state.lock().unwrap();
        s.in_flight += 1;
        s.most = s.most.max(s.in_flight);
        shared.changed.notify_all();
        let until = Instant::now() + s.hold;
        while s.most < 2 && Instant::now() < until {
            s = shared
                .changed
                .wait_timeout(s, until.saturating_duration_since(Instant::now()))
                .unwrap()
                .0;
        }
        // No longer in flight before the answer goes out, so the client's next request cannot overlap it.
        s.in_flight -= 1;
    }
    // Half a second of a tone whose pitch follows the text, as a WAV.
    let mut wav = std::io::Cursor::new(Vec::new());
    {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 22050,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(&mut wav, spec).unwrap();
        let pitch = 200.0 + 10.0 * input.len() as f64;
        for n in 0..11025 {
            let t = n as f64 / 22050.0;
            w.write_sample((8000.0 * (std::f64::consts::TAU * pitch * t).sin()) as i16)
                .unwrap();
        }
        w.finalize().unwrap();
    }
    let wav = wav.into_inner();
    let mut stream = stream;
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        wav.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(&wav)?;
    Ok(())
}

#[test]
fn batch_honours_jobs_from_narrate_toml() {
    let server = CountingServer::start();
    let env = Env::new();
    std::fs::create_dir(env.path("in")).unwrap();
    for (name, text) in [
        ("a.md", "# First\n\nThe gate opens at dawn.\n"),
        ("b.md", "# Second\n\nA bell rings twice.\n"),
    ] {
        env.essay(&format!("in/{name}"), text);
    }
    env.essay(
        "in/narrate.toml",
        &format!(
            "jobs = 1\n\n[http]\nurl = \"{}\"\nconcurrency = 4\n",
            server.url
        ),
    );
    // The flag wins over the file: two workers, and the server sees two requests at once. (The first request
    // waits for its partner, which a slow machine only delays: the hold is long.)
    server.reset(Duration::from_secs(30));
    env.cmd()
        .env("NARRATE_CACHE", env.path("cache-flag"))
        .args([
            "batch",
            "in",
            "-o",
            "flag",
            "--backend",
            "http",
            "--jobs",
            "2",
        ])
        .assert()
        .success();
    assert_eq!(server.most(), 2, "--jobs 2 runs two requests at once");
    // Without the flag, the file's `jobs = 1`: one request at a time, however long each one waits.
    server.reset(Duration::from_secs(1));
    env.cmd()
        .env("NARRATE_CACHE", env.path("cache-file"))
        .args(["batch", "in", "-o", "file", "--backend", "http"])
        .assert()
        .success();
    assert_eq!(
        server.most(),
        1,
        "`jobs = 1` in narrate.toml runs one request at a time"
    );
}

#[test]
fn batch_prints_the_parse_warnings_build_prints() {
    let env = Env::new();
    std::fs::create_dir(env.path("in")).unwrap();
    env.essay(
        "in/notes.md",
        "# Field Notes\n\nThe survey began on a Tuesday.\n\n```\nlog --verbose\n```\n\n\
         | site | count |\n|---|---|\n| north | 3 |\n\nThe survey ended on a Friday.\n",
    );
    let warnings = |args: &[&str]| -> Vec<String> {
        let out = env.cmd().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        let mut w: Vec<String> = String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| l.starts_with("warning: "))
            .map(str::to_string)
            .collect();
        w.sort();
        w
    };
    let build = warnings(&["build", "in/notes.md", "-o", "one"]);
    assert!(
        build.len() == 2
            && build.iter().any(|w| w.contains("code block"))
            && build.iter().any(|w| w.contains("table")),
        "{build:?}"
    );
    assert_eq!(warnings(&["batch", "in", "-o", "many"]), build);
}

/// The exit code of a command.
fn code(env: &Env, args: &[&str]) -> Option<i32> {
    env.cmd().args(args).output().unwrap().status.code()
}

#[test]
fn exit_codes_are_0_success_1_problems_found_2_could_not_run() {
    let env = Env::new();
    env.essay("sea.md", ESSAY);
    assert_eq!(code(&env, &["build", "sea.md", "-o", "out"]), Some(0));
    assert_eq!(code(&env, &["check", "out/sea.wav"]), Some(0));
    assert_eq!(code(&env, &["plan", "sea.md"]), Some(0));

    // A check that finds problems ran fine: 1. Silence one segment's samples in place.
    let manifest = read_json(env.path("out/sea.json"));
    let seg = &manifest["segments"][1];
    let (a, b) = (
        seg["start_sample"].as_u64().unwrap() as usize,
        seg["end_sample"].as_u64().unwrap() as usize,
    );
    let wav = env.path("out/sea.wav");
    let mut bytes = std::fs::read(&wav).unwrap();
    let mut data = 12;
    while &bytes[data..data + 4] != b"data" {
        let size = u32::from_le_bytes(bytes[data + 4..data + 8].try_into().unwrap()) as usize;
        data += 8 + size + size % 2;
    }
    data += 8;
    bytes[data + 2 * a..data + 2 * b].fill(0);
    std::fs::write(&wav, bytes).unwrap();
    let out = env.cmd().args(["check", "out/sea.wav"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    // Could not run: 2, whatever the reason.
    let mut failures = Vec::new();
    for args in [
        &["build", "missing.md"][..],
        &["build", "sea.md", "--backend", "nope"],
        &["regen", "sea.md", "zzzzzzzz", "-o", "out"],
        &["check", "missing.wav"],
        &["export", "missing.json"],
        &["build", "sea.md", "--rate", "5"],
        &["build"],
    ] {
        failures.extend(not_a_usage_error(&env, args));
    }
    check_all(failures);
}

#[test]
fn a_settings_file_over_its_limit_and_a_name_that_is_a_path_are_refused_in_one_line() {
    let env = Env::new();
    env.fixture("headings.md");
    // A 10 MB narrate.toml (a pronunciation list gone wrong): one line naming the file, exit 2, no work.
    let mut big = String::from("[lexicon]\n");
    let mut i = 0;
    while big.len() < 10 << 20 {
        big.push_str(&format!("\"Name{i}\" = \"say {i}\"\n"));
        i += 1;
    }
    std::fs::write(env.path("narrate.toml"), big).unwrap();
    let out = env.cmd().args(["plan", "headings.md"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("narrate.toml") && stderr.contains("over 4 MB"),
        "{stderr}"
    );
    std::fs::remove_file(env.path("narrate.toml")).unwrap();
    // `--name` names files in the output folder: never a path out of it, never empty or hidden.
    // (A name no other program uses, so the check below is not fooled by a folder someone left in the temp dir.)
    for name in ["../../narrate-escaped-name", "", ".hidden", "a/b"] {
        let out = env
            .cmd()
            .args(["build", "headings.md", "--name", name])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name:?}: {stderr}");
        assert!(stderr.contains("--name"), "{name:?}: {stderr}");
    }
    assert!(!env.path("audio").exists(), "nothing was written");
    assert!(!env
        .dir
        .path()
        .parent()
        .unwrap()
        .join("narrate-escaped-name")
        .exists());
}
