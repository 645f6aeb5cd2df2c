//! `narrate regen`: one new take, nothing else re-synthesized, every other sample untouched.

use serde_json::Value;

use crate::support::*;

fn span(m: &Value, i: usize) -> (usize, usize) {
    let s = &m["segments"][i];
    (
        s["start_sample"].as_u64().unwrap() as usize,
        s["end_sample"].as_u64().unwrap() as usize,
    )
}

#[test]
fn regen_makes_one_new_take_and_leaves_every_other_sample_alone() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    env.build(&essay, &[]);
    let dir = env.path("audio/out/headings");
    let before = read_json(dir.join("headings.json"));
    let audio_before = samples(dir.join("headings.wav"));

    // A segment in the middle: "Dr. Okafor counted …", in chapter 2 ("Where They Start").
    let target = before["segments"]
        .as_array()
        .unwrap()
        .iter()
        .position(|s| s["text"].as_str().unwrap().starts_with("Dr. Okafor"))
        .unwrap();
    let id = before["segments"][target]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let summary = env.json(&["regen", essay.to_str().unwrap(), &id[..6]]);
    assert_eq!(summary["synthesized"], 1);
    assert_eq!(summary["regenerated"][0]["id"], id.as_str());
    assert_eq!(summary["regenerated"][0]["take"], 2);

    let after = read_json(dir.join("headings.json"));
    let audio_after = samples(dir.join("headings.wav"));
    assert_eq!(ids(&before), ids(&after));
    assert_eq!(after["segments"][target]["take"], 2);
    for i in 0..ids(&before).len() {
        let (a0, a1) = span(&before, i);
        let (b0, b1) = span(&after, i);
        if i == target {
            assert_ne!(
                audio_before[a0..a1],
                audio_after[b0..b1],
                "the new take sounds different"
            );
        } else {
            assert_eq!(
                audio_before[a0..a1],
                audio_after[b0..b1],
                "segment {i} must be untouched"
            );
        }
    }
    // Chapters up to the changed one keep their place; later ones move by exactly the change in length.
    let delta = (span(&after, target).1 - span(&after, target).0) as i64
        - (span(&before, target).1 - span(&before, target).0) as i64;
    assert_ne!(delta, 0);
    let chapter = before["segments"][target]["chapter"].as_u64().unwrap() as usize;
    for (i, (a, b)) in before["chapters"]
        .as_array()
        .unwrap()
        .iter()
        .zip(after["chapters"].as_array().unwrap())
        .enumerate()
    {
        let (a, b) = (
            a["start_sample"].as_i64().unwrap(),
            b["start_sample"].as_i64().unwrap(),
        );
        assert_eq!(b - a, if i <= chapter { 0 } else { delta }, "chapter {i}");
    }
    check_chapters(&dir.join("headings.wav"), &after);
    if have("sndfile-info") {
        check_wav_against_manifest(&dir.join("headings.wav"), &after);
    }

    // The choice is remembered in a readable file beside the essay, so a plain build keeps it.
    let takes = std::fs::read_to_string(env.path("headings.md.takes.toml")).unwrap();
    assert!(
        takes.contains(&format!("[segments.{id}]")) && takes.contains("take = 2"),
        "{takes}"
    );
    let rebuilt = env.build(&essay, &[]);
    assert_eq!(rebuilt["synthesized"], 0);
    assert_eq!(samples(dir.join("headings.wav")), audio_after);

    // Going back to take 1 re-joins from the cache: the original edition, sample for sample.
    let back = env.json(&["regen", essay.to_str().unwrap(), &id, "--take", "1"]);
    assert_eq!(back["synthesized"], 0);
    assert_eq!(samples(dir.join("headings.wav")), audio_before);
    // And the next new take is 3, not 2 again.
    let next = env.json(&["regen", essay.to_str().unwrap(), &id]);
    assert_eq!(next["regenerated"][0]["take"], 3);
    assert_eq!(next["synthesized"], 1);
}

#[test]
fn regen_prints_what_changed() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    env.build(&essay, &[]);
    let m = read_json(env.path("audio/out/headings/headings.json"));
    let id = m["segments"][2]["id"].as_str().unwrap();
    let out = env
        .cmd()
        .args(["regen", essay.to_str().unwrap(), id])
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains(&format!("{id}: take 1 → 2")), "{stdout}");
    assert!(stdout.contains("chapter marker(s) moved"), "{stdout}");
}

#[test]
fn regen_unknown_id_says_how_to_find_ids() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    env.build(&essay, &[]);
    let out = env
        .cmd()
        .args(["regen", essay.to_str().unwrap(), "zzzzzzzz"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: unknown segment id `zzzzzzzz`"),
        "{stderr}"
    );
    assert!(stderr.contains("narrate plan"), "{stderr}");
    assert!(!env.path("headings.md.takes.toml").exists());
}
