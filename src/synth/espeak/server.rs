//! The espeak synthesis server: `narrate __espeak-server` loads and initializes libespeak-ng once, then forks a
//! child per request, so every request starts from the same freshly initialized engine (libespeak-ng's audio
//! otherwise depends on what it synthesized before in the process) and gives the samples of `espeak-ng` itself,
//! without a process start and the data loading per segment. The child speaks with the flags of the `espeak-ng`
//! command (input read as UTF-8 where it is, `[[phonemes]]`, a pause at the end) and sends back the samples and
//! the word events; the server, single-threaded so it may fork, relays them or says how the child failed.
//!
//! The wire: every message is a frame, a u32 length (little-endian) and that many bytes. The server first sends
//! a hello (`0`, sample rate u32, library version; or `1` and why the library cannot be used), then answers
//! each request frame (rate u32 words a minute or 0, pitch i32, voice length u32, voice, text) with one
//! response frame (`0`, sample rate u32, sample count u32, i16 samples, word count u32, per word: character
//! position from 1, length in characters, first sample, each u32; or `1` and a message). It exits when its
//! stdin closes, and dies with the narrate thread that started it.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_uint, c_void, CString};
use std::io::{BufReader, Read, Write};
use std::os::fd::FromRawFd;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::synth::libespeak::Library;

/// The first argument that makes `narrate` this server (checked by `main` before anything else).
pub const ARG: &str = "__espeak-server";

/// One request.
pub(crate) struct Request<'a> {
    pub text: &'a str,
    pub voice: &'a str,
    /// Words a minute; 0 for the voice's default.
    pub rate: u32,
    pub pitch: i32,
}

/// One word event: where the word is in the text (characters, from 1) and where its sound starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WordEvent {
    pub position: u32,
    pub length: u32,
    pub sample: u32,
}

/// The audio of one request.
pub(crate) struct Rendered {
    pub sample_rate: u32,
    pub samples: Vec<i16>,
    pub words: Vec<WordEvent>,
}

// --- the wire ---

fn read_frame(r: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
    r.read_exact(&mut body)?;
    Ok(Some(body))
}

fn write_frame(w: &mut impl Write, body: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(body.len()).map_err(|_| std::io::Error::other("frame too long"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(body)?;
    w.flush()
}

fn error_body(message: &str) -> Vec<u8> {
    let mut body = vec![1u8];
    body.extend_from_slice(message.as_bytes());
    body
}

/// Reads the fields of a body in order.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("the espeak server sent a short message".into());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn status(&mut self) -> Result<std::result::Result<(), String>, String> {
        Ok(match self.take(1)?[0] {
            0 => Ok(()),
            _ => Err(String::from_utf8_lossy(self.0).into_owned()),
        })
    }
}

fn encode_request(r: &Request) -> Vec<u8> {
    let mut body = Vec::with_capacity(16 + r.voice.len() + r.text.len());
    body.extend_from_slice(&r.rate.to_le_bytes());
    body.extend_from_slice(&r.pitch.to_le_bytes());
    body.extend_from_slice(&(r.voice.len() as u32).to_le_bytes());
    body.extend_from_slice(r.voice.as_bytes());
    body.extend_from_slice(r.text.as_bytes());
    body
}

fn encode_rendered(r: &Rendered) -> Vec<u8> {
    let mut body = Vec::with_capacity(13 + r.samples.len() * 2 + r.words.len() * 12);
    body.push(0);
    body.extend_from_slice(&r.sample_rate.to_le_bytes());
    body.extend_from_slice(&(r.samples.len() as u32).to_le_bytes());
    for s in &r.samples {
        body.extend_from_slice(&s.to_le_bytes());
    }
    body.extend_from_slice(&(r.words.len() as u32).to_le_bytes());
    for w in &r.words {
        for v in [w.position, w.length, w.sample] {
            body.extend_from_slice(&v.to_le_bytes());
        }
    }
    body
}

fn decode_rendered(body: &[u8]) -> Result<std::result::Result<Rendered, String>, String> {
    let mut f = Fields(body);
    if let Err(message) = f.status()? {
        return Ok(Err(message));
    }
    let sample_rate = f.u32()?;
    let n = f.u32()? as usize;
    let samples = f
        .take(n * 2)?
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let m = f.u32()? as usize;
    let mut words = Vec::with_capacity(m);
    for _ in 0..m {
        words.push(WordEvent {
            position: f.u32()?,
            length: f.u32()?,
            sample: f.u32()?,
        });
    }
    Ok(Ok(Rendered {
        sample_rate,
        samples,
        words,
    }))
}

// --- the client side, in narrate ---

/// A running server.
pub(crate) struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

/// Why a server could not start.
pub(crate) enum StartError {
    /// The library cannot be used here (not installed, or not the version of the `espeak-ng` program).
    Unusable(String),
    /// The server did not start or answer.
    Failed(String),
}

impl Server {
    /// Starts `program __espeak-server` and reads its hello; `version` is the `espeak-ng --version` line its
    /// library must match (the samples must be those of that program).
    pub(crate) fn start(program: &Path, version: &str) -> Result<Server, StartError> {
        let mut cmd = Command::new(program);
        cmd.arg(ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        super::die_with_parent(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| StartError::Failed(format!("cannot start the espeak server: {e}")))?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut server = Server {
            child,
            stdin,
            stdout,
        };
        let hello = read_frame(&mut server.stdout)
            .ok()
            .flatten()
            .ok_or_else(|| StartError::Failed("the espeak server did not start".into()))?;
        let mut f = Fields(&hello);
        f.status()
            .map_err(StartError::Failed)?
            .map_err(StartError::Unusable)?;
        f.u32().map_err(StartError::Failed)?;
        let library = String::from_utf8_lossy(f.0).into_owned();
        // `eSpeak NG text-to-speech: 1.51  Data at: …`: the library's own version must be the program's.
        if !version.split_whitespace().any(|w| w == library) {
            return Err(StartError::Unusable(format!(
                "libespeak-ng {library} is not the version of the espeak-ng program ({version})"
            )));
        }
        Ok(server)
    }

    /// Sends one request and reads its answer: `Err` when the server is gone, `Ok(Err)` when it said the
    /// request failed.
    pub(crate) fn request(
        &mut self,
        request: &Request,
    ) -> std::io::Result<std::result::Result<Rendered, String>> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::other("closed"))?;
        write_frame(stdin, &encode_request(request))?;
        let body = read_frame(&mut self.stdout)?.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the server closed")
        })?;
        decode_rendered(&body).map_err(std::io::Error::other)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A closed stdin ends the server between requests; one that is stuck is killed.
        drop(self.stdin.take());
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

// --- the server side, in `narrate __espeak-server` ---

type SetVoiceByName = unsafe extern "C" fn(*const c_char) -> c_int;
type SetVoiceByProperties = unsafe extern "C" fn(*mut VoiceSpec) -> c_int;
type SetParameter = unsafe extern "C" fn(c_int, c_int, c_int) -> c_int;
type Callback = unsafe extern "C" fn(*mut i16, c_int, *mut Event) -> c_int;
type SetSynthCallback = unsafe extern "C" fn(Callback);
type Synth = unsafe extern "C" fn(
    *const c_void,
    usize,
    c_uint,
    c_int,
    c_uint,
    c_uint,
    *mut c_uint,
    *mut c_void,
) -> c_int;
type Synchronize = unsafe extern "C" fn() -> c_int;

/// speak_lib.h's `espeak_VOICE`.
#[repr(C)]
struct VoiceSpec {
    name: *const c_char,
    languages: *const c_char,
    identifier: *const c_char,
    gender: u8,
    age: u8,
    variant: u8,
    xx1: u8,
    score: c_int,
    spare: *mut c_void,
}

/// speak_lib.h's `espeak_EVENT`.
#[repr(C)]
struct Event {
    kind: c_int,
    unique_identifier: c_uint,
    text_position: c_int,
    length: c_int,
    audio_position: c_int,
    sample: c_int,
    user_data: *mut c_void,
    id: *mut c_void,
}

const EVENT_LIST_TERMINATED: c_int = 0;
const EVENT_WORD: c_int = 1;
const RATE: c_int = 1;
const PITCH: c_int = 3;
const POS_CHARACTER: c_int = 1;
/// The `espeak-ng` program's flags: `espeakCHARS_AUTO | espeakPHONEMES | espeakENDPAUSE`.
const SYNTH_FLAGS: c_uint = 0x100 | 0x1000;

struct Engine {
    _lib: Library,
    sample_rate: u32,
    set_voice: SetVoiceByName,
    set_voice_by_properties: SetVoiceByProperties,
    set_parameter: SetParameter,
    synth: Synth,
    synchronize: Synchronize,
}

thread_local! {
    /// What the synth callback collected (only ever used in a forked child, which has one thread).
    static COLLECTED: RefCell<(Vec<i16>, Vec<WordEvent>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

unsafe extern "C" fn collect(wav: *mut i16, n: c_int, events: *mut Event) -> c_int {
    COLLECTED.with(|c| {
        let (samples, words) = &mut *c.borrow_mut();
        if !wav.is_null() && n > 0 {
            // SAFETY: espeak hands `n` samples at `wav`, valid during the call.
            samples.extend_from_slice(unsafe { std::slice::from_raw_parts(wav, n as usize) });
        }
        let mut e = events;
        // SAFETY: the event list ends with an EVENT_LIST_TERMINATED entry.
        while !e.is_null() && unsafe { (*e).kind } != EVENT_LIST_TERMINATED {
            let ev = unsafe { &*e };
            if ev.kind == EVENT_WORD {
                words.push(WordEvent {
                    position: ev.text_position.max(0) as u32,
                    length: ev.length.max(0) as u32,
                    sample: ev.sample.max(0) as u32,
                });
            }
            e = unsafe { e.add(1) };
        }
    });
    0
}

fn load() -> Result<Engine, String> {
    let lib = Library::load()?;
    // SAFETY: the types match speak_lib.h.
    unsafe {
        let set_callback: SetSynthCallback = lib.get(b"espeak_SetSynthCallback\0")?;
        set_callback(collect);
        Ok(Engine {
            sample_rate: lib.sample_rate,
            set_voice: lib.get(b"espeak_SetVoiceByName\0")?,
            set_voice_by_properties: lib.get(b"espeak_SetVoiceByProperties\0")?,
            set_parameter: lib.get(b"espeak_SetParameter\0")?,
            synth: lib.get(b"espeak_Synth\0")?,
            synchronize: lib.get(b"espeak_Synchronize\0")?,
            _lib: lib,
        })
    }
}

fn parse_request(body: &[u8]) -> Result<(u32, i32, String, Vec<u8>), String> {
    let mut f = Fields(body);
    let rate = f.u32()?;
    let pitch = f.u32()? as i32;
    let n = f.u32()? as usize;
    let voice = String::from_utf8_lossy(f.take(n)?).into_owned();
    Ok((rate, pitch, voice, f.0.to_vec()))
}

/// Makes `voice` the engine's voice, by name or else by language (as the program's `-v` does).
fn set_voice(engine: &Engine, voice: &str) -> Result<(), String> {
    let c_voice = CString::new(voice).map_err(|_| "bad voice name".to_string())?;
    // SAFETY: a valid C string and the engine's own functions, in its only thread.
    unsafe {
        if (engine.set_voice)(c_voice.as_ptr()) == 0 {
            return Ok(());
        }
        let mut spec = VoiceSpec {
            name: std::ptr::null(),
            languages: c_voice.as_ptr(),
            identifier: std::ptr::null(),
            gender: 0,
            age: 0,
            variant: 0,
            xx1: 0,
            score: 0,
            spare: std::ptr::null_mut(),
        };
        if (engine.set_voice_by_properties)(&mut spec) == 0 {
            return Ok(());
        }
    }
    Err(format!(
        "espeak-ng has no voice `{voice}`; run `narrate voices` to list voices"
    ))
}

/// Speaks one request as `espeak-ng -v VOICE -p PITCH [-s RATE] --stdin` does (in a fresh child of a server
/// whose engine already has the request's voice: setting a voice reads every voice file espeak-ng has, so it is
/// done once in the server, not once a segment).
fn speak(engine: &Engine, rate: u32, pitch: i32, text: &[u8]) -> Result<Rendered, String> {
    // SAFETY: the engine's own functions, in its only thread.
    unsafe {
        if rate > 0 {
            (engine.set_parameter)(RATE, rate as c_int, 0);
        }
        if pitch >= 0 {
            (engine.set_parameter)(PITCH, pitch, 0);
        }
        // The program reads its stdin up to the end (or a NUL) and passes two bytes more than the text.
        let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
        let mut buf = text[..end].to_vec();
        buf.extend_from_slice(&[0, 0]);
        let status = (engine.synth)(
            buf.as_ptr().cast(),
            buf.len(),
            0,
            POS_CHARACTER,
            0,
            SYNTH_FLAGS,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        if status != 0 || (engine.synchronize)() != 0 {
            return Err(format!(
                "libespeak-ng could not synthesize (error {status})"
            ));
        }
    }
    let (samples, words) = COLLECTED.with(|c| std::mem::take(&mut *c.borrow_mut()));
    Ok(Rendered {
        sample_rate: engine.sample_rate,
        samples,
        words,
    })
}

/// Runs the server until its stdin closes (`narrate __espeak-server`). Returns the exit code.
pub fn serve() -> u8 {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl on our own process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    }
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let engine = match load() {
        Ok(engine) => engine,
        Err(why) => return u8::from(write_frame(&mut stdout, &error_body(&why)).is_err()),
    };
    let mut hello = vec![0u8];
    hello.extend_from_slice(&engine.sample_rate.to_le_bytes());
    hello.extend_from_slice(engine._lib.version.as_bytes());
    if write_frame(&mut stdout, &hello).is_err() {
        return 1;
    }
    // The voice the engine has (set in the server, so every child starts with it).
    let mut voice_set: Option<String> = None;
    loop {
        let body = match read_frame(&mut stdin) {
            Ok(Some(body)) => body,
            Ok(None) => return 0,
            Err(_) => return 1,
        };
        let answer = answer(&engine, &mut voice_set, &body);
        if write_frame(&mut stdout, &answer).is_err() {
            return 1;
        }
    }
}

/// The answer to one request: its voice set in the engine if it is not the one there, then its text spoken.
fn answer(engine: &Engine, voice_set: &mut Option<String>, body: &[u8]) -> Vec<u8> {
    let (rate, pitch, voice, text) = match parse_request(body) {
        Ok(request) => request,
        Err(message) => return error_body(&message),
    };
    if voice_set.as_deref() != Some(voice.as_str()) {
        *voice_set = None;
        if let Err(message) = set_voice(engine, &voice) {
            return error_body(&message);
        }
        *voice_set = Some(voice);
    }
    fork_and_speak(engine, rate, pitch, &text)
}

/// Speaks `text` in a forked child and returns its answer, or an error body saying how the child failed.
fn fork_and_speak(engine: &Engine, rate: u32, pitch: i32, text: &[u8]) -> Vec<u8> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: plain system calls; the process has one thread, so the child may do anything the parent could.
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return error_body(&format!(
                "espeak server: no pipe: {}",
                std::io::Error::last_os_error()
            ));
        }
        let (read_fd, write_fd) = (fds[0], fds[1]);
        let pid = libc::fork();
        if pid < 0 {
            libc::close(read_fd);
            libc::close(write_fd);
            return error_body(&format!(
                "espeak server: cannot fork: {}",
                std::io::Error::last_os_error()
            ));
        }
        if pid == 0 {
            libc::close(read_fd);
            #[cfg(target_os = "linux")]
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            let answer = match speak(engine, rate, pitch, text) {
                Ok(rendered) => encode_rendered(&rendered),
                Err(message) => error_body(&message),
            };
            let mut out = std::fs::File::from_raw_fd(write_fd);
            let code = i32::from(out.write_all(&answer).is_err());
            libc::_exit(code);
        }
        libc::close(write_fd);
        let mut answer = Vec::new();
        let read = std::fs::File::from_raw_fd(read_fd).read_to_end(&mut answer);
        let mut status: c_int = 0;
        while libc::waitpid(pid, &mut status, 0) < 0
            && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
        {}
        if libc::WIFSIGNALED(status) {
            return error_body(&format!(
                "libespeak-ng crashed (signal {})",
                libc::WTERMSIG(status)
            ));
        }
        if read.is_err() || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
            return error_body("libespeak-ng's child could not send its audio");
        }
        answer
    }
}
