//! System voices through speech-dispatcher (the `tts` crate): listed by `narrate voices`, spoken by
//! `narrate say`, refused for builds because speech-dispatcher cannot render to a file.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::support::*;

/// A private speech-dispatcher: libspeechd spawns one per XDG_RUNTIME_DIR, so the tests never touch a user's
/// own; it is stopped when the test ends, pass or fail.
struct Runtime(PathBuf);

impl Drop for Runtime {
    fn drop(&mut self) {
        let pid =
            std::fs::read_to_string(self.0.join("speech-dispatcher/pid/speech-dispatcher.pid"))
                .unwrap_or_default();
        if let Ok(pid) = pid.trim().parse::<u32>() {
            // A daemon stuck on a missing sound device ignores SIGTERM; its output modules are its children.
            let pid = pid.to_string();
            let _ = std::process::Command::new("pkill")
                .args(["-KILL", "-P", &pid])
                .status();
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status();
        }
    }
}

#[test]
fn system_voices_are_listed_and_only_previewed() {
    if !have("speech-dispatcher") {
        return;
    }
    let env = Env::new();
    let runtime = Runtime(env.path("runtime"));
    std::fs::create_dir(&runtime.0).unwrap();
    std::fs::set_permissions(&runtime.0, std::fs::Permissions::from_mode(0o700)).unwrap();
    let cmd = || {
        let mut c = env.cmd();
        c.env("XDG_RUNTIME_DIR", &runtime.0);
        c
    };

    let out = cmd()
        .args(["voices", "--backend", "system", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let listed: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(listed[0]["available"], true, "{listed}");
    let voices = listed[0]["voices"].as_array().unwrap();
    assert!(voices.len() > 10, "{} voices", voices.len());
    assert!(
        voices
            .iter()
            .any(|v| v["language"].as_str().unwrap().starts_with("en")),
        "no English system voice"
    );

    // The full listing says what the backend cannot do, and keeps thousands of voices to a few lines.
    let all = String::from_utf8(
        cmd()
            .arg("voices")
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    )
    .unwrap();
    let line = all.lines().find(|l| l.starts_with("system")).unwrap();
    assert!(line.contains("preview only"), "{line}");
    assert!(
        all.contains("more: narrate voices --backend system"),
        "{all}"
    );

    env.fixture("headings.md");
    let mut build = cmd();
    build.args(["build", "headings.md", "--backend", "system"]);
    let error = error_of(build);
    assert!(error.contains("preview only"), "{error}");

    // Speaking needs a sound device: with one it plays; without one speech-dispatcher never finishes, and
    // `say` says so instead of hanging.
    let plan = env.json(&["plan", "headings.md"]);
    let id = plan["segments"][2]["id"].as_str().unwrap();
    let out = cmd()
        .args(["say", "headings.md", id, "--backend", "system"])
        .output()
        .unwrap();
    if !out.status.success() {
        assert!(one_error(&out).contains("sound device"), "{out:?}");
    }
}
