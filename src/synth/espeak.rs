//! The espeak-ng backend: one `espeak-ng` process per request, so any number can run in parallel safely.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

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
}

impl Espeak {
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
        let known = self.voices().ok()?.iter().any(|v| v.name == lang);
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
    fn fingerprint(&self, voice: &str) -> Result<String> {
        Ok(format!("{} voice={voice}", self.version()?))
    }
    fn synthesize(&self, request: &SpeechRequest) -> std::result::Result<Audio, SynthError> {
        // The WAV comes back on stdout: no temporary file, so a full or missing $TMPDIR cannot cut it short, and a
        // killed run leaves nothing behind.
        let pitch = BASE_PITCH + TAKE_PITCH[(request.take.max(1) as usize - 1) % TAKE_PITCH.len()];
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
            return Err(SynthError::permanent(format!(
                "espeak-ng produced no audio for voice `{}`; run `narrate voices` to list voices",
                request.voice
            )));
        }
        Ok(audio)
    }
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
