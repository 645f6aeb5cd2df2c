//! `narrate studio FOLDER`: a page listing each essay of a folder (the essays `narrate batch` finds, their
//! editions where a batch puts them) with its edition's state (built, stale, failed, not built, working), its
//! check's findings and its length; each essay's own studio is under `/e/N/` with every route it has alone.
//!
//! The essays are the catalogue's own list, made once at start: a request names an essay only by its place in
//! that list (an index outside it has no route: 404), never by a path. Every route needs the session token, and
//! every change (a build is the essay's `POST e/N/api/derive`) the studio's own Origin, as a studio of one essay.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::{check_token, refuse, routes, Options, Studio};
use crate::error::Result;
use crate::manifest::Manifest;
use crate::pipeline::{Judged, Place};

const PAGE: &str = include_str!("page/catalogue.html");
const SCRIPT: &str = concat!(
    include_str!("page/common.js"),
    include_str!("page/catalogue.js")
);

/// The essays' studios, in the catalogue's order.
struct Catalogue {
    studios: Vec<Arc<Studio>>,
    token: String,
}

/// Runs the catalogue of `essays` (each a studio's options, sharing one token and one turn for background work)
/// until SIGINT or SIGTERM; `listening` is told the page's address (with the token) once bound.
pub(crate) fn run(
    essays: Vec<Options>,
    bind: SocketAddr,
    token: String,
    listening: impl FnOnce(&str),
) -> Result<()> {
    let studios = essays
        .into_iter()
        .map(super::start)
        .collect::<Result<Vec<_>>>()?;
    let catalogue = Arc::new(Catalogue { studios, token });
    super::serve(
        bind,
        &catalogue.token,
        "the editions",
        listening,
        |address| router(&catalogue, address),
    )
}

/// The catalogue's page and list, and each essay's studio under `/e/N/` (`/e/N` is sent there).
fn router(catalogue: &Arc<Catalogue>, address: &str) -> Router {
    let mut app = Router::new()
        .route("/", get(page))
        .route("/api/catalogue", get(list))
        .with_state(catalogue.clone());
    for (n, studio) in catalogue.studios.iter().enumerate() {
        let at = format!("/e/{n}");
        let to = format!("{at}/");
        app = app.merge(routes(studio, address, &at)).route(
            &at,
            get(move |request: Request| async move {
                let query = request
                    .uri()
                    .query()
                    .map(|q| format!("?{q}"))
                    .unwrap_or_default();
                axum::response::Redirect::permanent(&format!("{to}{query}")).into_response()
            }),
        );
    }
    app
}

async fn page(State(catalogue): State<Arc<Catalogue>>, request: Request) -> Response {
    if let Some(refused) = check_token(&catalogue.token, request.headers(), request.uri().query()) {
        return refused;
    }
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let text = TEXT.get_or_init(|| super::inline(PAGE, SCRIPT));
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        text.as_str(),
    )
        .into_response()
}

/// `GET /api/catalogue`: each essay with its edition's state, findings, length and where its studio is.
async fn list(State(catalogue): State<Arc<Catalogue>>, request: Request) -> Response {
    if let Some(refused) = check_token(&catalogue.token, request.headers(), request.uri().query()) {
        return refused;
    }
    let read = tokio::task::spawn_blocking(move || {
        let essays: Vec<serde_json::Value> = catalogue
            .studios
            .iter()
            .enumerate()
            .map(|(n, studio)| describe(n, studio))
            .collect();
        json!({ "essays": essays })
    })
    .await;
    match read {
        Ok(value) => Json(value).into_response(),
        Err(_) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "reading the catalogue failed",
        ),
    }
}

/// One essay of the list: its name, its edition's title and length, its state and the work under way.
fn describe(n: usize, studio: &Studio) -> serde_json::Value {
    let work = &studio.work;
    let options = &work.options;
    let status = work.status();
    let manifest = Manifest::load(&options.dir.join(format!("{}.json", options.stem)))
        .ok()
        .flatten();
    let (state, reason) = state(studio, &status, manifest.is_some());
    let findings = status
        .findings
        .as_ref()
        .and_then(|f| f.as_array())
        .map(Vec::len);
    json!({
        "n": n,
        "essay": options.essay.file_name().unwrap_or_default().to_string_lossy(),
        "title": manifest.as_ref().map(|m| m.title.clone()),
        "state": state,
        "reason": reason,
        "message": status.message,
        "phase": status.phase,
        "done": status.done,
        "total": status.total,
        "findings": findings,
        "duration_seconds": manifest.as_ref().map(|m| m.duration_seconds),
        "open": format!("e/{n}/"),
    })
}

/// `working`, `failed` (the last work on it failed), `not-built`, `stale` (the essay, its takes or the settings
/// changed since it was built: `narrate batch` would build it again) or `built`; and why, when failed.
fn state(
    studio: &Studio,
    status: &super::work::Status,
    built: bool,
) -> (&'static str, Option<String>) {
    if status.state == "working" {
        return ("working", None);
    }
    if status.state == "error" {
        return ("failed", Some(status.message.clone()));
    }
    if !built {
        return ("not-built", None);
    }
    let work = &studio.work;
    let options = &work.options;
    let place = Place::new(&options.essay, options.name.as_deref(), Some(&options.dir));
    let judged = work
        .settings()
        .and_then(|s| Ok((work.backend(&s)?, s)))
        .and_then(|(backend, s)| place.judge(s, backend, |_| {}));
    match judged {
        Ok(Judged::Current { .. }) => ("built", None),
        Ok(Judged::Needed(_)) => ("stale", None),
        Err(e) => ("failed", Some(e.to_string())),
    }
}
