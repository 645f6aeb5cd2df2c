//! The web edition: one self-contained HTML page to publish beside the audio — the player, the chapter list and
//! the text, each segment a `<span>` timed from the edition, highlighted and scrolled into view as it is spoken,
//! and inside it each word the voice said, highlighted while it is said; a click on a word plays from it.
//!
//! The page loads nothing but the audio file beside it: its CSS and JS are inline, the WebVTT captions and
//! chapters (the `vtt` and `vtt-chapters` exports) are `data:` URLs (browsers refuse `<track src=…>` files
//! from a `file://` page), and a Content-Security-Policy forbids any other load. It plays the compressed
//! edition (M4B, MP3) the settings made, with the WAV as the fallback a browser falls back to.

use base64::Engine as _;

use super::encode::Encoding;
use super::vtt_captions::VttCaptions;
use super::vtt_chapters::VttChapters;
use super::{written_runs, ChapterExporter};
use crate::edition::Edition;
use crate::values::{PauseList, Pauses};

pub(super) struct Html;

impl ChapterExporter for Html {
    fn name(&self) -> &'static str {
        "html"
    }
    fn suffix(&self) -> &'static str {
        ".html"
    }
    fn render(&self, e: &Edition) -> String {
        page(e)
    }
}

/// What the page allows: nothing but its own inline style and script, and media (the audio beside it, the
/// tracks' `data:` URLs, and the audio fetched whole as a `blob:` from a server that does not answer ranges).
const POLICY: &str = "default-src 'none'; media-src 'self' data: blob:; connect-src 'self'; \
                      style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; base-uri 'none'; \
                      form-action 'none'";

fn page(e: &Edition) -> String {
    let lang = language(e);
    let title = escape(&e.title);
    let mut out = String::with_capacity(4096 + e.segments.len() * 160);
    // The icon is an empty `data:` URL, so browsers do not ask a server for /favicon.ico either.
    out.push_str(&format!(
        "<!doctype html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{POLICY}\">\n\
         <meta name=\"generator\" content=\"narrate\">\n\
         <link rel=\"icon\" href=\"data:,\">\n",
        escape(&lang)
    ));
    if let Some(author) = &e.author {
        out.push_str(&format!(
            "<meta name=\"author\" content=\"{}\">\n",
            escape(author)
        ));
    }
    out.push_str(&format!(
        "<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n\
         <a class=\"skip\" href=\"#text\">Skip to the text</a>\n<header>\n"
    ));

    // The title chapter's heading is the page's own: its spoken title is the h1.
    let blocks = layout(e);
    let title_block = blocks
        .first()
        .filter(|b| b.chapter == 0 && e.chapters.first().is_some_and(|c| c.level <= 1));
    match title_block.and_then(|b| b.heading) {
        Some(s) => out.push_str(&format!("<h1 id=\"title\">{}</h1>\n", span(e, s))),
        None => out.push_str(&format!("<h1 id=\"title\">{title}</h1>\n")),
    }
    // An essay whose byline is read aloud ("By Ada Fenwick") shows it as the text's first line: the author is
    // not shown a second time above it.
    let byline_read = blocks
        .first()
        .and_then(|b| b.paragraphs.first())
        .is_some_and(|p| {
            p.iter().any(|&s| {
                let text = e.segments[s].text.trim();
                text.strip_prefix("By ")
                    .zip(e.author.as_deref())
                    .is_some_and(|(named, author)| named.trim_end_matches('.') == author)
            })
        });
    if let Some(author) = e.author.as_ref().filter(|_| !byline_read) {
        out.push_str(&format!("<p class=\"author\">{}</p>\n", escape(author)));
    }
    player(e, &lang, &mut out);
    out.push_str(
        "<div class=\"controls\">\
         <button type=\"button\" id=\"previous\" data-icon=\"⇤\">Previous sentence</button> \
         <button type=\"button\" id=\"next\" data-icon=\"⇥\">Next sentence</button></div>\n</header>\n\
         <div class=\"layout\">\n<nav aria-label=\"Chapters\">\n<h2>Chapters</h2>\n<ol id=\"chapters\">\n",
    );
    let rate = f64::from(e.sample_rate.max(1));
    for (i, c) in e.chapters.iter().enumerate() {
        let start = c.start_sample as f64 / rate;
        out.push_str(&format!(
            "<li class=\"level-{}\"><button type=\"button\" class=\"chapter-link\" data-chapter=\"{i}\" \
             data-start=\"{start:.3}\"><span class=\"at\">{}</span> <span class=\"name\">{}</span></button></li>\n",
            c.level.clamp(1, 6),
            position(start),
            escape(&c.title)
        ));
    }
    out.push_str("</ol>\n</nav>\n<main id=\"text\" tabindex=\"-1\">\n");

    for (n, block) in blocks.iter().enumerate() {
        if n == 0 && title_block.is_some() && block.paragraphs.is_empty() {
            continue;
        }
        let (chapter_title, chapter_level) = e
            .chapters
            .get(block.chapter)
            .map_or((e.title.as_str(), 2), |c| (c.title.as_str(), c.level));
        // A chapter whose heading is spoken shows it; one that is not (a paragraph made a chapter, titled by
        // its first words) is only named, for assistive technology, so the page shows the essay's own text.
        match block.heading.filter(|_| !(n == 0 && title_block.is_some())) {
            Some(s) => {
                let level = chapter_level.clamp(2, 6);
                out.push_str(&format!(
                    "<section class=\"chapter\" id=\"c-{c}\" aria-labelledby=\"h-{c}\">\n\
                     <h{level} id=\"h-{c}\" class=\"chapter-title\">{}</h{level}>\n",
                    span(e, s),
                    c = block.chapter
                ));
            }
            None => out.push_str(&format!(
                "<section class=\"chapter\" id=\"c-{}\" aria-label=\"{}\">\n",
                block.chapter,
                escape(chapter_title)
            )),
        }
        for paragraph in &block.paragraphs {
            let spans: Vec<String> = paragraph.iter().map(|&s| span(e, s)).collect();
            out.push_str(&format!("<p>{}</p>\n", spans.join(" ")));
        }
        out.push_str("</section>\n");
    }
    out.push_str(&format!(
        "</main>\n</div>\n<footer><p>Read by {} ({}), made with narrate.</p></footer>\n\
         <script>{JS}</script>\n</body>\n</html>\n",
        escape(&e.voice),
        escape(&e.backend)
    ));
    out
}

/// The `<audio>` element: the compressed editions first, the WAV last, and the captions and chapters tracks.
fn player(e: &Edition, lang: &str, out: &mut String) {
    out.push_str("<audio id=\"player\" controls preload=\"metadata\">\n");
    let wav = std::path::Path::new(&e.audio);
    for enc in encodings(e) {
        let file = wav.with_extension(enc.extension());
        out.push_str(&format!(
            "<source src=\"{}\" type=\"{}\">\n",
            escape(&url_path(&file.to_string_lossy())),
            enc.mime()
        ));
    }
    let wav_url = escape(&url_path(&e.audio));
    out.push_str(&format!("<source src=\"{wav_url}\" type=\"audio/wav\">\n"));
    let srclang = if lang == UNKNOWN_LANGUAGE {
        String::new()
    } else {
        format!(" srclang=\"{}\"", escape(lang))
    };
    out.push_str(&format!(
        "<track kind=\"captions\" label=\"Text\"{srclang} src=\"{}\" default>\n\
         <track kind=\"chapters\" label=\"Chapters\"{srclang} src=\"{}\">\n",
        vtt_url(&VttCaptions.render(e)),
        vtt_url(&VttChapters.render(e))
    ));
    out.push_str(&format!(
        "<p>This browser cannot play the audio here; <a href=\"{wav_url}\">open the audio file</a>.</p>\n</audio>\n"
    ));
}

/// The compressed editions the settings made (`format` in the manifest's settings), in the order made.
fn encodings(e: &Edition) -> Vec<Encoding> {
    e.settings["format"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|f| f.as_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The language tag when the settings name one ("und", undetermined, when they do not).
pub(super) fn language(e: &Edition) -> String {
    e.settings["language"]
        .as_str()
        .filter(|l| !l.is_empty())
        .unwrap_or(UNKNOWN_LANGUAGE)
        .to_string()
}

const UNKNOWN_LANGUAGE: &str = "und";

/// One chapter as the page lays it out: its heading segment (when the chapter's first segment is its title),
/// then paragraphs of segment indexes.
pub(super) struct Block {
    pub(super) chapter: usize,
    pub(super) heading: Option<usize>,
    pub(super) paragraphs: Vec<Vec<usize>>,
}

/// Chapters and paragraphs from the edition: a new paragraph where the edition pauses longer than between two
/// sentences (the join puts exactly the plan's pause between segments).
pub(super) fn layout(e: &Edition) -> Vec<Block> {
    let pauses = e.settings["pause"]
        .as_str()
        .and_then(|p| p.parse::<PauseList>().ok())
        .map_or_else(Pauses::default, |list| Pauses::default().with(&list));
    let sentence_gap = u64::from(pauses.sentence_ms) * u64::from(e.sample_rate) / 1000;
    let mut blocks: Vec<Block> = Vec::new();
    for (i, s) in e.segments.iter().enumerate() {
        let new_chapter = blocks.last().is_none_or(|b| b.chapter != s.chapter);
        if new_chapter {
            let heading = e
                .chapters
                .get(s.chapter)
                .is_some_and(|c| c.title.trim() == s.text.trim());
            blocks.push(Block {
                chapter: s.chapter,
                heading: heading.then_some(i),
                paragraphs: Vec::new(),
            });
            if heading {
                continue;
            }
        }
        let block = blocks.last_mut().expect("a block was pushed");
        let gap = i
            .checked_sub(1)
            .map(|p| s.start_sample.saturating_sub(e.segments[p].end_sample));
        match block.paragraphs.last_mut() {
            Some(p) if gap.is_some_and(|g| g <= sentence_gap) => p.push(i),
            _ => block.paragraphs.push(vec![i]),
        }
    }
    blocks
}

/// A segment's `<span>`, with where it is in the audio (seconds, to the millisecond), holding a `<span>` for
/// each written word the voice said ([`written_runs`]), timed the same way.
fn span(e: &Edition, i: usize) -> String {
    let s = &e.segments[i];
    let rate = f64::from(e.sample_rate.max(1));
    let mut words = String::with_capacity(s.text.len() * 3);
    for run in written_runs(&s.text, s) {
        match run.at {
            Some((start, end)) => words.push_str(&format!(
                "<span class=\"word\" data-start=\"{:.3}\" data-end=\"{:.3}\">{}</span>",
                start as f64 / rate,
                end as f64 / rate,
                escape(run.text)
            )),
            None => words.push_str(&escape(run.text)),
        }
    }
    format!(
        "<span class=\"sentence\" id=\"s-{}\" data-start=\"{:.3}\" data-end=\"{:.3}\">{words}</span>",
        escape(&s.id),
        s.start_sample as f64 / rate,
        s.end_sample as f64 / rate,
    )
}

/// `m:ss`, or `h:mm:ss` from an hour on.
fn position(seconds: f64) -> String {
    let s = seconds.floor() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn vtt_url(vtt: &str) -> String {
    format!(
        "data:text/vtt;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(vtt)
    )
}

/// A file name as a relative URL: every byte but unreserved ASCII percent-encoded.
fn url_path(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Text for HTML content and double-quoted attributes.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// narrate's look (shared with the studio), then what is the web edition's own.
const CSS: &str = concat!(
    include_str!("look.css"),
    r#".skip { position: absolute; left: -100vw; }
.skip:focus { left: 1rem; top: 1rem; z-index: 3; background: var(--surface); color: var(--fg); padding: 0.3rem 0.6rem; }
.author { margin: 0.1rem 0 0; color: var(--muted); }
nav .at { font-variant-numeric: tabular-nums; color: var(--muted); order: 2; }
nav .level-3 { padding-left: 1.2rem; } nav .level-4, nav .level-5, nav .level-6 { padding-left: 2.4rem; }
footer { padding: 1rem clamp(0.6rem, 3vw, 1.5rem); font-size: 0.9rem; color: var(--muted); max-width: 76rem; margin: 0 auto; }
"#
);

const JS: &str = r#"
"use strict";
(() => {
  const player = document.getElementById("player");
  const header = document.querySelector("header");
  const spans = Array.from(document.querySelectorAll(".sentence"));
  const starts = spans.map((s) => parseFloat(s.dataset.start));
  const words = Array.from(document.querySelectorAll(".word"));
  const wordStarts = words.map((w) => parseFloat(w.dataset.start));
  const wordEnds = words.map((w) => parseFloat(w.dataset.end));
  const links = Array.from(document.querySelectorAll(".chapter-link"));
  const chapterStarts = links.map((b) => parseFloat(b.dataset.start));
  const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  let current = -1;
  let word = -1;
  let chapter = -1;

  // The last item starting at or before t (-1 before the first): the sentence being spoken, or just spoken
  // during the pause after it.
  function indexAt(list, t) {
    let lo = 0, hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid] <= t + 0.001) lo = mid + 1; else hi = mid;
    }
    return lo - 1;
  }

  function visible(el) {
    const r = el.getBoundingClientRect();
    const top = getComputedStyle(header).position === "sticky" ? header.getBoundingClientRect().bottom : 0;
    return r.top >= top && r.bottom <= window.innerHeight;
  }

  function follow(force) {
    const t = player.currentTime;
    const i = indexAt(starts, t);
    if (i !== current) {
      if (current >= 0) {
        spans[current].classList.remove("speaking");
        spans[current].removeAttribute("aria-current");
      }
      current = i;
      if (i >= 0) {
        spans[i].classList.add("speaking");
        spans[i].setAttribute("aria-current", "true");
      }
    }
    // The word being said: the last to start at or before t, while it lasts (none in the pause after it).
    let w = indexAt(wordStarts, t);
    if (w >= 0 && t > wordEnds[w] + 0.001) w = -1;
    if (w !== word) {
      if (word >= 0) words[word].classList.remove("now");
      word = w;
      if (w >= 0) words[w].classList.add("now");
    }
    if (current >= 0 && (force || !player.paused) && !visible(spans[current])) {
      spans[current].scrollIntoView({ block: "center", behavior: smooth ? "smooth" : "auto" });
    }
    const c = indexAt(chapterStarts, t);
    if (c !== chapter) {
      if (chapter >= 0) links[chapter].removeAttribute("aria-current");
      chapter = c;
      if (c >= 0) links[c].setAttribute("aria-current", "true");
    }
  }

  function seek(seconds, play) {
    player.currentTime = seconds;
    if (play) player.play().catch(() => {});
  }

  function tick() {
    follow(false);
    if (!player.paused) requestAnimationFrame(tick);
  }

  // A server that does not answer byte ranges (Python's http.server does not) leaves the audio unseekable:
  // fetch the file whole, once, and play it from memory.
  let whole = false;
  player.addEventListener("loadedmetadata", () => {
    const s = player.seekable;
    const seekable = s.length > 0 && s.end(s.length - 1) > 0;
    if (whole || seekable || !(player.duration > 0) || !/^https?:$/.test(location.protocol)) return;
    whole = true;
    const file = player.currentSrc;
    fetch(file)
      .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(r.statusText))))
      .then((blob) => {
        const at = player.currentTime;
        const playing = !player.paused;
        player.addEventListener("loadedmetadata", () => {
          player.currentTime = at;
          if (playing) player.play().catch(() => {});
          player.dataset.whole = file;
        }, { once: true });
        player.src = URL.createObjectURL(blob);
      })
      .catch(() => {});
  });
  for (let i = 0; i < player.textTracks.length; i++) player.textTracks[i].mode = "hidden";
  player.addEventListener("timeupdate", () => follow(false));
  player.addEventListener("seeked", () => follow(true));
  player.addEventListener("loadedmetadata", () => follow(false));
  player.addEventListener("play", () => requestAnimationFrame(tick));
  for (const b of links) b.addEventListener("click", () => seek(parseFloat(b.dataset.start), true));
  // A click on a word plays from it, on the rest of a sentence from the sentence (not when the click ends
  // selecting text to copy).
  document.addEventListener("click", (event) => {
    const s = event.target.closest && (event.target.closest(".word") || event.target.closest(".sentence"));
    if (!s || String(window.getSelection())) return;
    seek(parseFloat(s.dataset.start), true);
  });
  const step = (by) => {
    const i = Math.min(spans.length - 1, Math.max(0, indexAt(starts, player.currentTime) + by));
    if (i >= 0) seek(starts[i], !player.paused);
  };
  document.getElementById("previous").addEventListener("click", () => step(-1));
  document.getElementById("next").addEventListener("click", () => step(1));
  follow(false);
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_file_names_are_escaped() {
        assert_eq!(
            escape(r#"<b>"A" & 'B'</b>"#),
            "&lt;b&gt;&quot;A&quot; &amp; &#39;B&#39;&lt;/b&gt;"
        );
        assert_eq!(url_path("my essay#1?.wav"), "my%20essay%231%3F.wav");
        assert_eq!(url_path("café.wav"), "caf%C3%A9.wav");
    }

    #[test]
    fn the_page_plays_the_compressed_edition_first_and_breaks_paragraphs_at_longer_pauses() {
        let mut e = Edition::from_manifest(crate::export::tests::manifest());
        e.settings =
            serde_json::json!({"format": ["mp3"], "pause": "sentence=250ms", "language": "en-GB"});
        // Two more sentences in "Where They Start": one a sentence pause (5 512 samples) after the last, one
        // a longer pause after that.
        let mut more = e.segments[2].clone();
        more.id = "aaaa0009".into();
        (more.start_sample, more.end_sample) = (805_512, 850_000);
        let mut last = more.clone();
        last.id = "aaaa000a".into();
        (last.start_sample, last.end_sample) = (870_000, 880_000);
        e.segments.splice(3..3, [more, last]);
        let page = page(&e);
        let mp3 = page.find("<source src=\"rivers.mp3\" type=\"audio/mpeg\">");
        let wav = page.find("<source src=\"rivers.wav\" type=\"audio/wav\">");
        assert!(mp3.is_some() && wav.is_some() && mp3 < wav, "{page}");
        assert!(page.contains("<html lang=\"en-GB\">"), "{page}");
        // The title segment is the h1; each chapter's heading segment is its heading.
        assert!(page.contains("<h1 id=\"title\"><span class=\"sentence\" id=\"s-aaaa0001\""));
        assert!(page.contains(
            "<h2 id=\"h-1\" class=\"chapter-title\"><span class=\"sentence\" id=\"s-aaaa0002\""
        ));
        assert_eq!(page.matches("class=\"sentence\"").count(), e.segments.len());
        let blocks = layout(&e);
        assert_eq!(blocks[0].heading, Some(0));
        assert_eq!(blocks[1].heading, Some(1));
        assert_eq!(blocks[1].paragraphs, vec![vec![2, 3], vec![4]]);
        // With longer sentence pauses, one paragraph.
        e.settings["pause"] = "sentence=1s".into();
        assert_eq!(layout(&e)[1].paragraphs, vec![vec![2, 3, 4]]);
        // Without settings (an old manifest): the WAV alone, language undetermined.
        e.settings = serde_json::Value::Null;
        let page = super::page(&e);
        assert!(!page.contains("<source src=\"rivers.mp3\""));
        assert!(page.contains("<html lang=\"und\">"));
    }

    #[test]
    fn the_author_is_shown_once_when_the_byline_is_read() {
        let mut e = Edition::from_manifest(crate::export::tests::manifest());
        assert_eq!(
            page(&e).matches("Ada Fenwick").count(),
            2,
            "the meta tag and the author line"
        );
        let mut byline = e.segments[0].clone();
        byline.id = "aaaa0010".into();
        byline.text = "By Ada Fenwick".into();
        (byline.start_sample, byline.end_sample) = (70_000, 90_000);
        byline.words = Vec::new();
        e.segments.insert(1, byline);
        let page = page(&e);
        assert_eq!(
            page.matches("Ada Fenwick").count(),
            2,
            "the meta tag and the read byline: {page}"
        );
        assert!(!page.contains("class=\"author\""));
    }

    #[test]
    fn nothing_is_loaded_from_elsewhere() {
        let mut e = Edition::from_manifest(crate::export::tests::manifest());
        e.title = "</script><script>alert(1)</script> https://example.com".into();
        let page = page(&e);
        assert!(!page.contains("<script>alert"));
        let attrs = regex::Regex::new(r#"(?i)\b(?:src|href)\s*=\s*"([^"]*)""#).unwrap();
        for c in attrs.captures_iter(&page) {
            let url = &c[1];
            assert!(
                url.starts_with("data:") || url.starts_with('#') || !url.contains(':'),
                "{url}"
            );
        }
        assert!(!page.contains("url("));
        assert!(!page.contains("@import"));
    }
}
