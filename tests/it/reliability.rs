//! Nothing lost: faults injected through the binary. Damaged cache entries are found, moved aside and made again;
//! a failed or killed build leaves the previous edition whole; two regens at once both keep their take; a full
//! disk poisons nothing; bad essays get one line each, in bounded time and memory.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

const ESSAY: &str =
    "# The Lock Keeper\n\n## Morning\n\nThe lock keeper opens the upper gate at seven. \
Water climbs the green stones slowly. A barge waits with its engine idling.\n\n## Noon\n\nShe eats \
bread on the bench by the sluice. Two children count the fish that pass. Nobody is in a hurry.\n\n\
## Evening\n\nThe last boat goes through at dusk. Then the gates are chained until morning.\n";

/// Every file in `dir` (not in sub-folders) with its bytes, sorted by name.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Names of the edition's files.
fn names(files: &[(String, Vec<u8>)]) -> Vec<&str> {
    files.iter().map(|f| f.0.as_str()).collect()
}

fn cache_entries(cache: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for shard in std::fs::read_dir(cache.join("segments")).unwrap().flatten() {
        for e in std::fs::read_dir(shard.path()).unwrap().flatten() {
            out.push(e.path());
        }
    }
    out.sort();
    out
}

#[test]
fn damaged_cache_entries_are_quarantined_and_made_again() {
    let env = Env::new();
    let essay = env.essay("lock.md", ESSAY);
    env.build(&essay, &[]);
    let edition = env.path("audio/out/lock/lock.wav");
    let first = std::fs::read(&edition).unwrap();
    let entries = cache_entries(&env.cache);
    assert_eq!(entries.len(), 12);
    // Every kind of damage: a flipped sample, a cut-off file, noise under a good header (another program's
    // WAV, no checksum), a wrong-rate header, an empty file, a folder where the entry should be.
    let flip = |p: &Path| {
        let mut b = std::fs::read(p).unwrap();
        b[300] ^= 0x55;
        std::fs::write(p, b).unwrap();
    };
    let cut = |p: &Path| {
        let b = std::fs::read(p).unwrap();
        std::fs::write(p, &b[..b.len() / 2]).unwrap();
    };
    let foreign = |p: &Path| {
        let audio = narrate::testing::Audio {
            sample_rate: 22_050,
            samples: (0..30_000u32)
                .map(|n| (n.wrapping_mul(2_654_435_761) >> 18) as i16)
                .collect(),
            words: None,
        };
        let mut f = std::fs::File::create(p).unwrap();
        narrate::testing::write_to(&mut f, &audio).unwrap();
    };
    let rate = |p: &Path| {
        let mut b = std::fs::read(p).unwrap();
        b[24..28].copy_from_slice(&96_000u32.to_le_bytes());
        std::fs::write(p, b).unwrap();
    };
    let empty = |p: &Path| std::fs::write(p, b"").unwrap();
    let folder = |p: &Path| {
        std::fs::remove_file(p).unwrap();
        std::fs::create_dir(p).unwrap();
    };
    let damage: [&dyn Fn(&Path); 6] = [&flip, &cut, &foreign, &rate, &empty, &folder];
    for (hurt, entry) in damage.iter().zip(&entries) {
        hurt(entry);
    }

    // `cache verify` names each one and exits 1; `plan` no longer calls the cheaply visible ones cached.
    let out = env.cmd().args(["cache", "verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("12 segments read, 6 damaged"), "{report}");
    for why in [
        "does not match its checksum",
        "is cut off",
        "has no checksum",
        "is not a WAV file",
        "is not a file",
    ] {
        assert!(report.contains(why), "{why}: {report}");
    }
    // The cut-off, foreign, empty and folder entries are seen without reading them.
    let plan = env.json(&["plan", "lock.md"]);
    assert_eq!(plan["cached"], 8, "{plan}");

    // The edition on disk is whole and up to date: a build leaves it alone. One into another folder needs the
    // segments: it moves each bad one aside with one warning line, makes it again, and the edition is as before.
    let out = env
        .cmd()
        .args(["build", "lock.md", "-o", "again"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("warning: ").count(), 6, "{stderr}");
    assert!(
        stderr.contains("moved to") && stderr.contains("quarantine"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(env.path("again/lock.wav")).unwrap(), first);
    assert_eq!(std::fs::read(&edition).unwrap(), first);
    let report = env.stdout(&["cache", "verify"]);
    assert!(report.contains("12 segments read, 0 damaged"), "{report}");
    env.cmd()
        .args(["check", "audio/out/lock/lock.wav"])
        .assert()
        .success();
    assert_eq!(
        std::fs::read_dir(env.cache.join("quarantine"))
            .unwrap()
            .count(),
        6
    );

    // --repair moves damage aside without a build.
    flip(&cache_entries(&env.cache)[0]);
    let repaired = env.stdout(&["cache", "verify", "--repair"]);
    assert!(
        repaired.contains("1 damaged; moved to quarantine"),
        "{repaired}"
    );
    assert!(env
        .stdout(&["cache", "verify"])
        .contains("11 segments read, 0 damaged"));
}

#[test]
fn a_failed_format_step_leaves_the_previous_edition_whole() {
    let env = Env::new();
    let essay = env.essay("lock.md", ESSAY);
    env.build(&essay, &["--export", "all"]);
    let dir = env.path("audio/out/lock");
    let before = files(&dir);
    // An ffmpeg that fails, first on the PATH.
    let bin = env.path("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("ffmpeg");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'ffmpeg: simulated encoder failure' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    // A new version of the essay, with an MP3 asked for.
    env.essay("lock.md", &ESSAY.replace("seven", "eight"));
    let mut cmd = env.cmd();
    cmd.env("PATH", &path)
        .args(["build", "lock.md", "--export", "all", "--format", "mp3"]);
    let error = error_of(cmd);
    assert!(error.contains("ffmpeg"), "{error}");
    assert_eq!(files(&dir), before, "the old edition changed");
    env.cmd()
        .args(["check", "audio/out/lock/lock.wav"])
        .assert()
        .success();
}

#[test]
fn an_edition_killed_at_any_rename_is_the_old_or_the_new_one_whole() {
    if !have("ffmpeg") {
        return;
    }
    let env = Env::new();
    env.essay("lock.md", ESSAY);
    // The same path as the killed builds give (the manifest records it).
    let essay = Path::new("lock.md");
    let flags = ["--format", "m4b", "--export", "all"];
    let dir = env.path("audio/out/lock");
    // The new edition as an uninterrupted build makes it, then the old one.
    env.essay("lock.md", &ESSAY.replace("seven", "eight"));
    env.build(essay, &flags);
    let new = files(&dir);
    std::fs::copy(dir.join("lock.epub"), env.path("new.epub")).unwrap();
    env.essay("lock.md", ESSAY);
    env.build(essay, &flags);
    let old = files(&dir);
    let outputs = names(&old).len();
    assert_eq!(outputs, 12, "{:?}", names(&old));
    assert_ne!(old, new);
    env.essay("lock.md", &ESSAY.replace("seven", "eight"));
    for k in 1..=outputs {
        // Back to the old edition, then the new build, killed right after its k-th rename.
        for (name, bytes) in &old {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let out = env
            .cmd()
            .env("NARRATE_TEST_KILL_AFTER_RENAME", k.to_string())
            .args(["build", "lock.md"])
            .args(flags)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "rename {k}: the build was not killed"
        );
        // Whatever a reader finds is settled into one whole edition first: here the new one (its journal was
        // written before the first rename).
        env.cmd()
            .args(["check", "audio/out/lock/lock.wav"])
            .assert()
            .success();
        let now = files(&dir);
        assert_eq!(names(&now), names(&new), "rename {k}");
        for ((name, a), (_, b)) in now.iter().zip(&new) {
            if name.ends_with(".epub") {
                assert!(
                    same_epub(&dir.join(name), &env.path("new.epub")),
                    "rename {k}: {name} is not the new edition's"
                );
            } else if !name.ends_with(".m4b") {
                assert!(a == b, "rename {k}: {name} is not the new edition's");
            }
        }
        let hidden: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .collect();
        assert!(hidden.is_empty(), "rename {k}: staging left behind");
    }
}

/// The takes file beside `lock.md` and the takes the edition's manifest says it used, by segment id.
fn takes_agree(env: &Env) -> bool {
    let manifest = read_json(env.path("audio/out/lock/lock.json"));
    let takes = std::fs::read_to_string(env.path("lock.md.takes.toml")).unwrap_or_default();
    let takes: toml::Table = toml::from_str(&takes).unwrap();
    manifest["segments"].as_array().unwrap().iter().all(|s| {
        let id = s["id"].as_str().unwrap();
        // A segment the takes file does not name is on take 1.
        let file_take = takes
            .get("segments")
            .and_then(|t| t.get(id))
            .and_then(|e| e.get("take"))
            .and_then(toml::Value::as_integer)
            .unwrap_or(1);
        s["take"].as_i64() == Some(file_take)
    })
}

/// `lock.md` built with `flags`; its path and the id of its segment number `n`.
fn lock_edition(env: &Env, flags: &[&str], n: usize) -> (PathBuf, String) {
    let essay = env.essay("lock.md", ESSAY);
    env.build(&essay, flags);
    let id = env.json(&["plan", "lock.md"])["segments"][n]["id"]
        .as_str()
        .unwrap()
        .to_string();
    (essay, id)
}

#[test]
fn a_regen_whose_third_rename_fails_leaves_the_edition_and_takes_file_as_they_were() {
    let env = Env::new();
    let flags = ["--export", "srt,vtt,cue"];
    let (_, id) = lock_edition(&env, &flags, 3);
    // A first regen, so that there is a takes file to keep.
    env.cmd()
        .args(["regen", "lock.md", &id])
        .args(flags)
        .assert()
        .success();
    let dir = env.path("audio/out/lock");
    let before = files(&dir);
    let takes_before = std::fs::read(env.path("lock.md.takes.toml")).unwrap();
    // The third rename fails (as a full disk or an immutable file makes it fail): renames one and two are undone.
    let out = env
        .cmd()
        .env("NARRATE_TEST_FAIL_RENAME", "3")
        .args(["regen", "lock.md", &id])
        .args(flags)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let third = ["lock.cue", "lock.srt", "lock.vtt"]
        .iter()
        .find(|n| stderr.contains(&format!("audio/out/lock/{n}")));
    assert!(third.is_some(), "the error names the file: {stderr}");
    assert_eq!(files(&dir), before, "the previous edition, byte for byte");
    assert_eq!(
        std::fs::read(env.path("lock.md.takes.toml")).unwrap(),
        takes_before
    );
    // Nothing left half-written, here or beside the essay.
    let hidden: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .chain(std::fs::read_dir(env.path(".")).unwrap())
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        // The essay's lock file stays (an empty file narrate locks, never a half-written one).
        .filter(|n| {
            n.starts_with('.') && n != ".config" && n != ".cache" && !n.ends_with(".narrate.lock")
        })
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
    // A real blocker: a folder where an export goes. The error names it; the edition stays as it was.
    std::fs::remove_file(dir.join("lock.vtt")).unwrap();
    std::fs::create_dir_all(dir.join("lock.vtt/inside")).unwrap();
    let before = files(&dir);
    let out = env
        .cmd()
        .args(["regen", "lock.md", &id])
        .args(flags)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("lock.vtt"), "{stderr}");
    assert_eq!(files(&dir), before);
    assert_eq!(
        std::fs::read(env.path("lock.md.takes.toml")).unwrap(),
        takes_before
    );
    assert!(takes_agree(&env));
}

#[test]
fn a_regen_killed_at_any_rename_leaves_edition_and_takes_file_agreeing() {
    let env = Env::new();
    let flags = ["--export", "srt,vtt"];
    let (essay, id) = lock_edition(&env, &flags, 4);
    // WAV, two exports, the takes file and the manifest: five renames.
    for k in 1..=5 {
        let out = env
            .cmd()
            .env("NARRATE_TEST_KILL_AFTER_RENAME", k.to_string())
            .args(["regen", "lock.md", &id])
            .args(flags)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "rename {k}: the regen was not killed"
        );
        // The next command finishes the commit first: the edition and the takes file agree, and a build finds
        // nothing to do (it does not quietly go back to the old take).
        let summary = env.build(&essay, &flags);
        assert_eq!(summary["up_to_date"], true, "rename {k}: {summary}");
        assert!(takes_agree(&env), "rename {k}");
        let manifest = read_json(env.path("audio/out/lock/lock.json"));
        let take = manifest["segments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id.as_str())
            .unwrap()["take"]
            .clone();
        assert_eq!(
            take,
            k as u64 + 1,
            "rename {k}: the killed regen's take is kept"
        );
    }
}

#[test]
fn two_regens_at_once_both_keep_their_take() {
    let env = Env::new();
    let essay = env.essay("lock.md", ESSAY);
    env.build(&essay, &[]);
    let plan = env.json(&["plan", "lock.md"]);
    let ids: Vec<String> = plan["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    for trial in 0..20 {
        let (a, b) = (&ids[2 + trial % 4], &ids[7 + trial % 4]);
        let spawn = |id: &str| {
            env.std_cmd()
                .args(["regen", "lock.md", id, "--quiet"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (pa, pb) = (spawn(a), spawn(b));
        for p in [pa, pb] {
            let out = p.wait_with_output().unwrap();
            assert!(out.status.success(), "trial {trial}: {out:?}");
        }
        let takes = std::fs::read_to_string(env.path("lock.md.takes.toml")).unwrap();
        let table: toml::Value = toml::from_str(&takes).unwrap();
        let latest = |id: &str| table["segments"][id]["latest"].as_integer().unwrap();
        let expected = 2 + (trial / 4) as i64;
        assert_eq!(latest(a), expected, "trial {trial}: {takes}");
        assert_eq!(latest(b), expected, "trial {trial}: {takes}");
        // The edition on disk is the one these takes make: a build has nothing to do.
        let rebuilt = env.build(&essay, &[]);
        assert_eq!(rebuilt["synthesized"], 0, "trial {trial}: {rebuilt}");
        assert_eq!(rebuilt["up_to_date"], true, "trial {trial}: {rebuilt}");
    }
}

#[test]
fn a_full_disk_poisons_nothing() {
    // A 160 KB file system for the cache (a mount namespace of its own: no root needed where user namespaces
    // are allowed), and a full $TMPDIR for espeak-ng.
    let probe = Command::new("unshare")
        .args([
            "-rm",
            "sh",
            "-c",
            "mount -t tmpfs -o size=16k tmpfs /tmp && echo ok",
        ])
        .output();
    let usable = probe
        .as_ref()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("ok"));
    if !usable {
        // The one case a test here may skip: the kernel or container forbids a private mount namespace.
        eprintln!("skipped: cannot mount a small file system here (unshare -rm): {probe:?}");
        return;
    }
    let env = Env::new();
    env.essay("lock.md", ESSAY);
    let full = env.path("full");
    std::fs::create_dir(&full).unwrap();
    let narrate = assert_cmd::cargo::cargo_bin("narrate");
    let script = format!(
        r#"mount -t tmpfs -o size=160k tmpfs "{full}" || exit 90
# Fill the disk espeak-ng's $TMPDIR is on.
head -c 200000 /dev/zero > "{full}/filler" 2>/dev/null
TMPDIR="{full}" "{narrate}" build lock.md --backend espeak --cache espeak-cache -o espeak --quiet; echo "espeak-exit=$?"
TMPDIR="{full}" "{narrate}" check espeak/lock.wav >/dev/null; echo "espeak-check=$?"
rm "{full}/filler"
"{narrate}" build lock.md --cache "{full}/cache" --quiet; echo "full-exit=$?"
"{narrate}" cache verify --cache "{full}/cache"; echo "verify-exit=$?"
"#,
        full = full.display(),
        narrate = narrate.display()
    );
    let out = Command::new("unshare")
        .args(["-rm", "sh", "-c", &script])
        .current_dir(env.dir.path())
        .env("NARRATE_BACKEND", "tone")
        .env("XDG_CONFIG_HOME", env.path("config"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let all = format!("{stdout}\n{stderr}");
    // espeak-ng writes its audio through a pipe, not $TMPDIR: a full $TMPDIR changes nothing.
    assert!(
        stdout.contains("espeak-exit=0") && stdout.contains("espeak-check=0"),
        "{all}"
    );
    // The cache's disk fills: the build fails with one line naming the cache, and what is in it is whole.
    assert!(stdout.contains("full-exit=2"), "{all}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{all}");
    assert!(errors[0].contains("No space left on device"), "{all}");
    assert!(
        stdout.contains("verify-exit=0") && stdout.contains(", 0 damaged"),
        "{all}"
    );
}

/// `plan` of an essay file, under a 4 GB address-space limit and a 300 s ceiling.
pub(crate) fn plan_bounded(env: &Env, essay: &str) -> std::process::Output {
    let narrate = assert_cmd::cargo::cargo_bin("narrate");
    let program = format!(
        "ulimit -v 4000000; exec timeout 300 \"{}\" plan \"{essay}\" --json",
        narrate.display()
    );
    let mut sh = Command::new("sh");
    sh.args(["-c", &program])
        .current_dir(env.dir.path())
        .env("NARRATE_CACHE", &env.cache)
        .env("NARRATE_BACKEND", "tone")
        .env("XDG_CONFIG_HOME", env.path("config"));
    sh.stdin(std::process::Stdio::null()).output().unwrap()
}

#[test]
fn hostile_essays_get_one_line_in_bounded_time_and_memory() {
    let env = Env::new();
    let write = |name: &str, bytes: &[u8]| std::fs::write(env.path(name), bytes).unwrap();
    let utf16 = |text: &str, big: bool| {
        let mut b = if big {
            vec![0xFE, 0xFF]
        } else {
            vec![0xFF, 0xFE]
        };
        for u in text.encode_utf16() {
            b.extend(if big {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            });
        }
        b
    };
    let text = "# Wide\n\nThe kettle sings on the stove.\n";
    write("le.md", &utf16(text, false));
    write("be.md", &utf16(text, true));
    write("nobom.md", &utf16(text, false)[2..]);
    let mut utf32 = vec![0xFF, 0xFE, 0, 0];
    utf32.extend(text.chars().flat_map(|c| (c as u32).to_le_bytes()));
    write("wide32.md", &utf32);
    write("empty.md", b"");
    write("blank.md", b"  \n\n\t\n");
    write("png.md", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    write("nul.md", b"# Title\n\nA line.\nAnother \0 line.\n");
    write(
        "control.md",
        b"# Bell\n\nThe \x07bell rang \x1b[1mtwice\x1b[0m.\x0cThen silence.\n",
    );
    write("crlf.md", b"# Lines\r\n\r\nOne line.\r\nTwo lines.\r\n");
    std::fs::create_dir(env.path("folder.md")).unwrap();
    let fifo = env.path("fifo.md");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // A 10 MB line without punctuation, and a 21 MB essay (over the default limit).
    let words = "river stone lantern ferry gull bench ";
    write(
        "line.txt",
        words.repeat(10_000_000 / words.len()).as_bytes(),
    );
    write(
        "huge.txt",
        b"A sentence that repeats. "
            .repeat(21 * 1024 * 1024 / 25 + 1)
            .as_slice(),
    );
    let long = format!("{}.md", "a".repeat(245));
    write(
        &long,
        b"# Long name\n\nA short essay with a very long file name.\n",
    );

    // (file, exit code, what the one line says; or for success, a word of the plan)
    let table: &[(&str, i32, &str)] = &[
        ("le.md", 0, "kettle"),
        ("be.md", 0, "kettle"),
        ("wide32.md", 0, "kettle"),
        (
            "nobom.md",
            2,
            "UTF-16 text without a byte-order mark; save it as UTF-8",
        ),
        ("empty.md", 2, "the essay is empty"),
        ("blank.md", 2, "the essay is empty"),
        ("png.md", 2, "looks like a binary file"),
        ("nul.md", 2, "nul.md:4: looks like a binary file"),
        ("control.md", 0, "twice"),
        ("crlf.md", 0, "Two lines"),
        ("folder.md", 2, "is a folder, not an essay file"),
        ("fifo.md", 2, "is a pipe (FIFO), not an essay file"),
        ("/dev/zero", 2, "is a device, not an essay file"),
        ("line.txt", 0, "lantern"),
        (
            "huge.txt",
            2,
            "over the limit of 20 MB; raise `max_essay_mb`",
        ),
        (&long, 0, "very long file name"),
    ];
    for &(file, code, says) in table {
        let out = plan_bounded(&env, file);
        assert_eq!(out.status.code(), Some(code), "{file}: {out:?}");
        if code == 0 {
            assert!(
                String::from_utf8_lossy(&out.stdout).contains(says),
                "{file}"
            );
        } else {
            let stderr = one_error(&out);
            assert!(stderr.contains(says), "{file}: {stderr}");
            assert!(!stderr.contains("-o DIR"), "{file}: {stderr}");
        }
    }
    // The limit is a setting like any other.
    let out = env
        .cmd()
        .args(["plan", "huge.txt", "--max-essay-mb", "30"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    // A long essay name: its takes file is shortened with a hash, and regen works.
    env.build(&env.path(&long), &["--export", "all"]);
    let id = env.json(&["plan", &long])["segments"][1]["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.cmd().args(["regen", &long, &id]).assert().success();
    let takes: Vec<String> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".takes.toml"))
        .collect();
    assert_eq!(takes.len(), 1, "{takes:?}");
    assert!(takes[0].len() < 160 && takes[0].contains('~'), "{takes:?}");
}

#[test]
fn takes_manifests_and_sizes_are_checked() {
    let env = Env::new();
    let essay = env.essay("lock.md", ESSAY);
    env.build(&essay, &[]);
    let id = env.json(&["plan", "lock.md"])["segments"][2]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The take counter at its end: one line, nothing written.
    std::fs::write(
        env.path("lock.md.takes.toml"),
        format!("[segments.{id}]\ntake = 4294967295\nlatest = 4294967295\ntext = \"x\"\n"),
    )
    .unwrap();
    let mut regen = env.cmd();
    regen.args(["regen", "lock.md", &id]);
    let error = error_of(regen);
    assert!(
        error.contains("no take number left after 4294967295; choose one with --take N"),
        "{error}"
    );
    let mut zero = env.cmd();
    zero.args(["regen", "lock.md", &id, "--take", "0"]);
    assert!(error_of(zero).contains("0 is not in 1.."));
    std::fs::remove_file(env.path("lock.md.takes.toml")).unwrap();

    // A manifest naming audio outside its folder is refused before anything is opened.
    let manifest = env.path("audio/out/lock/lock.json");
    let mut m = read_json(&manifest);
    m["audio"] = "../../../../etc/passwd".into();
    std::fs::write(&manifest, m.to_string()).unwrap();
    let mut check = env.cmd();
    check.args(["check", "audio/out/lock/lock.json"]);
    let error = error_of(check);
    assert!(
        error.contains("is not a file name beside the manifest"),
        "{error}"
    );

    // An edition too large for a WAV file is refused before anything is synthesized.
    let long = format!(
        "# Long\n\n{}",
        "The barge waits by the lock gate all afternoon. ".repeat(9_000)
    );
    env.essay("long.md", &long);
    let mut big = env.cmd();
    big.args(["build", "long.md", "--sample-rate", "192000"]);
    let error = error_of(big);
    assert!(error.contains("over the 4 GB a WAV file holds"), "{error}");
    let report = env.stdout(&["cache", "stats"]);
    assert!(report.contains(": 12 segments"), "{report}");
}

/// A rebuild in another format, or with fewer exports, leaves no file of the older edition beside the new one
/// (an MP3 that would hold the old takes); the retiring is part of the commit: a failed commit keeps the old
/// files, a killed one is finished by the next reader.
#[test]
fn an_edition_rebuilt_in_another_format_leaves_no_stale_files_even_when_its_commit_fails_or_is_killed(
) {
    if !have("ffmpeg") {
        return;
    }
    let env = Env::new();
    let essay = env.essay("lock.md", ESSAY);
    let dir = env.path("audio/out/lock");
    let old = ["--format", "mp3", "--export", "srt,vtt"];
    let new = ["--format", "m4b", "--export", "srt"];
    env.build(&essay, &old);
    let before = files(&dir);
    assert_eq!(
        names(&before),
        ["lock.json", "lock.mp3", "lock.srt", "lock.vtt", "lock.wav"]
    );
    // The commit's renames: the WAV, the captions, the M4B, the manifest, then the two retired files. The sixth
    // fails: every earlier one is undone, the retired VTT put back.
    let out = env
        .cmd()
        .env("NARRATE_TEST_FAIL_RENAME", "6")
        .args(["build", "lock.md"])
        .args(new)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("audio/out/lock/lock.mp3"), "{stderr}");
    assert_eq!(files(&dir), before, "the previous edition, byte for byte");
    // Killed right after the manifest's rename: the next reader finishes the commit, retiring both.
    let out = env
        .cmd()
        .env("NARRATE_TEST_KILL_AFTER_RENAME", "4")
        .args(["build", "lock.md"])
        .args(new)
        .output()
        .unwrap();
    assert!(!out.status.success());
    env.cmd()
        .args(["check", "audio/out/lock/lock.wav"])
        .assert()
        .success();
    let after = files(&dir);
    assert_eq!(
        names(&after),
        ["lock.json", "lock.m4b", "lock.srt", "lock.wav"]
    );
    // And plainly: back to the MP3 and the VTT, without the M4B.
    env.build(&essay, &old);
    assert_eq!(
        names(&files(&dir)),
        ["lock.json", "lock.mp3", "lock.srt", "lock.vtt", "lock.wav"]
    );
    // A file the edition's manifest never listed is not the edition's to remove, whatever its name.
    std::fs::write(dir.join("lock.m4b"), b"a listener's own file").unwrap();
    env.build(&essay, &["--export", "srt"]);
    assert_eq!(
        names(&files(&dir)),
        ["lock.json", "lock.m4b", "lock.srt", "lock.wav"]
    );
}
