//! `narrate build` and `narrate plan` with the tone backend: outputs, chapters, cache reuse, stable ids.

use crate::support::*;

#[test]
fn build_writes_wav_and_manifest_with_a_chapter_per_heading() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    let out = env.cmd().arg("build").arg(&essay).assert().success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.contains("headings.md:11: code block skipped"),
        "{stderr}"
    );

    let dir = env.path("audio/out/headings");
    let wav = dir.join("headings.wav");
    let manifest = read_json(dir.join("headings.json"));
    let names = titles(&manifest["chapters"]);
    assert_eq!(
        names,
        vec![
            "Notes on Small Rivers",
            "Small rivers get less attention than…",
            "Where They Start",
            "Where They Go",
            "Why It Matters"
        ]
    );
    assert_eq!(manifest["author"], "Ada Fenwick");
    assert_eq!(manifest["format"], "narrate-manifest");
    check_chapters(&wav, &manifest);
    let segments = manifest["segments"].as_array().unwrap();
    assert_eq!(segments[0]["text"], "Notes on Small Rivers");
    assert!(segments.iter().all(|s| s["text"] != "not narrated"));
    // The abbreviation and the decimal stay inside their sentences.
    assert!(segments
        .iter()
        .any(|s| s["text"] == "Dr. Okafor counted 14 of them on one farm in 2019."));
    assert!(segments
        .iter()
        .any(|s| s["text"]
            == "A river 3.5 km long can drain a whole parish, e.g. the one we walked."));
    // Segments lie in order, inside their chapters, and none is empty.
    let chapters = manifest["chapters"].as_array().unwrap();
    for pair in segments.windows(2) {
        assert!(pair[0]["end_sample"].as_u64() <= pair[1]["start_sample"].as_u64());
    }
    for s in segments {
        let ch = &chapters[s["chapter"].as_u64().unwrap() as usize];
        assert!(s["start_sample"].as_u64() >= ch["start_sample"].as_u64());
        assert!(s["end_sample"].as_u64() <= ch["end_sample"].as_u64());
        assert!(s["end_sample"].as_u64() > s["start_sample"].as_u64());
    }
    if have("sndfile-info") {
        check_wav_against_manifest(&wav, &manifest);
        let info = sndfile_info(&wav);
        assert!(info.info.contains(&("IART".into(), "Ada Fenwick".into())));
    }
}

#[test]
fn plain_text_without_headings_gets_a_chapter_per_paragraph() {
    let env = Env::new();
    let essay = env.fixture("op-ed.txt");
    let summary = env.build(&essay, &["-o", "out"]);
    assert_eq!(summary["chapters"], 12, "title + 11 paragraphs");
    let manifest = read_json(env.path("out/op-ed.json"));
    assert_eq!(
        manifest["chapters"][0]["title"],
        "The Case for Slower Kitchens"
    );
    assert_eq!(
        manifest["chapters"][1]["title"],
        "Every few years someone announces that…"
    );
    check_chapters(&env.path("out/op-ed.wav"), &manifest);

    let by_heading = env.build(&essay, &["-o", "out2", "--chapters", "heading"]);
    assert_eq!(by_heading["chapters"], 2, "title + one untitled section");
}

#[test]
fn the_samples_build_with_valid_chapters() {
    let env = Env::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (file, stem) in [
        ("tide-clocks.md", "tide-clocks"),
        ("the-borrowed-ladder.txt", "the-borrowed-ladder"),
    ] {
        let essay = root.join("audio/samples").join(file);
        let summary = env.build(&essay, &[]);
        assert!(
            summary["chapters"].as_u64().unwrap() >= 4,
            "{file}: {summary}"
        );
        let dir = env.path(&format!("audio/out/{stem}"));
        let manifest = read_json(dir.join(format!("{stem}.json")));
        check_chapters(&dir.join(format!("{stem}.wav")), &manifest);
    }
}

#[test]
fn rebuild_with_nothing_changed_synthesizes_nothing() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    let first = env.build(&essay, &[]);
    assert_eq!(first["cached"], 0);
    assert!(first["synthesized"].as_u64().unwrap() > 5);
    let wav = env.path("audio/out/headings/headings.wav");
    let before = std::fs::read(&wav).unwrap();
    let again = env.build(&essay, &[]);
    assert_eq!(again["synthesized"], 0);
    assert_eq!(again["cached"], first["segments"]);
    assert_eq!(
        std::fs::read(&wav).unwrap(),
        before,
        "same inputs, same bytes"
    );
    let plan = env.json(&["plan", essay.to_str().unwrap()]);
    assert!(plan["segments"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["cached"] == true));
}

#[test]
fn editing_one_sentence_resynthesizes_only_it_and_keeps_other_ids() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    env.build(&essay, &[]);
    let before = read_json(env.path("audio/out/headings/headings.json"));
    let text = std::fs::read_to_string(&essay).unwrap();
    std::fs::write(
        &essay,
        text.replace("They deserve more.", "They deserve far more than that."),
    )
    .unwrap();
    let summary = env.build(&essay, &[]);
    assert_eq!(summary["synthesized"], 1);
    let after = read_json(env.path("audio/out/headings/headings.json"));
    let (a, b) = (ids(&before), ids(&after));
    assert_eq!(a.len(), b.len());
    let changed: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    assert_eq!(changed.len(), 1, "{a:?}\n{b:?}");
    assert_eq!(
        after["segments"][changed[0]]["text"],
        "They deserve far more than that."
    );
}

#[test]
fn plan_lists_segments_and_cache_state() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    let plan = env.json(&["plan", essay.to_str().unwrap()]);
    let segments = plan["segments"].as_array().unwrap();
    assert!(segments
        .iter()
        .all(|s| s["cached"] == false && s["id"].as_str().unwrap().len() >= 8));
    assert_eq!(plan["chapters"].as_array().unwrap().len(), 5);
    let human = env
        .cmd()
        .arg("plan")
        .arg(&essay)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let human = String::from_utf8(human).unwrap();
    assert!(human.contains("[3] Where They Start"), "{human}");
    assert!(human.contains(segments[0]["id"].as_str().unwrap()));
}

#[test]
fn results_join_in_document_order_whatever_the_job_count() {
    let env = Env::new();
    let essay = env.fixture("op-ed.txt");
    env.build(&essay, &["-o", "one", "--jobs", "1", "--cache", "c1"]);
    env.build(&essay, &["-o", "many", "--jobs", "4", "--cache", "c4"]);
    assert_eq!(
        std::fs::read(env.path("one/op-ed.wav")).unwrap(),
        std::fs::read(env.path("many/op-ed.wav")).unwrap()
    );
}

#[test]
fn pauses_and_settings_file_are_honoured() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    let short = env.build(&essay, &["-o", "short", "--pause", "section=500ms"]);
    env.essay(
        "narrate.toml",
        "pause = \"section=3s\"\nauthor = \"Someone Else\"\n",
    );
    let long = env.build(&essay, &["-o", "long"]);
    let gap =
        long["duration_seconds"].as_f64().unwrap() - short["duration_seconds"].as_f64().unwrap();
    // Four section breaks (byline to intro, and three headings), each 2.5 s longer.
    assert!(gap > 9.0 && gap < 11.0, "{gap}");
    assert_eq!(
        read_json(env.path("long/headings.json"))["author"],
        "Someone Else"
    );
    env.essay("narrate.toml", "pause_sectoin = 3000\n");
    env.cmd()
        .arg("build")
        .arg(&essay)
        .assert()
        .failure()
        .stderr(predicates::str::contains(
            "narrate.toml:1: bad settings file: unknown field `pause_sectoin`",
        ));
}

#[test]
fn cache_location_follows_flag_env_and_xdg() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    env.cmd()
        .env_remove("NARRATE_CACHE")
        .env("XDG_CACHE_HOME", env.path("xdg"))
        .arg("build")
        .arg(&essay)
        .assert()
        .success();
    assert!(env.path("xdg/narrate/segments").is_dir());
    // Another output folder: the first edition is up to date and would be left alone.
    env.build(&essay, &["--cache", "flagged", "-o", "flagged-out"]);
    assert!(env.path("flagged/segments").is_dir());
    assert!(
        !env.cache.join("segments").exists(),
        "NARRATE_CACHE is overridden by --cache"
    );
}

#[test]
fn voices_lists_backends() {
    let env = Env::new();
    let v = env.json(&["voices", "--backend", "tone"]);
    assert_eq!(v[0]["backend"], "tone");
    assert_eq!(v[0]["voices"][0]["name"], "sine");
}

/// `root` (a file or a folder) and everything under it, with the permission bits of each.
fn modes(root: &std::path::Path) -> Vec<(std::path::PathBuf, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let mut found = Vec::new();
    let mut todo = vec![root.to_owned()];
    while let Some(path) = todo.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                todo.push(entry.unwrap().path());
            }
        }
        found.push((path.clone(), mode(&path)));
    }
    found
}

#[test]
fn files_and_folders_get_the_umask_s_permissions() {
    let formats = if have("ffmpeg") { "m4b,mp3" } else { "" };
    for (umask, file_mode, dir_mode) in [
        (0o022, 0o644, 0o755),
        (0o077, 0o600, 0o700),
        (0o002, 0o664, 0o775),
    ] {
        let env = Env::new();
        env.fixture("headings.md");
        let mut build = env.cmd_with_umask(umask);
        build.args(["build", "headings.md", "-o", "out", "--export", "all"]);
        if !formats.is_empty() {
            build.args(["--format", formats]);
        }
        build.assert().success();
        // regen rewrites the edition and writes the takes file.
        let id = ids(&read_json(env.path("out/headings.json")))[2].clone();
        env.cmd_with_umask(umask)
            .args(["regen", "headings.md", &id])
            .assert()
            .success();
        let mut all = modes(&env.path("out"));
        all.extend(modes(&env.cache));
        all.extend(modes(&env.path("headings.md.takes.toml")));
        let names: Vec<String> = all
            .iter()
            .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for wanted in [
            "headings.wav",
            "headings.json",
            "headings.cue",
            "headings.srt",
        ] {
            assert!(names.iter().any(|n| n == wanted), "{wanted}: {names:?}");
        }
        if !formats.is_empty() {
            assert!(
                names.iter().any(|n| n == "headings.m4b")
                    && names.iter().any(|n| n == "headings.mp3")
            );
        }
        assert!(
            names.iter().filter(|n| n.ends_with(".wav")).count() > 10,
            "{names:?}"
        );
        let wrong: Vec<String> = all
            .iter()
            .filter(|(p, mode)| *mode != if p.is_dir() { dir_mode } else { file_mode })
            .map(|(p, mode)| format!("{} {mode:o}", p.display()))
            .collect();
        assert!(wrong.is_empty(), "umask {umask:03o}: {wrong:?}");
    }
}

#[test]
fn a_rebuild_with_nothing_changed_rewrites_nothing_and_says_so() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    let flags = ["--export", "cue,srt", "--master", "podcast", "-o", "out"];
    let mut args = vec!["build", essay.to_str().unwrap()];
    args.extend(flags);
    env.stdout(&args);
    let files = |env: &Env| -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
        let mut v: Vec<_> = std::fs::read_dir(env.path("out"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.path(), e.metadata().unwrap().modified().unwrap())
            })
            .collect();
        v.sort();
        v
    };
    let before = files(&env);
    assert_eq!(before.len(), 4, "{before:?}");
    let out = env.stdout(&args);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("is up to date"), "{out}");
    assert_eq!(files(&env), before, "nothing rewritten");
    // Asking for one more export is a change: the edition is written again, with it.
    args[3] = "cue,srt,vtt";
    let summary = env.json(&args);
    assert_eq!(summary["up_to_date"], false);
    assert!(env.path("out/headings.vtt").is_file());
    // A deleted output is a change too.
    std::fs::remove_file(env.path("out/headings.srt")).unwrap();
    let summary = env.json(&args);
    assert_eq!(summary["up_to_date"], false);
    assert!(env.path("out/headings.srt").is_file());
    assert_eq!(env.json(&args)["up_to_date"], true);
    // So is an edit of the essay, and a narrate.toml beside it.
    let text = std::fs::read_to_string(&essay).unwrap();
    std::fs::write(&essay, text.replace("Dr. Okafor", "Dr. Okafor herself")).unwrap();
    let summary = env.json(&args);
    assert_eq!(summary["up_to_date"], false);
    assert_eq!(summary["synthesized"], 1, "{summary}");
    assert_eq!(env.json(&args)["up_to_date"], true);
    env.essay("narrate.toml", "pause = \"section=2s\"\n");
    let summary = env.json(&args);
    assert_eq!(summary["up_to_date"], false);
    assert_eq!(summary["synthesized"], 0, "{summary}");
}

#[test]
fn an_output_damaged_after_the_build_is_built_again_not_called_up_to_date() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    let args = [
        "build",
        essay.to_str().unwrap(),
        "--export",
        "srt",
        "-o",
        "out",
    ];
    env.stdout(&args);
    assert_eq!(env.json(&args)["up_to_date"], true);
    // Cut short (check's `rebuild` remedy is this very command): built again, from the cache, and whole.
    let wav = env.path("out/headings.wav");
    let whole = std::fs::read(&wav).unwrap();
    std::fs::write(&wav, &whole[..whole.len() / 2]).unwrap();
    let check = env
        .cmd()
        .args(["check", wav.to_str().unwrap()])
        .output()
        .unwrap();
    assert_ne!(check.status.code(), Some(0), "{check:?}");
    let summary = env.json(&args);
    assert_eq!(summary["up_to_date"], false, "{summary}");
    assert_eq!(summary["synthesized"], 0, "{summary}");
    assert!(std::fs::read(&wav).unwrap() == whole);
    env.cmd()
        .args(["check", wav.to_str().unwrap()])
        .assert()
        .success();
    // An export overwritten in place is a change too.
    std::fs::write(env.path("out/headings.srt"), "edited by hand\n").unwrap();
    assert_eq!(env.json(&args)["up_to_date"], false);
    assert_eq!(env.json(&args)["up_to_date"], true);
}

#[test]
fn build_check_listen_listens_to_an_up_to_date_edition_too() {
    let env = Env::new();
    let essay = env.essay(
        "short.md",
        "# A Short Walk\n\nThe path runs along the river to the old mill. We stopped there for lunch.\n",
    );
    let args = [
        "build",
        essay.to_str().unwrap(),
        "--backend",
        "espeak",
        "--check",
        "listen",
    ];
    let first = env.cmd().args(args).arg("--json").output().unwrap();
    if !first.status.success() {
        let err = String::from_utf8_lossy(&first.stderr);
        assert!(
            err.contains("cannot listen") && std::env::var_os("NARRATE_REQUIRE_TOOLS").is_none(),
            "{err}"
        );
        eprintln!("skipping: no recognizer (scripts/test installs PocketSphinx)");
        return;
    }
    let again = env.json(&args);
    assert_eq!(again["up_to_date"], true, "{again}");
    assert_eq!(again["check"]["passed"], true, "{again}");
    // Without `--check listen`, an up-to-date edition is not checked again.
    let plain = env.json(&args[..4]);
    assert_eq!(plain["up_to_date"], true, "{plain}");
    assert!(plain["check"].is_null(), "{plain}");
}

/// How many times the traced process opened a file named as `path` is, by any path to it (strace's `open` lines
/// that name it and did not fail).
fn opened(trace: &str, path: &std::path::Path) -> usize {
    let name = path.file_name().unwrap().to_string_lossy();
    let (bare, under) = (format!("\"{name}\""), format!("/{name}\""));
    trace
        .lines()
        .filter(|l| l.contains("open") && (l.contains(&bare) || l.contains(&under)))
        .filter(|l| !l.contains("= -1"))
        .count()
}

#[test]
fn an_up_to_date_build_reads_the_essay_its_takes_and_its_manifest_once_each() {
    if !have("strace") {
        return;
    }
    let env = Env::new();
    let essay = env.fixture("headings.md");
    env.build(&essay, &["--export", "srt"]);
    let id = env.json(&["plan", "headings.md"])["segments"][2]["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.cmd()
        .args(["regen", "headings.md", &id, "--export", "srt"])
        .assert()
        .success();
    let takes = env.path("headings.md.takes.toml");
    assert!(takes.is_file());
    let manifest = env.path("audio/out/headings/headings.json");
    // Named by another path than regen's (the inputs key names the path), so the plan key decides; then by the
    // same path, so the inputs key does. Each input is read once either way.
    let same = std::path::PathBuf::from("headings.md");
    for (round, named) in [("plan key", &essay), ("inputs key", &same)] {
        let trace = env.path("trace.txt");
        let mut cmd = env.std_cmd();
        let narrate = cmd.get_program().to_owned();
        let mut traced = std::process::Command::new("strace");
        traced
            .args(["-f", "-qq", "-e", "trace=open,openat", "-o"])
            .arg(&trace)
            .arg(narrate)
            .args(["build"])
            .arg(named)
            .args(["--export", "srt", "--json"]);
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => traced.env(k, v),
                None => traced.env_remove(k),
            };
        }
        traced.current_dir(env.path("."));
        let out = traced.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary["up_to_date"], true, "{round}: {summary}");
        let trace = std::fs::read_to_string(&trace).unwrap();
        for file in [&essay, &takes, &manifest] {
            assert_eq!(
                opened(&trace, file),
                1,
                "{round}: {} opened other than once",
                file.display()
            );
        }
        let _ = &mut cmd;
    }
}
