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

/// Spoken text by written text, for a plan.
fn readings(plan: &Value) -> Vec<(String, String)> {
    plan["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["text"].as_str().unwrap().to_string(),
                s["spoken"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn an_essay_full_of_codes_numbers_and_abbreviations_reads_like_a_person() {
    let env = Env::new();
    env.fixture("reads-like-a-person.md");
    let p = plan(&env, "reads-like-a-person.md", &[]);
    let said = readings(&p);
    let spoken_for = |start: &str| -> &str {
        &said
            .iter()
            .find(|(text, _)| text.starts_with(start))
            .unwrap_or_else(|| panic!("no segment starts with {start:?}"))
            .1
    };
    let want = [
        ("The night crossing", "The night crossing ran four minutes seventeen seconds late by the harbour clock, which gains on the ferry's at two to one in winter."),
        ("Call +44", "Call plus four four, two zero, seven nine four six, zero nine five eight to book, or read example dot org slash ferries slash twenty twenty-one before you travel."),
        ("The harbour office", "The harbour office filed its Q three report for F Y twenty twenty-three from two twenty-one B Quay Road, N W one, six X E."),
        ("The boilers", "The boilers there burn cleaner now: C O two is down and the H two O in the tanks is clear."),
        ("The new crane", "The new crane lifts loads three times faster, and the town expects one hundred plus visitors a day, about twelve percent more than last year."),
        ("The accounts", "The accounts show minus four thousand two hundred euros for repairs, two hundred rupees for a spare part from Pune, and a ticket machine that charges ninety-nine cents per ride."),
        ("The harbour master", "The harbour master served in World War Two and later earned a P H D in tidal science."),
        ("The group Iskp", "The group I S K P once claimed the old lighthouse as a base."),
        ("The dock", "The dock was built circa nineteen hundred, and the fair still opens Monday the third of February every year."),
        ("The regatta", "The regatta runs the twelfth to the fourteenth of June, as it did between nineteen fourteen and nineteen eighteen, when the home side won three to two against the garrison."),
        ("The tallest rower", "The tallest rower stood five feet ten inches in his boots."),
        ("The office link", "The office link runs at one hundred megabits per second, and a two point five kilogram box of charts sits by the door."),
        ("The ledger entries", "The ledger entries are dated March fourth, twenty twenty-two and December thirty-first, nineteen ninety-nine, and the hall seats one thousand two hundred fifty people."),
        ("Resolution 2334", "Resolution twenty-three thirty-four of the council named the new pier, and Flight three seventy is still the name of the bar."),
        ("The U.S. GDP", "The U S G D P figure pinned to the wall is out of date."),
    ];
    for (start, spoken) in want {
        assert_eq!(spoken_for(start), spoken, "segment starting {start:?}");
    }
    // "c." and "Mon." do not end sentences; nothing is left in digits.
    assert!(said
        .iter()
        .any(|(t, _)| t.starts_with("The dock was built c. 1900")));
    assert!(
        said.iter()
            .all(|(_, s)| !s.chars().any(|c| c.is_ascii_digit())),
        "{said:?}"
    );
    // The same reading in `plan --spoken`, under the written text.
    let out = env.stdout(&["plan", "reads-like-a-person.md", "--spoken"]);
    assert!(
        out.contains("→ The U S G D P figure pinned to the wall is out of date."),
        "{out}"
    );
}

/// The plan's chapter titles and segment texts.
fn chapters_and_texts(plan: &Value) -> (Vec<String>, Vec<String>) {
    let titles = plan["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap().to_string())
        .collect();
    let texts = readings(plan).into_iter().map(|(t, _)| t).collect();
    (titles, texts)
}

/// What the structure fixtures must give, Markdown or HTML: a heading per chapter at every level, the notes
/// at the end of the section that refers to them, the quote in its place.
const STRUCTURE: &[&str] = &[
    "Salt and Timber",
    "The Yard",
    "Boats were built by hand.",
    "The yard kept no plans.",
    "Measure twice, then ask the river.",
    "The foreman repeated it daily.",
    "Note: Every frame was cut with an adze.",
    "Timber",
    "Oak came from the hills.",
    "Seasoning",
    "Planks dried for a year.",
    "Note: Some said two years.",
    "The Launch",
    "The hull slid into the water at dawn.",
];

#[test]
fn headings_footnotes_quotes_and_raw_html_in_markdown() {
    let env = Env::new();
    env.fixture("structure.md");
    let out = env
        .cmd()
        .args(["plan", "structure.md", "--json"])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert_eq!(
        stderr.trim(),
        "warning: structure.md:15: raw HTML block skipped (raw HTML blocks are not narrated)"
    );
    let p: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let (titles, texts) = chapters_and_texts(&p);
    assert_eq!(
        titles,
        [
            "Salt and Timber",
            "The Yard",
            "Timber",
            "Seasoning",
            "The Launch"
        ]
    );
    assert_eq!(texts, STRUCTURE);
    assert!(texts
        .iter()
        .all(|t| !t.contains("[^") && !t.contains("sidebar")));
    assert_eq!(p["author"], "Ilse Marrow");
}

#[test]
fn an_html_article_builds_into_the_same_chapters_as_its_markdown_twin() {
    let env = Env::new();
    env.fixture("structure.md");
    env.fixture("structure.html");
    let out = env
        .cmd()
        .args(["build", "structure.html", "-o", "html"])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains(
            "structure.html:7: 5 parts of the page around the article skipped (1 aside, 1 footer, 1 nav, 1 script, 1 style)"
        ),
        "{stderr}"
    );
    env.build(&env.path("structure.md"), &["-o", "md"]);
    let html = read_json(env.path("html/structure.json"));
    let md = read_json(env.path("md/structure.json"));
    let titles = |m: &Value| -> Vec<String> {
        m["chapters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["title"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(titles(&html), titles(&md));
    assert_eq!(titles(&html).len(), 5);
    let texts = |m: &Value| -> Vec<String> {
        m["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["text"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(texts(&html), STRUCTURE);
    assert_eq!(texts(&html), texts(&md));
    assert_eq!(html["author"], "Ilse Marrow");
}

#[test]
fn standard_input_is_an_essay() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["plan", "-", "--json"])
        .write_stdin("# Piped In\n\nThe ferry left at 9:05 with 12 cars.\n")
        .assert()
        .success();
    let p: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(p["title"], "Piped In");
    assert_eq!(
        spoken(&p),
        [
            "Piped In",
            "The ferry left at nine oh five with twelve cars."
        ]
    );
    // A web page on standard input is read as one.
    let out = env
        .cmd()
        .args(["plan", "-", "--json"])
        .write_stdin("<!DOCTYPE html><title>Web Note</title><p>Read me.</p><script>no()</script>")
        .assert()
        .success();
    let p: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(spoken(&p), ["Web Note", "Read me."]);
}

#[test]
fn the_language_setting_picks_british_or_american_readings_and_footnotes_can_be_skipped() {
    let env = Env::new();
    env.essay(
        "tally.md",
        "# Tally\n\nThe parish counted 1,250 lanterns on 03/04/2022.[^1]\n\n[^1]: The count was done twice.\n",
    );
    let spoken = |plan: &serde_json::Value| -> String {
        plan["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["spoken"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    // The tone backend's voice names no language: American readings.
    let us = env.json(&["plan", "tally.md"]);
    assert_eq!(us["language"], "en-US");
    assert!(
        spoken(&us).contains("one thousand two hundred fifty"),
        "{}",
        spoken(&us)
    );
    assert!(spoken(&us).contains("March fourth"), "{}", spoken(&us));
    assert!(
        spoken(&us).contains("Note: The count was done twice"),
        "{}",
        spoken(&us)
    );
    // A flag, or the same key in narrate.toml: British readings.
    let gb = env.json(&["plan", "tally.md", "--language", "en-GB"]);
    assert_eq!(gb["language"], "en-GB");
    assert!(
        spoken(&gb).contains("one thousand two hundred and fifty"),
        "{}",
        spoken(&gb)
    );
    assert!(
        spoken(&gb).contains("the third of April"),
        "{}",
        spoken(&gb)
    );
    env.essay(
        "narrate.toml",
        "language = \"en_GB\"\nfootnotes = \"skip\"\n",
    );
    let file = env.json(&["plan", "tally.md"]);
    assert_eq!(file["language"], "en-GB");
    assert!(spoken(&file).contains("two hundred and fifty"));
    assert!(!spoken(&file).contains("Note:"), "{}", spoken(&file));
}

#[test]
fn plan_diff_shows_only_what_reads_differently_and_stdin_editions_take_a_name() {
    let env = Env::new();
    let text = "# Ledger\n\nThe boat left at 6:30 with 12 crates. Nobody waved from the quay.\n\n\
                It was a quiet morning, and the gulls were asleep.\n";
    env.essay("ledger.md", text);
    let out = env.stdout(&["plan", "ledger.md", "--spoken", "--diff"]);
    assert!(out.starts_with("1 of 4 segments read differently"), "{out}");
    assert!(
        out.contains("→ The boat left at six thirty with twelve crates."),
        "{out}"
    );
    assert!(!out.contains("quiet morning"), "{out}");
    let json = env.json(&["plan", "ledger.md", "--diff"]);
    assert_eq!(json["segments"].as_array().unwrap().len(), 1, "{json}");
    // An essay on standard input: its edition is `stdin`, or the name given.
    let built = env
        .cmd()
        .args(["build", "-", "--name", "ledger-from-pipe", "--json"])
        .write_stdin(text)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let built: serde_json::Value = serde_json::from_slice(&built).unwrap();
    assert!(
        env.path("audio/out/ledger-from-pipe/ledger-from-pipe.wav")
            .is_file(),
        "{built}"
    );
    env.cmd()
        .args(["build", "-"])
        .write_stdin(text)
        .assert()
        .success();
    assert!(env.path("audio/out/stdin/stdin.wav").is_file());
}

const LEVELS: &str = "# Tidewater Notes\n\nEvery estuary keeps two clocks.\n\n## The Flats\n\n\
Mud holds the morning light.\n\n### Worms\n\nThey write in coils.\n\n\
> The tide is a slow reader. It turns every page twice.\n\nThen it leaves.\n\n#### Lugworms\n\n\
Casts mark each burrow.\n\n## The Channel\n\nBoats wait for water.\n";

/// (title, level) of every chapter in a manifest.
fn chapter_levels(m: &Value) -> Vec<(String, u64)> {
    m["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["title"].as_str().unwrap().to_string(),
                c["level"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn owned(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|&(t, l)| (t.to_string(), l)).collect()
}

#[test]
fn chapter_depth_levels_nested_export_titles_and_pauses_around_quotes() {
    let env = Env::new();
    env.essay("tide.md", LEVELS);
    let exports = ["--export", "podcast,vtt-chapters"];
    env.build(
        &env.path("tide.md"),
        &[&["-o", "two", "--chapters", "heading:2"], &exports[..]].concat(),
    );
    let m = read_json(env.path("two/tide.json"));
    assert_eq!(m["settings"]["chapters"], "heading:2");
    assert_eq!(
        chapter_levels(&m),
        owned(&[
            ("Tidewater Notes", 1),
            ("Every estuary keeps two clocks", 2),
            ("The Flats", 2),
            ("The Channel", 2)
        ])
    );
    // The deeper headings are read inside "The Flats".
    let chapter_of = |text: &str| {
        m["segments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["text"] == text)
            .unwrap()["chapter"]
            .as_u64()
            .unwrap()
    };
    assert_eq!((chapter_of("Worms"), chapter_of("Lugworms")), (2, 2));
    // A regen reads the depth back from the manifest's recorded settings.
    let id = m["segments"][3]["id"].as_str().unwrap().to_string();
    env.json(&["regen", "tide.md", &id, "-o", "two"]);
    let again = read_json(env.path("two/tide.json"));
    assert_eq!(again["settings"]["chapters"], "heading:2");
    assert_eq!(chapter_levels(&again), chapter_levels(&m));
    // Sections 1.5 s, sub-sections (H3, H4) 1.1 s, paragraphs 0.7 s, and 0.7 s + 0.3 s around the quote.
    assert_eq!(
        gaps_ms(&env, "two/tide.json"),
        vec![1500, 1500, 700, 1100, 700, 1000, 250, 1000, 1100, 700, 1500, 700]
    );
    let podcast = read_json(env.path("two/tide.chapters.json"));
    let names = titles(&podcast["chapters"]);
    assert_eq!(
        names,
        [
            "Tidewater Notes",
            "Every estuary keeps two clocks",
            "The Flats",
            "The Channel"
        ]
    );

    // One level deeper: the H3 is a chapter, named after its H2 where the format can nest.
    env.build(
        &env.path("tide.md"),
        &[&["-o", "three", "--chapters", "heading:3"], &exports[..]].concat(),
    );
    let m = read_json(env.path("three/tide.json"));
    assert_eq!(
        chapter_levels(&m),
        owned(&[
            ("Tidewater Notes", 1),
            ("Every estuary keeps two clocks", 2),
            ("The Flats", 2),
            ("Worms", 3),
            ("The Channel", 2)
        ])
    );
    assert_eq!(
        gaps_ms(&env, "three/tide.json"),
        gaps_ms(&env, "two/tide.json"),
        "the depth changes chapters, not pauses"
    );
    let podcast = read_json(env.path("three/tide.chapters.json"));
    let names = titles(&podcast["chapters"]);
    assert_eq!(
        names,
        [
            "Tidewater Notes",
            "Every estuary keeps two clocks",
            "The Flats",
            "The Flats — Worms",
            "The Channel"
        ]
    );
    let vtt = std::fs::read_to_string(env.path("three/tide.chapters.vtt")).unwrap();
    assert!(vtt.contains("\nThe Flats — Worms\n"), "{vtt}");
    // The manifest's chapters start where the podcast chapters do.
    let starts: Vec<f64> = m["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["start_seconds"].as_f64().unwrap())
        .collect();
    let podcast_starts: Vec<f64> = podcast["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["startTime"].as_f64().unwrap())
        .collect();
    assert_eq!(starts, podcast_starts);
}

#[test]
fn a_text_in_another_language_than_the_voice_names_a_voice_that_speaks_it() {
    if !have("espeak-ng") {
        return;
    }
    let env = Env::new();
    env.essay(
        "brief.md",
        "---\nlanguage: de\n---\n\n# Ein Brief\n\nDas Wetter war gestern schön. Heute regnet es.\n",
    );
    let plan = |extra: &[&str]| {
        let mut cmd = env.cmd();
        cmd.args(["plan", "brief.md", "--backend", "espeak"])
            .args(extra);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    // espeak-ng's default voice speaks American English: one warning, naming espeak-ng's German voice.
    let told = plan(&[]);
    let lines: Vec<&str> = told.lines().filter(|l| l.contains("speaks")).collect();
    assert_eq!(lines.len(), 1, "{told}");
    assert!(
        lines[0].contains("brief.md")
            && lines[0].contains("`de`")
            && lines[0].contains("`en-us`")
            && lines[0].contains("--backend espeak --voice de"),
        "{told}"
    );
    // A voice that speaks the text's language: nothing to say.
    assert!(!plan(&["--voice", "de"]).contains("speaks"));
    // English text on an English voice: nothing to say either.
    env.essay("letter.md", "# A Letter\n\nThe weather was fine.\n");
    let mut cmd = env.cmd();
    let out = cmd
        .args(["plan", "letter.md", "--backend", "espeak"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("speaks"));
}
