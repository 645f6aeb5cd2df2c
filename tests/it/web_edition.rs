//! `--export html`, the web edition: built with the tone backend (WAV only, with an M4B, with an MP3) and opened
//! in headless Chromium (Selenium, tests/data/web_edition_browser.py) from its file:// URL and from two static
//! servers (with and without byte ranges): it lists the chapters and sentences of the manifest, its `<audio>`
//! plays the compressed edition when there is one and lasts as long as the edition, its caption and chapter
//! tracks load from the page itself, the sentence and the word highlighted follow `currentTime`, a click on a
//! word plays from it, and it loads nothing but the audio beside it.

use std::path::Path;

use serde_json::{json, Value};

use crate::support::*;

/// One built edition and what the browser should find in it.
struct Built {
    dir: String,
    manifest: Value,
    /// The audio file the browser should play.
    plays: &'static str,
}

fn build(env: &Env, essay: &Path, out: &str, extra: &[&str], plays: &'static str) -> Built {
    let mut args = vec!["-o", out, "--export", "html"];
    args.extend_from_slice(extra);
    env.build(essay, &args);
    let stem = essay.file_stem().unwrap().to_str().unwrap();
    let manifest = read_json(env.path(&format!("{out}/{stem}.json")));
    Built {
        dir: env.path(out).to_str().unwrap().to_string(),
        manifest,
        plays,
    }
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// What every visit of a page must show, whichever way it was opened.
fn check_visit(built: &Built, kind: &str, visit: &Value) {
    let m = &built.manifest;
    let what = format!("{} ({kind})", built.dir);
    let segments = m["segments"].as_array().unwrap();
    let chapters = m["chapters"].as_array().unwrap();
    assert!(visit["media_error"].is_null(), "{what}: {visit:#}");
    assert_eq!(visit["injected"], false, "{what}");

    // The player: the right file, as long as the edition.
    let source = visit["source"].as_str().unwrap();
    assert!(
        source.ends_with(&format!("/{}", built.plays)),
        "{what}: plays {source}"
    );
    assert_eq!(visit["whole"], kind == "http-plain", "{what}: {visit:#}");
    let duration = f(&visit["duration"]);
    assert!(
        (duration - f(&m["duration_seconds"])).abs() < 0.005,
        "{what}: the audio lasts {duration} s, the edition {}",
        m["duration_seconds"]
    );

    // The title, the chapter list and every sentence, in order, with the manifest's times.
    assert_eq!(visit["title"], m["title"], "{what}");
    let listed: Vec<&Value> = visit["chapters"].as_array().unwrap().iter().collect();
    let titles: Vec<&Value> = chapters.iter().map(|c| &c["title"]).collect();
    assert_eq!(listed, titles, "{what}");
    let shown = visit["sentences"].as_array().unwrap();
    assert_eq!(shown.len(), segments.len(), "{what}");
    for (s, seg) in shown.iter().zip(segments) {
        assert_eq!(s["id"], seg["id"], "{what}");
        assert_eq!(s["text"], seg["text"], "{what}");
        assert!(
            (f(&s["start"]) - f(&seg["start_seconds"])).abs() < 0.0011,
            "{what}: {s}"
        );
        assert!(
            (f(&s["end"]) - f(&seg["end_seconds"])).abs() < 0.0011,
            "{what}: {s}"
        );
    }

    // The tracks: loaded (readyState 2) from data: URLs, one caption cue per segment, one chapter cue each.
    let tracks = visit["tracks"].as_array().unwrap();
    assert_eq!(tracks.len(), 2, "{what}");
    for (track, kind, cues) in [
        (&tracks[0], "captions", segments.len()),
        (&tracks[1], "chapters", chapters.len()),
    ] {
        assert_eq!(track["kind"], kind, "{what}");
        assert_eq!(track["ready"], 2, "{what}: {track}");
        assert!(track["src"]
            .as_str()
            .unwrap()
            .starts_with("data:text/vtt;base64,"));
        assert_eq!(
            track["cues"].as_array().unwrap().len(),
            cues,
            "{what}: {track}"
        );
    }
    for (cue, seg) in tracks[0]["cues"].as_array().unwrap().iter().zip(segments) {
        assert_eq!(cue[0], seg["id"], "{what}");
        assert!(
            (f(&cue[1]) - f(&seg["start_seconds"])).abs() < 0.0011,
            "{what}: {cue}"
        );
        let text = seg["text"].as_str().unwrap().replace("-->", "→");
        assert_eq!(cue[3], text.as_str(), "{what}");
    }

    // The player set to the middle of segment k: segment k, and only it, is highlighted.
    let highlighted = visit["highlighted"].as_array().unwrap();
    assert_eq!(highlighted.len(), segments.len(), "{what}");
    for (h, seg) in highlighted.iter().zip(segments) {
        assert_eq!(h["count"], 1, "{what}: {h}");
        assert_eq!(h["id"], seg["id"], "{what}: {h}");
        assert_eq!(h["current"], "true", "{what}: {h}");
    }

    check_words(built, &what, visit);

    // The last chapter's button and the second sentence of the text move the player to where they start.
    let last = chapters.last().unwrap();
    let at = f(&visit["chapter_click"][1]);
    assert!(
        at >= f(&last["start_seconds"]) - 0.01 && at <= f(&last["end_seconds"]),
        "{what}: {visit:#}"
    );
    let clicked = &visit["sentence_click"];
    let seg = segments.iter().find(|s| s["id"] == clicked[0]).unwrap();
    let at = f(&clicked[2]);
    assert!(
        at >= f(&seg["start_seconds"]) - 0.01 && at <= f(&seg["end_seconds"]),
        "{what}: {visit:#}"
    );

    // At 200 % zoom nothing is wider than the window.
    assert!(f(&visit["zoomed"]["overflow"]) <= 0.0, "{what}: {visit:#}");
    assert!(
        f(&visit["zoomed"]["player_width"]) > 100.0,
        "{what}: {visit:#}"
    );

    // Nothing loaded but the page, the audio beside it and data: URLs; no policy violation.
    assert_eq!(visit["violations"], json!([]), "{what}");
    let page = visit["url"].as_str().unwrap();
    let folder = &page[..page.rfind('/').unwrap() + 1];
    let stem = m["audio"].as_str().unwrap().strip_suffix(".wav").unwrap();
    let audio: Vec<String> = ["wav", "m4b", "mp3"]
        .iter()
        .map(|ext| format!("{folder}{stem}.{ext}"))
        .collect();
    for url in visit["requests"].as_array().unwrap() {
        let url = url.as_str().unwrap();
        assert!(
            url == page
                || audio.iter().any(|a| a == url)
                || url.starts_with("data:")
                || url.starts_with("blob:"),
            "{what}: the page loaded {url}"
        );
    }
    let requests = visit["requests"].as_array().unwrap();
    assert!(
        requests
            .iter()
            .any(|r| r.as_str().unwrap().ends_with(built.plays)),
        "{what}: {requests:?}"
    );
}

/// The words of the page: each at the manifest's time of the spoken words it was read as, inside its sentence;
/// the player set inside a word highlights that word (and it shows: its background is not the sentence's); a
/// click on a word plays from its start.
fn check_words(built: &Built, what: &str, visit: &Value) {
    let segments = built.manifest["segments"].as_array().unwrap();
    let shown = visit["words"].as_array().unwrap();
    let spoken: usize = segments
        .iter()
        .map(|s| s["words"].as_array().unwrap().len())
        .sum();
    assert!(
        !shown.is_empty() && shown.len() <= spoken,
        "{what}: {} words shown, {spoken} spoken",
        shown.len()
    );
    let mut last_end = 0.0;
    for w in shown {
        let seg = segments.iter().find(|s| s["id"] == w["sentence"]).unwrap();
        let said = seg["words"].as_array().unwrap();
        let rate = f(&built.manifest["sample_rate"]);
        let at = |v: &Value| f(v) / rate;
        let (start, end) = (f(&w["start"]), f(&w["end"]));
        assert!(
            said.iter()
                .any(|x| (at(&x["start_sample"]) - start).abs() < 0.0011)
                && said
                    .iter()
                    .any(|x| (at(&x["end_sample"]) - end).abs() < 0.0011),
            "{what}: {w} is not where the manifest's words are: {said:?}"
        );
        assert!(
            start >= last_end - 0.0011 && end >= start,
            "{what}: {w} out of order"
        );
        assert!(
            start >= f(&seg["start_seconds"]) - 0.0011 && end <= f(&seg["end_seconds"]) + 0.0011,
            "{what}: {w} outside its sentence"
        );
        last_end = end;
    }
    let probes = visit["word_highlighted"].as_array().unwrap();
    assert!(!probes.is_empty(), "{what}");
    for probe in probes {
        let t = f(&probe["time"]);
        let lit = probe["words"].as_array().unwrap();
        assert_eq!(lit.len(), 1, "{what}: at {t} s: {probe}");
        let w = &lit[0];
        assert!(
            f(&w["start"]) <= t + 0.0011 && t <= f(&w["end"]) + 0.0011,
            "{what}: at {t} s the page highlights {w}"
        );
        assert_ne!(w["background"], w["sentence_background"], "{what}: {w}");
    }
    let clicked = &visit["word_click"];
    let start: f64 = clicked[1].as_str().unwrap().parse().unwrap();
    assert!(
        (f(&clicked[2]) - start).abs() < 0.01,
        "{what}: a click on the word {} (at {start} s) moved the player to {}",
        clicked[0],
        clicked[2]
    );
}

/// The page's own text: no address of another site, and every src/href a file beside it, a fragment or data:.
fn check_html_text(path: &Path) {
    let html = std::fs::read_to_string(path).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{}",
        path.display()
    );
    let attrs =
        regex::Regex::new(r#"(?i)\b(?:src|href|action|poster|data)\s*=\s*"([^"]*)""#).unwrap();
    for c in attrs.captures_iter(&html) {
        let url = &c[1];
        assert!(
            url.starts_with("data:")
                || url.starts_with('#')
                || !(url.contains(':') || url.contains('/')),
            "{}: {url}",
            path.display()
        );
    }
    assert!(!html.contains("@import") && !html.contains("url("));
}

#[test]
fn the_web_edition_plays_follows_the_text_and_loads_nothing_else() {
    let Some(python) = selenium_python() else {
        return;
    };
    if !have("ffmpeg") {
        return;
    }
    let env = Env::new();
    let essay = env.fixture("headings.md");
    // Text a page must escape: ampersands, quotes, angle brackets, a WebVTT arrow.
    let hostile = env.essay(
        "marks.md",
        "# Fish & \"Chips\" <at> Sea\n\nCod & chips wrote \"a<b\" on the board. It was fine.\n\n\
         ## Less < more > less\n\nThe end --> really & truly, 3 < 4.\n",
    );
    let editions = [
        build(&env, &essay, "wav", &[], "headings.wav"),
        build(&env, &essay, "m4b", &["--format", "m4b"], "headings.m4b"),
        build(&env, &essay, "mp3", &["--format", "mp3"], "headings.mp3"),
        build(&env, &hostile, "marks", &[], "marks.wav"),
    ];
    let pages: Vec<Value> = editions
        .iter()
        .map(|b| {
            let stem = b.manifest["audio"]
                .as_str()
                .unwrap()
                .strip_suffix(".wav")
                .unwrap();
            check_html_text(&Path::new(&b.dir).join(format!("{stem}.html")));
            let probes: Vec<Value> = b.manifest["segments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    let middle = (f(&s["start_seconds"]) + f(&s["end_seconds"])) / 2.0;
                    json!([s["id"], middle])
                })
                .collect();
            // The middle of every third spoken word: the page highlights the written word it belongs to.
            let word_probes: Vec<f64> = b.manifest["segments"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|s| s["words"].as_array().unwrap().iter())
                .step_by(3)
                .map(|w| {
                    let middle = (f(&w["start_sample"]) + f(&w["end_sample"])) / 2.0;
                    middle / f(&b.manifest["sample_rate"])
                })
                .collect();
            json!({"dir": b.dir, "name": format!("{stem}.html"), "probes": probes,
                   "word_probes": word_probes})
        })
        .collect();
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-edition.png");
    let _ = std::fs::remove_file(&shot);
    let axe = have_axe();
    let spec = json!({"pages": pages, "screenshot": shot, "axe": axe});
    let report = data_script(&python, "web_edition_browser.py", &[&spec.to_string()], &[]);
    assert!(report["error"].is_null(), "{report:#}");
    let visited = report["pages"].as_array().unwrap();
    assert_eq!(visited.len(), editions.len(), "{report:#}");
    for (built, page) in editions.iter().zip(visited) {
        for kind in ["file", "http", "http-plain"] {
            check_visit(built, kind, &page[kind]);
        }
    }
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);
    if axe {
        let first = &visited[0]["file"]["axe"];
        for scheme in ["light", "dark"] {
            assert_accessible(&first[scheme], &format!("the web edition ({scheme})"));
        }
        let dark = shot.with_file_name("web-edition-dark.png");
        assert!(std::fs::metadata(&dark).unwrap().len() > 1000);
    }
}

#[test]
fn the_web_edition_is_the_same_bytes_from_a_build_and_from_its_manifest() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    env.build(&essay, &["-o", "out", "--export", "all"]);
    let built = std::fs::read(env.path("out/headings.html")).unwrap();
    env.stdout(&[
        "export",
        "out/headings.json",
        "--format",
        "html",
        "-o",
        "again",
    ]);
    let exported = std::fs::read(env.path("again/headings.html")).unwrap();
    assert!(built == exported, "narrate export wrote a different page");
    let text = String::from_utf8(built).unwrap();
    let manifest = read_json(env.path("out/headings.json"));
    for s in manifest["segments"].as_array().unwrap() {
        assert!(
            text.contains(&format!("id=\"s-{}\"", s["id"].as_str().unwrap())),
            "{s}"
        );
    }
    assert!(text.contains("<source src=\"headings.wav\" type=\"audio/wav\">"));
    assert!(!text.contains(".m4b"));
}
