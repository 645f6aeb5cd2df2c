//! `narrate studio`: a local web page for one essay and its edition: the text follows the audio, a click plays a
//! sentence, and "new take" (or previous/next take) redoes exactly that segment the way `narrate regen` does,
//! through the same one path (`pipeline::Job::produce`), under the essay's lock, into the same takes file.
//!
//! Runs on the serve stack ([`crate::serve::server`]). Every request but the page's script and style sheet needs
//! the session token (`?token=` or the `X-Narrate-Token` header); a state-changing request also needs no Origin
//! or the studio's own. Only the edition's own files (`STEM.*` in its folder) can be read; nothing else on disk.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::pipeline::Job;
use crate::plan::takes::{self, Takes};
use crate::serve::server::{self, BodyError, Limits};
use crate::settings::Settings;

const PAGE: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/studio.js");
const STYLE: &str = include_str!("page/studio.css");

/// The largest request body the studio reads (a segment id and a take number need far less).
const MAX_BODY: usize = 4096;

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
    pub bind: SocketAddr,
    pub token: String,
    pub quiet: bool,
}

struct Studio {
    options: Options,
    /// `http://ADDRESS` once bound: the one Origin a browser may send with a state-changing request.
    origin: OnceLock<String>,
    /// One change at a time from this studio (the essay lock also keeps other narrates out).
    working: Mutex<()>,
}

/// Runs the studio until SIGINT or SIGTERM; `listening` is told the page's address (with the token) once bound.
pub(crate) fn run(options: Options, listening: impl FnOnce(&str)) -> Result<()> {
    let studio = Arc::new(Studio {
        options,
        origin: OnceLock::new(),
        working: Mutex::new(()),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Invalid(format!("cannot start the studio's runtime: {e}")))?;
    let bind = studio.options.bind;
    let result = runtime.block_on(async {
        let listener = server::bind(bind).await.map_err(|e| {
            Error::Invalid(format!(
                "cannot listen on {bind}: {e}; choose another address with --bind"
            ))
        })?;
        let address = listener
            .local_addr()
            .map_or_else(|_| bind.to_string(), |a| a.to_string());
        let _ = studio.origin.set(format!("http://{address}"));
        if !bind.ip().is_loopback() {
            eprintln!(
                "warning: the studio listens on {address}, not only this computer; anyone with the token can change the edition"
            );
        }
        listening(&format!(
            "http://{address}/?token={}",
            studio.options.token
        ));
        let limits = Limits {
            max_connections: 32,
            ..Limits::default()
        };
        server::serve(listener, router(studio.clone()), limits, server::signalled()).await;
        Ok(())
    });
    runtime.shutdown_timeout(Duration::from_millis(200));
    result
}

fn router(studio: Arc<Studio>) -> Router {
    Router::new()
        .route("/", get(page))
        .route(
            "/studio.js",
            get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/studio.css",
            get(|| async { asset(STYLE, "text/css; charset=utf-8") }),
        )
        .route("/api/edition", get(edition))
        .route("/api/take", post(take))
        .route("/edition/{file}", get(file))
        .with_state(studio)
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

fn refuse(status: StatusCode, message: &str) -> Response {
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

impl Studio {
    /// `None` when the request carries the session token, else the refusal.
    fn check_token(&self, headers: &HeaderMap, query: Option<&str>) -> Option<Response> {
        let given = token_of(headers, query).unwrap_or("");
        let wanted = self.options.token.as_bytes();
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

    fn manifest_path(&self) -> PathBuf {
        self.options.dir.join(format!("{}.json", self.options.stem))
    }
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
        PAGE,
    )
        .into_response()
}

/// The manifest and the takes of each segment.
async fn edition(State(studio): State<Arc<Studio>>, request: Request) -> Response {
    if let Some(refused) = studio.check_token(request.headers(), request.uri().query()) {
        return refused;
    }
    let read = tokio::task::spawn_blocking(move || describe(&studio)).await;
    match read {
        Ok(Ok(value)) => Json(value).into_response(),
        Ok(Err(e)) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(_) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "reading the edition failed",
        ),
    }
}

fn describe(studio: &Studio) -> Result<serde_json::Value> {
    let path = studio.manifest_path();
    let manifest = Manifest::load(&path)?.ok_or_else(|| Error::Manifest {
        path: path.clone(),
        reason: "there is no edition; run `narrate build` first".into(),
    })?;
    let takes = Takes::load(&takes::path_for(&studio.options.essay))?;
    let per_segment: serde_json::Map<String, serde_json::Value> = manifest
        .segments
        .iter()
        .map(|s| {
            let latest = takes.segments.get(&s.id).map_or(1, |e| e.latest.max(1));
            (
                s.id.clone(),
                json!({ "take": takes.take(&s.id), "latest": latest }),
            )
        })
        .collect();
    Ok(json!({ "manifest": manifest, "takes": per_segment }))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TakeRequest {
    /// A segment id (or a unique prefix).
    id: String,
    /// Go back to this take; none makes a new one.
    #[serde(default)]
    take: Option<u32>,
}

/// `POST /api/take {"id", "take"?}`: `narrate regen ESSAY ID [--take N]`, through the same path.
async fn take(State(studio): State<Arc<Studio>>, request: Request) -> Response {
    let query = request.uri().query().map(str::to_owned);
    if let Some(refused) = studio.check_change(request.headers(), query.as_deref()) {
        return refused;
    }
    let limits = Limits::default();
    let body = match server::read_body(request, MAX_BODY, &limits).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, "the request is too large")
        }
        Err(BodyError::TimedOut) => {
            return refuse(
                StatusCode::REQUEST_TIMEOUT,
                "the request body came too slowly",
            )
        }
        Err(BodyError::Broken(e)) => return refuse(StatusCode::BAD_REQUEST, &e),
    };
    let wanted: TakeRequest = match serde_json::from_slice(&body) {
        Ok(w) => w,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("the request is not {{\"id\": ..., \"take\": N}}: {e}"),
            )
        }
    };
    let done = tokio::task::spawn_blocking(move || {
        let _one = studio.working.lock().unwrap_or_else(|e| e.into_inner());
        regen(&studio.options, &wanted.id, wanted.take)
    })
    .await;
    match done {
        Ok(Ok(value)) => Json(value).into_response(),
        Ok(Err(e @ Error::UnknownSegment { .. })) => refuse(StatusCode::NOT_FOUND, &e.to_string()),
        Ok(Err(e @ (Error::Usage(_) | Error::Invalid(_) | Error::AmbiguousSegment { .. }))) => {
            refuse(StatusCode::BAD_REQUEST, &e.to_string())
        }
        Ok(Err(e)) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(_) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "the new take failed"),
    }
}

/// What `narrate regen` does for one segment: the essay's lock, the take chosen, the edition produced through
/// the one path, and only then the takes file saved.
fn regen(options: &Options, wanted: &str, take: Option<u32>) -> Result<serde_json::Value> {
    let _lock = takes::lock(&options.essay)?;
    let settings = (options.settings)()?;
    let job = Job::prepare(&options.essay, settings)?.named(options.name.clone());
    let id = job.resolve(wanted)?;
    let text = job
        .plan
        .segments
        .iter()
        .find(|s| s.id == id)
        .map(|s| s.text.clone())
        .unwrap_or_default();
    let mut takes = job.takes.clone();
    let from = takes.take(&id);
    let chosen = takes
        .choose(&id, &text, take)
        .map_err(|e| Error::Usage(format!("{}: {e}", options.essay.display())))?;
    let job = job.with_takes(takes.clone());
    let takes_path = job.takes_path.clone();
    let report = job.produce(&options.dir, true)?;
    takes.save(&takes_path)?;
    if !options.quiet {
        eprintln!(
            "narrate studio: {id}: take {from} → {chosen}; edition {} re-joined",
            options.stem
        );
    }
    Ok(json!({
        "id": id,
        "from_take": from,
        "take": chosen,
        "synthesized": report.stats.synthesized,
    }))
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
    let own = name.starts_with(&format!("{}.", studio.options.stem))
        && !name.contains(['/', '\\', '\0'])
        && !name.contains("..");
    if !own {
        return refuse(
            StatusCode::FORBIDDEN,
            "the studio serves only the edition's own files",
        );
    }
    let path = studio.options.dir.join(&name);
    let range = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<Option<Vec<u8>>> {
        let meta = std::fs::symlink_metadata(&path);
        match meta {
            Ok(m) if m.is_file() => std::fs::read(&path).map(Some),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    })
    .await;
    let bytes = match read {
        Ok(Ok(Some(bytes))) => bytes,
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
    let total = bytes.len() as u64;
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    match range.as_deref().map(|r| byte_range(r, total)) {
        None => (StatusCode::OK, headers, bytes).into_response(),
        Some(Some((start, end))) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{total}")) {
                headers.insert(header::CONTENT_RANGE, v);
            }
            let part = bytes[start as usize..=end as usize].to_vec();
            (StatusCode::PARTIAL_CONTENT, headers, part).into_response()
        }
        Some(None) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{total}")) {
                headers.insert(header::CONTENT_RANGE, v);
            }
            (StatusCode::RANGE_NOT_SATISFIABLE, headers).into_response()
        }
    }
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
