//! `narrate studio` on 127.0.0.1 with the tone backend: the real page driven in headless Chromium (Selenium
//! and chromedriver, tests/data/studio_browser.py) shows every chapter and sentence, redoes exactly the clicked
//! sentence into an edition identical to `narrate regen`'s, and highlights the sentence the player is at; and
//! the studio refuses requests without its token, from a foreign Origin, or for files outside the edition.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::http::agent;
use crate::support::*;

/// `narrate studio ESSAY` on a free loopback port; stopped with SIGTERM when dropped.
struct Studio {
    child: Child,
    /// The page's address, with the token.
    url: String,
    /// `http://127.0.0.1:PORT`.
    base: String,
    token: String,
}

impl Studio {
    fn start(env: &Env, essay: &Path) -> Studio {
        let mut child = env
            .std_cmd()
            .args(["studio", essay.to_str().unwrap(), "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().to_string();
        let (base, token) = url.split_once("/?token=").expect("the page's address");
        assert!(base.starts_with("http://127.0.0.1:"), "{url:?}");
        assert_eq!(token.len(), 32, "{url:?}");
        Studio {
            base: base.to_string(),
            token: token.to_string(),
            url,
            child,
        }
    }
}

impl Drop for Studio {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// The Python with Selenium, and chromedriver (scripts/test installs both); `None` (skip) outside scripts/test.
fn browser_python() -> Option<String> {
    let python = std::env::var("NARRATE_STUDIO_PYTHON")
        .unwrap_or_else(|_| format!("{}/target/test-venv/bin/python", env!("CARGO_MANIFEST_DIR")));
    let ok = Command::new(&python)
        .args(["-c", "import selenium"])
        .output()
        .is_ok_and(|o| o.status.success())
        && Path::new("/usr/bin/chromedriver").exists()
        && Path::new("/usr/bin/chromium").exists();
    if !ok {
        assert!(
            std::env::var_os("NARRATE_REQUIRE_TOOLS").is_none(),
            "{python} has no selenium, or chromium/chromedriver are missing; scripts/test installs them"
        );
        eprintln!("skipping: no Selenium or Chromium (scripts/test installs them)");
    }
    ok.then_some(python)
}

fn segments(manifest: &Value) -> Vec<Value> {
    manifest["segments"].as_array().unwrap().clone()
}

#[test]
fn the_studio_page_shows_the_text_redoes_one_sentence_like_regen_and_follows_the_player() {
    let Some(python) = browser_python() else {
        return;
    };
    let env = Env::new();
    let essay = env.fixture("headings.md");
    let studio = Studio::start(&env, &essay);
    let manifest_path = env.path("audio/out/headings/headings.json");
    let before = read_json(&manifest_path);
    let segs = segments(&before);
    assert!(segs.len() >= 6, "{before}");
    let clicked = segs[2]["id"].as_str().unwrap().to_string();
    let at = &segs[5];
    let seconds =
        (at["start_seconds"].as_f64().unwrap() + at["end_seconds"].as_f64().unwrap()) / 2.0;

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("studio.png");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/studio_browser.py");
    let output = Command::new(&python)
        .arg(script)
        .args([&studio.url, &clicked, &seconds.to_string()])
        .arg(&shot)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    assert!(report["error"].is_null(), "{report:#}");
    assert_eq!(report["state"], "idle", "{report:#}");

    // Every chapter title in the chapter list and as a heading; every sentence, visible, in order.
    let chapters: Vec<&str> = before["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    let listed: Vec<&str> = report["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(listed, chapters, "{report:#}");
    let headings: Vec<&str> = report["headings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(headings, chapters, "{report:#}");
    let shown = report["sentences"].as_array().unwrap();
    assert_eq!(shown.len(), segs.len(), "{report:#}");
    for (s, seg) in shown.iter().zip(&segs) {
        assert_eq!(s["id"], seg["id"]);
        assert_eq!(s["text"], seg["text"]);
        assert_eq!(s["visible"], true, "{s}");
    }
    for name in ["New take", "Previous take", "Next take", "Play / pause"] {
        assert!(
            report["buttons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|b| b == name),
            "{report:#}"
        );
    }

    // "New take" made take 2 of exactly that segment: one synthesis, only its audio changed.
    assert_eq!(report["selected"], clicked.as_str());
    let said = report["after_take"].as_str().unwrap();
    assert!(
        said.contains(&format!("segment {clicked}: take 1 → 2 (1 synthesized)")),
        "{said}"
    );
    assert_eq!(
        report["take_info"],
        format!("segment {clicked}: take 2 of 2")
    );
    // Previous and next take went back to take 1 and forward to take 2, synthesizing nothing.
    let back = format!("segment {clicked}: take 2 → 1 (0 synthesized)");
    assert!(
        report["back"].as_str().unwrap().contains(&back),
        "{report:#}"
    );
    let forward = format!("segment {clicked}: take 1 → 2 (0 synthesized)");
    assert!(
        report["forward"].as_str().unwrap().contains(&forward),
        "{report:#}"
    );
    let takes = std::fs::read_to_string(env.path("headings.md.takes.toml")).unwrap();
    let listed_takes: toml::Table = toml::from_str(&takes).unwrap();
    let listed_takes = listed_takes["segments"].as_table().unwrap();
    assert_eq!(listed_takes.len(), 1, "{takes}");
    assert_eq!(listed_takes[&clicked]["take"].as_integer(), Some(2));
    let after = read_json(&manifest_path);
    for (old, new) in segs.iter().zip(segments(&after)) {
        assert_eq!(old["id"], new["id"]);
        if new["id"] == clicked.as_str() {
            assert_eq!(new["take"], 2);
            assert_ne!(old["cache_key"], new["cache_key"]);
        } else {
            assert_eq!(new["take"], 1);
            assert_eq!(old["cache_key"], new["cache_key"], "{new}");
        }
    }

    // The same edition as `narrate regen ESSAY ID --take 2` in a second, independent folder.
    let cli = Env::new();
    let essay2 = cli.fixture("headings.md");
    cli.build(&essay2, &[]);
    cli.stdout(&["regen", essay2.to_str().unwrap(), &clicked, "--take", "2"]);
    let studio_wav = std::fs::read(env.path("audio/out/headings/headings.wav")).unwrap();
    let regen_wav = std::fs::read(cli.path("audio/out/headings/headings.wav")).unwrap();
    assert!(
        studio_wav == regen_wav,
        "the studio's edition differs from regen's"
    );
    let regen_manifest = read_json(cli.path("audio/out/headings/headings.json"));
    assert_eq!(after["segments"], regen_manifest["segments"]);

    // The right arrow moved to the next sentence; the highlight follows the player's time.
    assert_eq!(report["after_arrow"], segs[3]["id"], "{report:#}");
    assert_eq!(report["highlighted"], at["id"], "{report:#}");
    let duration = report["duration"].as_f64().unwrap();
    assert!(
        (duration - after["duration_seconds"].as_f64().unwrap()).abs() < 0.01,
        "{report:#}"
    );
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);
}

/// Sends raw bytes (so that no client tidies the path) and returns the status code.
fn raw_status(base: &str, request: &str) -> u16 {
    let address = base.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(address).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{answer:?}"))
}

/// Every file under the scratch folder but the cache, with its contents.
fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().is_some_and(|n| n == "cache") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap_or_default();
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_studio_refuses_requests_without_its_token_from_other_sites_or_for_other_files() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    std::fs::write(env.path("secret.txt"), "not for the studio").unwrap();
    let studio = Studio::start(&env, &essay);
    let manifest = read_json(env.path("audio/out/headings/headings.json"));
    let id = manifest["segments"][1]["id"].as_str().unwrap().to_string();
    let before = snapshot(env.dir.path());
    let (base, token) = (&studio.base, &studio.token);
    let agent = agent();
    let get = |path: &str| {
        agent
            .get(format!("{base}{path}"))
            .call()
            .unwrap()
            .status()
            .as_u16()
    };
    let post = |token: Option<&str>, origin: Option<&str>, body: &str| {
        let mut request = agent
            .post(format!("{base}/api/take"))
            .content_type("application/json");
        if let Some(t) = token {
            request = request.header("X-Narrate-Token", t);
        }
        if let Some(o) = origin {
            request = request.header("Origin", o);
        }
        request.send(body).unwrap().status().as_u16()
    };
    let body = format!("{{\"id\": \"{id}\"}}");

    // Reading: the page, the edition and its files need the token.
    assert_eq!(get("/"), 401);
    assert_eq!(get("/?token=0123"), 401);
    assert_eq!(get("/api/edition"), 401);
    assert_eq!(get("/edition/headings.wav"), 401);
    assert_eq!(get(&format!("/?token={token}")), 200);
    assert_eq!(get(&format!("/edition/headings.wav?token={token}")), 200);
    // Nothing but the edition's own files: encoded and raw `../`, other names.
    assert_eq!(
        get(&format!("/edition/..%2F..%2Fsecret.txt?token={token}")),
        403
    );
    assert_eq!(
        get(&format!(
            "/edition/..%2Fheadings%2Fheadings.wav?token={token}"
        )),
        403
    );
    assert_eq!(get(&format!("/edition/secret.txt?token={token}")), 403);
    let raw = raw_status(
        base,
        &format!("GET /edition/../../../secret.txt?token={token} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(raw, 404);
    let raw = raw_status(
        base,
        &format!("GET /edition/headings.wav/../../../../secret.txt?token={token} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(raw, 404);

    // Changing: the token, and no foreign Origin; bounded bodies.
    assert_eq!(post(None, None, &body), 401);
    assert_eq!(post(Some("wrong"), None, &body), 401);
    assert_eq!(post(None, Some(base), &body), 401);
    assert_eq!(post(Some(token), Some("http://evil.example"), &body), 403);
    assert_eq!(post(Some(token), Some("null"), &body), 403);
    let huge = format!("{{\"id\": \"{}\"}}", "a".repeat(100_000));
    assert_eq!(post(Some(token), None, &huge), 413);
    assert_eq!(post(Some(token), None, "not json"), 400);
    assert_eq!(
        snapshot(env.dir.path()),
        before,
        "a refused request changed a file"
    );

    assert_eq!(post(Some(token), None, "{\"id\": \"zzzzzzzz\"}"), 404);
    // The same request, allowed, does change the takes (so the refusals above were refusals).
    assert_eq!(post(Some(token), Some(base), &body), 200);
    assert!(env.path("headings.md.takes.toml").exists());
}
