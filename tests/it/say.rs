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
    let built = env.build(&essay, &[]);
    assert_eq!(built["cached"], 2, "{built}");
    // The preview is joined as the edition is (trimmed, faded, the plan's pause between): it is the edition's
    // stretch from the first segment's speech to the end of the second's.
    let manifest = read_json(env.path("audio/out/headings/headings.json"));
    let span = |i: usize| {
        let s = &manifest["segments"][i];
        (
            s["start_sample"].as_u64().unwrap(),
            s["end_sample"].as_u64().unwrap(),
        )
    };
    let preview = samples(env.path("preview.wav"));
    let edition = samples(env.path("audio/out/headings/headings.wav"));
    let (start, _) = span(3);
    let (_, end) = span(4);
    let stretch = &edition[start as usize..end as usize];
    assert!(
        preview.len() >= stretch.len() && preview.len() - stretch.len() < 22_050 / 10,
        "{} samples, the edition's stretch {}",
        preview.len(),
        stretch.len()
    );
    let offset = preview
        .windows(64)
        .position(|w| w == &stretch[..64])
        .expect("the preview holds the edition's audio");
    assert_eq!(&preview[offset..offset + stretch.len()], stretch);

    let mut say = env.cmd();
    say.args(["say", "headings.md", "nosuchid", "-o", "x.wav"]);
    let error = error_of(say);
    assert!(error.contains("narrate plan"), "{error}");
    assert!(!env.path("x.wav").exists());
}
