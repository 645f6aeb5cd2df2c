//! `narrate serve`: narrate's voices behind OpenAI's `/v1/audio/speech` request shape, so other tools (and
//! another narrate's `http` backend) can use them. Synthesis goes through the same segment cache as builds.
//!
//! Routes: `POST /v1/audio/speech`, `GET /v1/models`, `GET /v1/audio/voices[?model=NAME]`, `GET /health`.
//! Errors are OpenAI-shaped JSON (`{"error": {"message", "type", "code"}}`) with a fitting status code.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tiny_http::{Header, Method, Request, Response, Server};

use crate::cache::{Cache, KeyInput};
use crate::error::{Error, Result};
use crate::pipeline::schedule::{self, Gate};
use crate::synth::{self, http::WPM_AT_SPEED_1, Audio, Backend, SpeechRequest};

/// What `narrate serve` was asked for, resolved.
pub struct Options {
    pub bind: SocketAddr,
    /// The backend `model` names tts-1, tts-1-hd or nothing stand for.
    pub backend: String,
    /// Its voice when a request names none (or `default`).
    pub voice: Option<String>,
    pub backends: synth::BackendConfig,
    /// Synthesis requests run at once per backend (a backend may cap it further).
    pub jobs: usize,
    /// Tries again after a transient backend fault (the scheduler's one policy).
    pub retries: u32,
    pub cache_dir: std::path::PathBuf,
    /// Largest request body in bytes.
    pub max_body: usize,
    /// Longest `input` in characters.
    pub max_input: usize,
    /// The bearer token every request but `/health` must carry.
    pub token: Option<String>,
    pub quiet: bool,
}

/// Threads taking connections: more than the synthesis slots, so cached answers and health checks are not
/// queued behind long syntheses.
const CONNECTION_THREADS: usize = 16;
/// OpenAI's `pcm` is 16-bit mono at this rate.
const PCM_RATE: u32 = 24_000;

/// One backend a server offers, with its voices and its synthesis slots.
struct Model {
    backend: Box<dyn Backend>,
    default_voice: String,
    voices: Vec<synth::VoiceInfo>,
    gate: Gate,
}

struct State {
    models: BTreeMap<&'static str, Model>,
    default_model: &'static str,
    cache: Cache,
    options: Options,
}

/// Runs the server until SIGINT or SIGTERM, then lets requests in flight finish. `listening` is told the
/// address once the socket is bound (port 0 picks a free port).
pub fn run(options: Options, listening: impl FnOnce(&str)) -> Result<()> {
    let cache = Cache::new(&options.cache_dir);
    if options.backend == "http" {
        return Err(Error::Invalid(
            "narrate serve does not serve the http backend (it would only relay another server); \
             choose one with --backend (`narrate voices` lists them)"
                .into(),
        ));
    }
    let mut models = BTreeMap::new();
    for (name, make) in synth::BACKENDS {
        // Serving the http backend would only relay another server; it is left out to avoid loops.
        if *name == "http" {
            continue;
        }
        let backend = make(&options.backends);
        let wanted = *name == options.backend;
        // Preview-only backends are left out like uninstalled ones (an error only when asked for by name).
        match synth::check_renders(backend.as_ref()).and_then(|()| backend.voices()) {
            Ok(voices) => {
                let default_voice = match (&options.voice, wanted) {
                    (Some(v), true) => v.clone(),
                    _ => backend.default_voice(),
                };
                if wanted {
                    backend.fingerprint(&default_voice)?;
                }
                let cap = backend
                    .max_parallel()
                    .map_or(options.jobs, |c| c.min(options.jobs))
                    .max(1);
                backend.prepare(cap);
                models.insert(
                    *name,
                    Model {
                        backend,
                        default_voice,
                        voices,
                        gate: Gate::new(cap),
                    },
                );
            }
            Err(e) if wanted => return Err(e),
            Err(_) => {}
        }
    }
    let default_model = models
        .keys()
        .copied()
        .find(|n| *n == options.backend)
        .ok_or_else(|| Error::UnknownBackend {
            name: options.backend.clone(),
        })?;
    let cannot = |e: &dyn std::fmt::Display| {
        Error::Invalid(format!(
            "cannot listen on {}: {e}; choose another address with --bind",
            options.bind
        ))
    };
    let server = Server::from_listener(listen(options.bind).map_err(|e| cannot(&e))?, None)
        .map_err(|e| cannot(&e))?;
    let address = server
        .server_addr()
        .to_ip()
        .map_or_else(|| options.bind.to_string(), |a| a.to_string());
    if !options.bind.ip().is_loopback() && options.token.is_none() {
        eprintln!(
            "warning: listening on {address} without NARRATE_API_TOKEN: anyone who can reach it can use it"
        );
    }
    listening(&address);
    if !options.quiet {
        let offered: Vec<_> = models.keys().copied().collect();
        eprintln!(
            "narrate serve: POST http://{address}/v1/audio/speech — models {} (default {default_model}); Ctrl-C stops",
            offered.join(", ")
        );
    }
    let state = Arc::new(State {
        models,
        default_model,
        cache,
        options,
    });
    let server = Arc::new(server);
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .map_err(|e| Error::Invalid(format!("cannot handle SIGINT/SIGTERM: {e}")))?;
    }
    let workers: Vec<_> = (0..CONNECTION_THREADS)
        .map(|_| {
            let (server, state, stop) = (server.clone(), state.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match server.recv_timeout(Duration::from_millis(200)) {
                        Ok(Some(request)) => handle(&state, request),
                        Ok(None) => {}
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    if !state.options.quiet {
        eprintln!("narrate serve: stopped");
    }
    Ok(())
}

/// A listening socket whose connections send at once (TCP_NODELAY, which Linux passes on to accepted
/// sockets): tiny_http writes the head and the body separately, and with Nagle's algorithm the body's last
/// packet waits for the client's delayed ACK — 40 ms on every keep-alive request.
fn listen(address: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.bind(&address.into())?;
    socket.listen(128)?;
    Ok(socket.into())
}

/// A request that cannot be served: its status and OpenAI-shaped error.
struct ApiError {
    status: u16,
    kind: &'static str,
    code: &'static str,
    message: String,
}

fn api_error(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
    let kind = match status {
        401 => "authentication_error",
        500..=599 => "server_error",
        _ => "invalid_request_error",
    };
    ApiError {
        status,
        kind,
        code,
        message: message.into(),
    }
}

type Answer = Response<Cursor<Vec<u8>>>;

/// A served request: the answer, a note for the log, and new audio to store in the cache once the client
/// has its answer (the synced write stays off the request's latency).
struct Handled {
    answer: Answer,
    note: String,
    store: Option<(String, Audio)>,
}

impl Handled {
    fn json(value: &serde_json::Value) -> Handled {
        Handled {
            answer: json_answer(200, value),
            note: String::new(),
            store: None,
        }
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("ASCII header")
}

fn json_answer(status: u16, value: &serde_json::Value) -> Answer {
    Response::from_data(value.to_string().into_bytes())
        .with_status_code(status)
        .with_header(header("Content-Type", "application/json"))
}

fn handle(state: &State, mut request: Request) {
    let started = Instant::now();
    let method = request.method().clone();
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let (answer, note, store) = match route(state, &mut request, &method, path, query) {
        Ok(h) => (h.answer, h.note, h.store),
        Err(e) => {
            let body = serde_json::json!({
                "error": {"message": e.message, "type": e.kind, "code": e.code, "param": null}
            });
            let mut answer = json_answer(e.status, &body);
            if e.status == 401 {
                answer.add_header(header("WWW-Authenticate", "Bearer"));
            }
            (answer, e.message, None)
        }
    };
    if !state.options.quiet {
        eprintln!(
            "{method} {path} {} {:.2} s {note}",
            answer.status_code().0,
            started.elapsed().as_secs_f64()
        );
    }
    // A client that hung up is not the server's problem.
    let _ = request.respond(answer);
    if let Some((key, audio)) = store {
        // A cache that cannot be written only costs speed next time; the answer was still good.
        if let Err(e) = state.cache.store(&key, &audio) {
            eprintln!("warning: {e}");
        }
    }
}

fn route(
    state: &State,
    request: &mut Request,
    method: &Method,
    path: &str,
    query: &str,
) -> std::result::Result<Handled, ApiError> {
    let path = path.trim_end_matches('/');
    if path == "/health" {
        return Ok(Handled::json(
            &serde_json::json!({"status": "ok", "default_model": state.default_model}),
        ));
    }
    authorize(state, request)?;
    match (method, path) {
        (Method::Post, "/v1/audio/speech") => speech(state, request),
        (Method::Get, "/v1/models") => {
            let data: Vec<_> = state
                .models
                .iter()
                .map(|(name, m)| {
                    serde_json::json!({
                        "id": name, "object": "model", "owned_by": "narrate",
                        "description": m.backend.describe(), "default_voice": m.default_voice,
                    })
                })
                .collect();
            Ok(Handled::json(
                &serde_json::json!({"object": "list", "data": data}),
            ))
        }
        (Method::Get, "/v1/audio/voices") => {
            let wanted = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("model="))
                .map(|m| m.replace("%20", " "));
            let (name, model) = find_model(state, wanted.as_deref())?;
            Ok(Handled::json(
                &serde_json::json!({"model": name, "default": model.default_voice, "voices": model.voices}),
            ))
        }
        (_, "/v1/audio/speech" | "/v1/models" | "/v1/audio/voices") => Err(api_error(
            405,
            "method_not_allowed",
            format!("{method} is not allowed on {path}"),
        )),
        _ => Err(api_error(
            404,
            "not_found",
            format!("no route {path}; narrate serves POST /v1/audio/speech, GET /v1/models, GET /v1/audio/voices, GET /health"),
        )),
    }
}

/// Checks the bearer token, when one is set, in constant time.
fn authorize(state: &State, request: &Request) -> std::result::Result<(), ApiError> {
    let Some(token) = &state.options.token else {
        return Ok(());
    };
    let given = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().trim());
    let Some(given) = given else {
        return Err(api_error(
            401,
            "missing_api_key",
            "this server needs `Authorization: Bearer <token>`",
        ));
    };
    let given = given
        .strip_prefix("Bearer ")
        .or_else(|| given.strip_prefix("bearer "))
        .unwrap_or("")
        .trim();
    let same = given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same {
        Ok(())
    } else {
        Err(api_error(401, "invalid_api_key", "wrong API token"))
    }
}

/// The OpenAI request body; fields narrate does not use (`instructions`, `stream_format`) are accepted and
/// ignored.
#[derive(Deserialize)]
struct SpeechBody {
    model: Option<String>,
    input: String,
    voice: Option<serde_json::Value>,
    response_format: Option<String>,
    speed: Option<f64>,
}

fn find_model<'s>(
    state: &'s State,
    wanted: Option<&str>,
) -> std::result::Result<(&'static str, &'s Model), ApiError> {
    let name = match wanted.map(str::trim) {
        None | Some("" | "tts-1" | "tts-1-hd" | "gpt-4o-mini-tts" | "default") => {
            state.default_model
        }
        Some(other) => state
            .models
            .keys()
            .copied()
            .find(|n| *n == other)
            .ok_or_else(|| {
                let offered: Vec<_> = state.models.keys().copied().collect();
                api_error(
                    400,
                    "model_not_found",
                    format!(
                        "unknown model `{other}`; this server offers {}",
                        offered.join(", ")
                    ),
                )
            })?,
    };
    Ok((name, &state.models[name]))
}

fn speech(state: &State, request: &mut Request) -> std::result::Result<Handled, ApiError> {
    let limit = state.options.max_body;
    let too_big = || {
        api_error(
            413,
            "request_too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    };
    if request.body_length().is_some_and(|n| n > limit) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(limit as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| {
            api_error(
                400,
                "bad_body",
                format!("cannot read the request body: {e}"),
            )
        })?;
    if body.len() > limit {
        return Err(too_big());
    }
    let body: SpeechBody = serde_json::from_slice(&body).map_err(|e| {
        api_error(
            400,
            "invalid_json",
            format!("the body is not a speech request: {e}"),
        )
    })?;
    let (model_name, model) = find_model(state, body.model.as_deref())?;
    let input = body.input.trim();
    if input.is_empty() {
        return Err(api_error(400, "empty_input", "`input` is empty"));
    }
    let chars = input.chars().count();
    if chars > state.options.max_input {
        return Err(api_error(
            400,
            "input_too_long",
            format!(
                "`input` has {chars} characters; this server takes at most {} per request",
                state.options.max_input
            ),
        ));
    }
    // Kokoro-FastAPI sends voice objects ({"id": …}); OpenAI a string.
    let voice = match &body.voice {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.as_str()),
        Some(other) => other.get("id").and_then(|v| v.as_str()),
    };
    let voice = match voice {
        None | Some("" | "default") => model.default_voice.as_str(),
        Some(v) if model.voices.iter().any(|known| known.name == v) || v == model.default_voice => v,
        Some(v) => {
            return Err(api_error(
                400,
                "voice_not_found",
                format!("unknown voice `{v}` for model {model_name}; GET /v1/audio/voices?model={model_name} lists them"),
            ))
        }
    };
    let format = body.response_format.as_deref().unwrap_or("wav");
    if format != "wav" && format != "pcm" {
        return Err(api_error(
            400,
            "unsupported_format",
            format!("response_format `{format}` is not offered; use wav or pcm"),
        ));
    }
    let rate = match body.speed {
        None => None,
        Some(s) if (0.25..=4.0).contains(&s) => {
            Some(((s * WPM_AT_SPEED_1).round() as u32).clamp(60, 500)).filter(|_| s != 1.0)
        }
        Some(s) => {
            return Err(api_error(
                400,
                "invalid_speed",
                format!("speed {s} is outside 0.25 to 4.0"),
            ))
        }
    };
    let (audio, store) = synthesize(state, model_name, model, voice, rate, input)?;
    let note = format!(
        "{model_name}/{voice} {chars} chars{}",
        if store.is_none() { " (cached)" } else { "" }
    );
    let answer = if format == "pcm" {
        let samples = crate::audio::resample::resample(&audio.samples, audio.sample_rate, PCM_RATE)
            .map_err(|e| api_error(500, "resample_failed", e))?;
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        Response::from_data(bytes)
            .with_header(header("Content-Type", "audio/pcm"))
            .with_header(header("X-Sample-Rate", &PCM_RATE.to_string()))
    } else {
        let mut bytes = Cursor::new(Vec::new());
        crate::audio::wav::write_to(&mut bytes, &audio)
            .map_err(|e| api_error(500, "encode_failed", e.to_string()))?;
        Response::from_data(bytes.into_inner()).with_header(header("Content-Type", "audio/wav"))
    };
    Ok(Handled {
        answer,
        note,
        store: store.map(|key| (key, audio)),
    })
}

/// The audio for one request: from the cache (shared with builds: same key for the same text, voice and
/// rate), or synthesized within the backend's slots, with the cache key to store it under.
fn synthesize(
    state: &State,
    model_name: &str,
    model: &Model,
    voice: &str,
    rate: Option<u32>,
    input: &str,
) -> std::result::Result<(Audio, Option<String>), ApiError> {
    let fingerprint = model
        .backend
        .fingerprint(voice)
        .map_err(|e| api_error(400, "voice_not_found", e.to_string()))?;
    let key = KeyInput {
        backend: model_name,
        fingerprint: &fingerprint,
        voice,
        rate,
        spoken: input,
        take: 1,
    }
    .key();
    if let Some(audio) = state.cache.load(&key) {
        state.cache.touch(&key);
        return Ok((audio, None));
    }
    let _permit = model.gate.enter();
    let request = SpeechRequest {
        text: input,
        voice,
        rate,
        take: 1,
    };
    let audio = schedule::synthesize(model.backend.as_ref(), &request, state.options.retries)
        .map_err(|e| api_error(500, "synthesis_failed", format!("{model_name}: {e}")))?;
    Ok((audio, Some(key)))
}
