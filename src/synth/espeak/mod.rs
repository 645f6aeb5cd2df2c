//! The espeak-ng backend. Each request is spoken by a child forked from a server that loaded libespeak-ng once
//! (`server.rs`, `narrate __espeak-server`, one per worker thread that asks, kept in a pool): the samples of the
//! `espeak-ng` program itself, byte for byte, at a fraction of a process start, with espeak-ng's own word
//! events as the word spans. Where the library cannot be loaded (or is not the program's version), one
//! `espeak-ng` process per request, its words spread evenly. Either way any number run in parallel safely.

pub(crate) mod server;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use server::{Server, StartError};

use super::{Audio, Backend, SpeechRequest, SynthError, VoiceInfo};
use crate::error::{Error, Result};

const PROGRAM: &str = "espeak-ng";
/// espeak-ng's default pitch (0-99); later takes move around it.
const BASE_PITCH: i32 = 50;
/// Pitch offsets for takes 1, 2, 3…: a new take sounds slightly different, as espeak-ng is otherwise
/// deterministic.
const TAKE_PITCH: [i32; 8] = [0, 6, -6, 12, -12, 3, -3, 9];

#[derive(Default)]
pub(crate) struct Espeak {
    version: OnceLock<std::result::Result<String, String>>,
    /// The program started as the server (`None`: this one, `current_exe`).
    server_program: Option<PathBuf>,
    /// Idle servers; a request takes one (or starts one) and puts it back.
    servers: Mutex<Vec<Server>>,
    /// Why the servers cannot be used here, once one failed to load the library: requests then run the program.
    unusable: OnceLock<String>,
}

impl Espeak {
    /// A backend whose servers are `program __espeak-server` (tests, whose own binary is not narrate).
    pub(crate) fn with_server(program: PathBuf) -> Espeak {
        Espeak {
            server_program: Some(program),
            ..Espeak::default()
        }
    }

    /// Starts a server, or says (once, for good) that the library cannot be used here: `None`.
    fn start(&self) -> std::result::Result<Option<Server>, SynthError> {
        if self.unusable.get().is_some() {
            return Ok(None);
        }
        let program = match &self.server_program {
            Some(p) => p.clone(),
            None => std::env::current_exe()
                .map_err(|e| format!("cannot find narrate's own program to start: {e}"))?,
        };
        let version = self.version().map_err(|e| e.to_string())?;
        match Server::start(&program, version) {
            Ok(server) => Ok(Some(server)),
            Err(StartError::Unusable(why)) => {
                let _ = self.unusable.set(why);
                Ok(None)
            }
            Err(StartError::Failed(why)) => Err(SynthError::permanent(why)),
        }
    }

    /// Speaks through a server: `None` when the library cannot be used here. A server that is gone is replaced
    /// once.
    fn through_server(
        &self,
        request: &server::Request,
    ) -> std::result::Result<Option<server::Rendered>, SynthError> {
        let idle = self.servers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut server = match idle {
            Some(s) => s,
            None => match self.start()? {
                Some(s) => s,
                None => return Ok(None),
            },
        };
        let answer = match server.request(request) {
            Ok(answer) => answer,
            Err(_) => {
                drop(server);
                server = match self.start()? {
                    Some(s) => s,
                    None => return Ok(None),
                };
                server.request(request).map_err(|e| {
                    SynthError::permanent(format!(
                        "the espeak-ng synthesis server stopped twice ({e}); try again, or report it"
                    ))
                })?
            }
        };
        self.servers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(server);
        answer.map(Some).map_err(SynthError::permanent)
    }

    /// `espeak-ng --version`, run once.
    fn version(&self) -> Result<&str> {
        self.version
            .get_or_init(|| {
                let out = Command::new(PROGRAM)
                    .arg("--version")
                    .output()
                    .map_err(|e| match e.kind() {
                        std::io::ErrorKind::NotFound => {
                            "espeak-ng is not installed (not found on PATH)".to_string()
                        }
                        _ => format!("cannot run espeak-ng: {e}"),
                    })?;
                if !out.status.success() {
                    return Err(format!("`espeak-ng --version` failed with {}", out.status));
                }
                Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
            })
            .as_deref()
            .map_err(|reason| Error::BackendUnavailable {
                backend: "espeak".into(),
                reason: reason.clone(),
            })
    }
}

impl Espeak {
    /// Where espeak-ng's data is, as `espeak-ng --version` says ("… Data at: /usr/lib/…/espeak-ng-data").
    fn data_folder(&self) -> Option<PathBuf> {
        let version = self.version().ok()?;
        let (_, at) = version.split_once("Data at:")?;
        Some(PathBuf::from(at.trim()))
    }
}

/// Whether a file named `name` (case aside) is in `folder` or its subfolders down to `depth` levels: a voice
/// file, which names the voice.
fn has_voice_file(folder: &std::path::Path, name: &str, depth: u32) -> bool {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return false;
    };
    entries.flatten().any(|entry| match entry.file_type() {
        Ok(t) if t.is_dir() => depth > 0 && has_voice_file(&entry.path(), name, depth - 1),
        Ok(t) if t.is_file() => entry
            .file_name()
            .to_string_lossy()
            .eq_ignore_ascii_case(name),
        _ => false,
    })
}

impl Backend for Espeak {
    fn install_hint(&self) -> Option<&'static str> {
        Some("install it with `apt-get install espeak-ng` (scripts/demo does this), or use --backend tone to test")
    }
    /// espeak-ng's female variants for alloy, coral, nova, sage and shimmer, and male ones or other accents for
    /// the rest.
    fn openai_voice(&self, openai: &str) -> Option<&'static str> {
        Some(match openai {
            "alloy" => "en-us+f3",
            "ash" => "en-us+m3",
            "ballad" => "en-gb+m2",
            "coral" => "en-us+f2",
            "echo" => "en-us+m1",
            "fable" => "en-gb-x-rp",
            "onyx" => "en-us+m7",
            "nova" => "en-us+f4",
            "sage" => "en-gb+f3",
            "shimmer" => "en-us+f5",
            "verse" => "en-gb-scotland",
            _ => return None,
        })
    }
    fn name(&self) -> &'static str {
        "espeak"
    }
    fn describe(&self) -> &'static str {
        "espeak-ng formant synthesis (fast, robotic, 100+ languages)"
    }
    fn check(&self) -> Result<()> {
        self.version().map(|_| ())
    }
    fn voice_language(&self, voice: &str) -> Option<String> {
        // espeak-ng's voices are named by language (`en-us`, `fr`, `en+f3` for a variant); its plain `en` speaks
        // British English. Only a voice espeak-ng has says anything: a misspelt one is its own error later.
        let lang = voice.split('+').next().unwrap_or(voice);
        // Most voices are files of their own name (`en-US` is `en-us`): a look at the folder names settles
        // those; the listing reads every voice file, about 35 ms, so it is asked only for the rest.
        let known = self
            .data_folder()
            .is_some_and(|d| has_voice_file(&d.join("lang"), lang, 3))
            || self.voices().ok()?.iter().any(|v| v.name == lang);
        known.then(|| {
            if lang == "en" {
                "en-GB".into()
            } else {
                lang.into()
            }
        })
    }
    fn default_voice(&self) -> String {
        "en-us".into()
    }
    fn voices(&self) -> Result<Vec<VoiceInfo>> {
        self.check()?;
        let out = Command::new(PROGRAM)
            .arg("--voices")
            .output()
            .map_err(|e| Error::BackendUnavailable {
                backend: "espeak".into(),
                reason: e.to_string(),
            })?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .skip(1)
            .filter_map(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                (cols.len() >= 5).then(|| VoiceInfo {
                    name: cols[1].to_string(),
                    language: cols[1].to_string(),
                    description: cols[3].replace('_', " "),
                })
            })
            .collect())
    }
    fn status(&self) -> Option<String> {
        self.check().ok()?;
        Some(match self.start() {
            Ok(Some(server)) => {
                self.servers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(server);
                "each segment spoken by a child forked from one loaded libespeak-ng: the espeak-ng program's \
                 samples, its word events as the word spans"
                    .into()
            }
            Ok(None) => format!(
                "one espeak-ng process per segment, words spread evenly: {}",
                self.unusable.get().map_or("", String::as_str)
            ),
            Err(e) => format!("the espeak-ng synthesis server does not start: {e}"),
        })
    }
    fn fingerprint(&self, voice: &str) -> Result<String> {
        Ok(format!("{} voice={voice}", self.version()?))
    }
    fn synthesize(&self, request: &SpeechRequest) -> std::result::Result<Audio, SynthError> {
        let pitch = pitch(request.take);
        let asked = server::Request {
            text: request.text,
            voice: request.voice,
            rate: request.rate.unwrap_or(0),
            pitch,
        };
        let Some(rendered) = self.through_server(&asked)? else {
            return program(request);
        };
        if rendered.samples.is_empty() {
            return Err(no_audio(request.voice));
        }
        let words = word_spans(request.text, &rendered.words, &rendered.samples);
        Ok(Audio {
            sample_rate: rendered.sample_rate,
            samples: rendered.samples,
            words: Some(words),
        })
    }
}

/// espeak-ng's pitch (0-99) for a take.
fn pitch(take: u32) -> i32 {
    BASE_PITCH + TAKE_PITCH[(take.max(1) as usize - 1) % TAKE_PITCH.len()]
}

fn no_audio(voice: &str) -> SynthError {
    SynthError::permanent(format!(
        "espeak-ng produced no audio for voice `{voice}`; run `narrate voices` to list voices"
    ))
}

/// Speaks one request with one `espeak-ng` process (where libespeak-ng cannot be loaded; tests compare the two).
pub(crate) fn program(request: &SpeechRequest) -> std::result::Result<Audio, SynthError> {
    // The WAV comes back on stdout: no temporary file, so a full or missing $TMPDIR cannot cut it short, and a
    // killed run leaves nothing behind.
    let pitch = pitch(request.take);
    let mut cmd = Command::new(PROGRAM);
    cmd.arg("-v")
        .arg(request.voice)
        .arg("-p")
        .arg(pitch.to_string())
        .arg("--stdout")
        .arg("--stdin");
    if let Some(wpm) = request.rate {
        cmd.arg("-s").arg(wpm.to_string());
    }
    die_with_parent(&mut cmd);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run espeak-ng: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("espeak-ng has no stdin")?;
    // Written from another thread: espeak-ng may fill its stdout pipe before it has read all of stdin.
    let text = request.text.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child
        .wait_with_output()
        .map_err(|e| format!("espeak-ng did not finish: {e}"))?;
    writer
        .join()
        .map_err(|_| "cannot send text to espeak-ng".to_string())?
        .map_err(|e| format!("cannot send text to espeak-ng: {e}"))?;
    let first_error = || {
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .next()
            .map(str::to_owned)
    };
    if !out.status.success() {
        return Err(SynthError::permanent(format!(
            "espeak-ng exited with {}: {}",
            out.status,
            first_error().unwrap_or_else(|| "no message".into())
        )));
    }
    // espeak-ng exits 0 even for an unknown voice, writing nothing useful; report what it said.
    let audio = crate::audio::wav::read_bytes(out.stdout).map_err(|e| match first_error() {
        Some(msg) => format!("espeak-ng: {msg}"),
        None => format!("espeak-ng wrote no usable audio: {e}"),
    })?;
    if audio.samples.is_empty() {
        return Err(no_audio(request.voice));
    }
    Ok(audio)
}

/// The spoken words of `text` placed by espeak-ng's word events: each word starts where the first event inside
/// it does (a word with none starts where the one before it does) and ends where the next word starts, less
/// the silence before that.
fn word_spans(
    text: &str,
    events: &[server::WordEvent],
    samples: &[i16],
) -> Vec<crate::audio::WordSpan> {
    // Each spoken word with its characters in the text (espeak counts characters from 1).
    let mut words: Vec<(&str, usize, usize)> = Vec::new();
    let mut chars = 0;
    for piece in text.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end_matches(char::is_whitespace);
        let lead = word.len()
            - word
                .trim_start_matches(|c: char| !c.is_alphanumeric())
                .len();
        let trimmed = word.trim_matches(|c: char| !c.is_alphanumeric());
        if !trimmed.is_empty() {
            let from = chars + word[..lead].chars().count();
            words.push((trimmed, from, from + trimmed.chars().count()));
        }
        chars += piece.chars().count();
    }
    let len = samples.len() as u64;
    let mut starts = Vec::with_capacity(words.len());
    let mut last = 0u64;
    for &(_, from, to) in &words {
        let start = events
            .iter()
            .find(|e| {
                let a = e.position.saturating_sub(1) as usize;
                let b = a + (e.length.max(1) as usize);
                a < to && b > from
            })
            .map_or(last, |e| u64::from(e.sample).min(len).max(last));
        starts.push(start);
        last = start;
    }
    let quiet = |s: &i16| s.unsigned_abs() < 64;
    words
        .iter()
        .enumerate()
        .map(|(i, &(word, _, _))| {
            let start = starts[i];
            let next = starts[i + 1..]
                .iter()
                .copied()
                .find(|&s| s > start)
                .unwrap_or(len);
            let sound = samples[start as usize..next as usize]
                .iter()
                .rposition(|s| !quiet(s))
                .map_or(next, |p| start + p as u64 + 1);
            crate::audio::WordSpan {
                text: word.to_string(),
                start_sample: start,
                end_sample: sound.max(start),
            }
        })
        .collect()
}

/// Makes the child killed when the thread that started it ends, so a killed narrate leaves no espeak-ng running
/// on (Linux's `PR_SET_PDEATHSIG`; elsewhere nothing). The thread waits for its child, so this never cuts one
/// short.
fn die_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe and touches only the child's own state between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}
