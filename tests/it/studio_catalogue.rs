//! The studio as a product, beyond one page: `narrate studio FOLDER` lists each essay's edition with its state
//! (built, stale after an edit, not built), opens any of them, and builds a stale one from the page with its
//! progress shown; background work shows how far it is and is cancelled from the page, leaving the edition as it
//! was; each sentence in view shows a small waveform drawn from its segment's audio in the cache. And the
//! catalogue's routes keep every refusal a studio of one essay has.

use std::path::Path;

use serde_json::{json, Value};

use crate::http::Asker;
use crate::studio::{drive, raw_status, says, screenshot, snapshot, status_of, Studio};
use crate::support::*;

/// A folder of three essays: `a.md` built, `b.md` built then changed (its new sentence is held until the file
/// `hold` exists, with NARRATE_TONE_HOLD), `c.md` never built.
fn three_essays(env: &Env) {
    std::fs::create_dir_all(env.path("essays")).unwrap();
    std::fs::write(
        env.path("essays/a.md"),
        "# Alpha\n\nThe first essay has two sentences. It is short.\n",
    )
    .unwrap();
    std::fs::write(
        env.path("essays/b.md"),
        "# Beta\n\nThe second essay is here. It will change.\n",
    )
    .unwrap();
    env.cmd().args(["batch", "essays"]).assert().success();
    std::fs::write(
        env.path("essays/b.md"),
        "# Beta\n\nThe second essay is here. Holdfast, this sentence waits for its file.\n",
    )
    .unwrap();
    std::fs::write(
        env.path("essays/c.md"),
        "# Gamma\n\nThe third essay was never built.\n",
    )
    .unwrap();
}

fn catalogue(env: &Env, vars: &[(&str, &str)]) -> Studio {
    Studio::started_with(
        env,
        &["studio", "essays", "--bind", "127.0.0.1:0"],
        "/?token=",
        vars,
    )
}

fn row<'a>(rows: &'a Value, essay: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["essay"] == essay)
        .unwrap_or_else(|| panic!("no row for {essay}: {rows:#}"))
}

/// The catalogue lists a built, a stale and an unbuilt essay as such; an essay opens in its studio and the
/// studio leads back; Build of the stale one shows its progress (held on its new sentence) and ends built;
/// keyboard only, Tab reaches the unbuilt one's Build and Enter builds it; axe-core finds no serious or critical
/// violation in either scheme, and nothing needs sideways scrolling at 360 px.
#[test]
fn the_studio_of_a_folder_lists_each_editions_state_opens_one_and_builds_a_stale_one_with_progress()
{
    let Some(python) = selenium_python() else {
        return;
    };
    let axe = have_axe();
    let env = Env::new();
    three_essays(&env);
    let hold = env.path("hold");
    let studio = catalogue(&env, &[("NARRATE_TONE_HOLD", hold.to_str().unwrap())]);
    let shot = screenshot("studio-catalogue.png");
    let mut steps = vec![
        json!({"do": "catalogue"}),
        json!({"do": "screenshot", "path": shot}),
        json!({"do": "open", "n": 0}),
        json!({"do": "back"}),
        json!({"do": "catalogue_build", "n": 1, "release": hold}),
        json!({"do": "tab_to", "target": "#build-2"}),
        json!({"do": "enter", "until": "c.md: built"}),
        json!({"do": "catalogue"}),
    ];
    if axe {
        steps.extend([
            json!({"do": "axe"}),
            json!({"do": "scheme", "scheme": "dark"}),
            json!({"do": "axe"}),
            json!({"do": "scheme", "scheme": "light"}),
        ]);
    }
    steps.push(json!({"do": "width", "px": 360}));
    let r = drive(&python, &studio, json!(steps));

    let rows = &r[0]["rows"];
    assert_eq!(row(rows, "a.md")["state"], "built", "{rows:#}");
    assert_eq!(row(rows, "a.md")["title"], "Alpha", "{rows:#}");
    assert_eq!(row(rows, "a.md")["findings"], "0", "{rows:#}");
    assert!(row(rows, "a.md")["length"].as_str().unwrap().contains(':'));
    assert_eq!(row(rows, "b.md")["state"], "stale", "{rows:#}");
    assert_eq!(row(rows, "b.md")["buttons"], json!(["Rebuild"]), "{rows:#}");
    assert_eq!(row(rows, "c.md")["state"], "not-built", "{rows:#}");
    assert_eq!(row(rows, "c.md")["length"], "—", "{rows:#}");
    assert_eq!(row(rows, "c.md")["buttons"], json!(["Build"]), "{rows:#}");
    assert!(row(rows, "a.md")["buttons"].as_array().unwrap().is_empty());

    assert_eq!(r[2]["title"], "Alpha", "{:#}", r[2]);
    assert_eq!(r[2]["state"], "idle", "{:#}", r[2]);
    assert_eq!(r[3]["rows"].as_array().unwrap().len(), 3);

    let progress = &r[4]["progress"];
    says(progress, "text", "synthesizing 0 of 1 sentences");
    assert_eq!(progress["max"], 1, "{progress:#}");
    assert_eq!(progress["cancel"], "Cancel", "{progress:#}");
    assert_eq!(row(&r[4]["rows"], "b.md")["state"], "built", "{:#}", r[4]);
    says(&r[4], "status", "b.md: built");
    let path = r[5]["path"].as_array().unwrap();
    assert!(
        path.iter()
            .any(|p| p.as_str().unwrap().starts_with("open-")),
        "{path:?}"
    );
    assert_eq!(row(&r[7]["rows"], "c.md")["state"], "built", "{:#}", r[7]);
    let b = read_json(env.path("audio/out/b/b.json"));
    assert!(b["segments"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["text"].as_str().unwrap().contains("Holdfast")));
    assert!(env.path("audio/out/c/c.wav").is_file());
    if axe {
        assert_accessible(&r[8]["violations"], "the catalogue, light");
        assert_accessible(&r[10]["violations"], "the catalogue, dark");
    }
    assert_eq!(r.last().unwrap()["sideways"], false, "{r:#?}");
}

/// The essay's files under `audio/out/NAME/`, each with a hash of its contents.
fn edition_files(env: &Env, name: &str) -> Vec<(std::path::PathBuf, u64)> {
    snapshot(&env.path(&format!("audio/out/{name}")))
}

/// A re-derivation of many sentences, held on its first, shows its progress and a Cancel that the keyboard
/// reaches; cancelled, it stops (fewer synthesized than it had to), the edition on disk is the one before, byte
/// for byte, and `narrate check` reads it; the next re-derivation completes with the new text.
#[test]
fn cancelling_a_re_derivation_in_the_studio_stops_it_and_leaves_the_edition_as_it_was() {
    let Some(python) = selenium_python() else {
        return;
    };
    let env = Env::new();
    let words = ["river", "stone", "lantern", "harbour", "meadow", "orchard"];
    let text = |tag: &str| {
        let mut t = String::from("# Notes\n\n");
        for (i, w) in words.iter().enumerate() {
            t.push_str(&format!("The {w} {tag} number {i} is here. "));
        }
        t
    };
    let essay = env.essay("notes.md", &text("stood"));
    env.build(&essay, &[]);
    let before = edition_files(&env, "notes");
    // Every sentence changes; the longest (synthesized first) waits for the file `hold`.
    let long = "Holdfast, this is the longest sentence of them all, and it waits for its file before it is made.";
    std::fs::write(&essay, format!("{}{long}\n", text("moved"))).unwrap();
    let hold = env.path("hold");
    let studio = Studio::started_with(
        &env,
        &[
            "studio",
            essay.to_str().unwrap(),
            "--bind",
            "127.0.0.1:0",
            "--jobs",
            "1",
        ],
        "/?token=",
        &[("NARRATE_TONE_HOLD", hold.to_str().unwrap())],
    );
    let r = drive(
        &python,
        &studio,
        json!([
            {"do": "press_only", "button": "redo"},
            {"do": "progress", "until": "(0 of 7 synthesized)"},
            {"do": "tab_to", "target": "#cancel-work"},
            {"do": "enter_only"},
            {"do": "progress", "until": "cancelling"},
            {"do": "touch", "path": hold},
            {"do": "settled", "until": "cancelled"},
        ]),
    );
    assert_eq!(r[1]["progress_shown"], true, "{:#}", r[1]);
    assert_eq!(r[1]["cancel_shown"], true, "{:#}", r[1]);
    assert_eq!(r[1]["max"], 7.0, "{:#}", r[1]);
    assert_eq!(r[2]["reached"], true, "{:#}", r[2]);
    says(&r[6], "status", "cancelled; the edition is as it was");
    let status = status_of(&studio);
    assert_eq!(status["cancelled"], true, "{status:#}");
    assert_eq!(status["state"], "idle", "{status:#}");
    assert_eq!(status["total"], 7, "{status:#}");
    assert!(status["done"].as_u64().unwrap() < 7, "{status:#}");
    assert_eq!(
        edition_files(&env, "notes"),
        before,
        "a cancelled re-derivation changed the edition"
    );
    let wav = env.path("audio/out/notes/notes.wav");
    env.cmd()
        .args(["check", wav.to_str().unwrap()])
        .assert()
        .success();

    // Again, not cancelled: it completes, with the new text.
    let r = drive(
        &python,
        &studio,
        json!([{"do": "press", "button": "redo", "until": "re-derived"}]),
    );
    says(&r[0], "status", "re-derived");
    let manifest = read_json(env.path("audio/out/notes/notes.json"));
    assert!(manifest["segments"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["text"].as_str().unwrap().contains("Holdfast")));
    env.cmd()
        .args(["check", wav.to_str().unwrap()])
        .assert()
        .success();
}

/// The waveform of a cached segment, computed here (hound): the loudest sample of each of `bars` stretches.
fn expected_peaks(cache: &Path, key: &str, bars: usize) -> Vec<f64> {
    let path = cache
        .join("segments")
        .join(&key[..2])
        .join(format!("{key}.wav"));
    let mut reader = hound::WavReader::open(&path).unwrap();
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    samples
        .chunks(samples.len().div_ceil(bars))
        .map(|c| {
            let loudest = c.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
            (f64::from(loudest) / 32768.0 * 100.0).round() / 100.0
        })
        .collect()
}

/// Every sentence on screen shows a waveform beside it, drawn from its segment's audio in the cache: its bars
/// are the loudest samples of the segment's stretches (silent padding low, the tone high), as computed here.
#[test]
fn each_sentence_in_view_of_the_studio_shows_a_waveform_from_its_segments_audio() {
    let Some(python) = selenium_python() else {
        return;
    };
    let env = Env::new();
    let essay = env.fixture("headings.md");
    let studio = Studio::start(&env, &essay);
    let r = drive(&python, &studio, json!([{"do": "waves"}]));
    let shown = r[0]["sentences"].as_array().unwrap();
    assert!(shown.len() >= 3, "{shown:#?}");
    let (mut lowest, mut highest) = (1.0f64, 0.0f64);
    for s in shown {
        assert!(s["painted"].as_f64().unwrap() > 0.0, "{s:#}");
        let key = s["key"].as_str().unwrap();
        let want = expected_peaks(&env.cache, key, 24);
        let got: Vec<f64> = s["peaks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_f64().unwrap())
            .collect();
        assert_eq!(got.len(), want.len(), "{s:#}");
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 0.011, "{s:#}: {got:?} against {want:?}");
        }
        lowest = got.iter().copied().fold(lowest, f64::min);
        highest = got.iter().copied().fold(highest, f64::max);
    }
    assert!(
        lowest < 0.05 && highest > 0.2,
        "silence and tone should differ: {lowest} .. {highest}"
    );
}

/// The catalogue's page and list, and each essay's studio under it, need the token; a change needs no foreign
/// Origin; an essay is named only by its place in the list (an index outside it, or a path, is 404); nothing on
/// disk changes through a refused request.
#[test]
fn the_studio_of_a_folder_refuses_without_its_token_from_other_sites_and_beyond_its_list() {
    let env = Env::new();
    three_essays(&env);
    std::fs::write(env.path("secret.txt"), "not for the studio").unwrap();
    let studio = catalogue(&env, &[]);
    let (base, token) = (&studio.base, &studio.token);
    let asker = Asker::new(base);
    let get = |path: &str| asker.get(path);
    let post = |path: &str, token: Option<&str>, origin: Option<&str>| {
        asker.post(path, token, origin, "{}")
    };
    let before = snapshot(env.dir.path());
    for path in [
        "/",
        "/api/catalogue",
        "/e/0/",
        "/e/0/api/edition",
        "/e/1/api/status",
    ] {
        assert_eq!(get(path), 401, "{path}");
        assert_eq!(get(&format!("{path}?token=0123")), 401, "{path}");
        assert_eq!(get(&format!("{path}?token={token}")), 200, "{path}");
    }
    assert_eq!(get("/e/0/edition/a.wav"), 401);
    assert_eq!(get(&format!("/e/0/edition/a.wav?token={token}")), 200);
    assert_eq!(get(&format!("/e/0/api/waves?keys=00&token={token}")), 200);
    // Another essay's files through this one's studio, or anything outside: refused.
    assert_eq!(get(&format!("/e/0/edition/b.wav?token={token}")), 403);
    assert_eq!(
        get(&format!(
            "/e/0/edition/..%2F..%2F..%2Fsecret.txt?token={token}"
        )),
        403
    );
    let raw = raw_status(
        base,
        &format!("GET /e/0/../../secret.txt?token={token} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(raw, 404);
    // Essays are the list's: an index outside it, or not an index, is no route.
    for path in [
        "/e/3/",
        "/e/99/api/edition",
        "/e/-1/",
        "/e/essays%2Fa.md/",
        "/e/0x1/",
    ] {
        assert_eq!(get(&format!("{path}?token={token}")), 404, "{path}");
    }
    for path in ["/e/2/api/derive", "/e/1/api/cancel", "/e/0/api/keep"] {
        assert_eq!(post(path, None, None), 401, "{path}");
        assert_eq!(post(path, None, Some(base)), 401, "{path}");
        assert_eq!(
            post(path, Some(token), Some("http://evil.example")),
            403,
            "{path}"
        );
        assert_eq!(post(path, Some(token), Some("null")), 403, "{path}");
    }
    assert_eq!(post("/e/3/api/derive", Some(token), Some(base)), 404);
    assert_eq!(
        snapshot(env.dir.path()),
        before,
        "a refused request changed a file"
    );
    assert!(!env.path("audio/out/c").exists());
    // The same build, allowed, does build (so the refusals above were refusals).
    assert_eq!(post("/e/2/api/derive", Some(token), Some(base)), 200);
    let wav = env.path("audio/out/c/c.wav");
    let started = std::time::Instant::now();
    while !wav.is_file() && started.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(wav.is_file(), "the allowed build wrote no edition");
}
