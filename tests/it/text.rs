//! Spoken text through the binary: normalization on the samples, the lexicon, written pauses, `--pause`.

use serde_json::Value;

use crate::support::*;

fn plan(env: &Env, essay: &str, extra: &[&str]) -> Value {
    let mut args = vec!["plan", essay];
    args.extend_from_slice(extra);
    env.json(&args)
}

fn spoken(plan: &Value) -> Vec<String> {
    plan["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["spoken"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn samples_leave_nothing_unexpanded() {
    let env = Env::new();
    let leftover = regex::Regex::new(
        r"\d|/|[$£€¥%]|\b(?:[A-Za-z]\.){2,}|\b(?:Mr|Mrs|Ms|Dr|St|Prof|etc|vs|approx|e\.g|i\.e)\.",
    )
    .unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for sample in ["tide-clocks.md", "the-borrowed-ladder.txt"] {
        let p = plan(
            &env,
            root.join("audio/samples").join(sample).to_str().unwrap(),
            &[],
        );
        for s in spoken(&p) {
            assert!(!leftover.is_match(&s), "{sample}: left unexpanded in {s:?}");
        }
    }
    // The written text is kept as written beside it.
    let p = plan(
        &env,
        root.join("audio/samples/tide-clocks.md").to_str().unwrap(),
        &[],
    );
    let seg = p["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["text"].as_str().unwrap().contains("2,400"))
        .unwrap();
    assert!(seg["spoken"]
        .as_str()
        .unwrap()
        .contains("two thousand four hundred residents"));
}

#[test]
fn plan_spoken_shows_the_reading_and_normalize_off_keeps_the_text() {
    let env = Env::new();
    env.essay("e.md", "# Notes\n\nDr. Okafor paid $5 on 7 July 2005.\n");
    let out = env.stdout(&["plan", "e.md", "--spoken"]);
    assert!(
        out.contains(
            "→ Doctor Okafor paid five dollars on the seventh of July, two thousand five."
        ),
        "{out}"
    );
    let off = plan(&env, "e.md", &["--normalize", "off"]);
    assert_eq!(spoken(&off)[1], "Dr. Okafor paid $5 on 7 July 2005.");
}

#[test]
fn a_changed_lexicon_entry_resynthesizes_only_the_segments_that_contain_it() {
    let env = Env::new();
    env.essay(
        "e.md",
        "# Visit\n\nWe met Okafor at noon. The rain had stopped. Later, okafor-style jokes began. Okafor laughed.\n",
    );
    env.essay(
        "narrate.toml",
        "[lexicon]\nOkafor = \"oh KAH for\"\n\"had stopped\" = \"had finally stopped\"\n",
    );
    let first = env.build(&env.path("e.md"), &[]);
    let p = plan(&env, "e.md", &[]);
    let s = spoken(&p);
    assert_eq!(s[1], "We met oh KAH for at noon.");
    assert_eq!(s[2], "The rain had finally stopped.");
    assert_eq!(
        s[3], "Later, okafor-style jokes began.",
        "case-sensitive entry, whole words only"
    );
    assert_eq!(s[4], "oh KAH for laughed.");
    assert!(first["synthesized"].as_u64().unwrap() >= 5);

    env.essay(
        "narrate.toml",
        "[lexicon]\nOkafor = \"oh kah FOR\"\n\"had stopped\" = \"had finally stopped\"\n",
    );
    let again = env.build(&env.path("e.md"), &[]);
    assert_eq!(again["synthesized"], 2, "only the two segments with Okafor");
    assert_eq!(again["cached"], first["segments"].as_u64().unwrap() - 2);
}

#[test]
fn the_user_lexicon_applies_and_the_essay_lexicon_wins() {
    let env = Env::new();
    std::fs::create_dir_all(env.path("config/narrate")).unwrap();
    std::fs::write(
        env.path("config/narrate/narrate.toml"),
        "[lexicon]\nnarrate = \"nah RATE\"\nGIF = \"jiff\"\n",
    )
    .unwrap();
    env.essay("e.txt", "Title\n\nI narrate a GIF.\n");
    env.essay("narrate.toml", "[lexicon]\nGIF = \"gift without the t\"\n");
    let out = env
        .cmd()
        .env("XDG_CONFIG_HOME", env.path("config"))
        .args(["plan", "e.txt", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let p: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(spoken(&p)[1], "I nah RATE a gift without the t.");
}

/// Gaps between consecutive segments of the built edition, in milliseconds.
fn gaps_ms(env: &Env, manifest: &str) -> Vec<u64> {
    let m = read_json(env.path(manifest));
    let rate = m["sample_rate"].as_u64().unwrap();
    m["segments"]
        .as_array()
        .unwrap()
        .windows(2)
        .map(|w| {
            let gap = w[1]["start_sample"].as_u64().unwrap() - w[0]["end_sample"].as_u64().unwrap();
            (gap * 1000 + rate / 2) / rate
        })
        .collect()
}

#[test]
fn written_breaks_and_pause_settings_become_silence() {
    let env = Env::new();
    env.essay(
        "e.md",
        "# Title\n\nOne. Two.\n\n<!-- pause 2s -->\n\nThree.\n\n---\n\nFour.\n\nFive.\n",
    );
    env.build(&env.path("e.md"), &["-o", "a"]);
    assert_eq!(gaps_ms(&env, "a/e.json"), vec![1500, 250, 2000, 1500, 700]);
    env.build(
        &env.path("e.md"),
        &[
            "-o",
            "b",
            "--pause",
            "sentence=1s,paragraph=300ms,section=2.5s",
        ],
    );
    assert_eq!(gaps_ms(&env, "b/e.json"), vec![2500, 1000, 2000, 2500, 300]);
    // The plain-text form.
    env.essay("t.txt", "Title\n\nOne.\n\n[pause 1.2s]\n\nTwo.\n");
    env.build(&env.path("t.txt"), &["-o", "c"]);
    assert_eq!(gaps_ms(&env, "c/t.json"), vec![1500, 1200]);
    // A bad list is a one-line error.
    let out = env
        .cmd()
        .args(["build", "e.md", "--pause", "breath=1s"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("unknown pause `breath`"), "{err}");
}
