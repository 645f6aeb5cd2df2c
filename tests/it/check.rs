//! `narrate check`: passes a clean edition, and names what was damaged in one.

use std::path::Path;

use serde_json::Value;

use crate::support::*;

/// Byte offset of a RIFF chunk's body in a WAV file.
fn chunk(bytes: &[u8], id: &[u8; 4]) -> usize {
    let mut at = 12;
    loop {
        let size = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if &bytes[at..at + 4] == id {
            return at + 8;
        }
        at += 8 + size + size % 2;
    }
}

/// Rewrites the samples `from..to` of a 16-bit mono WAV in place.
fn damage(wav: &Path, from: usize, to: usize, value: impl Fn(usize) -> i16) {
    let mut bytes = std::fs::read(wav).unwrap();
    let data = chunk(&bytes, b"data");
    for n in from..to {
        bytes[data + 2 * n..data + 2 * n + 2].copy_from_slice(&value(n).to_le_bytes());
    }
    std::fs::write(wav, bytes).unwrap();
}

fn check(env: &Env, wav: &str) -> (i32, Value) {
    let out = env.cmd().args(["check", wav, "--json"]).output().unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

fn kinds_for(report: &Value, id: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["segment"] == id)
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

/// A built edition and the id and span of its longest segment.
fn edition(env: &Env) -> (Value, String, usize, usize) {
    let essay = env.fixture("op-ed.txt");
    let summary = env.build(&essay, &["-o", "out"]);
    assert_eq!(summary["check"]["passed"], true, "{summary}");
    let m = read_json(env.path("out/op-ed.json"));
    let s = m["segments"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|s| s["end_sample"].as_u64().unwrap() - s["start_sample"].as_u64().unwrap())
        .unwrap()
        .clone();
    let (a, b) = (
        s["start_sample"].as_u64().unwrap() as usize,
        s["end_sample"].as_u64().unwrap() as usize,
    );
    (m, s["id"].as_str().unwrap().to_string(), a, b)
}

#[test]
fn a_clean_edition_passes() {
    let env = Env::new();
    edition(&env);
    let out = env.stdout(&["check", "out/op-ed.wav"]);
    assert!(
        out.contains("out/op-ed.wav: passed") && out.contains("LUFS"),
        "{out}"
    );
}

#[test]
fn a_segment_replaced_by_silence_is_named_with_the_regen_command() {
    let env = Env::new();
    let (_, id, a, b) = edition(&env);
    damage(&env.path("out/op-ed.wav"), a, b, |_| 0);
    let (code, report) = check(&env, "out/op-ed.wav");
    assert_eq!(code, 1);
    assert_eq!(kinds_for(&report, &id), vec!["silent"]);
    let human = env
        .cmd()
        .args(["check", "out/op-ed.json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains(&format!(
            "narrate regen {} {id}",
            env.path("op-ed.txt").display()
        )),
        "{text}"
    );
}

#[test]
fn a_clipped_segment_is_named() {
    let env = Env::new();
    let (_, id, a, b) = edition(&env);
    let mid = (a + b) / 2;
    damage(&env.path("out/op-ed.wav"), mid, mid + 40, |n| {
        if n % 20 < 10 {
            32767
        } else {
            -32768
        }
    });
    let (code, report) = check(&env, "out/op-ed.wav");
    assert_eq!(code, 1);
    assert!(
        kinds_for(&report, &id).contains(&"clipped".to_string()),
        "{report}"
    );
}

#[test]
fn a_segment_cut_short_is_named() {
    let env = Env::new();
    let (m, id, _, _) = edition(&env);
    // Cut the cached audio of the segment to a tenth and join again: the edition is now short of it.
    let key = m["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id.as_str())
        .unwrap()["cache_key"]
        .as_str()
        .unwrap()
        .to_string();
    let cached = env
        .cache
        .join("segments")
        .join(&key[..2])
        .join(format!("{key}.wav"));
    // The cache keeps only whole, checked entries, so the damage is another whole entry in its place: the
    // shortest segment's audio (a heading), as a cache mix-up would leave it.
    let shortest = m["segments"]
        .as_array()
        .unwrap()
        .iter()
        .min_by_key(|s| s["end_sample"].as_u64().unwrap() - s["start_sample"].as_u64().unwrap())
        .unwrap()["cache_key"]
        .as_str()
        .unwrap()
        .to_string();
    let short = env
        .cache
        .join("segments")
        .join(&shortest[..2])
        .join(format!("{shortest}.wav"));
    assert!(samples(&short).len() * 5 < samples(&cached).len());
    std::fs::copy(&short, &cached).unwrap();
    std::fs::remove_dir_all(env.path("out")).unwrap();
    let summary = env.build(&env.path("op-ed.txt"), &["-o", "out"]);
    assert_eq!(summary["check"]["passed"], false);
    let (code, report) = check(&env, "out/op-ed.wav");
    assert_eq!(code, 1);
    assert_eq!(kinds_for(&report, &id), vec!["truncated"], "{report}");
}

#[test]
fn a_removed_chapter_marker_is_named() {
    let env = Env::new();
    let (m, _, _, _) = edition(&env);
    let wav = env.path("out/op-ed.wav");
    let mut bytes = std::fs::read(&wav).unwrap();
    let cue = chunk(&bytes, b"cue ");
    let count = m["chapters"].as_array().unwrap().len() as u32;
    bytes[cue..cue + 4].copy_from_slice(&(count - 1).to_le_bytes());
    std::fs::write(&wav, bytes).unwrap();
    let (code, report) = check(&env, "out/op-ed.wav");
    assert_eq!(code, 1);
    let chapter: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "chapter")
        .collect();
    assert_eq!(chapter.len(), 1, "{report}");
    assert!(chapter[0]["message"]
        .as_str()
        .unwrap()
        .contains("no chapter marker"));
}
