//! `POST /v1/audio/speech`: OpenAI's request shape, read into a plan exactly as `build` plans an essay (the same
//! reader, normalizer and segmenter), then answered sentence by sentence as the sentences are synthesized — in
//! order, several ahead in parallel within the backend's slots, each through the segment cache.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use super::encode::{self, Encoder, Format};
use super::server::{read_body, BodyError};
use super::{api_error, ApiError, App, Model, Note};
use crate::audio::Audio;
use crate::essay::normalize::Normalizer;
use crate::essay::parse::{parse_str, Format as TextFormat};
use crate::pipeline::schedule;
use crate::plan::{self, takes::Takes, PlanInputs};
use crate::synth::{http::WPM_AT_SPEED_1, SpeechRequest};

/// OpenAI's voice names, mapped onto each backend's voices by `Backend::openai_voice` (narrate.toml `[voices]`
/// first).
pub(crate) const OPENAI_VOICES: [&str; 11] = [
    "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse",
];

/// The OpenAI request body. `instructions` is accepted and ignored (with a note in the log); `stream_format` and
/// other fields are ignored.
#[derive(Deserialize)]
struct SpeechBody {
    model: Option<String>,
    input: String,
    voice: Option<serde_json::Value>,
    response_format: Option<String>,
    speed: Option<f64>,
    instructions: Option<String>,
}

/// One sentence (or piece of a long one) of the answer.
struct Piece {
    spoken: String,
    cache_key: String,
    pause_after_ms: u32,
}

/// Chunks of the answer held for a slow client (backpressure: synthesis pauses when they are full).
const BUFFERED_CHUNKS: usize = 8;

pub(super) async fn speech(State(app): State<Arc<App>>, request: Request) -> Response {
    match answer(app, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn answer(app: Arc<App>, request: Request) -> Result<Response, ApiError> {
    let number = app.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let deadline = Instant::now() + app.options.limits.deadline;
    let body = speech_body(&app, request).await?;
    let (model_name, model) = app.find_model(body.model.as_deref())?;
    let input = body.input.trim().to_string();
    if input.is_empty() {
        return Err(api_error(400, "empty_input", "`input` is empty"));
    }
    check_input(&input)?;
    let chars = input.chars().count();
    if chars > app.options.max_input {
        return Err(api_error(
            400,
            "input_too_long",
            format!(
                "`input` has {chars} characters; this server takes at most {} per request",
                app.options.max_input
            ),
        ));
    }
    // Kokoro-FastAPI sends voice objects ({"id": …}); OpenAI a string.
    let voice = match &body.voice {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.as_str()),
        Some(other) => other.get("id").and_then(|v| v.as_str()),
    };
    let voice = app.resolve_voice(model_name, model, voice)?;
    let format_name = body.response_format.as_deref().unwrap_or("mp3");
    let format = Format::parse(format_name)
        .filter(|f| f.available())
        .ok_or_else(|| {
            api_error(
                400,
                "unsupported_format",
                format!(
                    "response_format `{format_name}` is not offered here; use one of {}",
                    encode::available_names()
                ),
            )
        })?;
    let rate = speed_rate(body.speed)?;
    let mut note = format!("{model_name}/{voice} {format_name} {chars} chars");
    if body.instructions.is_some_and(|i| !i.trim().is_empty()) {
        note.push_str(" (instructions ignored: narrate's voices take none)");
    }
    let pieces = {
        let (app, voice) = (app.clone(), voice.clone());
        tokio::task::spawn_blocking(move || plan_input(&app, model_name, &voice, rate, &input))
            .await
            .map_err(|_| api_error(500, "server_error", "the request could not be planned"))??
    };
    note.push_str(&format!(", {} sentences", pieces.len()));

    let (sink, chunks) = mpsc::channel(BUFFERED_CHUNKS);
    let (started, first) = oneshot::channel();
    tokio::spawn(produce(
        app.clone(),
        Job {
            number,
            model: model_name,
            voice,
            rate,
            pieces,
            format,
            deadline,
            cancelled: AtomicBool::new(false),
            synthesized: AtomicUsize::new(0),
        },
        sink,
        started,
    ));
    // The head is sent with the first sentence's audio, so a failure there is still a proper error.
    first
        .await
        .map_err(|_| api_error(500, "synthesis_failed", "synthesis stopped"))??;
    let mut chunks = chunks;
    let stream = futures_util::stream::poll_fn(move |cx| chunks.poll_recv(cx));
    let mut response = Response::builder()
        .header(CONTENT_TYPE, format.content_type())
        .body(Body::from_stream(stream))
        .map_err(|e| api_error(500, "server_error", e.to_string()))?;
    if format == Format::Pcm {
        response.headers_mut().insert(
            "X-Sample-Rate",
            encode::PCM_RATE.to_string().parse().expect("a number"),
        );
    }
    response.extensions_mut().insert(Note(note));
    Ok(response)
}

/// The request's body, read within the server's limits and parsed as a speech request.
async fn speech_body(app: &App, request: Request) -> Result<SpeechBody, ApiError> {
    let limit = app.options.max_body;
    let body = read_body(request, limit, &app.options.limits)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => api_error(
                413,
                "request_too_large",
                format!("the request body is larger than {limit} bytes"),
            ),
            BodyError::TimedOut => api_error(
                408,
                "request_timeout",
                "the request body did not arrive in time",
            ),
            BodyError::Broken(e) => api_error(
                400,
                "bad_body",
                format!("cannot read the request body: {e}"),
            ),
        })?;
    serde_json::from_slice(&body).map_err(|e| {
        api_error(
            400,
            "invalid_json",
            format!("the body is not a speech request: {e}"),
        )
    })
}

/// The speaking rate (words per minute) for OpenAI's `speed`: `None` for the voice's own.
fn speed_rate(speed: Option<f64>) -> Result<Option<u32>, ApiError> {
    match speed {
        None => Ok(None),
        Some(s) if (0.25..=4.0).contains(&s) => {
            Ok(Some(((s * WPM_AT_SPEED_1).round() as u32).clamp(60, 500)).filter(|_| s != 1.0))
        }
        Some(s) => Err(api_error(
            400,
            "invalid_speed",
            format!("speed {s} is outside 0.25 to 4.0"),
        )),
    }
}

/// Refuses, before any work, input that is no text to speak: control characters (other than tabs and line
/// breaks), or not one letter or digit.
fn check_input(input: &str) -> Result<(), ApiError> {
    if let Some((at, c)) = input
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(api_error(
            400,
            "invalid_input",
            format!(
                "`input` holds a control character (U+{:04X} at character {}); send plain text",
                u32::from(c),
                at + 1
            ),
        ));
    }
    if !input.chars().any(char::is_alphanumeric) {
        return Err(api_error(
            400,
            "empty_input",
            "`input` has nothing to say: not one letter or digit",
        ));
    }
    Ok(())
}

/// The input as `build` would plan it as an essay of plain text: read, segmented and normalized with the
/// server's settings (language, lexicon, acronyms, max_chars, pauses), with the cache keys builds use.
fn plan_input(
    app: &App,
    model_name: &'static str,
    voice: &str,
    rate: Option<u32>,
    input: &str,
) -> Result<Vec<Piece>, ApiError> {
    let model = &app.models[model_name];
    let settings = &app.options.settings;
    let fingerprint = model.backend.fingerprint(voice).map_err(|e| {
        eprintln!("narrate serve: voice `{voice}` of {model_name}: {e}");
        api_error(
            400,
            "voice_not_found",
            format!("{model_name} cannot speak with voice `{voice}`; GET /v1/audio/voices?model={model_name} lists its voices"),
        )
    })?;
    let essay = parse_str(input, TextFormat::Text);
    let language = crate::pipeline::reading_language(
        settings.language.as_deref(),
        &essay,
        model.backend.as_ref(),
        voice,
    )
    .map_err(|e| api_error(400, "invalid_language", e))?;
    let normalizer = Normalizer {
        language,
        acronyms: settings.acronyms.iter().cloned().collect(),
        initialisms: settings.initialisms.iter().cloned().collect(),
    };
    let plan = plan::build(
        &essay,
        &PlanInputs {
            title: "speech".into(),
            author: None,
            chapters: settings.chapters,
            max_chars: settings.max_chars,
            pauses: settings.pauses,
            backend: model_name,
            fingerprint: &fingerprint,
            voice,
            rate,
            takes: &Takes::default(),
            normalizer: settings.normalize.then_some(&normalizer),
            lexicon: &app.lexicon,
        },
    );
    let pieces: Vec<Piece> = plan
        .segments
        .into_iter()
        .filter(|s| !s.spoken.trim().is_empty())
        .map(|s| Piece {
            spoken: s.spoken,
            cache_key: s.cache_key,
            pause_after_ms: s.pause_after_ms,
        })
        .collect();
    if pieces.is_empty() {
        return Err(api_error(
            400,
            "empty_input",
            "`input` has nothing to say once read as text",
        ));
    }
    Ok(pieces)
}

/// What one answer synthesizes.
struct Job {
    /// The request's number in this server's life (for its log lines).
    number: u64,
    model: &'static str,
    voice: String,
    rate: Option<u32>,
    pieces: Vec<Piece>,
    format: Format,
    /// No retry starts whose wait would end after this.
    deadline: Instant,
    /// Set when the client went away: no sentence is synthesized after it, and no retry made.
    cancelled: AtomicBool,
    /// Sentences this request had the backend synthesize.
    synthesized: AtomicUsize,
}

/// Synthesizes the pieces ahead in parallel (up to the backend's slots plus one), and encodes them into `sink`
/// in order. `started` hears once the first piece is ready (or why it failed); a later failure cuts the answer
/// short, which clients see as a broken transfer. When the client goes away (the answer's stream is dropped, or
/// stops taking chunks), the request is cancelled: nothing more is started, the pieces in flight stop before
/// their synthesis or their next retry, and the log says so ([`cancel`]).
async fn produce(
    app: Arc<App>,
    job: Job,
    sink: encode::Sink,
    started: oneshot::Sender<Result<(), ApiError>>,
) {
    let ahead = app.models[job.model].slots + 1;
    let job = Arc::new(job);
    let mut pending = VecDeque::new();
    let mut next = 0;
    let mut encoder: Option<(Encoder, u32)> = None;
    let mut started = Some(started);
    let count = job.pieces.len();
    for index in 0..count {
        while next < count && pending.len() < ahead {
            let (app, job) = (app.clone(), job.clone());
            let at = next;
            pending.push_back(tokio::task::spawn_blocking(move || render(&app, &job, at)));
            next += 1;
        }
        // With the backend's rate known from an earlier answer, the encoder (an ffmpeg process) starts while the
        // first sentence is synthesized rather than after it.
        let known = app.models[job.model].rate.load(Ordering::Relaxed);
        if index == 0 && known != 0 {
            if let Ok(e) = Encoder::start(job.format, known, sink.clone()).await {
                encoder = Some((e, known));
            }
        }
        let mut task = pending.pop_front().expect("a task per piece");
        let outcome = tokio::select! {
            outcome = &mut task => outcome,
            () = sink.closed() => {
                pending.push_front(task);
                cancel(&job, pending, index).await;
                return;
            }
        };
        let audio = match outcome {
            Ok(Ok((audio, fresh))) => {
                if fresh {
                    store(&app, &job.pieces[index].cache_key, audio.clone());
                }
                audio
            }
            outcome => {
                let reason = match outcome {
                    Ok(Err(reason)) => reason,
                    _ => "the synthesis task failed".to_string(),
                };
                eprintln!(
                    "narrate serve: {}/{} sentence {} of {count}: {reason}",
                    job.model,
                    job.voice,
                    index + 1
                );
                fail(&sink, &mut started, "synthesis_failed", index, count).await;
                return;
            }
        };
        if encoder.is_none() {
            match Encoder::start(job.format, audio.sample_rate, sink.clone()).await {
                Ok(e) => encoder = Some((e, audio.sample_rate)),
                Err(reason) => {
                    eprintln!("narrate serve: encoding {}: {reason}", job.format.name());
                    fail(&sink, &mut started, "encode_failed", index, count).await;
                    return;
                }
            }
        }
        if let Some(started) = started.take() {
            app.models[job.model]
                .rate
                .store(audio.sample_rate, Ordering::Relaxed);
            let _ = started.send(Ok(()));
        }
        let (enc, rate) = encoder.as_mut().expect("started above");
        let mut audio = at_rate(audio, *rate);
        if index + 1 < count {
            let pause = job.pieces[index].pause_after_ms as usize * *rate as usize / 1000;
            audio.samples.extend(std::iter::repeat_n(0, pause));
        }
        let pushed = tokio::time::timeout(encode::SEND_TIMEOUT, enc.push(&audio)).await;
        if !matches!(pushed, Ok(Ok(()))) {
            // The client hung up or stopped reading.
            cancel(&job, pending, index).await;
            return;
        }
    }
    if let Some((enc, _)) = encoder {
        if let Err(reason) = enc.finish().await {
            eprintln!("narrate serve: encoding {}: {reason}", job.format.name());
            let _ = sink
                .send(Err(std::io::Error::other("encoding failed")))
                .await;
        }
    }
}

/// Cancels a request whose client went away after `sent` sentences: marks it (its pieces in flight stop before
/// their synthesis or their next retry), says so, waits for those pieces, and says how much was synthesized.
async fn cancel(
    job: &Job,
    pending: VecDeque<tokio::task::JoinHandle<Result<(Audio, bool), String>>>,
    sent: usize,
) {
    job.cancelled.store(true, Ordering::Relaxed);
    let count = job.pieces.len();
    eprintln!(
        "narrate serve: request {} cancelled after {sent} of {count} sentences: the client went away",
        job.number
    );
    for task in pending {
        let _ = task.await;
    }
    eprintln!(
        "narrate serve: request {} stopped: {} of {count} sentences synthesized",
        job.number,
        job.synthesized.load(Ordering::Relaxed)
    );
}

/// Ends an answer that failed at piece `index`: an error answer if nothing was sent yet, else a cut-off body.
async fn fail(
    sink: &encode::Sink,
    started: &mut Option<oneshot::Sender<Result<(), ApiError>>>,
    code: &'static str,
    index: usize,
    count: usize,
) {
    let message = format!(
        "sentence {} of {count} could not be synthesized; the server's log says why",
        index + 1
    );
    match started.take() {
        Some(started) => {
            let _ = started.send(Err(api_error(500, code, message)));
        }
        None => {
            let _ = sink.send(Err(std::io::Error::other(message))).await;
        }
    }
}

/// One piece's audio: from the segment cache, or synthesized within the backend's slots under the one retry
/// policy; `true` when it is new (to be stored in the cache once sent).
fn render(app: &App, job: &Job, index: usize) -> Result<(Audio, bool), String> {
    let piece = &job.pieces[index];
    if job.cancelled.load(Ordering::Relaxed) {
        return Err(schedule::CANCELLED.into());
    }
    if let Some(audio) = app.cache.load(&piece.cache_key) {
        app.cache.touch(&piece.cache_key);
        return Ok((audio, false));
    }
    let model: &Model = &app.models[job.model];
    let _permit = model.gate.enter();
    if job.cancelled.load(Ordering::Relaxed) {
        return Err(schedule::CANCELLED.into());
    }
    let request = SpeechRequest {
        text: &piece.spoken,
        voice: &job.voice,
        rate: job.rate,
        take: 1,
    };
    job.synthesized.fetch_add(1, Ordering::Relaxed);
    let audio = schedule::synthesize_within(
        model.backend.as_ref(),
        &request,
        app.options.settings.retries,
        schedule::Bounds {
            cancelled: Some(&job.cancelled),
            deadline: Some(job.deadline),
        },
    )
    .map_err(|e| e.message)?;
    Ok((audio, true))
}

/// Stores new audio in the segment cache off the answer's path (the synced write would delay the next chunk). A
/// cache that cannot be written only costs speed next time; the answer is still good.
fn store(app: &Arc<App>, key: &str, audio: Audio) {
    let (app, key) = (app.clone(), key.to_string());
    tokio::task::spawn_blocking(move || {
        if let Err(e) = app.cache.store(&key, &audio) {
            eprintln!("warning: {e}");
        }
    });
}

/// The audio at `rate` (a backend's pieces normally all have its one rate).
fn at_rate(audio: Audio, rate: u32) -> Audio {
    if audio.sample_rate == rate {
        return audio;
    }
    match crate::audio::resample::resample(&audio.samples, audio.sample_rate, rate) {
        Ok(samples) => Audio {
            sample_rate: rate,
            samples,
            words: None,
        },
        Err(_) => Audio {
            sample_rate: rate,
            samples: Vec::new(),
            words: None,
        },
    }
}
