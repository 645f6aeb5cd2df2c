//! `narrate studio` on 127.0.0.1 with the tone backend: the real page driven in headless Chromium (Selenium
//! and chromedriver, tests/data/studio_browser.py) shows every chapter and sentence; hears new takes of exactly
//! the clicked sentence and keeps one into an edition identical to `narrate regen`'s; changes a sentence's text in
//! the essay file only there; saves a pronunciation into narrate.toml that `narrate plan --spoken` shows; shows
//! the check's findings on their sentences and fixes one with a click; highlights the sentence the player is at
//! and in it the word being spoken, and a click on a word plays from its start; shows the edition on a timeline
//! strip; and passes axe-core's accessibility scan in both colour schemes and at phone width.
//! And the studio refuses requests without its token, from a foreign Origin, or for files outside the edition.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use crate::http::agent;
use crate::support::*;

/// `narrate studio ESSAY` on a free loopback port; stopped with SIGTERM when dropped.
pub(crate) struct Studio {
    child: Child,
    /// The page's address, with the token.
    pub(crate) url: String,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    pub(crate) token: String,
}

impl Studio {
    pub(crate) fn start(env: &Env, essay: &Path) -> Studio {
        Studio::started(
            env,
            &["studio", essay.to_str().unwrap(), "--bind", "127.0.0.1:0"],
            "/?token=",
        )
    }

    /// Runs narrate with `args`; the page's address is the last line it prints first (`narrate serve` prints
    /// its own address before), split into the base and the token at `marker`.
    fn started(env: &Env, args: &[&str], marker: &str) -> Studio {
        Studio::started_with(env, args, marker, &[])
    }

    /// [`Studio::started`] with environment variables `vars` set.
    pub(crate) fn started_with(
        env: &Env,
        args: &[&str],
        marker: &str,
        vars: &[(&str, &str)],
    ) -> Studio {
        let mut child = env
            .std_cmd()
            .args(args)
            .envs(vars.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("token=") {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "no address printed");
        }
        // Keep reading stdout so the process never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let url = line.trim().to_string();
        let (base, token) = url.split_once(marker).expect("the page's address");
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

pub(crate) fn segments(manifest: &Value) -> Vec<Value> {
    manifest["segments"].as_array().unwrap().clone()
}

/// Runs the browser steps (tests/data/studio_browser.py) against the studio; one report per step.
pub(crate) fn drive(python: &str, studio: &Studio, steps: Value) -> Vec<Value> {
    let steps_text = steps.to_string();
    let reports = data_script(
        python,
        "studio_browser.py",
        &[&studio.url, &steps_text],
        &[],
    );
    let reports: Vec<Value> = reports.as_array().expect("a list of reports").clone();
    for r in &reports {
        assert!(r["error"].is_null(), "{reports:#?}");
    }
    assert_eq!(
        reports.len(),
        steps.as_array().unwrap().len(),
        "{reports:#?}"
    );
    reports
}

/// Asserts that a step's report says `text` in its `field` (the status line, or what was heard).
pub(crate) fn says(report: &Value, field: &str, text: impl AsRef<str>) {
    let said = report[field].as_str().unwrap_or_default();
    assert!(said.contains(text.as_ref()), "{report:#}");
}

fn segment_with<'a>(manifest: &'a Value, text: &str) -> &'a Value {
    manifest["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["text"].as_str().unwrap().contains(text))
        .unwrap_or_else(|| panic!("no segment with {text:?}: {manifest}"))
}

/// A test run's screenshot (not committed; the README shows one made this way).
pub(crate) fn screenshot(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

#[test]
fn the_studio_page_hears_takes_keeps_one_edits_text_fixes_a_word_and_follows_the_player() {
    let Some(python) = selenium_python() else {
        return;
    };
    let env = Env::new();
    let essay = env.fixture("headings.md");
    let studio = Studio::start(&env, &essay);
    let manifest_path = env.path("audio/out/headings/headings.json");
    let wav_path = env.path("audio/out/headings/headings.wav");
    let before = read_json(&manifest_path);
    let wav_before = std::fs::read(&wav_path).unwrap();
    let segs = segments(&before);
    assert!(segs.len() >= 6, "{before}");
    let clicked = segs[2]["id"].as_str().unwrap().to_string();

    // Hear a new take and go back and forth: only that segment is synthesized, once; the edition is untouched.
    let r = drive(
        &python,
        &studio,
        json!([
            {"do": "read"},
            {"do": "click", "id": clicked},
            {"do": "press", "button": "new-take", "until": "made"},
            {"do": "press", "button": "prev-take", "until": "hearing take 1"},
            {"do": "press", "button": "next-take", "until": "hearing take 2"},
            {"do": "key", "key": "ArrowRight"},
            {"do": "zoom", "factor": 2},
        ]),
    );
    let page = &r[0];
    assert_eq!(page["state"], "idle", "{page:#}");
    let chapters: Vec<&str> = before["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(page["chapters"], json!(chapters), "{page:#}");
    assert_eq!(page["headings"], json!(chapters), "{page:#}");
    let shown = page["sentences"].as_array().unwrap();
    assert_eq!(shown.len(), segs.len(), "{page:#}");
    for (s, seg) in shown.iter().zip(&segs) {
        assert_eq!(s["id"], seg["id"]);
        assert_eq!(s["text"], seg["text"]);
        assert_eq!(s["visible"], true, "{s}");
    }
    for name in [
        "New take",
        "Previous take",
        "Next take",
        "Keep this take",
        "Edit text",
        "Fix a pronunciation",
        "Play / pause",
    ] {
        assert!(
            page["buttons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|b| b == name),
            "{name}: {page:#}"
        );
    }
    assert_eq!(
        page["check"],
        "no findings: nothing silent, cut short, clipped or clicking"
    );
    assert_eq!(r[1]["selected"], clicked.as_str());
    says(
        &r[2],
        "status",
        format!("segment {clicked}: take 2 made (1 synthesized)"),
    );
    assert_eq!(
        r[2]["take_info"],
        format!("segment {clicked}: take 2 of 2 (kept: 1)")
    );
    says(&r[3], "status", "(0 synthesized)");
    assert_eq!(
        r[3]["take_info"],
        format!("segment {clicked}: take 1 of 2 (kept)")
    );
    says(&r[4], "status", "(0 synthesized)");
    assert_eq!(r[5]["selected"], segs[3]["id"], "{:#}", r[5]);
    assert_eq!(
        r[6]["sideways"], false,
        "at 200 % zoom the page scrolls sideways"
    );
    assert_eq!(
        read_json(&manifest_path),
        before,
        "hearing a take changed the edition"
    );
    assert!(std::fs::read(&wav_path).unwrap() == wav_before);
    let takes: toml::Table =
        toml::from_str(&std::fs::read_to_string(env.path("headings.md.takes.toml")).unwrap())
            .unwrap();
    let entry = &takes["segments"][&clicked];
    assert_eq!(entry["take"].as_integer(), Some(1), "{takes}");
    assert_eq!(entry["latest"].as_integer(), Some(2), "{takes}");

    // Keep take 2 (`k`): the takes file, then the edition re-derived from the cache; it is what
    // `narrate regen ESSAY ID --take 2` makes.
    let r = drive(
        &python,
        &studio,
        json!([
            {"do": "click", "id": clicked},
            {"do": "press", "button": "next-take", "until": "hearing take 2"},
            {"do": "key", "key": "k", "until": "kept"},
        ]),
    );
    says(
        &r[2],
        "status",
        format!("segment {clicked}: take 1 → 2 kept; the edition is re-derived (0 synthesized)"),
    );
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
    let cli = Env::new();
    let essay2 = cli.fixture("headings.md");
    cli.build(&essay2, &[]);
    cli.stdout(&["regen", essay2.to_str().unwrap(), &clicked, "--take", "2"]);
    let regen_wav = std::fs::read(cli.path("audio/out/headings/headings.wav")).unwrap();
    assert!(
        std::fs::read(&wav_path).unwrap() == regen_wav,
        "the studio's edition differs from regen's"
    );
    let regen_manifest = read_json(cli.path("audio/out/headings/headings.json"));
    assert_eq!(after["segments"], regen_manifest["segments"]);

    // Change a sentence's text: the essay changes in that sentence only (the old file kept as .bak), and only it
    // is synthesized again.
    let old_essay = std::fs::read_to_string(&essay).unwrap();
    let edited = segment_with(&after, "Look after the small ones.")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = drive(
        &python,
        &studio,
        json!([
            {"do": "click", "id": edited},
            {"do": "edit", "text": "Take good care of the small ones.", "until": "re-derived"},
        ]),
    );
    assert_eq!(r[1]["shown"], "Look after the small ones.");
    says(&r[1], "status", "(1 synthesized)");
    let new_essay = std::fs::read_to_string(&essay).unwrap();
    assert_eq!(
        new_essay,
        old_essay.replacen(
            "Look after the small ones.",
            "Take good care of the small ones.",
            1
        )
    );
    assert_eq!(
        std::fs::read_to_string(env.path("headings.md.bak")).unwrap(),
        old_essay
    );
    let edited_manifest = read_json(&manifest_path);
    let new_segments = segments(&edited_manifest);
    assert_eq!(new_segments.len(), segments(&after).len());
    let changed: Vec<&Value> = new_segments
        .iter()
        .zip(segments(&after))
        .filter(|(new, old)| new["cache_key"] != old["cache_key"])
        .map(|(new, _)| new)
        .collect();
    assert_eq!(changed.len(), 1, "{edited_manifest:#}");
    assert_eq!(changed[0]["text"], "Take good care of the small ones.");
    assert_eq!(
        r[1]["selected"], changed[0]["id"],
        "the changed sentence stays selected"
    );

    // Fix a pronunciation: hear the sentence with it, save it into narrate.toml, redo the marked sentences.
    let okafor = segment_with(&edited_manifest, "Okafor")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = drive(
        &python,
        &studio,
        json!([
            {"do": "click", "id": okafor},
            {"do": "word", "word": "Okafor", "say": "oh KAH for"},
            {"do": "press", "button": "redo", "until": "re-derived"},
        ]),
    );
    says(&r[1], "heard", "(1 synthesized)");
    says(&r[1], "status", "1 sentence marked for re-synthesis");
    assert_eq!(r[1]["marked"], json!([okafor]), "{:#}", r[1]);
    assert_eq!(r[1]["redo"], "Redo 1 marked sentence");
    // The sentence heard with the word is the one the edition now has: nothing more to synthesize.
    says(&r[2], "status", "(0 synthesized)");
    let toml_text = std::fs::read_to_string(env.path("narrate.toml")).unwrap();
    let table: toml::Table = toml::from_str(&toml_text).unwrap();
    assert_eq!(
        table["lexicon"]["Okafor"].as_str(),
        Some("oh KAH for"),
        "{toml_text}"
    );
    let plan = env.stdout(&["plan", essay.to_str().unwrap(), "--spoken"]);
    assert!(plan.contains("oh KAH for"), "{plan}");
    let fixed = read_json(&manifest_path);
    assert!(
        segment_with(&fixed, "Okafor")["spoken"]
            .as_str()
            .unwrap()
            .contains("oh KAH for"),
        "{fixed:#}"
    );
    for (old, new) in segments(&edited_manifest).iter().zip(segments(&fixed)) {
        assert_eq!(
            old["cache_key"] == new["cache_key"],
            old["id"] != okafor.as_str(),
            "{new}"
        );
    }

    // The highlight follows the player's time; the player holds the whole edition.
    let at = &segments(&fixed)[5];
    let seconds =
        (at["start_seconds"].as_f64().unwrap() + at["end_seconds"].as_f64().unwrap()) / 2.0;
    let shot = screenshot("studio.png");
    // Inside the sentence, the word being spoken: the player set in the middle of each of its spoken words.
    let rate = fixed["sample_rate"].as_f64().unwrap();
    let said: Vec<(f64, f64)> = at["words"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let s = |k: &str| w[k].as_f64().unwrap() / rate;
            (s("start_sample"), s("end_sample"))
        })
        .collect();
    assert!(said.len() >= 3, "{at}");
    let mut steps = vec![
        json!({"do": "click", "id": okafor}),
        json!({"do": "seek", "seconds": seconds}),
    ];
    steps.extend(
        said.iter()
            .map(|(a, b)| json!({"do": "seek_word", "seconds": (a + b) / 2.0})),
    );
    steps.extend([
        json!({"do": "click_word", "segment": at["id"], "n": 2}),
        json!({"do": "press", "button": "pronounce"}),
        json!({"do": "screenshot", "path": shot}),
    ]);
    let r = drive(&python, &studio, json!(steps));
    let r = &r[1..];
    assert_eq!(r[0]["highlighted"], at["id"], "{:#}", r[0]);
    check_word_highlight(&r[1..=said.len()], &said, &at["id"]);
    let clicked = &r[said.len() + 1];
    assert_eq!(clicked["selected"], at["id"], "{clicked:#}");
    assert!(
        (clicked["landed"].as_f64().unwrap() - clicked["start"].as_f64().unwrap()).abs() < 0.01,
        "a click on a word plays from its start: {clicked:#}"
    );
    let duration = r[0]["duration"].as_f64().unwrap();
    assert!(
        (duration - fixed["duration_seconds"].as_f64().unwrap()).abs() < 0.01,
        "{:#}",
        r[0]
    );
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);
}

/// Each probe (the player paused in the middle of a spoken word of the sentence `id`) marks exactly one word,
/// inside that sentence, starting where one of its spoken words starts and holding the probe's time, and the
/// mark shows (its background is not the sentence's).
fn check_word_highlight(probes: &[Value], said: &[(f64, f64)], id: &Value) {
    for (probe, (a, b)) in probes.iter().zip(said) {
        let t = (a + b) / 2.0;
        assert_eq!(&probe["sentence"], id, "{probe:#}");
        let lit = probe["words"].as_array().unwrap();
        assert_eq!(lit.len(), 1, "at {t} s: {probe:#}");
        let w = &lit[0];
        let (start, end) = (w["start"].as_f64().unwrap(), w["end"].as_f64().unwrap());
        assert!(w["inside"].as_bool().unwrap(), "{probe:#}");
        assert!(
            start <= t && t <= end,
            "at {t} s the page marks {w} ({start}–{end} s)"
        );
        assert!(
            said.iter().any(|(s, _)| (s - start).abs() < 0.0011),
            "{w} starts where no spoken word does: {said:?}"
        );
        assert_ne!(w["background"], probe["sentence_background"], "{probe:#}");
    }
}

/// The studio's look: the timeline strip shows the chapters as wide as they are long, the playhead where the
/// player is, and a click on it plays from there; axe-core finds no serious or critical problem in the light or
/// the dark scheme or at phone width (360 px, where nothing needs sideways scrolling); the screenshots the docs
/// show are made here.
#[test]
fn the_studio_shows_the_edition_on_a_timeline_and_is_accessible_in_both_schemes_and_on_a_phone() {
    let Some(python) = selenium_python() else {
        return;
    };
    let axe = have_axe();
    let env = Env::new();
    let essay = env.fixture("headings.md");
    let studio = Studio::start(&env, &essay);
    let manifest = read_json(env.path("audio/out/headings/headings.json"));
    let duration = manifest["duration_seconds"].as_f64().unwrap();
    let chapters = manifest["chapters"].as_array().unwrap();
    let third = &chapters[2];
    let inside = (third["start_seconds"].as_f64().unwrap() * 2.0
        + third["end_seconds"].as_f64().unwrap())
        / 3.0;
    let shots = ["studio-light.png", "studio-dark.png", "studio-narrow.png"].map(screenshot);
    let scan = |steps: &mut Vec<Value>| {
        if axe {
            steps.push(json!({"do": "axe"}));
        }
    };
    let mut steps = vec![
        json!({"do": "seek", "seconds": inside}),
        json!({"do": "timeline"}),
        json!({"do": "read"}),
        json!({"do": "timeline_click", "fraction": 0.75}),
        json!({"do": "click", "id": manifest["segments"][4]["id"]}),
        json!({"do": "seek", "seconds": inside}),
        json!({"do": "screenshot", "path": shots[0]}),
        json!({"do": "scheme", "scheme": "dark"}),
        json!({"do": "screenshot", "path": shots[1]}),
    ];
    scan(&mut steps);
    steps.extend([
        json!({"do": "scheme", "scheme": "light"}),
        json!({"do": "width", "px": 360}),
        json!({"do": "screenshot", "path": shots[2]}),
    ]);
    scan(&mut steps);
    steps.extend([json!({"do": "width", "px": 1200})]);
    scan(&mut steps);
    let r = drive(&python, &studio, json!(steps));
    assert!(r.iter().all(|step| step["error"].is_null()), "{r:#?}");

    // Each chapter's loudness and true peak beside it: what `narrate check` measures.
    let checked = env.json(&[
        "check",
        env.path("audio/out/headings/headings.wav")
            .to_str()
            .unwrap(),
    ]);
    let want: Vec<String> = checked["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{:.1} LUFS · peak {:.1} dBTP",
                c["integrated_lufs"].as_f64().unwrap(),
                c["true_peak_dbtp"].as_f64().unwrap()
            )
        })
        .collect();
    assert_eq!(want.len(), chapters.len());
    assert_eq!(r[2]["levels"], json!(want), "{:#}", r[2]);
    let strip = &r[1];
    let width = strip["width"].as_f64().unwrap();
    let blocks = strip["chapters"].as_array().unwrap();
    assert_eq!(blocks.len(), chapters.len(), "{strip:#}");
    for (block, c) in blocks.iter().zip(chapters) {
        let long = c["end_seconds"].as_f64().unwrap() - c["start_seconds"].as_f64().unwrap();
        let want = width * long / duration;
        assert!(
            (block["width"].as_f64().unwrap() - want).abs() <= 3.0,
            "chapter {} is {long:.2} s of {duration:.2} s: {want:.1} px wide, not {block}",
            c["title"]
        );
        assert_eq!(block["current"], c == third, "{strip:#}");
    }
    let playhead = strip["playhead"].as_f64().unwrap();
    assert!(
        (playhead - width * inside / duration).abs() <= 3.0,
        "the player at {inside:.2} s of {duration:.2} s: the playhead at {playhead:.1} of {width:.1} px"
    );
    let click = &r[3];
    let landed = click["landed"].as_f64().unwrap();
    assert!(
        (landed - 0.75 * duration).abs() <= duration * 2.0 / width + 0.05,
        "a click at 3/4 of the strip plays from {landed:.2} s of {duration:.2} s"
    );

    let backgrounds: Vec<&Value> = r.iter().filter_map(|step| step.get("background")).collect();
    assert_eq!(backgrounds.len(), 2, "{r:#?}");
    assert_ne!(
        backgrounds[0], backgrounds[1],
        "the dark scheme changes the page's colours"
    );
    let narrow = r
        .iter()
        .find(|step| step["width"].is_number() && step["width"].as_f64().unwrap() <= 360.0);
    let narrow = narrow.unwrap_or_else(|| panic!("{r:#?}"));
    assert_eq!(narrow["sideways"], false, "at 360 px: {narrow:#}");
    if axe {
        let scans: Vec<&Value> = r
            .iter()
            .filter(|step| step["violations"].is_array())
            .collect();
        assert_eq!(scans.len(), 3, "{r:#?}");
        for (scan, what) in scans.iter().zip(["dark", "light at 360 px", "light"]) {
            assert_accessible(&scan["violations"], &format!("the studio ({what})"));
        }
    }
    for shot in &shots {
        assert!(
            std::fs::metadata(shot).unwrap().len() > 1000,
            "{}",
            shot.display()
        );
    }
}

/// Compare takes: the selected sentence's takes side by side (length, waveform, kept), three new ones in one
/// click (exactly three syntheses), and a row's Keep puts that take in the takes file as `narrate regen --take`
/// would.
#[test]
fn the_studio_compares_takes_side_by_side_makes_three_in_one_click_and_keeps_one() {
    let Some(python) = selenium_python() else {
        return;
    };
    let env = Env::new();
    let essay = env.fixture("headings.md");
    let studio = Studio::start(&env, &essay);
    let manifest = read_json(env.path("audio/out/headings/headings.json"));
    let id = segments(&manifest)[3]["id"].as_str().unwrap().to_string();
    let mut steps = vec![
        json!({"do": "click", "id": id}),
        json!({"do": "press", "button": "compare", "until": "1 take to compare"}),
        json!({"do": "takes"}),
        json!({"do": "press", "button": "make-three", "until": "3 takes made"}),
        json!({"do": "takes"}),
        json!({"do": "take_row", "take": 3, "button": "keep", "until": "kept"}),
    ];
    let axe = have_axe();
    if axe {
        steps.push(json!({"do": "axe"}));
    }
    let r = drive(&python, &studio, json!(steps));
    assert!(r.iter().all(|step| step["error"].is_null()), "{r:#?}");
    if axe {
        assert_accessible(&r[6]["violations"], "the studio with the takes panel open");
    }
    let rows = |i: usize| r[i]["rows"].as_array().unwrap().clone();
    let first = rows(2);
    assert_eq!(first.len(), 1, "{first:#?}");
    assert_eq!(first[0]["kept"], true);
    says(
        &r[3],
        "status",
        format!("segment {id}: 3 takes made (3 synthesized)"),
    );
    let made = rows(4);
    let numbers: Vec<u64> = made
        .iter()
        .map(|row| row["take"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3, 4], "{made:#?}");
    let kept: Vec<bool> = made.iter().map(|row| row["kept"] == true).collect();
    assert_eq!(kept, [true, false, false, false], "{made:#?}");
    for row in &made {
        let seconds: f64 = row["length"]
            .as_str()
            .unwrap()
            .trim_end_matches(" s")
            .parse()
            .unwrap();
        assert!(seconds > 0.3, "{row}");
        let painted = row["painted"].as_f64().unwrap();
        assert!(painted > 0.05, "the waveform is drawn: {row}");
        assert_eq!(row["keep_enabled"], row["kept"] == false, "{row}");
    }
    says(&r[5], "status", format!("segment {id}: take 1 → 3 kept"));
    let after = rows(5);
    let kept: Vec<bool> = after.iter().map(|row| row["kept"] == true).collect();
    assert_eq!(kept, [false, false, true, false], "{after:#?}");
    let takes: toml::Value =
        toml::from_str(&std::fs::read_to_string(env.path("headings.md.takes.toml")).unwrap())
            .unwrap();
    let entry = &takes["segments"][&id];
    assert_eq!(entry["take"].as_integer(), Some(3), "{entry:#?}");
    assert_eq!(entry["latest"].as_integer(), Some(4), "{entry:#?}");
}

/// Keyboard only: Tab reaches the player's buttons, the chapters and the sentences; Enter on a sentence selects
/// it; Shift+Tab reaches the take buttons, Enter makes a new take; Compare takes and a row's Keep are reached and
/// used the same way; the takes file then says take 2.
#[test]
fn every_action_is_reached_and_used_from_the_keyboard() {
    let Some(python) = selenium_python() else {
        return;
    };
    let env = Env::new();
    let essay = env.fixture("headings.md");
    let studio = Studio::start(&env, &essay);
    let r = drive(
        &python,
        &studio,
        json!([
            {"do": "tab_to", "target": "main .sentence"},
            {"do": "enter"},
            {"do": "tab_to", "target": "#new-take", "back": true},
            {"do": "enter", "until": "made"},
            {"do": "tab_to", "target": "#compare"},
            {"do": "enter", "until": "2 takes to compare"},
            {"do": "tab_to", "target": ".take-row[data-take='2'] .take-keep"},
            {"do": "enter", "until": "kept"},
            {"do": "tab_to", "target": "#edit", "back": true},
        ]),
    );
    assert!(r.iter().all(|step| step["error"].is_null()), "{r:#?}");
    for (i, step) in r.iter().enumerate() {
        if step.get("reached").is_some() {
            assert_eq!(step["reached"], true, "step {i}: {step:#}");
        }
    }
    let path: Vec<&str> = r[0]["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for id in ["play", "prev-sentence", "next-sentence", "chapter-link"] {
        assert!(path.contains(&id), "Tab never reaches {id}: {path:?}");
    }
    let id = r[1]["selected"]
        .as_str()
        .unwrap_or_else(|| panic!("{:#}", r[1]))
        .to_string();
    says(&r[3], "status", format!("segment {id}: take 2 made"));
    says(&r[7], "status", format!("segment {id}: take 1 → 2 kept"));
    let takes: toml::Value =
        toml::from_str(&std::fs::read_to_string(env.path("headings.md.takes.toml")).unwrap())
            .unwrap();
    assert_eq!(
        takes["segments"][&id]["take"].as_integer(),
        Some(2),
        "{takes}"
    );
}

/// Book scale: a generated edition of 10,050 sentences (50 chapters, the tone backend at 8 kHz) opens with a few
/// hundred sentence nodes in the page, stays under 500 while the whole text is scrolled through a screen at a
/// time, and a jump to the last chapter or a seek to the last sentence shows it highlighted on screen. The
/// figures (first render, jump and seek times, by the Performance API) are printed; scripts/bench-studio records
/// them (speed is a benchmark's business, not a test's).
#[test]
fn a_book_of_ten_thousand_sentences_keeps_a_few_hundred_in_the_page_and_finds_its_end() {
    let Some(python) = selenium_python() else {
        return;
    };
    let env = Env::new();
    let mut text = String::from("# A Long Ledger\n\n");
    let mut n = 0;
    for part in 1..=50 {
        text.push_str(&format!("## Part {part}\n\n"));
        for _ in 0..10 {
            let line: Vec<String> = (0..20)
                .map(|_| {
                    n += 1;
                    format!("Stone {n} rests.")
                })
                .collect();
            text.push_str(&line.join(" "));
            text.push_str("\n\n");
        }
    }
    let essay = env.essay("ledger.md", &text);
    env.build(&essay, &["--sample-rate", "8000"]);
    let manifest = read_json(env.path("audio/out/ledger/ledger.json"));
    let all = segments(&manifest);
    assert!(all.len() >= 10_000, "{} segments", all.len());
    let last = all.last().unwrap();
    let middle =
        (last["start_seconds"].as_f64().unwrap() + last["end_seconds"].as_f64().unwrap()) / 2.0;
    let studio = Studio::start(&env, &essay);
    let r = drive(&python, &studio, json!([{"do": "book", "last": middle}]));
    let b = &r[0];
    assert!(b["error"].is_null(), "{b:#}");
    let count = |v: &Value| v.as_u64().unwrap_or(u64::MAX);
    eprintln!(
        "book scale: {} sentences; first render at {:.0} ms; {} sentence nodes then, at most {} over {} screens; \
         a jump to the last chapter {:.0} ms, a seek to the last sentence {:.0} ms",
        all.len(),
        b["rendered_ms"].as_f64().unwrap_or(f64::NAN),
        b["sentences"],
        b["most_sentences_scrolling"],
        b["screens"],
        b["jump"]["ms"].as_f64().unwrap_or(f64::NAN),
        b["seek_last"]["ms"].as_f64().unwrap_or(f64::NAN),
    );
    assert!(count(&b["sentences"]) <= 500, "{b:#}");
    assert!(count(&b["most_sentences_scrolling"]) <= 500, "{b:#}");
    assert!(
        count(&b["screens"]) > 50,
        "the text is scrolled through: {b:#}"
    );
    let chapter = manifest["chapters"].as_array().unwrap().last().unwrap();
    let first_of_last = all
        .iter()
        .find(|s| s["chapter"] == chapter["index"])
        .unwrap();
    for (what, jump, want) in [
        ("jump", &b["jump"], first_of_last),
        ("seek", &b["seek_last"], last),
    ] {
        assert_eq!(jump["id"], want["id"], "{what}: {b:#}");
        assert_eq!(jump["on_screen"], true, "{what}: {b:#}");
        assert!(count(&jump["sentences"]) <= 500, "{what}: {b:#}");
    }
}

#[test]
fn narrate_serve_offers_the_studio_under_studio_beside_the_speech_api() {
    let Some(python) = selenium_python() else {
        return;
    };
    let env = Env::new();
    let essay = env.fixture("headings.md");
    let args = [
        "serve",
        "--bind",
        "127.0.0.1:0",
        "--studio",
        essay.to_str().unwrap(),
    ];
    let studio = Studio::started(&env, &args, "/studio/?token=");
    let manifest = read_json(env.path("audio/out/headings/headings.json"));
    let id = segments(&manifest)[1]["id"].as_str().unwrap().to_string();
    let r = drive(
        &python,
        &studio,
        json!([
            {"do": "read"},
            {"do": "click", "id": id},
            {"do": "press", "button": "new-take", "until": "made"},
            {"do": "key", "key": "k", "until": "kept"},
        ]),
    );
    assert_eq!(
        r[0]["sentences"].as_array().unwrap().len(),
        segments(&manifest).len()
    );
    says(
        &r[3],
        "status",
        format!("segment {id}: take 1 → 2 kept; the edition is re-derived"),
    );
    assert_eq!(
        read_json(env.path("audio/out/headings/headings.json"))["segments"][1]["take"],
        2
    );
    // The speech API is there beside it, and `/studio` leads to the page.
    let agent = agent();
    let base = &studio.base;
    assert_eq!(
        agent
            .get(format!("{base}/health"))
            .call()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let models: Value = serde_json::from_str(
        &agent
            .get(format!("{base}/v1/models"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap(),
    )
    .unwrap();
    assert!(
        models["data"].as_array().is_some_and(|d| !d.is_empty()),
        "{models}"
    );
    assert_eq!(
        agent
            .get(format!("{base}/studio/api/edition"))
            .call()
            .unwrap()
            .status()
            .as_u16(),
        401
    );
}

#[test]
fn the_studio_shows_the_checks_findings_on_their_sentences_and_fixes_one_with_a_click() {
    let Some(python) = selenium_python() else {
        return;
    };
    let env = Env::new();
    let essay = env.fixture("headings.md");
    env.build(&essay, &[]);
    let manifest = read_json(env.path("audio/out/headings/headings.json"));
    // A dropout: one segment's audio silenced in the edition.
    let wav = env.path("audio/out/headings/headings.wav");
    let damaged = &segments(&manifest)[3];
    let id = damaged["id"].as_str().unwrap().to_string();
    let rate = manifest["sample_rate"].as_f64().unwrap();
    let mut reader = hound::WavReader::open(&wav).unwrap();
    let spec = reader.spec();
    let mut all: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let from = (damaged["start_seconds"].as_f64().unwrap() * rate) as usize;
    let to = (damaged["end_seconds"].as_f64().unwrap() * rate) as usize;
    all[from..to].iter_mut().for_each(|s| *s = 0);
    let bytes = std::fs::read(&wav).unwrap();
    let data = bytes.windows(4).position(|w| w == b"data").unwrap() + 8;
    let mut patched = bytes.clone();
    for (i, s) in all.iter().enumerate() {
        patched[data + 2 * i..data + 2 * i + 2].copy_from_slice(&s.to_le_bytes());
    }
    assert_eq!(spec.bits_per_sample, 16);
    std::fs::write(&wav, patched).unwrap();
    let check = env
        .cmd()
        .args(["check", wav.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1), "{check:?}");

    let studio = Studio::start(&env, &essay);
    let r = drive(
        &python,
        &studio,
        json!([
            {"do": "read"},
            {"do": "timeline"},
            {"do": "fix", "segment": id, "until": "kept"},
            {"do": "read"},
            {"do": "timeline"},
        ]),
    );
    // The finding is marked on the timeline where its sentence starts; fixed, the mark is gone.
    let strip = &r[1];
    let marks = strip["marks"].as_array().unwrap();
    let width = strip["width"].as_f64().unwrap();
    let at =
        damaged["start_seconds"].as_f64().unwrap() / manifest["duration_seconds"].as_f64().unwrap();
    assert!(
        marks.iter().any(|m| m["segment"] == id.as_str()
            && (m["at"].as_f64().unwrap() - width * at).abs() <= 3.0),
        "a mark for {id} at {:.1} px: {strip:#}",
        width * at
    );
    assert!(r[4]["marks"].as_array().unwrap().is_empty(), "{:#}", r[4]);
    let r = [&r[0], &r[2], &r[3]];
    let page = r[0];
    let silent = page["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "silent")
        .unwrap_or_else(|| panic!("{page:#}"));
    assert_eq!(silent["segment"], id.as_str(), "{page:#}");
    let marked: Vec<&Value> = page["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["classes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "finding")
        })
        .collect();
    assert!(marked.iter().all(|s| s["id"] == id.as_str()), "{page:#}");
    assert_eq!(marked.len(), 1, "{page:#}");
    assert_eq!(r[1]["button"], "Fix: new take and keep it");
    says(r[1], "status", format!("segment {id}: take 1 → 2 kept"));
    assert_eq!(
        r[2]["check"], "no findings: nothing silent, cut short, clipped or clicking",
        "{:#}",
        r[2]
    );
    assert!(r[2]["findings"].as_array().unwrap().is_empty());
    let check = env
        .cmd()
        .args(["check", wav.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(0), "{check:?}");
}

/// Sends raw bytes (so that no client tidies the path) and returns the status code.
pub(crate) fn raw_status(base: &str, request: &str) -> u16 {
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

/// Every file under the scratch folder but the cache and the essay's lock file, with a hash of its contents.
pub(crate) fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, u64)> {
    use std::hash::{Hash, Hasher};
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if name == "cache" || name.ends_with(".narrate.lock") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                let mut hash = std::collections::hash_map::DefaultHasher::new();
                std::fs::read(&p).unwrap_or_default().hash(&mut hash);
                out.push((p, hash.finish()));
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
    let asker = crate::http::Asker::new(base);
    let get = |path: &str| asker.get(path);
    let post = |path: &str, token: Option<&str>, origin: Option<&str>, body: &str| {
        asker.post(path, token, origin, body)
    };
    let text = manifest["segments"][1]["text"].as_str().unwrap();
    // Every request that changes something, each with a body it would act on.
    let changes = [
        ("/api/audition", json!({"id": id, "take": "new"})),
        ("/api/keep", json!({"id": id, "take": 1})),
        (
            "/api/text",
            json!({"id": id, "was": text, "text": "Changed."}),
        ),
        ("/api/lexicon", json!({"word": "rivers", "say": "rivvers"})),
        ("/api/derive", json!({})),
        ("/api/cancel", json!({})),
    ];

    // Reading: the page, the edition and its files need the token.
    assert_eq!(get("/"), 401);
    assert_eq!(get("/?token=0123"), 401);
    assert_eq!(get("/api/edition"), 401);
    assert_eq!(get("/edition/headings.wav"), 401);
    assert_eq!(get("/api/waves?keys=00"), 401);
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
    for (path, body) in &changes {
        let body = body.to_string();
        assert_eq!(post(path, None, None, &body), 401, "{path}");
        assert_eq!(post(path, Some("wrong"), None, &body), 401, "{path}");
        assert_eq!(post(path, None, Some(base), &body), 401, "{path}");
        assert_eq!(
            post(path, Some(token), Some("http://evil.example"), &body),
            403,
            "{path}"
        );
        assert_eq!(post(path, Some(token), Some("null"), &body), 403, "{path}");
        let huge = format!("{{\"id\": \"{}\"}}", "a".repeat(100_000));
        assert_eq!(post(path, Some(token), None, &huge), 413, "{path}");
        assert_eq!(post(path, Some(token), None, "not json"), 400, "{path}");
    }
    // The cache's audio only by key: no path.
    assert_eq!(
        get(&format!("/api/audio/..%2F..%2Fsecret.txt?token={token}")),
        404
    );
    assert_eq!(
        get(&format!("/api/audio/{}?token={token}", "0".repeat(64))),
        404
    );
    assert_eq!(
        snapshot(env.dir.path()),
        before,
        "a refused request changed a file"
    );

    let unknown = json!({"id": "zzzzzzzz", "take": "new"}).to_string();
    assert_eq!(post("/api/audition", Some(token), None, &unknown), 404);
    // A change whose sentence is not what the page showed (another tab changed it) is refused; nothing written.
    let stale = json!({"id": id, "was": "Some older text.", "text": "New."}).to_string();
    assert_eq!(post("/api/text", Some(token), Some(base), &stale), 409);
    assert_eq!(
        snapshot(env.dir.path()),
        before,
        "a refused request changed a file"
    );
    // The same request, allowed, does change the takes (so the refusals above were refusals).
    let body = changes[0].1.to_string();
    assert_eq!(post("/api/audition", Some(token), Some(base), &body), 200);
    assert!(env.path("headings.md.takes.toml").exists());
}

#[test]
fn two_tabs_changing_sentences_at_once_both_land_and_never_tear_the_essay() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    let studio = Studio::start(&env, &essay);
    let manifest = read_json(env.path("audio/out/headings/headings.json"));
    let original = std::fs::read_to_string(&essay).unwrap();
    let first = segment_with(&manifest, "They deserve more.").clone();
    let second = segment_with(&manifest, "The big ones will follow.").clone();
    let send = |segment: &Value, text: &str| {
        let body = json!({"id": segment["id"], "was": segment["text"], "text": text}).to_string();
        let url = format!("{}/api/text", studio.base);
        let token = studio.token.clone();
        std::thread::spawn(move || {
            agent()
                .post(url)
                .header("X-Narrate-Token", &token)
                .content_type("application/json")
                .send(&body)
                .unwrap()
                .status()
                .as_u16()
        })
    };
    // Two tabs, two sentences, at the same moment: both land.
    let a = send(&first, "They deserve much more.");
    let b = send(&second, "The big ones follow them.");
    assert_eq!((a.join().unwrap(), b.join().unwrap()), (200, 200));
    let both = original
        .replacen("They deserve more.", "They deserve much more.", 1)
        .replacen("The big ones will follow.", "The big ones follow them.", 1);
    assert_eq!(std::fs::read_to_string(&essay).unwrap(), both);
    // Two tabs, one sentence: the first lands, the second is refused (its sentence changed) and writes nothing.
    let c = send(&first, "Too late.");
    assert_eq!(c.join().unwrap(), 409);
    assert_eq!(std::fs::read_to_string(&essay).unwrap(), both);
    let e = send(&first, "   ");
    assert_eq!(
        e.join().unwrap(),
        409,
        "its sentence changed too: refused before the text is judged"
    );
}

#[test]
fn an_edit_that_would_swallow_the_essay_is_refused_and_a_linked_essay_is_edited_through_its_link() {
    let env = Env::new();
    let real = env.path("real");
    std::fs::create_dir_all(&real).unwrap();
    let target = real.join("rivers.md");
    std::fs::copy(env.fixture("headings.md"), &target).unwrap();
    let essay = env.path("rivers.md");
    std::os::unix::fs::symlink(&target, &essay).unwrap();
    let studio = Studio::start(&env, &essay);
    let manifest_path = env.path("audio/out/rivers/rivers.json");
    let manifest = read_json(&manifest_path);
    let original = std::fs::read_to_string(&target).unwrap();
    let wav_before = std::fs::read(env.path("audio/out/rivers/rivers.wav")).unwrap();
    let seep = segment_with(&manifest, "Most begin as a seep in a field.").clone();
    let send = |text: &str| {
        let body = json!({"id": seep["id"], "was": seep["text"], "text": text}).to_string();
        let mut answer = agent()
            .post(format!("{}/api/text", studio.base))
            .header("X-Narrate-Token", &studio.token)
            .content_type("application/json")
            .send(&body)
            .unwrap();
        let status = answer.status().as_u16();
        (status, answer.body_mut().read_to_string().unwrap())
    };
    // Each would open a comment, a fence or a raw HTML block that hides the rest of the essay; the last would make
    // a second sentence (or a heading) out of one.
    for text in [
        "<!-- Most begin as a seep in a field.",
        "``` Most begin as a seep in a field.",
        "<script> Most begin as a seep in a field.",
        "<pre> Most begin as a seep in a field.",
        "Most begin as a seep.\r# x",
    ] {
        let (status, body) = send(text);
        assert_eq!(status, 409, "{text:?} was accepted: {body}");
        assert!(body.contains("nothing was written"), "{text:?}: {body}");
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            original,
            "{text:?}"
        );
        assert_eq!(read_json(&manifest_path), manifest, "{text:?}");
    }
    assert_eq!(
        std::fs::read(env.path("audio/out/rivers/rivers.wav")).unwrap(),
        wav_before
    );
    // A good edit lands in the link's target; the link stays a link.
    let (status, body) = send("Most begin as a small seep in a field.");
    assert_eq!(status, 200, "{body}");
    assert!(std::fs::symlink_metadata(&essay)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        original.replacen(
            "Most begin as a seep in a field.",
            "Most begin as a small seep in a field.",
            1
        )
    );
}

/// GETs the studio's status (JSON).
pub(crate) fn status_of(studio: &Studio) -> Value {
    let text = agent()
        .get(format!("{}/api/status", studio.base))
        .header("X-Narrate-Token", &studio.token)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_take_kept_in_the_studio_remasters_and_re_exports_the_edition_as_regen_does() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    let flags = [
        "--master", "podcast", "--export", "all", "--format", "m4b", "-o", "out",
    ];
    let mut build = vec!["build", essay.to_str().unwrap()];
    build.extend(flags);
    env.stdout(&build);
    let mut args = vec!["studio", essay.to_str().unwrap(), "--bind", "127.0.0.1:0"];
    args.extend(["-o", "out"]);
    let studio = Studio::started(&env, &args, "/?token=");
    let manifest = read_json(env.path("out/headings.json"));
    let id = segments(&manifest)[4]["id"].as_str().unwrap().to_string();
    let post = |path: &str, body: Value| -> (u16, Value) {
        let mut answer = agent()
            .post(format!("{}{path}", studio.base))
            .header("X-Narrate-Token", &studio.token)
            .content_type("application/json")
            .send(&body.to_string())
            .unwrap();
        let status = answer.status().as_u16();
        (
            status,
            serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap(),
        )
    };
    let (code, heard) = post("/api/audition", json!({"id": id, "take": "new"}));
    assert_eq!(code, 200, "{heard}");
    assert_eq!(heard["take"], 2);
    assert_eq!(heard["synthesized"], 1);
    let (code, kept) = post("/api/keep", json!({"id": id, "take": 2}));
    assert_eq!(code, 200, "{kept}");
    // The background re-derivation: wait for it (however long the machine takes).
    let status = loop {
        let s = status_of(&studio);
        if s["state"] != "working" && s["version"].as_u64() >= Some(1) {
            break s;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(status["state"], "idle", "{status}");
    assert_eq!(status["findings"], json!([]), "{status}");

    let cli = Env::new();
    let essay2 = cli.fixture("headings.md");
    let mut build2 = vec!["build", essay2.to_str().unwrap()];
    build2.extend(flags);
    cli.stdout(&build2);
    cli.stdout(&[
        "regen",
        essay2.to_str().unwrap(),
        &id,
        "--take",
        "2",
        "-o",
        "out",
    ]);
    let names = |env: &Env| {
        let mut v: Vec<String> = std::fs::read_dir(env.path("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&env), names(&cli));
    assert!(names(&env).len() >= 10, "{:?}", names(&env));
    for name in names(&env) {
        let (a, b) = (
            env.path(&format!("out/{name}")),
            cli.path(&format!("out/{name}")),
        );
        if name.ends_with(".m4b") {
            let (pa, pb) = (ffprobe(&a), ffprobe(&b));
            assert_eq!(pa["chapters"], pb["chapters"], "{name}");
            assert_eq!(pa["format"]["duration"], pb["format"]["duration"], "{name}");
        } else if name.ends_with(".json") {
            let (ma, mb) = (read_json(&a), read_json(&b));
            assert_eq!(ma["segments"], mb["segments"]);
            assert_eq!(ma["loudness"], mb["loudness"]);
            assert_eq!(ma["chapters"], mb["chapters"]);
        } else if name.ends_with(".epub") {
            assert!(same_epub(&a, &b), "{name} differs from regen's");
        } else {
            assert!(
                std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
                "{name} differs from regen's"
            );
        }
    }
}

#[test]
fn an_edition_the_studio_cannot_read_is_rebuilt_with_one_click() {
    let Some(python) = selenium_python() else {
        return;
    };
    let env = Env::new();
    let essay = env.fixture("headings.md");
    env.build(&essay, &[]);
    let wav = env.path("audio/out/headings/headings.wav");
    let whole = std::fs::read(&wav).unwrap();
    std::fs::write(&wav, b"not a WAV file at all").unwrap();
    let studio = Studio::start(&env, &essay);
    let r = drive(
        &python,
        &studio,
        json!([
            {"do": "read"},
            {"do": "press", "button": "redo", "until": "re-derived"},
            {"do": "read"},
        ]),
    );
    assert_eq!(r[0]["state"], "error", "{:#}", r[0]);
    says(&r[0], "status", "cannot read");
    assert!(
        r[0]["buttons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b == "Rebuild the edition"),
        "{:#}",
        r[0]
    );
    says(&r[1], "status", "(0 synthesized)");
    assert_eq!(
        r[2]["check"],
        "no findings: nothing silent, cut short, clipped or clicking"
    );
    assert!(
        std::fs::read(&wav).unwrap() == whole,
        "rebuilt from the cache as it was"
    );
}
