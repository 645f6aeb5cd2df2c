//! Bad input: one line naming the problem, a non-zero exit, no panic, and nothing half-written left behind.

use std::path::Path;

use crate::support::*;

/// Runs a failing build and returns its stderr, checking the common promises.
fn fails(env: &Env, args: &[&str], out_dir: &Path, stem: &str) -> String {
    let output = env.cmd().args(args).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = one_error(&output);
    assert!(
        !out_dir.join(format!("{stem}.wav")).exists(),
        "no output under the final name"
    );
    if let Ok(entries) = std::fs::read_dir(out_dir) {
        let names: Vec<String> = entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into())
            .collect();
        assert!(
            names.iter().all(|n| !n.ends_with(".partial")),
            "temp files left: {names:?}"
        );
    }
    stderr
}

#[test]
fn missing_file() {
    let env = Env::new();
    let err = fails(
        &env,
        &["build", "nope.md"],
        &env.path("audio/out/nope"),
        "nope",
    );
    assert!(
        err.contains("nope.md: cannot read the essay") && err.contains("No such file"),
        "{err}"
    );
}

#[test]
fn empty_file() {
    let env = Env::new();
    env.essay("blank.txt", "  \n\n\t\n");
    let err = fails(
        &env,
        &["build", "blank.txt"],
        &env.path("audio/out/blank"),
        "blank",
    );
    assert!(err.contains("blank.txt: the essay is empty"), "{err}");
    env.essay("onlycode.md", "```\ncode\n```\n");
    let err = fails(
        &env,
        &["build", "onlycode.md"],
        &env.path("audio/out/onlycode"),
        "onlycode",
    );
    assert!(err.contains("onlycode.md: the essay is empty"), "{err}");
}

#[test]
fn invalid_utf8_names_the_line() {
    let env = Env::new();
    std::fs::write(env.path("latin1.txt"), b"Title\n\nCaf\xe9 society.\n").unwrap();
    let err = fails(
        &env,
        &["build", "latin1.txt"],
        &env.path("audio/out/latin1"),
        "latin1",
    );
    assert!(err.contains("latin1.txt:3: not valid UTF-8"), "{err}");
}

#[test]
fn binary_file() {
    let env = Env::new();
    std::fs::write(env.path("image.md"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    let err = fails(
        &env,
        &["build", "image.md"],
        &env.path("audio/out/image"),
        "image",
    );
    assert!(
        err.contains("image.md:3: looks like a binary file"),
        "{err}"
    );
}

#[test]
fn unwritable_output_directory() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    env.essay("a-file", "not a directory");
    let out = env.path("a-file/sub");
    let err = fails(
        &env,
        &[
            "build",
            essay.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        &out,
        "headings",
    );
    assert!(
        err.contains("a-file/sub: cannot write output here"),
        "{err}"
    );
    assert!(
        !env.cache.join("segments").exists(),
        "fails before synthesizing anything"
    );
}

#[test]
fn espeak_not_installed() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    let empty = env.path("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    let out = env
        .cmd()
        .env("PATH", &empty)
        .args(["build", essay.to_str().unwrap(), "--backend", "espeak"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        stderr.starts_with("error: backend `espeak` is not available: espeak-ng is not installed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: install it with `apt-get install espeak-ng`"),
        "{stderr}"
    );
    assert!(!env.path("audio/out/headings/headings.wav").exists());
}

#[test]
fn unknown_backend_and_voice() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    let err = fails(
        &env,
        &["build", essay.to_str().unwrap(), "--backend", "nope"],
        &env.path("audio/out/headings"),
        "headings",
    );
    assert!(
        err.contains("unknown backend `nope`; choose from") && err.contains("espeak"),
        "{err}"
    );
}

#[test]
fn a_failed_build_leaves_the_earlier_edition_intact() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    env.build(&essay, &[]);
    let wav = env.path("audio/out/headings/headings.wav");
    let json = env.path("audio/out/headings/headings.json");
    let (wav_before, json_before) = (std::fs::read(&wav).unwrap(), std::fs::read(&json).unwrap());
    // Edit the essay, then fail: the backend cannot run.
    std::fs::write(&essay, "# New\n\nEntirely new text.\n").unwrap();
    let empty = env.path("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    env.cmd()
        .env("PATH", &empty)
        .args(["build", essay.to_str().unwrap(), "--backend", "espeak"])
        .assert()
        .code(2);
    assert_eq!(std::fs::read(&wav).unwrap(), wav_before);
    assert_eq!(std::fs::read(&json).unwrap(), json_before);
}

#[test]
fn a_corrupt_cache_entry_is_moved_aside_and_made_again() {
    let env = Env::new();
    let essay = env.fixture("headings.md");
    env.build(&essay, &["-o", "out"]);
    let m = read_json(env.path("out/headings.json"));
    let key = m["segments"][1]["cache_key"].as_str().unwrap();
    let cached = env
        .cache
        .join("segments")
        .join(&key[..2])
        .join(format!("{key}.wav"));
    std::fs::write(&cached, b"RIFF garbage").unwrap();
    let out = env
        .cmd()
        .args(["build", essay.to_str().unwrap(), "-o", "out2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "cached audio of segment {}",
            m["segments"][1]["id"].as_str().unwrap()
        )) && stderr.contains("quarantine"),
        "{stderr}"
    );
    assert_eq!(
        samples(env.path("out/headings.wav")),
        samples(env.path("out2/headings.wav"))
    );
}
