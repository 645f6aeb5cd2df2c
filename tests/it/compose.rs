//! The composition matrix, through the binary: backend (tone, espeak-ng, Piper, hibari) × mastering × sample rate
//! × outputs (none, everything with an M4B, everything with an MP3). Each cell builds an
//! essay, makes a new take of one segment, then goes back to take 1; after every step the edition (WAV, manifest,
//! every export, the M4B) equals what a fresh build with the same takes makes in an empty cache.

use std::path::Path;

use serde_json::Value;

use crate::support::*;

/// One cell of the matrix.
#[derive(Debug, Clone, Copy)]
struct Cell {
    backend: &'static str,
    /// `--master podcast` (else no mastering).
    podcast: bool,
    /// `--sample-rate 44100` (else the backend's own rate).
    resample: bool,
    /// `--export all --format FORMAT` (`m4b` or `mp3`; `""`: the WAV and manifest only).
    outputs: &'static str,
}

const ESSAY: &str = "ferry.md";
const STEM: &str = "ferry";
const WAV: &str = "ferry.wav";
/// The start of the segment the cell makes new takes of (in the middle chapter).
const TARGET: &str = "The river is wide";

impl Cell {
    /// The flags every step of this cell passes, build and regen alike.
    fn flags(self) -> Vec<&'static str> {
        let mut flags = vec!["--backend", self.backend];
        if self.podcast {
            flags.extend(["--master", "podcast"]);
        }
        if self.resample {
            flags.extend(["--sample-rate", "44100"]);
        }
        if self.has_outputs() {
            flags.extend(["--export", "all", "--format", self.outputs]);
        }
        flags
    }

    fn has_outputs(self) -> bool {
        !self.outputs.is_empty()
    }

    /// Whether the programs this cell needs are installed (under NARRATE_REQUIRE_TOOLS=1 a missing one fails).
    fn tools(self, env: &Env) -> bool {
        let backend = match self.backend {
            "espeak" => have("espeak-ng"),
            "piper" => have_piper(env),
            #[cfg(feature = "hibari")]
            "hibari" => have_hibari(),
            _ => true,
        };
        let media = !(self.podcast || self.has_outputs()) || (have("ffmpeg") && have("ffprobe"));
        backend && media
    }
}

/// Whether the Piper joe voice is installed, as `narrate voices` sees it.
fn have_piper(env: &Env) -> bool {
    let out = env
        .cmd()
        .args(["voices", "--backend", "piper", "--json"])
        .output()
        .unwrap();
    let found = out.status.success()
        && serde_json::from_slice::<Value>(&out.stdout)
            .is_ok_and(|v| voice_names(&v).iter().any(|n| n == "en_US-joe-medium"));
    if !found {
        assert!(
            std::env::var_os("NARRATE_REQUIRE_TOOLS").is_none(),
            "the Piper joe voice is not installed; scripts/fetch-voice installs it: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("skipping: the Piper joe voice is not installed (scripts/fetch-voice)");
    }
    found
}

/// Whether the hibari voice is installed (the default voice; scripts/fetch-voice installs it).
#[cfg(feature = "hibari")]
fn have_hibari() -> bool {
    let dir = narrate::testing::voice::data_dir().join("hibari");
    let found = dir.join("hibari.onnx").is_file();
    if !found {
        assert!(
            std::env::var_os("NARRATE_REQUIRE_TOOLS").is_none(),
            "the hibari voice is not installed in {}; scripts/fetch-voice installs it",
            dir.display()
        );
        eprintln!("skipping: the hibari voice is not installed (scripts/fetch-voice)");
    }
    found
}

/// Runs `narrate ARGS FLAGS --json` in the cell's scratch folder; it must succeed.
fn narrate(env: &Env, args: &[&str], flags: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend_from_slice(flags);
    env.json(&all)
}

/// The samples of segment `index` of an edition.
fn segment_samples(wav: &[i16], manifest: &Value, index: usize) -> Vec<i16> {
    let s = &manifest["segments"][index];
    let (a, b) = (
        s["start_sample"].as_u64().unwrap() as usize,
        s["end_sample"].as_u64().unwrap() as usize,
    );
    wav[a..b].to_vec()
}

/// The file names in a folder, sorted; it must hold no sub-folders.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let e = e.unwrap();
            assert!(e.path().is_file(), "{} is not a file", e.path().display());
            e.file_name().to_string_lossy().into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Where two files first differ, for a message (a line for text, a byte offset otherwise).
fn first_difference(a: &[u8], b: &[u8]) -> String {
    if let (Ok(a), Ok(b)) = (std::str::from_utf8(a), std::str::from_utf8(b)) {
        let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
        for i in 0..la.len().max(lb.len()) {
            let (x, y) = (la.get(i), lb.get(i));
            if x != y {
                return format!("line {}: {x:?} against a fresh build's {y:?}", i + 1);
            }
        }
    }
    let at = a.iter().zip(b).position(|(x, y)| x != y);
    format!(
        "{} bytes against a fresh build's {}; first difference at byte {}",
        a.len(),
        b.len(),
        at.map_or("(none: one is a prefix of the other)".into(), |n| n
            .to_string())
    )
}

/// Loudness of a media file by ffmpeg's ebur128 filter: (integrated LUFS, true peak dBTP).
fn loudness(file: &Path) -> (f64, f64) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostats", "-hide_banner", "-i"])
        .arg(file)
        .args(["-af", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffmpeg {}: {log}", file.display());
    let summary = &log[log.rfind("Summary:").expect("an ebur128 summary")..];
    let value = |key: &str| -> f64 {
        summary
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no `{key}` in the ebur128 summary: {summary}"))
    };
    (value("I:"), value("Peak:"))
}

/// The chapters of an M4B or MP3 as ffprobe reads them: (title, start time, end time).
fn chapters_of(file: &Path) -> Vec<(String, String, String)> {
    ffprobe(file)["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["tags"]["title"].as_str().unwrap_or_default().to_string(),
                c["start_time"].as_str().unwrap().to_string(),
                c["end_time"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Builds the essay afresh into `fresh-STEP` with a new, empty cache (so the takes must be reproducible) and
/// checks the edition in `out` equals it: every file byte for byte, the M4B or MP3 by its chapters and loudness;
/// every word span in place, and the captions' word timestamps the manifest's.
fn equals_a_fresh_build(env: &Env, cell: Cell, essay: &Path, step: usize) {
    let fresh = format!("fresh-{step}");
    env.cmd()
        .env("NARRATE_CACHE", env.path(&format!("cache-{fresh}")))
        .args(["build", essay.to_str().unwrap(), "-o", &fresh])
        .args(cell.flags())
        .assert()
        .success();
    let (out, fresh) = (env.path("out"), env.path(&fresh));
    let names = listing(&out);
    assert_eq!(
        names,
        listing(&fresh),
        "step {step}: the files of the edition and of a fresh build"
    );
    let wanted = if cell.has_outputs() { 10 } else { 2 };
    let compressed = format!(".{}", cell.outputs);
    assert!(
        names.len() >= wanted && names.iter().any(|n| n == WAV),
        "step {step}: {names:?}"
    );
    for format in [".m4b", ".mp3"] {
        assert_eq!(
            names.iter().any(|n| n.ends_with(format)),
            compressed == format,
            "{names:?}"
        );
    }
    for name in &names {
        let (a, b) = (out.join(name), fresh.join(name));
        if name.ends_with(".m4b") || name.ends_with(".mp3") {
            assert_eq!(
                chapters_of(&a),
                chapters_of(&b),
                "step {step}: {name}'s chapters differ from a fresh build's"
            );
            let (la, lb) = (loudness(&a).0, loudness(&b).0);
            assert!(
                (la - lb).abs() <= 0.1,
                "step {step}: {name} measures {la} LUFS, a fresh build's {lb} LUFS"
            );
        } else {
            let (x, y) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
            assert!(
                x == y,
                "step {step}: {name} differs from a fresh build's: {}",
                first_difference(&x, &y)
            );
        }
    }
    let vtt = out.join(format!("{STEM}.vtt"));
    let words = check_words(
        &read_json(out.join(format!("{STEM}.json"))),
        cell.has_outputs().then_some(vtt.as_path()),
    );
    eprintln!("step {step}: {words} words in place");
    if cell.podcast {
        let (lufs, _) = loudness(&out.join(WAV));
        assert!(
            (lufs + 16.0).abs() <= 1.0,
            "step {step}: the WAV measures {lufs} LUFS, not -16 ± 1"
        );
        if cell.has_outputs() {
            let file = out.join(format!("{STEM}{compressed}"));
            let (lufs, peak) = loudness(&file);
            assert!(
                (lufs + 16.0).abs() <= 1.0,
                "step {step}: the {compressed} measures {lufs} LUFS, not -16 ± 1"
            );
            assert!(
                peak <= -1.0,
                "step {step}: the {compressed}'s true peak is {peak} dBTP, above the preset's -1 dBTP"
            );
        }
    }
}

/// Build, regen one segment, regen it back to take 1; after each step the edition equals a fresh build's.
fn run(cell: Cell) {
    let env = Env::new();
    if !cell.tools(&env) {
        return;
    }
    let essay = env.fixture(ESSAY);
    let path = essay.to_str().unwrap();
    let flags = cell.flags();
    let wav = env.path("out").join(WAV);
    let manifest_path = env.path("out").join(format!("{STEM}.json"));

    // 1. The first build.
    let built = narrate(&env, &["build", path, "-o", "out"], &flags);
    assert_eq!(built["synthesized"], built["segments"], "{built}");
    let first = read_json(&manifest_path);
    if cell.resample {
        assert_eq!(first["sample_rate"], 44100);
    }
    let first_wav = std::fs::read(&wav).unwrap();
    let first_samples = samples(&wav);
    equals_a_fresh_build(&env, cell, &essay, 1);

    let index = first["segments"]
        .as_array()
        .unwrap()
        .iter()
        .position(|s| s["text"].as_str().unwrap().starts_with(TARGET))
        .unwrap();
    let id = first["segments"][index]["id"].as_str().unwrap().to_string();

    // 2. A new take of one segment, as a user types it: no flags. The edition's manifest says how it was built
    //    (backend, mastering, rate, exports, formats), so the result is what a fresh build with those flags makes.
    //    NARRATE_BACKEND (tone, from the test environment) is a default for new editions; it does not switch
    //    an edition's backend.
    let out = env
        .cmd()
        .args(["regen", path, &id, "-o", "out", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let regen: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(regen["synthesized"], 1, "{regen}");
    let second = read_json(&manifest_path);
    assert_eq!(second["segments"][index]["id"], id.as_str());
    assert_eq!(second["segments"][index]["take"], 2);
    assert_ne!(
        segment_samples(&first_samples, &first, index),
        segment_samples(&samples(&wav), &second, index),
        "the new take sounds different"
    );
    equals_a_fresh_build(&env, cell, &essay, 2);

    // 3. Back to take 1: the first edition again, byte for byte.
    let back = narrate(
        &env,
        &["regen", path, &id, "--take", "1", "-o", "out"],
        &flags,
    );
    assert_eq!(back["synthesized"], 0, "{back}");
    assert_eq!(read_json(&manifest_path)["segments"][index]["take"], 1);
    assert!(
        std::fs::read(&wav).unwrap() == first_wav,
        "take 1 again gives back the first build's WAV: {}",
        first_difference(&std::fs::read(&wav).unwrap(), &first_wav)
    );
    equals_a_fresh_build(&env, cell, &essay, 3);
}

/// One test per cell, so cells run in parallel and a failure names its cell.
macro_rules! cells {
    ($($(#[$attr:meta])* $name:ident: $backend:literal, $podcast:literal, $resample:literal, $outputs:literal;)*) => {
        $(
            $(#[$attr])*
            #[test]
            fn $name() {
                run(Cell {
                    backend: $backend,
                    podcast: $podcast,
                    resample: $resample,
                    outputs: $outputs,
                });
            }
        )*
    };
}

cells! {
    //                                   backend  podcast resample outputs
    tone_none_native_plain:              "tone",   false, false, "";
    tone_none_native_outputs:            "tone",   false, false, "m4b";
    tone_none_44100_plain:               "tone",   false, true,  "";
    tone_none_44100_outputs:             "tone",   false, true,  "m4b";
    tone_podcast_native_plain:           "tone",   true,  false, "";
    tone_podcast_native_outputs:         "tone",   true,  false, "m4b";
    tone_podcast_44100_plain:            "tone",   true,  true,  "";
    tone_podcast_44100_outputs:          "tone",   true,  true,  "m4b";
    espeak_none_native_plain:            "espeak", false, false, "";
    espeak_none_native_outputs:          "espeak", false, false, "m4b";
    espeak_none_44100_plain:             "espeak", false, true,  "";
    espeak_none_44100_outputs:           "espeak", false, true,  "m4b";
    espeak_podcast_native_plain:         "espeak", true,  false, "";
    espeak_podcast_native_outputs:       "espeak", true,  false, "m4b";
    espeak_podcast_44100_plain:          "espeak", true,  true,  "";
    espeak_podcast_44100_outputs:        "espeak", true,  true,  "m4b";
    espeak_none_native_mp3:              "espeak", false, false, "mp3";
    #[cfg(feature = "piper")]
    piper_podcast_44100_outputs:         "piper",  true,  true,  "m4b";
    #[cfg(feature = "hibari")]
    hibari_none_native_plain:            "hibari", false, false, "";
    #[cfg(feature = "hibari")]
    hibari_podcast_44100_mp3:            "hibari", true,  true,  "mp3";
}

/// `--caption-words 2`: karaoke-style captions, cues of at most two written words, in order and inside their
/// segments; regen keeps the setting (it is recorded).
#[test]
fn caption_words_makes_short_cues_that_regen_keeps() {
    let env = Env::new();
    let essay = env.fixture(ESSAY);
    let path = essay.to_str().unwrap();
    narrate(
        &env,
        &["build", path, "-o", "out"],
        &["--export", "srt,vtt", "--caption-words", "2"],
    );
    let manifest_path = env.path("out").join(format!("{STEM}.json"));
    let check = || {
        let manifest = read_json(&manifest_path);
        assert_eq!(manifest["settings"]["caption_words"], 2);
        check_words(&manifest, None);
        let srt = std::fs::read_to_string(env.path("out").join(format!("{STEM}.srt"))).unwrap();
        let cues: Vec<&str> = srt.split("\n\n").filter(|c| !c.trim().is_empty()).collect();
        let segments = manifest["segments"].as_array().unwrap();
        assert!(cues.len() > segments.len(), "{srt}");
        let mut last = String::new();
        for cue in &cues {
            let lines: Vec<&str> = cue.lines().collect();
            assert!(lines[2].split_whitespace().count() <= 2, "{cue}");
            let (from, to) = lines[1].split_once(" --> ").unwrap();
            assert!(from < to && from >= last.as_str(), "{cue} after {last}");
            last = to.to_string();
        }
        let vtt = std::fs::read_to_string(env.path("out").join(format!("{STEM}.vtt"))).unwrap();
        assert_eq!(vtt.split("\n\n").count() - 1, cues.len(), "{vtt}");
    };
    check();
    let id = read_json(&manifest_path)["segments"][1]["id"]
        .as_str()
        .unwrap()
        .to_string();
    narrate(&env, &["regen", path, &id, "-o", "out"], &[]);
    check();
}
