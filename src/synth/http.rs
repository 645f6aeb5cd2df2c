//! The `http` backend: any speech server with OpenAI's `POST /v1/audio/speech` request shape (Kokoro-FastAPI,
//! openedai-speech, a cloud API, or another machine's `narrate serve`).
//!
//! Transient faults (connection errors, timeouts, 429, 5xx, a 2xx answer that is not audio) are retried by the
//! scheduler with exponential backoff and jitter, honouring `Retry-After`; other statuses fail the segment at
//! once. The API key is read from an environment variable and never written anywhere.
//!
//! An answer is the whole body: read to the end of the stream, as its framing says (ureq checks both): a
//! connection that closes before its `Content-Length` is reached, or a chunked body without its terminating
//! chunk, is a transport error ("ended call cannot proceed"), hence transient. A streamed WAV's header carries
//! placeholder sizes, so the body's real length is what counts (`audio::wav::read_bytes`); a header that
//! promises more than the body holds is cut off. A body whose end nothing marks (no length, not chunked: the
//! connection's close ends it) cannot be told from a cut one by its framing; the scheduler's plausibility
//! check (`audio::plausible`: ending mid-sound, short for the voice's pace) catches those once the voice's pace
//! is known, and until then such an answer is asked for twice: the two must agree in length.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::{Audio, Backend, SpeechRequest, SynthError, VoiceInfo};
use crate::error::{Error, Result};

/// The http backend's settings (`[http]` in narrate.toml, `--http-*` flags), resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// Base URL: the server answers at `{url}/v1/audio/speech`.
    pub url: Option<String>,
    /// The `model` sent with each request [default: tts-1].
    pub model: Option<String>,
    /// The environment variable holding the API key [default: NARRATE_HTTP_API_KEY].
    pub api_key_env: Option<String>,
    /// `wav` (default) or `pcm` (raw 16-bit little-endian mono at `pcm_rate`).
    pub format: ResponseFormat,
    /// Sample rate of `pcm` answers.
    pub pcm_rate: u32,
    /// Longest wait for one answer.
    pub timeout: Duration,
    /// Most requests in flight at once.
    pub concurrency: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            url: None,
            model: None,
            api_key_env: None,
            format: ResponseFormat::Wav,
            pcm_rate: 24_000,
            timeout: Duration::from_secs(120),
            concurrency: 4,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ResponseFormat {
    #[default]
    Wav,
    Pcm,
}

crate::values::named_enum!(ResponseFormat, "response format", [
    ResponseFormat::Wav => "wav",
    ResponseFormat::Pcm => "pcm",
]);

const DEFAULT_MODEL: &str = "tts-1";
const DEFAULT_KEY_ENV: &str = "NARRATE_HTTP_API_KEY";
/// The voice sent when none is chosen; `narrate serve` reads it as its backend's default voice.
pub(crate) const DEFAULT_VOICE: &str = "default";
/// The words per minute that `speed = 1.0` stands for, both ways (client and `narrate serve`).
pub(crate) const WPM_AT_SPEED_1: f64 = 175.0;
/// A new take asks for a slightly different speed, the one thing every OpenAI-shaped server varies.
const TAKE_SPEED: [f64; 6] = [1.0, 0.96, 1.04, 0.92, 1.08, 1.0];
const MAX_AUDIO_BYTES: u64 = 256 << 20;
/// Two answers of one sentence whose lengths differ by more than this share disagree: one was cut off.
const AGREE: f64 = 0.1;

pub(crate) struct Http {
    config: Config,
    agent: ureq::Agent,
    endpoint: std::result::Result<Endpoint, String>,
}

/// The server's base URL, parsed once.
#[derive(Debug)]
struct Endpoint {
    /// As given, without a trailing `/` or `/v1`: requests go to `{base}/v1/…`.
    base: String,
    /// The same without credentials, for cache keys and messages.
    shown: String,
    /// `host:port` to connect to.
    address: String,
}

impl Endpoint {
    fn parse(url: Option<&str>) -> std::result::Result<Endpoint, String> {
        let url = url.ok_or(
            "no server URL; set `url` under [http] in narrate.toml, --http-url or NARRATE_HTTP_URL",
        )?;
        let base = url.trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        let not_http = || "the server URL is not an http:// or https:// URL".to_string();
        let uri: ureq::http::Uri = base.parse().map_err(|_| not_http())?;
        let default_port = match uri.scheme_str() {
            Some("http") => 80,
            Some("https") => 443,
            _ => return Err(not_http()),
        };
        let authority = uri.authority().ok_or_else(not_http)?;
        let port = authority.port().map_or(String::new(), |p| format!(":{p}"));
        Ok(Endpoint {
            base: base.to_string(),
            shown: format!(
                "{}://{}{port}{}",
                uri.scheme_str().unwrap_or("http"),
                authority.host(),
                uri.path().trim_end_matches('/')
            ),
            address: format!(
                "{}:{}",
                authority.host(),
                authority.port_u16().unwrap_or(default_port)
            ),
        })
    }
}

impl Http {
    pub(crate) fn new(config: Config) -> Http {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(config.timeout))
            .user_agent(concat!("narrate/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Http {
            endpoint: Endpoint::parse(config.url.as_deref()),
            config,
            agent,
        }
    }

    fn unavailable(reason: impl Into<String>) -> Error {
        Error::BackendUnavailable {
            backend: "http".into(),
            reason: reason.into(),
        }
    }

    fn endpoint(&self) -> Result<&Endpoint> {
        self.endpoint
            .as_ref()
            .map_err(|reason| Self::unavailable(reason.clone()))
    }

    fn model(&self) -> &str {
        self.config.model.as_deref().unwrap_or(DEFAULT_MODEL)
    }

    fn api_key(&self) -> Option<String> {
        let var = self
            .config
            .api_key_env
            .as_deref()
            .unwrap_or(DEFAULT_KEY_ENV);
        std::env::var(var).ok().filter(|k| !k.is_empty())
    }

    fn format(&self) -> ResponseFormat {
        self.config.format
    }

    /// One request, no retries: the audio, and whether its end was marked (by a length or the terminating chunk,
    /// which ureq checks) rather than by the connection's close.
    fn attempt(
        &self,
        url: &str,
        body: &serde_json::Value,
    ) -> std::result::Result<(Audio, bool), Fault> {
        let mut request = self.agent.post(url).content_type("application/json");
        if let Some(key) = self.api_key() {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        let mut response = request
            .send(body.to_string())
            .map_err(|e| Fault::transient(transport_message(&e), None))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type").unwrap_or_default();
        let framed = header("content-length").is_some()
            || header("transfer-encoding")
                .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
        let retry_after = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_AUDIO_BYTES)
            .read_to_vec()
            .map_err(|e| Fault::transient(transport_message(&e), None))?;
        match status {
            // A body that is not audio — cut off on the way (a dropped connection, a server that died
            // mid-answer), random bytes, a proxy's HTML page — may come whole next time.
            200..=299 => self
                .decode(&content_type, bytes)
                .map(|audio| (audio, framed))
                .map_err(|m| Fault::transient(m, None)),
            408 | 429 | 500..=599 => Err(Fault::transient(
                format!("the server answered {status}{}", error_detail(&bytes)),
                retry_after.map(Duration::from_secs),
            )),
            401 | 403 => Err(Fault::permanent(format!(
                "the server refused the request ({status}{}); set the API key in ${}",
                error_detail(&bytes),
                self.config
                    .api_key_env
                    .as_deref()
                    .unwrap_or(DEFAULT_KEY_ENV)
            ))),
            _ => Err(Fault::permanent(format!(
                "the server answered {status}{}",
                error_detail(&bytes)
            ))),
        }
    }

    /// Turns a 2xx body into audio, or says what it was instead.
    fn decode(&self, content_type: &str, bytes: Vec<u8>) -> std::result::Result<Audio, String> {
        let mime = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if mime.starts_with("text/") || mime.contains("json") || mime.contains("html") {
            return Err(format!(
                "the server answered {mime}, not audio{}",
                error_detail(&bytes)
            ));
        }
        if bytes.is_empty() {
            return Err("the server answered with an empty body".into());
        }
        match self.format() {
            ResponseFormat::Wav => {
                if !bytes.starts_with(b"RIFF") {
                    return Err(format!(
                        "the server's answer ({}, {} bytes) is not a WAV file; set `format` under [http] to what it sends",
                        if mime.is_empty() { "no content type" } else { &mime },
                        bytes.len()
                    ));
                }
                crate::audio::wav::read_bytes(bytes)
                    .map_err(|e| format!("the server's WAV cannot be read: {e}"))
            }
            ResponseFormat::Pcm => Ok(Audio {
                sample_rate: self.config.pcm_rate,
                samples: bytes
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]]))
                    .collect(),
                words: None,
            }),
        }
    }
}

/// Why one request failed, and whether trying again may help.
struct Fault {
    message: String,
    transient: bool,
    retry_after: Option<Duration>,
}

impl Fault {
    fn transient(message: String, retry_after: Option<Duration>) -> Fault {
        Fault {
            message,
            transient: true,
            retry_after,
        }
    }
    fn permanent(message: String) -> Fault {
        Fault {
            message,
            transient: false,
            retry_after: None,
        }
    }
}

fn transport_message(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "no answer within the timeout ([http] timeout)".into(),
        ureq::Error::ConnectionFailed | ureq::Error::Io(_) | ureq::Error::HostNotFound => {
            format!("cannot reach the server: {e}")
        }
        other => other.to_string(),
    }
}

/// `: <message>` from an error body (OpenAI's `{"error": {"message"}}`, FastAPI's `{"detail"}`, or its first
/// line of text), shortened to one line.
fn error_detail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(2000)]);
    let json: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    let message = json
        .as_ref()
        .and_then(|j| {
            j.pointer("/error/message")
                .or_else(|| j.get("error"))
                .or_else(|| j.get("detail"))
                .or_else(|| j.get("message"))
        })
        .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_owned))
        .unwrap_or_else(|| text.lines().next().unwrap_or("").to_string());
    let message: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if message.is_empty() || !message.chars().any(char::is_alphanumeric) {
        return String::new();
    }
    let short: String = message.chars().take(160).collect();
    format!(": {short}")
}

impl Backend for Http {
    fn install_hint(&self) -> Option<&'static str> {
        Some("set [http] url (and model, api_key_env) in narrate.toml or pass --http-url; `narrate serve` is one such server")
    }
    fn name(&self) -> &'static str {
        "http"
    }
    fn takes_differ(&self) -> bool {
        true // a take asks for another speed, and a server's voice is rarely the same twice
    }
    fn describe(&self) -> &'static str {
        "any OpenAI-compatible speech server (/v1/audio/speech), e.g. another machine's `narrate serve`"
    }
    fn check(&self) -> Result<()> {
        let endpoint = self.endpoint()?;
        // Connect once, so a server that is not running is one clear error rather than a failure per segment.
        let addrs: Vec<_> = endpoint
            .address
            .to_socket_addrs()
            .map_err(|e| Self::unavailable(format!("cannot resolve {}: {e}", endpoint.address)))?
            .collect();
        let reached = addrs
            .iter()
            .any(|a| TcpStream::connect_timeout(a, Duration::from_secs(5)).is_ok());
        if reached {
            Ok(())
        } else {
            Err(Self::unavailable(format!(
                "nothing answers at {}; start the server, or fix [http] url / --http-url",
                endpoint.shown
            )))
        }
    }
    fn installed(&self) -> bool {
        self.config.url.is_some()
    }
    fn default_voice(&self) -> String {
        DEFAULT_VOICE.into()
    }
    fn voices(&self) -> Result<Vec<VoiceInfo>> {
        // Not part of OpenAI's API, but Kokoro-FastAPI and `narrate serve` list their voices here.
        let endpoint = self.endpoint()?;
        let url = format!("{}/v1/audio/voices", endpoint.base);
        let mut request = self.agent.get(&url);
        if let Some(key) = self.api_key() {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        let fail = |reason: String| {
            Self::unavailable(format!("{}/v1/audio/voices: {reason}", endpoint.shown))
        };
        let mut response = request.call().map_err(|e| fail(transport_message(&e)))?;
        if !response.status().is_success() {
            return Err(fail(format!(
                "answered {}; this server does not list its voices, give the one it documents with --voice",
                response.status().as_u16()
            )));
        }
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| fail(transport_message(&e)))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| fail(format!("not a voice list: {e}")))?;
        let list = json
            .get("voices")
            .and_then(|v| v.as_array())
            .ok_or_else(|| fail("no `voices` list in the answer".into()))?;
        Ok(list
            .iter()
            .filter_map(|v| {
                let name = v.as_str().or_else(|| v.get("name")?.as_str())?;
                Some(VoiceInfo {
                    name: name.to_string(),
                    language: v
                        .get("language")
                        .and_then(|l| l.as_str())
                        .unwrap_or("")
                        .to_string(),
                    description: v
                        .get("description")
                        .and_then(|l| l.as_str())
                        .unwrap_or("")
                        .to_string(),
                })
            })
            .collect())
    }
    fn fingerprint(&self, voice: &str) -> Result<String> {
        // Credentials in the URL are not part of what the audio sounds like.
        Ok(format!(
            "http {} model={} voice={voice} format={}",
            self.endpoint()?.shown,
            self.model(),
            self.format()
        ))
    }
    fn max_parallel(&self) -> Option<usize> {
        Some(self.config.concurrency.max(1))
    }
    fn synthesize(&self, request: &SpeechRequest) -> std::result::Result<Audio, SynthError> {
        let url = format!(
            "{}/v1/audio/speech",
            self.endpoint()
                .map_err(|e| SynthError::permanent(e.to_string()))?
                .base
        );
        let take_speed = TAKE_SPEED[(request.take.max(1) as usize - 1) % TAKE_SPEED.len()];
        let speed = request
            .rate
            .map_or(1.0, |wpm| f64::from(wpm) / WPM_AT_SPEED_1)
            * take_speed;
        let mut body = serde_json::json!({
            "model": self.model(),
            "voice": request.voice,
            "input": request.text,
            "response_format": self.format().name(),
        });
        if speed != 1.0 {
            body["speed"] = serde_json::json!((speed * 1000.0).round() / 1000.0);
        }
        // One request: retries are the scheduler's (one policy for every backend), told by the error's kind.
        let fault = |f: Fault| SynthError {
            message: f.message,
            transient: f.transient,
            retry_after: f.retry_after,
        };
        let (audio, framed) = self.attempt(&url, &body).map_err(fault)?;
        let voice = crate::audio::plausible::voice_key(self.name(), request.voice, request.rate);
        if framed || crate::audio::plausible::paces().knows(&voice) {
            return Ok(audio);
        }
        // Nothing marked the end of this body and the voice's pace is not known yet: a second answer must agree.
        let (again, _) = self.attempt(&url, &body).map_err(fault)?;
        let (a, b) = (audio.seconds(), again.seconds());
        if (a - b).abs() > a.max(b) * AGREE {
            return Err(SynthError::transient(
                format!(
                    "two answers for the sentence last {a:.2} s and {b:.2} s, and nothing marked where they end: one was cut off"
                ),
                None,
            ));
        }
        Ok(if b > a { again } else { audio })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_become_one_line() {
        assert_eq!(
            error_detail(br#"{"error": {"message": "Invalid\nvoice", "type": "x"}}"#),
            ": Invalid voice"
        );
        assert_eq!(error_detail(br#"{"detail": "busy"}"#), ": busy");
        assert_eq!(error_detail(b"<html>\n<body>oops</body>"), ": <html>");
        assert_eq!(error_detail(b""), "");
    }

    #[test]
    fn fingerprint_leaves_out_credentials() {
        let http = Http::new(Config {
            url: Some("https://user:secret@tts.example/v1/".into()),
            ..Config::default()
        });
        let f = http.fingerprint("af_sky").unwrap();
        assert!(!f.contains("secret"), "{f}");
        assert!(
            f.contains("https://tts.example model=tts-1 voice=af_sky"),
            "{f}"
        );
    }

    #[test]
    fn endpoints_are_parsed_once() {
        let parse = |url| Endpoint::parse(Some(url)).map(|e| (e.base, e.shown, e.address));
        assert_eq!(
            parse("http://127.0.0.1:8355/v1/").unwrap(),
            (
                "http://127.0.0.1:8355".into(),
                "http://127.0.0.1:8355".into(),
                "127.0.0.1:8355".into()
            )
        );
        assert_eq!(
            parse("https://key:pw@tts.example/api").unwrap(),
            (
                "https://key:pw@tts.example/api".into(),
                "https://tts.example/api".into(),
                "tts.example:443".into()
            )
        );
        assert_eq!(parse("http://[::1]").unwrap().2, "[::1]:80");
        assert!(parse("ftp://tts.example").is_err());
        assert!(parse("tts.example:8355").is_err());
        assert!(Endpoint::parse(None).unwrap_err().contains("no server URL"));
    }

    #[test]
    fn non_audio_answers_are_named() {
        let http = Http::new(Config::default());
        let e = http
            .decode("text/html; charset=utf-8", b"<h1>Bad gateway</h1>".to_vec())
            .unwrap_err();
        assert!(e.contains("text/html, not audio"), "{e}");
        let e = http
            .decode("application/octet-stream", b"ID3\x04junk".to_vec())
            .unwrap_err();
        assert!(e.contains("not a WAV"), "{e}");
    }

    /// A streamed WAV (placeholder sizes) of a second of a 200 Hz tone.
    fn streamed_wav() -> Vec<u8> {
        let audio = Audio {
            sample_rate: 16_000,
            samples: (0..16_000)
                .map(|n| (6000.0 * (n as f64 * 0.0785).sin()) as i16)
                .collect(),
            words: None,
        };
        let mut out = std::io::Cursor::new(Vec::new());
        crate::audio::wav::write_to(&mut out, &audio).unwrap();
        let mut bytes = out.into_inner();
        bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        bytes[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        bytes
    }

    /// A server on 127.0.0.1 that answers every request with `answer` and closes the connection; its URL.
    fn answer_once(answer: Vec<u8>) -> String {
        answering(vec![answer])
    }

    /// A server on 127.0.0.1 that answers requests with `answers` in turn, closing each connection; its URL.
    fn answering(answers: Vec<Vec<u8>>) -> String {
        use std::io::{BufRead, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().flatten().enumerate() {
                let answer = &answers[n % answers.len()];
                let mut reader = std::io::BufReader::new(stream);
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" || line.is_empty() {
                        break;
                    }
                }
                let _ = reader.read_exact(&mut vec![0; length]);
                let mut stream = reader.into_inner();
                let _ = stream.write_all(answer);
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        });
        url
    }

    fn ask(url: String) -> std::result::Result<Audio, SynthError> {
        Http::new(Config {
            url: Some(url),
            timeout: Duration::from_secs(30),
            ..Config::default()
        })
        .synthesize(&SpeechRequest {
            text: "A calm river runs past the mill.",
            voice: "default",
            rate: None,
            take: 1,
        })
    }

    fn head(framing: &str) -> Vec<u8> {
        format!("HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\n{framing}\r\n").into_bytes()
    }

    /// Chunked framing of `body` in chunks of 1000 bytes, with or without the terminating chunk.
    fn chunked(body: &[u8], terminated: bool) -> Vec<u8> {
        let mut out = head("Transfer-Encoding: chunked\r\n");
        for chunk in body.chunks(1000) {
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        if terminated {
            out.extend_from_slice(b"0\r\n\r\n");
        }
        out
    }

    #[test]
    fn a_body_is_read_to_its_end_and_one_ended_early_is_transient() {
        let wav = streamed_wav();
        let whole = 16_000;
        // Whole answers: with a length, chunked, or ended by the connection's close.
        let mut sized = head(&format!("Content-Length: {}\r\n", wav.len()));
        sized.extend_from_slice(&wav);
        let mut closed = head("Connection: close\r\n");
        closed.extend_from_slice(&wav);
        for answer in [sized, chunked(&wav, true), closed] {
            assert_eq!(ask(answer_once(answer)).unwrap().samples.len(), whole);
        }
        // Ended early: fewer bytes than Content-Length, a chunked body without its terminating chunk.
        let mut short = head(&format!("Content-Length: {}\r\n", wav.len()));
        short.extend_from_slice(&wav[..wav.len() / 2]);
        for answer in [short, chunked(&wav[..wav.len() / 2], false)] {
            let e = ask(answer_once(answer)).unwrap_err();
            assert!(e.transient, "{}", e.message);
            assert!(!e.message.contains("WAV"), "{}", e.message);
        }
        // A body ended by the close of the connection, cut: its framing cannot tell, so it reads as shorter
        // audio (asked twice, the same cut agrees with itself; the scheduler's plausibility check refuses it).
        let mut cut = head("Connection: close\r\n");
        cut.extend_from_slice(&wav[..wav.len() / 2]);
        assert!(ask(answer_once(cut.clone())).unwrap().samples.len() < whole);
        // A whole answer and a cut one do not agree: transient.
        let mut closed = head("Connection: close\r\n");
        closed.extend_from_slice(&wav);
        let e = ask(answering(vec![closed, cut])).unwrap_err();
        assert!(
            e.transient && e.message.contains("one was cut off"),
            "{}",
            e.message
        );
    }

    #[test]
    fn garbage_answers_are_transient() {
        let mut noise = head("Connection: close\r\n");
        let mut x = 99u32;
        noise.extend((0..5000).map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 24) as u8
        }));
        let html = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 20\r\n\r\n<h1>Bad gateway</h1>";
        let mut promised = head("Connection: close\r\n");
        let wav = streamed_wav();
        promised.extend_from_slice(&wav[..40]);
        promised.extend_from_slice(&32_000u32.to_le_bytes());
        promised.extend_from_slice(&wav[44..10_000]);
        for answer in [noise, html.to_vec(), promised] {
            let e = ask(answer_once(answer)).unwrap_err();
            assert!(e.transient, "{}", e.message);
        }
    }
}
