//! `narrate say`: a preview of some segments, rendered through the cache (system voices are in system.rs).

use crate::support::*;

#[test]
fn say_writes_a_preview_of_the_chosen_segments_and_a_build_reuses_them() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    let plan = env.json(&["plan", "headings.md"]);
    let segments = plan["segments"].as_array().unwrap();
    let (first, second) = (&segments[3], &segments[4]);
    let ids = [
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    ];
    env.cmd()
        .args([
            "say",
            "headings.md",
            &ids[0][..5],
            ids[1],
            "-o",
            "preview.wav",
        ])
        .assert()
        .success();
    // Two tone segments (40 ms a character of text, each wrapped in 60 ms of silence) and the pause between.
    let chars = |s: &serde_json::Value| {
        s["spoken"]
            .as_str()
            .unwrap()
            .chars()
            .filter(|c| !c.is_whitespace())
            .count() as f64
    };
    let pause = first["pause_after_ms"].as_f64().unwrap() / 1000.0;
    let expected = 0.040 * (chars(first) + chars(second)) + 4.0 * 0.060 + pause;
    let seconds = samples(env.path("preview.wav")).len() as f64 / 22_050.0;
    assert!(
        (seconds - expected).abs() < 0.01,
        "{seconds} s, expected {expected} s"
    );

    let built = env.build(&essay, &[]);
    assert_eq!(built["cached"], 2, "{built}");

    let mut say = env.cmd();
    say.args(["say", "headings.md", "nosuchid", "-o", "x.wav"]);
    let error = error_of(say);
    assert!(error.contains("narrate plan"), "{error}");
    assert!(!env.path("x.wav").exists());
}
