//! `narrate studio`: a local web page for one essay and its edition: the text follows the audio, a click plays a
//! sentence; new takes, trial pronunciations and text changes are heard first (only that segment synthesized),
//! and what is kept goes into the same files the CLI uses (takes file, essay, narrate.toml) and the edition is
//! re-derived in the background through the one path (`pipeline::Job::produce`), showing its progress, with a
//! Cancel; each sentence shows a small waveform from the cache; see [`work`]. Given a folder, [`catalogue`] lists
//! its essays' editions and serves each essay's studio under `/e/N/`.
//!
//! Runs on the serve stack ([`crate::serve::server`]). Every request but the page's script and style sheet needs
//! the session token (`?token=` or the `X-Narrate-Token` header); a state-changing request also needs no Origin
//! or the studio's own. Only the edition's own files (`STEM.*` in its folder) can be read; nothing else on disk.

mod catalogue;
mod work;

pub(crate) use catalogue::run as run_catalogue;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::{Error, Result};
use crate::serve::server::{self, BodyError, Limits};
use crate::settings::Settings;
use work::{Problem, Take, Work};

const PAGE: &str = include_str!("page/index.html");
const SCRIPT: &str = concat!(
    include_str!("page/common.js"),
    include_str!("page/studio.js")
);
/// narrate's look (shared with the web edition), then the studio's own.
const STYLE: &str = concat!(
    include_str!("../export/look.css"),
    include_str!("page/studio.css")
);

/// The largest request body the studio reads (a sentence's new text is the largest thing it is sent).
const MAX_BODY: usize = 32 * 1024;

/// What `narrate studio` was asked for, resolved.
pub(crate) struct Options {
    pub essay: PathBuf,
    /// The edition's folder and name (its files are `dir/stem.*`).
    pub dir: PathBuf,
    pub stem: String,
    /// The `--name` given, for the job.
    pub name: Option<String>,
    /// The settings a regen would use now (the edition's recorded settings under the flags given).
    pub settings: Box<dyn Fn() -> Result<Settings> + Send + Sync>,
    /// The narrate.toml pronunciations are saved into (`--config FILE`, else the one beside the essay).
    pub settings_file: PathBuf,
    pub bind: SocketAddr,
    pub token: String,
    pub quiet: bool,
    /// Held while background work runs: a catalogue's essays share one, so one essay's work runs at a time.
    pub turn: Arc<Mutex<()>>,
}

pub(crate) struct Studio {
    pub(super) work: Arc<Work>,
    token: String,
    /// `http://ADDRESS` once bound: the one Origin a browser may send with a state-changing request.
    origin: OnceLock<String>,
    /// One change at a time from this studio (the essay lock also keeps other narrates out).
    working: Mutex<()>,
}

/// Runs the studio until SIGINT or SIGTERM; `listening` is told the page's address (with the token) once bound.
pub(crate) fn run(options: Options, listening: impl FnOnce(&str)) -> Result<()> {
    let bind = options.bind;
    let studio = start(options)?;
    serve(bind, &studio.token, "the edition", listening, |address| {
        router(&studio, address)
    })
}

/// Serves the routes `routes` makes for the bound address until SIGINT or SIGTERM, saying when they are
/// reachable from other computers (anyone with the token can then change `changes`); `listening` is told the
/// page's address with `token`.
pub(super) fn serve(
    bind: SocketAddr,
    token: &str,
    changes: &str,
    listening: impl FnOnce(&str),
    routes: impl FnOnce(&str) -> Router,
) -> Result<()> {
    let limits = Limits {
        max_connections: 32,
        ..Limits::default()
    };
    server::run(bind, limits, |address| {
        if !bind.ip().is_loopback() {
            eprintln!(
                "warning: the studio listens on {address}, not only this computer; anyone with the token can change {changes}"
            );
        }
        listening(&format!("http://{address}/?token={token}"));
        routes(address)
    })
}

/// A studio for `options`, with its background thread (which first checks the edition) started.
pub(crate) fn start(options: Options) -> Result<Arc<Studio>> {
    let token = options.token.clone();
    let work = Arc::new(Work::new(options));
    let background = work.clone();
    std::thread::Builder::new()
        .name("studio-derive".into())
        .spawn(move || background.background())
        .map_err(|e| Error::Invalid(format!("cannot start the studio: {e}")))?;
    Ok(Arc::new(Studio {
        work,
        token,
        origin: OnceLock::new(),
        working: Mutex::new(()),
    }))
}

/// The page's address under `narrate serve --studio`: `http://ADDRESS/studio/?token=…`.
pub(crate) fn nested_url(studio: &Studio, address: &str) -> String {
    format!("http://{address}/studio/?token={}", studio.token)
}

/// The studio's routes under `/studio/` of another server (`narrate serve --studio`); `/studio` is sent there.
pub(crate) fn nested_router(studio: &Arc<Studio>, address: &str) -> Router {
    routes(studio, address, "/studio").route(
        "/studio",
        get(|request: Request| async move {
            let query = request
                .uri()
                .query()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            axum::response::Redirect::permanent(&format!("/studio/{query}")).into_response()
        }),
    )
}

/// The studio's routes for a server at `address` (`IP:PORT`, which makes the one Origin it accepts changes from).
pub(crate) fn router(studio: &Arc<Studio>, address: &str) -> Router {
    routes(studio, address, "")
}

/// The routes under `prefix` (the page asks for everything relative to its own address).
pub(super) fn routes(studio: &Arc<Studio>, address: &str, prefix: &str) -> Router {
    let _ = studio.origin.set(format!("http://{address}"));
    let at = |path: &str| format!("{prefix}{path}");
    Router::new()
        .route(&at("/"), get(page))
        .route(&at("/api/edition"), get(edition))
        .route(&at("/api/status"), get(status))
        .route(&at("/api/audition"), post(audition))
        .route(&at("/api/keep"), post(keep))
        .route(&at("/api/text"), post(text))
        .route(&at("/api/lexicon"), post(lexicon))
        .route(&at("/api/derive"), post(derive))
        .route(&at("/api/cancel"), post(cancel))
        .route(&at("/api/waves"), get(waves))
        .route(&at("/api/audio/{key}"), get(audio))
        .route(&at("/edition/{file}"), get(file))
        .with_state(studio.clone())
}

pub(super) fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// The token from the `X-Narrate-Token` header or the `token` query parameter.
fn token_of<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<&'a str> {
    if let Some(v) = headers.get("x-narrate-token").and_then(|v| v.to_str().ok()) {
        return Some(v);
    }
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
}

/// `None` when the request carries the session token `token`, else the refusal.
pub(super) fn check_token(
    token: &str,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Option<Response> {
    let given = token_of(headers, query).unwrap_or("");
    let wanted = token.as_bytes();
    // The same time whatever the first wrong byte.
    let same = given.len() == wanted.len()
        && given
            .bytes()
            .zip(wanted)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    (!same).then(|| {
        refuse(
            StatusCode::UNAUTHORIZED,
            "this request needs the studio's token (open the address narrate studio printed)",
        )
    })
}

impl Studio {
    /// `None` when the request carries the session token, else the refusal.
    fn check_token(&self, headers: &HeaderMap, query: Option<&str>) -> Option<Response> {
        check_token(&self.token, headers, query)
    }

    /// `None` when a state-changing request may go on: the token, and no Origin or the studio's own.
    fn check_change(&self, headers: &HeaderMap, query: Option<&str>) -> Option<Response> {
        if let Some(origin) = headers.get(header::ORIGIN) {
            if Some(origin.as_bytes()) != self.origin.get().map(|o| o.as_bytes()) {
                return Some(refuse(
                    StatusCode::FORBIDDEN,
                    "requests from another site cannot change this edition",
                ));
            }
        }
        self.check_token(headers, query)
    }
}

/// The page with its style and script inlined (one request; the same page wherever the studio is mounted).
fn page_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| inline(PAGE, SCRIPT))
}

/// A page of the studio with narrate's style and its script inlined in place of their links.
pub(super) fn inline(page: &str, script: &str) -> String {
    page.replace(
        r#"<link rel="stylesheet" href="studio.css">"#,
        &format!("<style>\n{STYLE}</style>"),
    )
    .replace(
        r#"<script src="studio.js"></script>"#,
        &format!("<script>\n{script}</script>"),
    )
}

async fn page(State(studio): State<Arc<Studio>>, request: Request) -> Response {
    if let Some(refused) = studio.check_token(request.headers(), request.uri().query()) {
        return refused;
    }
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        page_text(),
    )
        .into_response()
}

/// The manifest, the takes of each segment, what is marked for re-synthesis, and the background work's status.
async fn edition(State(studio): State<Arc<Studio>>, request: Request) -> Response {
    if let Some(refused) = studio.check_token(request.headers(), request.uri().query()) {
        return refused;
    }
    let read = tokio::task::spawn_blocking(move || studio.work.describe()).await;
    match read {
        Ok(Ok(value)) => Json(value).into_response(),
        Ok(Err(e)) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(_) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "reading the edition failed",
        ),
    }
}

/// The background work: idle, working (with what it is doing) or error; the edition's version; the findings.
async fn status(State(studio): State<Arc<Studio>>, request: Request) -> Response {
    if let Some(refused) = studio.check_token(request.headers(), request.uri().query()) {
        return refused;
    }
    Json(studio.work.status()).into_response()
}

/// A state-changing request's JSON body, once its token, Origin and size are checked.
async fn change<T: DeserializeOwned>(
    studio: &Studio,
    request: Request,
    shape: &str,
) -> std::result::Result<T, Response> {
    let query = request.uri().query().map(str::to_owned);
    if let Some(refused) = studio.check_change(request.headers(), query.as_deref()) {
        return Err(refused);
    }
    let body = match server::read_body(request, MAX_BODY, &Limits::default()).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return Err(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request is too large",
            ))
        }
        Err(BodyError::TimedOut) => {
            return Err(refuse(
                StatusCode::REQUEST_TIMEOUT,
                "the request body came too slowly",
            ))
        }
        Err(BodyError::Broken(e)) => return Err(refuse(StatusCode::BAD_REQUEST, &e)),
    };
    serde_json::from_slice(&body).map_err(|e| {
        refuse(
            StatusCode::BAD_REQUEST,
            &format!("the request is not {shape}: {e}"),
        )
    })
}

/// Does a change on a blocking thread, one at a time, and answers with its JSON or its refusal.
async fn done(
    studio: Arc<Studio>,
    act: impl FnOnce(&Work) -> std::result::Result<serde_json::Value, Problem> + Send + 'static,
) -> Response {
    let result = tokio::task::spawn_blocking(move || {
        let _one = studio.working.lock().unwrap_or_else(|e| e.into_inner());
        act(&studio.work)
    })
    .await;
    match result {
        Ok(Ok(value)) => Json(value).into_response(),
        Ok(Err(Problem::Bad(m))) => refuse(StatusCode::BAD_REQUEST, &m),
        Ok(Err(Problem::Changed(m))) => refuse(StatusCode::CONFLICT, &m),
        Ok(Err(Problem::Unknown(m))) => refuse(StatusCode::NOT_FOUND, &m),
        Ok(Err(Problem::Failed(m))) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &m),
        Err(_) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "the change failed"),
    }
}

/// Which take `audition` is asked for: a number, `"new"`, or none for the kept one.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum TakeWanted {
    Number(u32),
    Word(String),
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditionRequest {
    /// A segment id (or a unique prefix).
    id: String,
    #[serde(default)]
    take: Option<TakeWanted>,
    /// A trial pronunciation: `word` said as `say`.
    #[serde(default)]
    word: Option<String>,
    #[serde(default)]
    say: Option<String>,
}

/// `POST /api/audition {"id", "take"?: N | "new", "word"?, "say"?}`: one segment's take, synthesized if the
/// cache lacks it; the answer names its audio (`api/audio/KEY`).
async fn audition(State(studio): State<Arc<Studio>>, request: Request) -> Response {
    const SHAPE: &str = r#"{"id": ..., "take": N or "new", "word": ..., "say": ...}"#;
    let wanted: AuditionRequest = match change(&studio, request, SHAPE).await {
        Ok(w) => w,
        Err(refused) => return refused,
    };
    let take = match wanted.take {
        None => Take::Kept,
        Some(TakeWanted::Number(n)) => Take::Number(n),
        Some(TakeWanted::Word(w)) if w == "new" => Take::New,
        Some(TakeWanted::Word(w)) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("take `{w}`: give a take number or \"new\""),
            )
        }
    };
    let trial = match (wanted.word, wanted.say) {
        (Some(word), Some(say)) => Some((word, say)),
        (None, None) => None,
        _ => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "a trial pronunciation needs both `word` and `say`",
            )
        }
    };
    done(studio, move |work| work.audition(&wanted.id, take, trial)).await
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeepRequest {
    id: String,
    take: u32,
}

/// `POST /api/keep {"id", "take"}`: `narrate regen ESSAY ID --take N`'s takes file, then the edition re-derived
/// in the background.
async fn keep(State(studio): State<Arc<Studio>>, request: Request) -> Response {
    let wanted: KeepRequest = match change(&studio, request, r#"{"id": ..., "take": N}"#).await {
        Ok(w) => w,
        Err(refused) => return refused,
    };
    done(studio, move |work| work.keep(&wanted.id, wanted.take)).await
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TextRequest {
    id: String,
    /// The text the page showed (the change is refused if the sentence is no longer that).
    was: String,
    text: String,
}

/// `POST /api/text {"id", "was", "text"}`: the sentence changed in the essay file, then the edition re-derived.
async fn text(State(studio): State<Arc<Studio>>, request: Request) -> Response {
    const SHAPE: &str = r#"{"id": ..., "was": ..., "text": ...}"#;
    let wanted: TextRequest = match change(&studio, request, SHAPE).await {
        Ok(w) => w,
        Err(refused) => return refused,
    };
    done(studio, move |work| {
        work.edit(&wanted.id, &wanted.was, &wanted.text)
    })
    .await
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WordRequest {
    word: String,
    say: String,
}

/// `POST /api/lexicon {"word", "say"}`: saved into narrate.toml's `[lexicon]`; the answer marks the segments it
/// changes.
async fn lexicon(State(studio): State<Arc<Studio>>, request: Request) -> Response {
    let wanted: WordRequest = match change(&studio, request, r#"{"word": ..., "say": ...}"#).await {
        Ok(w) => w,
        Err(refused) => return refused,
    };
    done(studio, move |work| {
        work.save_word(&wanted.word, &wanted.say)
    })
    .await
}

/// `POST /api/derive {}`: the edition re-derived in the background (what is marked is synthesized).
async fn derive(State(studio): State<Arc<Studio>>, request: Request) -> Response {
    if let Err(refused) = change::<serde_json::Value>(&studio, request, "{}").await {
        return refused;
    }
    studio.work.derive_soon();
    Json(studio.work.status()).into_response()
}

/// `POST /api/cancel {}`: the background work stops at its next segment (the edition stays as it was).
async fn cancel(State(studio): State<Arc<Studio>>, request: Request) -> Response {
    if let Err(refused) = change::<serde_json::Value>(&studio, request, "{}").await {
        return refused;
    }
    let stopping = studio.work.cancel();
    Json(json!({ "cancelling": stopping, "status": studio.work.status() })).into_response()
}

/// The most segments one `api/waves` request may ask for (a page of sentences is 25).
const MAX_WAVES: usize = 100;

/// `GET /api/waves?keys=K1,K2,…`: each segment's small waveform by cache key, from the cache (computed once).
async fn waves(State(studio): State<Arc<Studio>>, request: Request) -> Response {
    if let Some(refused) = studio.check_token(request.headers(), request.uri().query()) {
        return refused;
    }
    let keys: Vec<String> = request
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("keys="))
        .unwrap_or("")
        .split(',')
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect();
    if keys.len() > MAX_WAVES {
        return refuse(
            StatusCode::BAD_REQUEST,
            &format!("ask for at most {MAX_WAVES} segments' waveforms at once"),
        );
    }
    let work = studio.work.clone();
    match tokio::task::spawn_blocking(move || {
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        work.waves(&keys)
    })
    .await
    {
        Ok(value) => Json(json!({ "waves": value })).into_response(),
        Err(_) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "reading the waveforms failed",
        ),
    }
}

/// `GET /api/audio/KEY`: a segment's audio from the cache, as an audition named it.
async fn audio(
    State(studio): State<Arc<Studio>>,
    UrlPath(key): UrlPath<String>,
    request: Request,
) -> Response {
    if let Some(refused) = studio.check_token(request.headers(), request.uri().query()) {
        return refused;
    }
    let key = key.strip_suffix(".wav").unwrap_or(&key).to_string();
    let work = studio.work.clone();
    match tokio::task::spawn_blocking(move || work.audio(&key)).await {
        Ok(Some(bytes)) => (
            [
                (header::CONTENT_TYPE, "audio/wav"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            bytes,
        )
            .into_response(),
        _ => refuse(StatusCode::NOT_FOUND, "no such take in the cache"),
    }
}

/// One of the edition's own files (`STEM.*` in its folder, a regular file), with byte ranges for seeking.
async fn file(
    State(studio): State<Arc<Studio>>,
    UrlPath(name): UrlPath<String>,
    request: Request,
) -> Response {
    if let Some(refused) = studio.check_token(request.headers(), request.uri().query()) {
        return refused;
    }
    let own = name.starts_with(&format!("{}.", studio.work.options.stem))
        && !name.contains(['/', '\\', '\0'])
        && !name.contains("..");
    if !own {
        return refuse(
            StatusCode::FORBIDDEN,
            "the studio serves only the edition's own files",
        );
    }
    let path = studio.work.options.dir.join(&name);
    let range = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let opened =
        tokio::task::spawn_blocking(move || -> std::io::Result<Option<(std::fs::File, u64)>> {
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_file() => Ok(Some((std::fs::File::open(&path)?, m.len()))),
                Ok(_) => Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await;
    let (file, total) = match opened {
        Ok(Ok(Some(opened))) => opened,
        Ok(Ok(None)) => return refuse(StatusCode::NOT_FOUND, "the edition has no such file"),
        _ => return refuse(StatusCode::INTERNAL_SERVER_ERROR, "the file cannot be read"),
    };
    let kind = match name.rsplit('.').next() {
        Some("wav") => "audio/wav",
        Some("json") => "application/json",
        Some("vtt") => "text/vtt; charset=utf-8",
        Some("mp3") => "audio/mpeg",
        Some("m4b") => "audio/mp4",
        _ => "application/octet-stream",
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    match range.as_deref().map(|r| byte_range(r, total)) {
        None => (StatusCode::OK, headers, streamed(file, 0, total)).into_response(),
        Some(Some((start, end))) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{total}")) {
                headers.insert(header::CONTENT_RANGE, v);
            }
            let body = streamed(file, start, end + 1 - start);
            (StatusCode::PARTIAL_CONTENT, headers, body).into_response()
        }
        Some(None) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                headers.insert(header::CONTENT_RANGE, v);
            }
            (StatusCode::RANGE_NOT_SATISFIABLE, headers).into_response()
        }
    }
}

/// `length` bytes of `file` from `start`, read in 64 KB pieces as the client takes them (an hour-long edition
/// is never held in memory).
fn streamed(file: std::fs::File, start: u64, length: u64) -> axum::body::Body {
    const PIECE: u64 = 64 * 1024;
    let pieces =
        futures_util::stream::unfold((Some(file), start, length), |(file, at, left)| async move {
            let file = file.filter(|_| left > 0)?;
            let n = left.min(PIECE);
            let read = tokio::task::spawn_blocking(move || {
                use std::io::{Read, Seek, SeekFrom};
                let mut file = file;
                let mut buf = vec![0; n as usize];
                file.seek(SeekFrom::Start(at))?;
                file.read_exact(&mut buf)?;
                Ok::<_, std::io::Error>((file, buf))
            })
            .await;
            Some(match read {
                Ok(Ok((file, buf))) => (Ok(buf), (Some(file), at + n, left - n)),
                Ok(Err(e)) => (Err(e), (None, at, 0)),
                Err(e) => (Err(std::io::Error::other(e)), (None, at, 0)),
            })
        });
    axum::body::Body::from_stream(pieces)
}

/// The first range of a `Range: bytes=A-B` / `A-` / `-N` header, inclusive; `None` when it cannot be served.
fn byte_range(header: &str, total: u64) -> Option<(u64, u64)> {
    let spec = header.strip_prefix("bytes=")?.split(',').next()?.trim();
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (total.checked_sub(n.min(total))?, total.checked_sub(1)?)
        }
        (a, "") => (a.parse().ok()?, total.checked_sub(1)?),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.min(total.checked_sub(1)?),
        ),
    };
    (start <= end && end < total).then_some((start, end))
}

/// A fresh session token: 128 random bits from the kernel, in hex.
pub(crate) fn new_token() -> Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| {
            Error::Invalid(format!(
                "cannot make a session token from /dev/urandom: {e}"
            ))
        })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_are_read_and_bounded() {
        assert_eq!(byte_range("bytes=0-", 10), Some((0, 9)));
        assert_eq!(byte_range("bytes=2-4", 10), Some((2, 4)));
        assert_eq!(byte_range("bytes=2-400", 10), Some((2, 9)));
        assert_eq!(byte_range("bytes=-3", 10), Some((7, 9)));
        assert_eq!(byte_range("bytes=10-", 10), None);
        assert_eq!(byte_range("bytes=5-2", 10), None);
        assert_eq!(byte_range("items=0-1", 10), None);
        assert_eq!(byte_range("bytes=0-", 0), None);
    }

    #[test]
    fn the_token_comes_from_the_header_or_the_query() {
        let mut headers = HeaderMap::new();
        assert_eq!(token_of(&headers, Some("a=1&token=abc")), Some("abc"));
        assert_eq!(token_of(&headers, Some("a=1")), None);
        headers.insert("x-narrate-token", HeaderValue::from_static("xyz"));
        assert_eq!(token_of(&headers, None), Some("xyz"));
        assert_eq!(new_token().unwrap().len(), 32);
    }
}
