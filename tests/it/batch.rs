//! `narrate batch` and `narrate cache`: shared queue, isolated failures, resume after SIGKILL, shards, and
//! concurrent runs on one cache.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;

use crate::support::*;

/// Writes `n` distinct essays (some sentences shared between them, as in a real catalogue) into `dir`.
fn essays(env: &Env, dir: &str, n: usize) -> PathBuf {
    let d = env.path(dir);
    std::fs::create_dir_all(&d).unwrap();
    for i in 0..n {
        let text = format!(
            "Essay Number {i}\n\nThis essay is number {i} of the catalogue. Every catalogue has a first page.\n\n\
             The weather on day {i} was mild, and the harbour was calm. Boats came and went.\n\n\
             A closing line for essay {i}, with thanks to the reader.\n"
        );
        std::fs::write(d.join(format!("essay-{i:02}.txt")), text).unwrap();
    }
    d
}

fn batch(env: &Env, args: &[&str]) -> (i32, Value, String) {
    let out = env.cmd().arg("batch").args(args).output().unwrap();
    let report_path = args
        .windows(2)
        .find(|w| w[0] == "-o")
        .map(|w| env.path(w[1]).join("batch-report.json"))
        .unwrap();
    let report = std::fs::read_to_string(&report_path)
        .map_or(Value::Null, |t| serde_json::from_str(&t).unwrap());
    (
        out.status.code().unwrap_or(-1),
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every file under `dir` (relative path → bytes), reports left out.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().path()) {
            if e.is_dir() {
                stack.push(e);
            } else if !e
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("batch-report")
            {
                out.push((
                    e.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&e).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_batch_isolates_failures_and_resumes_with_nothing_to_do() {
    let env = Env::new();
    let dir = essays(&env, "in", 27);
    std::fs::write(dir.join("broken-utf8.txt"), b"Title\n\n\xff\xfe\n").unwrap();
    std::fs::write(dir.join("empty.md"), "").unwrap();
    std::fs::write(dir.join("binary.txt"), b"\0\0\0\x01").unwrap();
    let (code, report, stderr) = batch(&env, &["in", "-o", "out"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(report["total"], 30);
    assert_eq!(report["failed"], 3);
    let failed: Vec<&Value> = report["essays"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "failed")
        .collect();
    assert!(failed.iter().any(|e| e["error"]
        .as_str()
        .unwrap()
        .contains("broken-utf8.txt:3: not valid UTF-8")));
    assert!(failed.iter().any(|e| e["error"]
        .as_str()
        .unwrap()
        .contains("empty.md: the essay is empty")));
    assert!(failed.iter().any(|e| e["error"]
        .as_str()
        .unwrap()
        .contains("binary.txt:1: looks like a binary file")));
    let done = report["essays"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "done")
        .count();
    assert_eq!(done, 27);
    for i in 0..27 {
        let wav = env.path(&format!("out/essay-{i:02}/essay-{i:02}.wav"));
        let manifest = read_json(wav.with_extension("json"));
        check_chapters(&wav, &manifest);
    }
    assert!(
        stderr.contains("FAILED") && stderr.contains("error: 3 of 30 essays failed"),
        "{stderr}"
    );

    let (code, again, _) = batch(&env, &["in", "-o", "out"]);
    assert_eq!(code, 1);
    assert_eq!(again["synthesized"], 0, "a re-run synthesizes nothing new");
    let current = again["essays"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "up-to-date")
        .count();
    assert_eq!(current, 27, "and re-joins nothing");
}

#[test]
fn a_killed_batch_resumes_to_the_same_bytes() {
    let env = Env::new();
    essays(&env, "in", 30);
    // The reference: one uninterrupted run, with its own cache.
    let (code, _, stderr) = batch(&env, &["in", "-o", "reference", "--cache", "ref-cache"]);
    assert_eq!(code, 0, "{stderr}");

    let mut child = env
        .std_cmd()
        .args(["batch", "in", "-o", "out", "--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it as soon as it has stored some segments but, almost always, before it has finished.
    let segments = env.cache.join("segments");
    let started = std::time::Instant::now();
    while std::fs::read_dir(&segments).map_or(0, |d| d.count()) < 3
        && started.elapsed().as_secs() < 60
    {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = std::fs::read_dir(env.path("out")).map_or(0, |d| d.count());
    eprintln!("killed with {partial} of 30 output folders present");

    let (code, _, stderr) = batch(&env, &["in", "-o", "out"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(tree(&env.path("out")), tree(&env.path("reference")));
}

#[test]
fn three_shards_and_a_join_step_give_the_same_bytes_as_one_process() {
    let env = Env::new();
    essays(&env, "in", 12);
    let (code, single, _) = batch(&env, &["in", "-o", "single", "--cache", "single-cache"]);
    assert_eq!(code, 0);

    let shards: Vec<std::process::Child> = (1..=3)
        .map(|k| {
            env.std_cmd()
                .args(["batch", "in", "-o", "out", "--shard", &format!("{k}/3")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut s in shards {
        assert!(s.wait().unwrap().success());
    }
    let mut synthesized = 0;
    for k in 1..=3 {
        let r = read_json(env.path(&format!("out/batch-report-shard-{k}-of-3.json")));
        assert!(r["essays"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] == "synthesized"));
        let mine = r["synthesized"].as_u64().unwrap();
        assert!(mine > 0, "shard {k} did some of the work");
        synthesized += mine;
    }
    assert!(synthesized >= single["synthesized"].as_u64().unwrap());
    let (code, joined, stderr) = batch(&env, &["in", "-o", "out", "--join-only"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(joined["synthesized"], 0);
    assert_eq!(tree(&env.path("out")), tree(&env.path("single")));
    // The join step placed every segment's words from the shards' cache entries.
    let manifests: Vec<_> = tree(&env.path("out"))
        .into_iter()
        .filter(|(name, _)| name.ends_with(".json"))
        .collect();
    assert!(!manifests.is_empty());
    for (name, bytes) in manifests {
        let words = check_words(&serde_json::from_slice(&bytes).unwrap(), None);
        assert!(words > 0, "{name}");
    }
}

#[test]
fn the_join_step_refuses_to_join_before_every_shard_ran() {
    let env = Env::new();
    essays(&env, "in", 4);
    let (code, _, _) = batch(&env, &["in", "-o", "out", "--shard", "1/2"]);
    assert_eq!(code, 0);
    let (code, report, _) = batch(&env, &["in", "-o", "out", "--join-only"]);
    assert_eq!(code, 1);
    assert!(report["essays"][0]["error"]
        .as_str()
        .unwrap()
        .contains("run every shard before the join step"));
}

#[test]
fn shard_auto_reads_slurm_and_kubernetes_variables() {
    let env = Env::new();
    essays(&env, "in", 2);
    let run = |vars: &[(&str, &str)], extra: &[&str]| {
        let mut c = env.cmd();
        c.args(["batch", "in", "-o", "out", "--shard", "auto"])
            .args(extra);
        for (k, v) in vars {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let slurm = run(
        &[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "4"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ],
        &[],
    );
    assert!(
        slurm.status.success(),
        "{}",
        String::from_utf8_lossy(&slurm.stderr)
    );
    assert!(env.path("out/batch-report-shard-2-of-3.json").is_file());
    let k8s = run(&[("JOB_COMPLETION_INDEX", "2")], &["--shard-count", "4"]);
    assert!(k8s.status.success());
    assert!(env.path("out/batch-report-shard-3-of-4.json").is_file());
    let missing = run(&[("JOB_COMPLETION_INDEX", "2")], &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--shard-count"));
    let nothing = run(&[], &[]);
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("SLURM_ARRAY_TASK_ID"));
}

#[test]
fn two_concurrent_batches_on_one_cache_both_succeed() {
    let env = Env::new();
    essays(&env, "in", 16);
    let a = env
        .std_cmd()
        .args(["batch", "in", "-o", "a"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let b = env
        .std_cmd()
        .args(["batch", "in", "-o", "b"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(a.wait_with_output().unwrap().status.success());
    assert!(b.wait_with_output().unwrap().status.success());
    assert_eq!(tree(&env.path("a")), tree(&env.path("b")));
}

#[test]
fn a_list_file_sets_options_per_essay() {
    let env = Env::new();
    essays(&env, "in", 2);
    std::fs::write(
        env.path("list.toml"),
        "[[essay]]\npath = \"in/essay-00.txt\"\npause = \"section=3s\"\n\n[[essay]]\npath = \"in/essay-01.txt\"\noutput = \"elsewhere/one\"\nchapters = \"heading\"\n",
    )
    .unwrap();
    let (code, report, stderr) = batch(&env, &["list.toml", "-o", "out"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["total"], 2);
    let zero = read_json(env.path("out/essay-00/essay-00.json"));
    let one = read_json(env.path("elsewhere/one/essay-01.json"));
    assert_eq!(
        zero["chapters"].as_array().unwrap().len(),
        4,
        "title and a chapter per paragraph"
    );
    assert_eq!(
        one["chapters"].as_array().unwrap().len(),
        2,
        "--chapters heading from the list"
    );
    let gap = zero["segments"][1]["start_sample"].as_u64().unwrap()
        - zero["segments"][0]["end_sample"].as_u64().unwrap();
    assert_eq!(gap, 3 * 22050, "the list's pause");
}

#[test]
fn cache_gc_keeps_what_editions_reference() {
    let env = Env::new();
    let dir = essays(&env, "in", 3);
    batch(&env, &["in", "-o", "out"]);
    let stats: Value = serde_json::from_slice(
        &env.cmd()
            .args(["cache", "stats", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let before = stats["segments"].as_u64().unwrap();
    assert!(before > 10);
    // Edit a sentence only one essay has, and rebuild: its old audio is no longer referenced.
    let one = dir.join("essay-00.txt");
    let text = std::fs::read_to_string(&one)
        .unwrap()
        .replace("number 0 of the catalogue", "number 0 of the collection");
    std::fs::write(&one, text).unwrap();
    batch(&env, &["in", "-o", "out"]);
    let out = env
        .cmd()
        .args([
            "cache",
            "gc",
            "--older-than",
            "0s",
            "--keep-referenced",
            "out",
            "--json",
        ])
        .output()
        .unwrap();
    let gc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(gc["deleted"], 1, "only the replaced sentence: {gc}");
    // Every edition still rebuilds from the cache alone.
    std::fs::remove_dir_all(env.path("out")).unwrap();
    let (code, report, _) = batch(&env, &["in", "-o", "out"]);
    assert_eq!(code, 0);
    assert_eq!(report["synthesized"], 0);
}
