//! `narrate serve`: narrate's voices behind OpenAI's speech API (`POST /v1/audio/speech`), so OpenAI's own
//! clients, other tools and another narrate's `http` backend can use them. Answers stream sentence by sentence;
//! synthesis goes through the same segment cache as builds.
//!
//! Routes: `POST /v1/audio/speech`, `GET /v1/models`, `GET /v1/audio/voices[?model=NAME]`, `GET /health`.
//! Errors are OpenAI-shaped JSON (`{"error": {"message", "type", "param", "code"}}`) with a fitting status code,
//! and never show the server's paths. The HTTP machinery is [`server`]; [`router`] is the API as an axum
//! `Router` that other routes (the studio) can be merged with.

mod encode;
pub(crate) mod server;
mod speech;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::cache::Cache;
use crate::error::{Error, Result};
use crate::essay::lexicon::Lexicon;
use crate::pipeline::schedule::Gate;
use crate::settings::Settings;
use crate::synth::{self, Backend};

pub(crate) use server::Limits;

/// What `narrate serve` was asked for, resolved.
pub(crate) struct Options {
    pub bind: SocketAddr,
    /// The settings (narrate.toml and flags): the backend that `model` names tts-1, tts-1-hd and
    /// gpt-4o-mini-tts stand for, its voice, jobs, retries, cache, the text rules and the `[voices]` table.
    pub settings: Settings,
    /// Largest request body in bytes.
    pub max_body: usize,
    /// Longest `input` in characters.
    pub max_input: usize,
    /// The bearer token every request but `/health` must carry.
    pub token: Option<String>,
    pub quiet: bool,
    pub limits: Limits,
}

/// OpenAI's model names; each stands for the server's default backend.
const OPENAI_MODELS: [&str; 3] = ["tts-1", "tts-1-hd", "gpt-4o-mini-tts"];

/// One backend a server offers, with its voices and its synthesis slots.
pub(crate) struct Model {
    backend: Box<dyn Backend>,
    default_voice: String,
    voices: Vec<synth::VoiceInfo>,
    gate: Gate,
    /// The gate's capacity: syntheses at once.
    slots: usize,
    /// The sample rate of its last answer (0: none yet), so the next answer's encoder can start at once.
    rate: AtomicU32,
}

/// Everything the API's handlers share.
pub(crate) struct App {
    models: BTreeMap<&'static str, Model>,
    default_model: &'static str,
    cache: Cache,
    lexicon: Lexicon,
    options: Options,
    /// Speech requests so far (each one's number in the log).
    requests: AtomicU64,
}

/// Runs the server until SIGINT or SIGTERM, then lets requests in flight finish (for a few seconds at most).
/// `listening` is told the address once the socket is bound (port 0 picks a free port).
/// Runs the server until SIGINT or SIGTERM, with more routes beside the API when `more` gives them (`narrate
/// serve --studio` nests the studio's page under `/studio/`); `more` and then `listening` are given the address
/// once bound.
pub(crate) fn run(
    options: Options,
    more: impl FnOnce(&str) -> Option<Router>,
    listening: impl FnOnce(&str),
) -> Result<()> {
    let app = Arc::new(App::new(options)?);
    let bind = app.options.bind;
    let quiet = app.options.quiet;
    let result = server::run(bind, app.options.limits, |address| {
        if !bind.ip().is_loopback() && app.options.token.is_none() {
            eprintln!(
                "warning: listening on {address} without NARRATE_API_TOKEN: anyone who can reach it can use it"
            );
        }
        listening(address);
        if !quiet {
            let offered: Vec<_> = app.models.keys().copied().collect();
            eprintln!(
                "narrate serve: POST http://{address}/v1/audio/speech — models {} (default {}); Ctrl-C stops",
                offered.join(", "),
                app.default_model
            );
        }
        let api = router(app.clone());
        match more(address) {
            Some(extra) => extra.merge(api),
            None => api,
        }
    });
    if !quiet {
        eprintln!("narrate serve: stopped");
    }
    result
}

impl App {
    /// Loads every installed backend that renders (leaving out `http`, which would only relay another server).
    pub(crate) fn new(options: Options) -> Result<App> {
        let settings = &options.settings;
        if settings.backend == "http" {
            return Err(Error::Invalid(
                "narrate serve does not serve the http backend (it would only relay another server); \
                 choose one with --backend (`narrate voices` lists them)"
                    .into(),
            ));
        }
        let mut models = BTreeMap::new();
        for (name, make) in synth::BACKENDS {
            if *name == "http" {
                continue;
            }
            let backend = make(&settings.backends);
            let wanted = *name == settings.backend;
            // Preview-only backends are left out like uninstalled ones (an error only when asked for by name).
            match synth::check_renders(backend.as_ref()).and_then(|()| backend.voices()) {
                Ok(voices) => {
                    let default_voice = match (&settings.voice, wanted) {
                        (Some(v), true) => v.clone(),
                        _ => backend.default_voice(),
                    };
                    if wanted {
                        backend.fingerprint(&default_voice)?;
                    }
                    let slots = backend
                        .max_parallel()
                        .map_or(settings.jobs, |c| c.min(settings.jobs))
                        .max(1);
                    backend.prepare(slots);
                    models.insert(
                        *name,
                        Model {
                            backend,
                            default_voice,
                            voices,
                            gate: Gate::new(slots),
                            slots,
                            rate: AtomicU32::new(0),
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
            .find(|n| *n == settings.backend)
            .ok_or_else(|| Error::UnknownBackend {
                name: settings.backend.to_string(),
            })?;
        Ok(App {
            models,
            default_model,
            cache: Cache::new(&settings.cache_dir),
            lexicon: Lexicon::new(&settings.lexicon).map_err(Error::Invalid)?,
            options,
            requests: AtomicU64::new(0),
        })
    }

    fn find_model(
        &self,
        wanted: Option<&str>,
    ) -> std::result::Result<(&'static str, &Model), ApiError> {
        let name = match wanted.map(str::trim) {
            None | Some("" | "default") => self.default_model,
            Some(m) if OPENAI_MODELS.contains(&m) => self.default_model,
            Some(other) => self
                .models
                .keys()
                .copied()
                .find(|n| *n == other)
                .ok_or_else(|| {
                    let offered: Vec<_> = OPENAI_MODELS
                        .iter()
                        .copied()
                        .chain(self.models.keys().copied())
                        .collect();
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
        Ok((name, &self.models[name]))
    }

    /// The voice a request names: one of the model's own, an alias from narrate.toml's `[voices]`, or one of
    /// OpenAI's names through the built-in table (else the model's default voice).
    fn resolve_voice(
        &self,
        model_name: &str,
        model: &Model,
        wanted: Option<&str>,
    ) -> std::result::Result<String, ApiError> {
        let offered = |v: &str| {
            v == model.default_voice
                || model.voices.iter().any(|known| {
                    // espeak-ng takes variants: en-us+f3 is en-us with the f3 variant.
                    known.name == v
                        || v.split_once('+')
                            .is_some_and(|(base, _)| known.name == base)
                })
        };
        let voice = match wanted.map(str::trim) {
            None | Some("" | "default") => return Ok(model.default_voice.clone()),
            Some(v) => v,
        };
        if offered(voice) {
            return Ok(voice.to_string());
        }
        if let Some(alias) = self.options.settings.voices.get(voice) {
            if offered(alias) {
                return Ok(alias.clone());
            }
        }
        if speech::OPENAI_VOICES.contains(&voice) {
            return Ok(model
                .backend
                .openai_voice(voice)
                .filter(|v| offered(v))
                .map_or_else(|| model.default_voice.clone(), str::to_string));
        }
        Err(api_error(
            400,
            "voice_not_found",
            format!("unknown voice `{voice}` for model {model_name}; GET /v1/audio/voices?model={model_name} lists them"),
        ))
    }
}

/// The API as a router: `/health` open to all, the rest behind the bearer token when one is set, every request
/// logged. The studio merges its own routes into it (`router(app).merge(studio)`) and serves the result with
/// [`server::serve`].
pub(crate) fn router(app: Arc<App>) -> Router {
    let api = Router::new()
        .route("/v1/audio/speech", post(speech::speech))
        .route("/v1/models", get(models))
        .route("/v1/audio/voices", get(voices))
        .route_layer(middleware::from_fn_with_state(app.clone(), authorize));
    Router::new()
        .route("/health", get(health))
        .merge(api)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(app.clone(), log))
        .with_state(app)
}

/// A request that cannot be served: its status and OpenAI-shaped error.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: u16,
    kind: &'static str,
    code: &'static str,
    message: String,
}

pub(crate) fn api_error(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": {"message": self.message, "type": self.kind, "param": null, "code": self.code}
        });
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(body)).into_response();
        if self.status == 401 {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(Note(self.message));
        response
    }
}

/// What the log line of a request adds after its status and time.
#[derive(Clone)]
pub(crate) struct Note(pub String);

async fn log(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let response = next.run(request).await;
    if !app.options.quiet {
        let note = response.extensions().get::<Note>().map_or("", |n| &n.0);
        eprintln!(
            "{method} {path} {} {:.2} s {note}",
            response.status().as_u16(),
            started.elapsed().as_secs_f64()
        );
    }
    response
}

/// Checks the bearer token, when one is set, in constant time.
async fn authorize(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let Some(token) = &app.options.token else {
        return next.run(request).await;
    };
    let Some(given) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
    else {
        return api_error(
            401,
            "missing_api_key",
            "this server needs `Authorization: Bearer <token>`",
        )
        .into_response();
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
        next.run(request).await
    } else {
        api_error(401, "invalid_api_key", "wrong API token").into_response()
    }
}

async fn health(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok", "default_model": app.default_model}))
}

async fn models(State(app): State<Arc<App>>) -> Json<serde_json::Value> {
    let openai = OPENAI_MODELS.iter().map(|id| {
        serde_json::json!({
            "id": id, "object": "model", "owned_by": "narrate",
            "description": format!("OpenAI's model name, served by {}", app.default_model),
        })
    });
    let own = app.models.iter().map(|(name, m)| {
        serde_json::json!({
            "id": name, "object": "model", "owned_by": "narrate",
            "description": m.backend.describe(), "default_voice": m.default_voice,
        })
    });
    let data: Vec<_> = openai.chain(own).collect();
    Json(serde_json::json!({"object": "list", "data": data}))
}

/// A model's voices (name, language and a description — never a file path) and which voice each of OpenAI's
/// voice names stands for.
async fn voices(
    State(app): State<Arc<App>>,
    Query(query): Query<HashMap<String, String>>,
) -> std::result::Result<Json<serde_json::Value>, ApiError> {
    let (name, model) = app.find_model(query.get("model").map(String::as_str))?;
    let shown = |text: &str| {
        if text.contains('/') || text.contains('\\') {
            String::new()
        } else {
            text.to_string()
        }
    };
    let list: Vec<_> = model
        .voices
        .iter()
        .map(|v| {
            let description = match shown(&v.description) {
                d if d.is_empty() => format!("{name} voice {}", v.name),
                d => d,
            };
            serde_json::json!({"name": v.name, "language": shown(&v.language), "description": description})
        })
        .collect();
    let mut openai = serde_json::Map::new();
    for v in speech::OPENAI_VOICES {
        if let Ok(voice) = app.resolve_voice(name, model, Some(v)) {
            openai.insert(v.to_string(), voice.into());
        }
    }
    Ok(Json(serde_json::json!({
        "model": name, "default": model.default_voice, "voices": list, "openai_voices": openai,
    })))
}

async fn not_found(request: Request) -> ApiError {
    api_error(
        404,
        "not_found",
        format!(
            "no route {}; narrate serves POST /v1/audio/speech, GET /v1/models, GET /v1/audio/voices, GET /health",
            request.uri().path()
        ),
    )
}

async fn method_not_allowed(method: Method, request: Request) -> ApiError {
    api_error(
        405,
        "method_not_allowed",
        format!("{method} is not allowed on {}", request.uri().path()),
    )
}
