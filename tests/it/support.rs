//! Helpers shared by the integration tests: a scratch folder with its own cache, and readers for the outputs.

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use serde_json::Value;

/// A scratch folder (the working directory of every command) with its own cache; the tone backend by default.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub cache: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        Env { dir, cache }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes an essay into the scratch folder.
    pub fn essay(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Copies a file from tests/data into the scratch folder.
    pub fn fixture(&self, name: &str) -> PathBuf {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name);
        let p = self.path(name);
        std::fs::copy(src, &p).unwrap();
        p
    }

    /// The binary, run in the scratch folder with its cache and the tone backend.
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// The same as a plain `std::process::Command`, for tests that spawn and kill it.
    pub fn std_cmd(&self) -> StdCommand {
        self.setup(StdCommand::new(assert_cmd::cargo::cargo_bin("narrate")))
    }

    /// The binary run under the umask `mask` (through `sh`, which sets it and execs narrate).
    pub fn cmd_with_umask(&self, mask: u32) -> Command {
        let mut c = StdCommand::new("sh");
        c.arg("-c")
            .arg(format!("umask {mask:03o} && exec \"$0\" \"$@\""))
            .arg(assert_cmd::cargo::cargo_bin("narrate"));
        Command::from_std(self.setup(c))
    }

    /// The scratch folder, its cache and the tone backend; nothing from the user's environment.
    fn setup(&self, mut c: StdCommand) -> StdCommand {
        c.current_dir(self.dir.path())
            .env_remove("XDG_CACHE_HOME")
            // A user's own ~/.config/narrate/narrate.toml must not change what the tests see.
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("NARRATE_CACHE", &self.cache)
            .env("NARRATE_BACKEND", "tone")
            .env_remove("NARRATE_HTTP_URL")
            .env_remove("NARRATE_HTTP_API_KEY")
            .env_remove("NARRATE_API_TOKEN");
        c
    }

    /// Runs a command that must succeed and returns what it printed on stdout.
    pub fn stdout(&self, args: &[&str]) -> String {
        let out = self
            .cmd()
            .args(args)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).unwrap()
    }

    /// Runs a command that must succeed and print JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self
            .cmd()
            .args(args)
            .arg("--json")
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        serde_json::from_slice(&out)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)))
    }

    /// `narrate build ESSAY --json` plus extra flags.
    pub fn build(&self, essay: &Path, extra: &[&str]) -> Value {
        let mut args = vec!["build", essay.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.json(&args)
    }
}

pub fn read_json(path: impl AsRef<Path>) -> Value {
    let text = std::fs::read_to_string(path.as_ref()).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The samples of a WAV, read with hound.
pub fn samples(path: impl AsRef<Path>) -> Vec<i16> {
    hound::WavReader::open(path)
        .unwrap()
        .into_samples::<i16>()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Whether a program the tests need is installed. `scripts/test` sets NARRATE_REQUIRE_TOOLS=1 after
/// installing them, so there a missing tool fails the test instead of skipping it.
pub fn have(program: &str) -> bool {
    let found = StdCommand::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("NARRATE_REQUIRE_TOOLS").is_none(),
            "{program} is not installed; scripts/test installs it"
        );
        eprintln!("skipping: {program} is not installed (scripts/test installs it)");
    }
    found
}

/// What `sndfile-info` (libsndfile, independent of narrate) reports about a WAV.
pub struct SndfileInfo {
    pub frames: u64,
    /// The cue count from the `cue ` chunk header. sndfile-info lists only the first ten cues and nine labels.
    pub cue_count: usize,
    pub sample_rate: u32,
    /// (cue id, sample position)
    pub cues: Vec<(u32, u64)>,
    /// (cue id, label)
    pub labels: Vec<(u32, String)>,
    pub info: Vec<(String, String)>,
}

pub fn sndfile_info(path: &Path) -> SndfileInfo {
    let out = StdCommand::new("sndfile-info").arg(path).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |line: &str, name: &str| -> Option<String> {
        let rest = line.split(name).nth(1)?;
        Some(
            rest.trim_start_matches([' ', ':'])
                .split_whitespace()
                .next()?
                .to_string(),
        )
    };
    let mut info = SndfileInfo {
        frames: 0,
        cue_count: 0,
        sample_rate: 0,
        cues: vec![],
        labels: vec![],
        info: vec![],
    };
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("Count") {
            info.cue_count = field(t, "Count").unwrap().parse().unwrap();
        } else if t.starts_with("Cue ID") {
            let id = field(t, "Cue ID").unwrap().parse().unwrap();
            let pos = field(t, "Pos").unwrap().parse().unwrap();
            info.cues.push((id, pos));
        } else if let Some(rest) = t.strip_prefix("labl : ") {
            let (id, label) = rest.split_once(" : ").unwrap();
            info.labels.push((id.parse().unwrap(), label.to_string()));
        } else if t.starts_with("Frames") {
            info.frames = field(t, "Frames").unwrap().parse().unwrap();
        } else if t.starts_with("Sample Rate") && info.sample_rate == 0 {
            info.sample_rate = field(t, "Sample Rate").unwrap().parse().unwrap();
        } else if let Some((k, v)) = t.split_once(" : ") {
            if ["INAM", "IART", "ISFT"].contains(&k) {
                info.info.push((k.to_string(), v.to_string()));
            }
        }
    }
    info
}

/// Checks the WAV against its manifest with two readers that share no code with narrate: sndfile-info
/// (libsndfile) for the cue count, the cues and labels it lists, the length and the INFO title; ffprobe (FFmpeg)
/// for every chapter's start, end and title.
pub fn check_wav_against_manifest(wav: &Path, manifest: &Value) {
    let info = sndfile_info(wav);
    let chapters = manifest["chapters"].as_array().unwrap();
    assert_eq!(
        info.frames,
        manifest["total_samples"].as_u64().unwrap(),
        "length"
    );
    assert_eq!(
        u64::from(info.sample_rate),
        manifest["sample_rate"].as_u64().unwrap()
    );
    assert_eq!(info.cue_count, chapters.len(), "one cue per chapter");
    assert_eq!(info.cues.len(), chapters.len().min(10));
    assert_eq!(info.labels.len(), chapters.len().min(9));
    for (i, &(id, pos)) in info.cues.iter().enumerate() {
        assert_eq!(
            (id, pos),
            (i as u32 + 1, chapters[i]["start_sample"].as_u64().unwrap()),
            "cue {id}"
        );
    }
    for (i, (id, label)) in info.labels.iter().enumerate() {
        assert_eq!(
            (*id, label.as_str()),
            (i as u32 + 1, chapters[i]["title"].as_str().unwrap()),
            "label {id}"
        );
    }
    assert!(info
        .info
        .contains(&("INAM".into(), manifest["title"].as_str().unwrap().into())));

    if !have("ffprobe") {
        return;
    }
    let probed = ffprobe(wav);
    let probed = probed["chapters"].as_array().unwrap();
    assert_eq!(probed.len(), chapters.len(), "ffprobe chapters");
    for (p, c) in probed.iter().zip(chapters) {
        assert_eq!(p["time_base"], format!("1/{}", manifest["sample_rate"]));
        assert_eq!(p["start"].as_u64(), c["start_sample"].as_u64(), "{p}");
        assert_eq!(p["end"].as_u64(), c["end_sample"].as_u64(), "{p}");
        assert_eq!(p["tags"]["title"], c["title"], "{p}");
    }
}

/// The invariants every edition keeps: chapters start at 0, strictly increase, tile the file, each lasts at least
/// half a second, and the WAV holds exactly the manifest's samples.
pub fn check_chapters(wav: &Path, manifest: &Value) {
    let chapters = manifest["chapters"].as_array().unwrap();
    let rate = manifest["sample_rate"].as_f64().unwrap();
    let total = manifest["total_samples"].as_u64().unwrap();
    assert_eq!(chapters[0]["start_sample"], 0);
    for pair in chapters.windows(2) {
        assert!(pair[1]["start_sample"].as_u64() > pair[0]["start_sample"].as_u64());
        assert_eq!(pair[0]["end_sample"], pair[1]["start_sample"]);
    }
    assert_eq!(
        chapters.last().unwrap()["end_sample"].as_u64().unwrap(),
        total
    );
    for ch in chapters {
        let len = ch["end_sample"].as_u64().unwrap() - ch["start_sample"].as_u64().unwrap();
        assert!(
            len as f64 / rate >= 0.5,
            "chapter {} lasts {} s",
            ch["title"],
            len as f64 / rate
        );
    }
    assert_eq!(samples(wav).len() as u64, total);
}

/// Segment ids in plan order.
pub fn ids(manifest: &Value) -> Vec<String> {
    manifest["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

/// Root-mean-square level of some samples, in full-scale units.
pub fn rms(s: &[i16]) -> f64 {
    (s.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / s.len().max(1) as f64).sqrt() / 32768.0
}

/// Checks that every segment of an edition is audible speech of a plausible length: RMS above `min_rms`, and
/// between `per_word.0` and `per_word.1` seconds a word (plus `slack` seconds for very short segments).
pub fn check_speech(wav: &Path, manifest: &Value, min_rms: f64, per_word: (f64, f64), slack: f64) {
    let audio = samples(wav);
    let rate = manifest["sample_rate"].as_f64().unwrap();
    for s in manifest["segments"].as_array().unwrap() {
        let (a, b) = (
            s["start_sample"].as_u64().unwrap() as usize,
            s["end_sample"].as_u64().unwrap() as usize,
        );
        let level = rms(&audio[a..b]);
        assert!(
            level > min_rms,
            "segment {} is too quiet: {level}",
            s["text"]
        );
        let words = s["spoken"].as_str().unwrap().split_whitespace().count() as f64;
        let secs = (b - a) as f64 / rate;
        assert!(
            secs > words * per_word.0 && secs < words * per_word.1 + slack,
            "{}: {secs:.2} s for {words} words",
            s["text"]
        );
    }
}

/// Checks a failed run's stderr: exactly one `error:` line, no panic or backtrace; returns it all.
pub fn one_error(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let errors = stderr.lines().filter(|l| l.starts_with("error: ")).count();
    assert_eq!(errors, 1, "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    stderr
}

/// Runs a command that must fail with exit code 1 and one `error:` line (see `one_error`); returns its stderr.
pub fn error_of(mut cmd: Command) -> String {
    let output = cmd.output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    one_error(&output)
}

/// The voice names of the first backend in `narrate voices --json`.
pub fn voice_names(listing: &Value) -> Vec<String> {
    listing[0]["voices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect()
}

/// What ffprobe reports about a media file: its chapters and format tags.
pub fn ffprobe(file: &Path) -> Value {
    let out = StdCommand::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_chapters",
            "-show_format",
            "-of",
            "json",
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe {}", file.display());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Checks a probed file has the manifest's chapters: same titles, starts within 2 ms, and the title tag.
pub fn check_probed_chapters(probe: &Value, manifest: &Value, what: &str) {
    let chapters = manifest["chapters"].as_array().unwrap();
    let found = probe["chapters"].as_array().unwrap();
    assert_eq!(found.len(), chapters.len(), "{what}");
    for (f, c) in found.iter().zip(chapters) {
        assert_eq!(f["tags"]["title"], c["title"], "{what}");
        let start: f64 = f["start_time"].as_str().unwrap().parse().unwrap();
        assert!(
            (start - c["start_seconds"].as_f64().unwrap()).abs() < 0.002,
            "{what}: {f}"
        );
    }
    assert_eq!(
        probe["format"]["tags"]["title"], manifest["title"],
        "{what}"
    );
}

/// Integrated loudness (LUFS) and true peak (dBTP) of a media file as ffmpeg's ebur128 filter reports them.
pub fn ebur128(file: &Path) -> (f64, f64) {
    let out = StdCommand::new("ffmpeg")
        .args(["-nostats", "-i"])
        .arg(file)
        .args(["-af", "ebur128=peak=true", "-f", "null", "-"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    let summary = &log[log.rfind("Summary:").expect("ebur128 summary")..];
    let value = |key: &str| -> f64 {
        let line = summary
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (value("I:"), value("Peak:"))
}

/// Reads one HTTP request's JSON body from a test server's connection; `None` when the client connected and hung
/// up without a request (a reachability check).
pub fn read_json_request(
    reader: &mut impl std::io::BufRead,
) -> std::io::Result<Option<serde_json::Value>> {
    let mut length = 0;
    let mut first = true;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 && first {
            return Ok(None);
        }
        first = false;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Some(serde_json::from_slice(&body).unwrap_or_default()))
}

/// The `title` of each item of a JSON list (a manifest's or a podcast file's `chapters`).
pub fn titles(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap().to_string())
        .collect()
}

/// Runs a Python script of tests/data (a browser script with `selenium_python`'s Python, the OpenAI client with
/// the one that has `openai`) with `args` and the environment `vars`; returns the JSON it prints.
pub fn data_script(python: &str, script: &str, args: &[&str], vars: &[(&str, &str)]) -> Value {
    let output = StdCommand::new(python)
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data")
                .join(script),
        )
        .args(args)
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

/// The Python with Selenium for driving headless Chromium through chromedriver (scripts/test installs all three):
/// `NARRATE_STUDIO_PYTHON`, else target/test-venv's; `None` (skip) when one is missing outside scripts/test.
pub fn selenium_python() -> Option<String> {
    let python = std::env::var("NARRATE_STUDIO_PYTHON")
        .unwrap_or_else(|_| format!("{}/target/test-venv/bin/python", env!("CARGO_MANIFEST_DIR")));
    let ok = StdCommand::new(&python)
        .args(["-c", "import selenium"])
        .output()
        .is_ok_and(|o| o.status.success())
        && Path::new("/usr/bin/chromedriver").exists()
        && Path::new("/usr/bin/chromium").exists();
    if !ok {
        assert!(
            std::env::var_os("NARRATE_REQUIRE_TOOLS").is_none(),
            "{python} has no selenium, or chromium/chromedriver are missing; scripts/test installs them"
        );
        eprintln!("skipping: no Selenium or Chromium (scripts/test installs them)");
    }
    ok.then_some(python)
}

/// Whether axe-core (npm's axe-core, its axe.min.js at `NARRATE_AXE`; scripts/test installs it) is here for the
/// browser tests' accessibility scans; its absence fails under scripts/test and skips the scan elsewhere.
pub fn have_axe() -> bool {
    let ok = std::env::var_os("NARRATE_AXE").is_some_and(|p| Path::new(&p).is_file());
    if !ok {
        assert!(
            std::env::var_os("NARRATE_REQUIRE_TOOLS").is_none(),
            "NARRATE_AXE does not name axe-core's axe.min.js; scripts/test installs it"
        );
        eprintln!("skipping the accessibility scan: no axe-core (scripts/test installs it)");
    }
    ok
}

/// axe-core's report (a list of violations) holds no serious or critical one.
pub fn assert_accessible(violations: &Value, what: &str) {
    let bad: Vec<&Value> = violations
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no axe report: {violations}"))
        .iter()
        .filter(|v| v["impact"] == "serious" || v["impact"] == "critical")
        .collect();
    assert!(bad.is_empty(), "{what}: axe-core finds {bad:#?}");
}

#[cfg(feature = "piper")]
/// Three sentences of common words for the intelligibility tests: long enough that one misheard word cannot sink
/// the score.
pub const ASR_SENTENCE: &str =
    "The kettle boiled twice before anyone noticed the smoke in the kitchen. \
                                We opened every window and waited for the air to clear. \
                                Then we made tea and talked about the weather.";

#[cfg(feature = "piper")]
/// The Python with the test recognizer (tests/asr.py), `NARRATE_ASR_PYTHON`; `None` (skip) outside scripts/test.
pub fn asr_python() -> Option<String> {
    match std::env::var("NARRATE_ASR_PYTHON") {
        Ok(p) => Some(p),
        Err(_) => {
            assert!(
                std::env::var_os("NARRATE_REQUIRE_TOOLS").is_none(),
                "NARRATE_ASR_PYTHON is not set; scripts/test sets it"
            );
            eprintln!("skipping: NARRATE_ASR_PYTHON is not set (scripts/test sets it)");
            None
        }
    }
}

#[cfg(feature = "piper")]
/// Has the recognizer (tests/asr.py, at 16 kHz through ffmpeg) transcribe `wav`; returns how many of
/// `sentence`'s words it heard, how many there are, and what it heard.
pub fn words_recognized(
    env: &Env,
    python: &str,
    wav: &Path,
    sentence: &str,
) -> (usize, usize, String) {
    let status = StdCommand::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(wav)
        .args(["-ar", "16000", "-ac", "1"])
        .arg(env.path("asr16.wav"))
        .status()
        .unwrap();
    assert!(status.success());
    let out = StdCommand::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/asr.py"))
        .arg(env.path("asr16.wav"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let heard = String::from_utf8_lossy(&out.stdout).to_lowercase();
    let said: Vec<String> = sentence
        .to_lowercase()
        .split_whitespace()
        .map(|w| w.trim_matches('.').to_string())
        .collect();
    let heard_words: Vec<&str> = heard.split_whitespace().collect();
    let recognized = said
        .iter()
        .filter(|w| heard_words.contains(&w.as_str()))
        .count();
    (recognized, said.len(), heard)
}

/// Puts the cached audio of `from` (a cache key) under the key `to`, as a backend that answered with another
/// sentence's audio would leave it: a whole entry whose checksum is made for its own key (a plain copy is found out
/// by the checksum, which covers the key, and made again).
pub fn cache_mix_up(cache: &Path, from: &str, to: &str) {
    let entry = |key: &str| {
        cache
            .join("segments")
            .join(&key[..2])
            .join(format!("{key}.wav"))
    };
    let mut bytes = std::fs::read(entry(from)).unwrap();
    bytes.truncate(bytes.len() - 32);
    let mut sum = blake3::Hasher::new();
    sum.update(&(to.len() as u64).to_le_bytes());
    sum.update(to.as_bytes());
    sum.update(&bytes[12..bytes.len() - 8]);
    bytes.extend_from_slice(sum.finalize().as_bytes());
    std::fs::create_dir_all(entry(to).parent().unwrap()).unwrap();
    std::fs::write(entry(to), bytes).unwrap();
}

/// The words every segment of a manifest carries: at least one, each inside its segment's span, in order; and, when
/// the edition has WebVTT captions (`vtt`), each cue's word timestamps (`<hh:mm:ss.mmm>`) are the manifest's
/// word starts of that segment, in order, to the millisecond. Returns how many words were checked.
pub fn check_words(manifest: &Value, vtt: Option<&Path>) -> usize {
    let rate = manifest["sample_rate"].as_u64().unwrap();
    let ms = |sample: u64| (sample as f64 / rate as f64 * 1000.0).round() as u64;
    let mut count = 0;
    let segments = manifest["segments"].as_array().unwrap();
    for s in segments {
        let (start, end) = (
            s["start_sample"].as_u64().unwrap(),
            s["end_sample"].as_u64().unwrap(),
        );
        let words = s["words"].as_array().expect("every segment has `words`");
        assert!(!words.is_empty(), "segment {} has no words: {s}", s["id"]);
        let mut last = start;
        for w in words {
            let (a, b) = (
                w["start_sample"].as_u64().unwrap(),
                w["end_sample"].as_u64().unwrap(),
            );
            assert!(
                last <= a && a <= b && b <= end,
                "segment {} ({start}..{end}): word {w} is out of place or order (after {last})",
                s["id"]
            );
            assert!(!w["text"].as_str().unwrap().is_empty(), "{w}");
            last = a;
            count += 1;
        }
    }
    let Some(vtt) = vtt else {
        return count;
    };
    let text = std::fs::read_to_string(vtt).unwrap();
    let stamp = regex::Regex::new(r"<(\d\d):(\d\d):(\d\d)\.(\d\d\d)>").unwrap();
    let cues: Vec<&str> = text.split("\n\n").skip(1).collect();
    assert_eq!(cues.len(), segments.len(), "one cue per segment: {text}");
    let mut stamps = 0;
    for (cue, s) in cues.iter().zip(segments) {
        let starts: Vec<u64> = s["words"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| ms(w["start_sample"].as_u64().unwrap()))
            .collect();
        let found: Vec<u64> = stamp
            .captures_iter(cue)
            .map(|c| {
                let n = |i: usize| c[i].parse::<u64>().unwrap();
                ((n(1) * 60 + n(2)) * 60 + n(3)) * 1000 + n(4)
            })
            .collect();
        // Every stamp is one of the segment's word starts, in order, past the cue's start.
        let mut from = 0;
        for f in &found {
            let at = starts[from..]
                .iter()
                .position(|s| s == f)
                .unwrap_or_else(|| {
                    panic!("cue {cue:?}: the stamp {f} ms is no word start of {starts:?}")
                });
            from += at + 1;
        }
        // And most words after the first have one (a written word that is not one spoken word, "$3.5m", has
        // none).
        assert!(
            found.len() * 2 >= starts.len().saturating_sub(1),
            "cue {cue:?}: {} stamps for {} words",
            found.len(),
            starts.len()
        );
        stamps += found.len();
    }
    assert!(stamps > 0, "the captions have word timestamps: {text}");
    count
}

/// Whether two read-along EPUBs hold the same book: the same entries in the same order with the same bytes, except
/// the package's `dcterms:modified` date (when the essay was last written), its identifier (made from the essay's
/// path) and the audio, which is compared by its length as the M4B editions are.
pub fn same_epub(a: &Path, b: &Path) -> bool {
    fn entries(p: &Path) -> Vec<(String, Vec<u8>)> {
        use std::io::Read;
        let mut zip = zip::ZipArchive::new(std::fs::File::open(p).unwrap()).unwrap();
        (0..zip.len())
            .map(|i| {
                let mut f = zip.by_index(i).unwrap();
                let mut bytes = Vec::new();
                f.read_to_end(&mut bytes).unwrap();
                let name = f.name().unwrap().to_string();
                if name.ends_with(".opf") {
                    let text = String::from_utf8(bytes).unwrap();
                    let masked: Vec<&str> = text
                        .lines()
                        .filter(|l| !l.contains("dcterms:modified") && !l.contains("dc:identifier"))
                        .collect();
                    bytes = masked.join("\n").into_bytes();
                }
                if name.ends_with(".m4a") || name.ends_with(".mp4") || name.ends_with(".mp3") {
                    bytes = bytes.len().to_le_bytes().to_vec();
                }
                (name, bytes)
            })
            .collect()
    }
    entries(a) == entries(b)
}
