//! The read-along book (`--export epub`): an EPUB 3.3 whose content documents hold the edition's text (from an
//! EPUB 3 input, the book's own documents, see `source.rs`), each spoken sentence (or word) an element with an id,
//! and a SMIL Media Overlay per content document pairing each id with its clip of the audio. The book carries the
//! audio as one AAC-in-MP4 file (the M4B's, when the settings made one), so every clip is the manifest's span.
//! docs/FORMATS.md describes the layout, the metadata and which reading systems honour what.

mod source;

use std::io::Write;
use std::path::Path;

use super::encode::{self, Encoding};
use super::html::{escape, language, layout, Block};
use super::{written_runs, ChapterExporter};
use crate::audio::master::Preset;
use crate::edition::{Edition, Segment};
use crate::error::{Error, Result};

/// What the overlays highlight: each sentence (the edition's segments) or each word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum SyncLevel {
    #[default]
    Sentence,
    Word,
}

crate::values::named_enum!(SyncLevel, "sync level", [
    SyncLevel::Sentence => "sentence",
    SyncLevel::Word => "word",
]);

pub(super) struct ReadAlong;

impl ChapterExporter for ReadAlong {
    fn name(&self) -> &'static str {
        "epub"
    }
    fn suffix(&self) -> &'static str {
        ".epub"
    }
    /// The book's text files, each after a `==> name <==` line (the audio and images are named only).
    fn render(&self, e: &Edition) -> String {
        let book = match essay_book(e, sync_level(e), &modified(e)) {
            Ok(b) => b,
            Err(err) => return format!("{err}\n"),
        };
        let mut out = String::new();
        for entry in &book.entries {
            out.push_str(&format!("==> {} <==\n", entry.name));
            match &entry.body {
                Body::Text(t) => out.push_str(t),
                Body::Bytes(b) => out.push_str(&format!("({} bytes)\n", b.len())),
                Body::Audio => out.push_str("(the edition's audio)\n"),
            }
        }
        out
    }
    fn write(&self, e: &Edition, audio_dir: &Path, out: &Path) -> Result<()> {
        let sync = sync_level(e);
        let modified = modified(e);
        let book = match source::open(e)? {
            Some(src) => source::book(e, &src, sync, &modified)?,
            None => essay_book(e, sync, &modified)?,
        };
        let out_err = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::Output {
                path: path.clone(),
                source,
            }
        };
        let dir = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        // The audio: the M4B the settings made beside the WAV (the same edition, committed with it), else an
        // AAC-in-MP4 encode of the WAV made here, under the edition's mastering ceiling.
        let wav = audio_dir.join(&e.audio);
        let m4b = wav.with_extension(Encoding::M4b.extension());
        let made_m4b = e.settings["format"]
            .as_array()
            .is_some_and(|l| l.iter().any(|f| f == Encoding::M4b.name()));
        let scratch = tempfile::Builder::new()
            .prefix(".narrate-epub.")
            .tempdir_in(dir)
            .map_err(out_err(dir))?;
        let audio = if made_m4b && m4b.exists() {
            m4b
        } else {
            let target = scratch.path().join("audio.m4a");
            let preset = e.settings["master"]
                .as_str()
                .and_then(|p| p.parse().ok())
                .unwrap_or(Preset::None);
            encode::encode_into(&wav, e, Encoding::M4b, preset, &target)?;
            target
        };
        crate::atomic::write(out, |f| write_zip(f, &book, &audio), |e| e).map_err(out_err(out))
    }
}

/// The edition's `sync` setting (sentence when it has none: editions made before it).
fn sync_level(e: &Edition) -> SyncLevel {
    e.settings["sync"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default()
}

/// The class reading systems give the element being read (`media:active-class`), styled in [`CSS`].
const ACTIVE_CLASS: &str = "narrate-active";
/// The book's own style sheet: the highlight.
const CSS: &str = "/* narrate: the sentence or word being read. */\n\
.narrate-active { background-color: #ffe58f; color: #000; border-radius: 0.15em; }\n\
.narrate-author { font-style: italic; }\n";
/// Where the package, content documents, overlays and audio sit in the zip.
const ROOT: &str = "EPUB";
/// The audio's name in the book.
const AUDIO: &str = "audio.m4a";
const CSS_NAME: &str = "narrate.css";

/// A read-along book before it is zipped.
struct Book {
    /// In zip order after `mimetype`: the container first.
    entries: Vec<Entry>,
}

struct Entry {
    name: String,
    body: Body,
}

enum Body {
    Text(String),
    /// Bytes kept as they are (images, fonts, a source book's other files): stored when already compressed.
    Bytes(Vec<u8>),
    /// The audio file, copied in when the zip is written.
    Audio,
}

/// One `<par>`: an element id in a content document and its clip, in milliseconds of the audio.
#[derive(Debug, Clone, PartialEq)]
struct Par {
    id: String,
    begin_ms: u64,
    end_ms: u64,
}

/// A content document with its overlay (none when nothing in it is spoken).
struct Doc {
    /// The item id (`c003`); its file is `c003.xhtml` (or the source book's own href), its overlay `c003.smil`.
    id: String,
    href: String,
    pars: Vec<Par>,
}

/// Whether a segment has word timings: every segment with words to say has them, except in an edition recorded
/// before narrate kept them.
fn has_words(s: &Segment) -> bool {
    !s.words.is_empty() || !s.spoken.chars().any(char::is_alphanumeric)
}

/// The error `--sync word` gives on an edition without word timings.
fn words_or_error(e: &Edition, s: &Segment) -> Result<()> {
    if has_words(s) {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "{}: `--sync word` needs word timings, and segment {} of this edition has none (it was made before \
         narrate recorded them); build the edition again, or make the book with --sync sentence",
        e.source, s.id
    )))
}

/// Milliseconds of the audio at `samples` (the manifest's seconds, rounded the same way).
fn ms(samples: u64, rate: u32) -> u64 {
    (samples as f64 / f64::from(rate.max(1)) * 1000.0).round() as u64
}

/// A SMIL clock value: `12.345s`.
fn clip(ms: u64) -> String {
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

/// A full clock value for `media:duration`: `h:mm:ss.mmm`.
fn duration(ms: u64) -> String {
    format!(
        "{}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// The segment id as an XML id (ids are hex; the prefix makes them names).
fn sentence_id(s: &Segment) -> String {
    format!("narrate-s-{}", s.id)
}

/// A sentence's markup and its `<par>`s: at sentence level one span and one par; at word level the span holds a
/// span per word found in the written text (a spoken word the text does not show, such as a number read out, is
/// joined to the word before it).
fn sentence(e: &Edition, s: &Segment, sync: SyncLevel, text: &str) -> Result<(String, Vec<Par>)> {
    let id = sentence_id(s);
    let rate = e.sample_rate;
    match sync {
        SyncLevel::Sentence => Ok((
            format!("<span id=\"{id}\">{}</span>", escape(text)),
            vec![Par {
                id,
                begin_ms: ms(s.start_sample, rate),
                end_ms: ms(s.end_sample, rate),
            }],
        )),
        SyncLevel::Word => {
            words_or_error(e, s)?;
            let (inner, pars) = word_markup(&id, text, s, rate);
            Ok((format!("<span id=\"{id}\">{inner}</span>"), pars))
        }
    }
}

/// The written `text` with a span around each written word the voice said (its runs, [`written_runs`]), and
/// their pars.
fn word_markup(id: &str, text: &str, s: &Segment, rate: u32) -> (String, Vec<Par>) {
    let mut out = String::new();
    let mut pars: Vec<Par> = Vec::new();
    for run in written_runs(text, s) {
        let Some((start, end)) = run.at else {
            out.push_str(&escape(run.text));
            continue;
        };
        let wid = format!("{id}-w{}", run.word + 1);
        out.push_str(&format!("<span id=\"{wid}\">{}</span>", escape(run.text)));
        pars.push(Par {
            id: wid,
            begin_ms: ms(start, rate),
            end_ms: ms(end, rate),
        });
    }
    (out, pars)
}

/// `dcterms:modified`: `SOURCE_DATE_EPOCH` when set (reproducible builds), else when the essay was last changed
/// (so the same essay and takes make the same book, byte for byte), else now; in UTC to the second.
fn modified(e: &Edition) -> String {
    let since_epoch = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    };
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .or_else(|| {
            std::fs::metadata(&e.source)
                .and_then(|m| m.modified())
                .ok()
                .map(since_epoch)
        })
        .unwrap_or_else(|| since_epoch(std::time::SystemTime::now()));
    utc(secs)
}

/// `YYYY-MM-DDThh:mm:ssZ` of a Unix time (Howard Hinnant's days-to-civil).
fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// An identifier for a book that has none of its own: a UUID made from the edition's title, author and source.
fn identifier(e: &Edition) -> String {
    if let Some(id) = e
        .book
        .as_ref()
        .and_then(|b| b.identifier.clone())
        .filter(|i| !i.trim().is_empty())
    {
        return id;
    }
    let hash = blake3::hash(
        format!(
            "narrate read-along\0{}\0{}\0{}",
            e.title,
            e.author.as_deref().unwrap_or(""),
            e.source
        )
        .as_bytes(),
    );
    let h = hash.to_hex();
    format!(
        "urn:uuid:{}-{}-5{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// The book's language: the book's own, else the `language` setting, else `und`.
fn book_language(e: &Edition) -> String {
    e.book
        .as_ref()
        .and_then(|b| b.language.clone())
        .filter(|l| !l.trim().is_empty())
        .unwrap_or_else(|| language(e))
}

/// The read-along book of an essay: a content document per chapter laid out as the web edition lays it out
/// (headings with their levels, paragraphs where the edition pauses for one), each sentence a span.
fn essay_book(e: &Edition, sync: SyncLevel, modified: &str) -> Result<Book> {
    let lang = book_language(e);
    let mut docs = Vec::new();
    let mut files = Vec::new();
    let mut toc = Vec::new();
    for (n, block) in layout(e).iter().enumerate() {
        let chapter = chapter_document(e, n, block, sync, &lang)?;
        files.push(chapter.entry);
        toc.push(chapter.toc);
        docs.push(chapter.doc);
    }
    if docs.is_empty() {
        let href = "c000.xhtml".to_string();
        files.push(Entry {
            name: href.clone(),
            body: Body::Text(xhtml(
                &lang,
                &e.title,
                &format!("<h1>{}</h1>\n", escape(&e.title)),
            )),
        });
        toc.push((1, e.title.clone(), href.clone()));
        docs.push(Doc {
            id: "c000".into(),
            href,
            pars: Vec::new(),
        });
    }
    files.push(Entry {
        name: "nav.xhtml".into(),
        body: Body::Text(nav(&lang, &toc, &docs[0].href)),
    });
    files.push(Entry {
        name: CSS_NAME.into(),
        body: Body::Text(CSS.into()),
    });
    let mut items: Vec<String> = vec![
        "<item id=\"nav\" href=\"nav.xhtml\" media-type=\"application/xhtml+xml\" properties=\"nav\"/>"
            .into(),
        format!("<item id=\"narrate-css\" href=\"{CSS_NAME}\" media-type=\"text/css\"/>"),
    ];
    if let Some((item, entry)) = cover(e) {
        items.push(item);
        files.push(entry);
    }
    for d in &docs {
        let overlay = if d.pars.is_empty() {
            String::new()
        } else {
            format!(" media-overlay=\"mo-{}\"", d.id)
        };
        items.push(format!(
            "<item id=\"{}\" href=\"{}\" media-type=\"application/xhtml+xml\"{overlay}/>",
            d.id,
            escape(&d.href)
        ));
    }
    let spine: Vec<String> = docs
        .iter()
        .map(|d| format!("<itemref idref=\"{}\"/>", d.id))
        .collect();
    let metadata = Metadata {
        identifier: identifier(e),
        title: e.title.clone(),
        creators: e.author.iter().cloned().collect(),
        language: lang.clone(),
        extra: book_dc(e),
        all_spoken: true,
    };
    Ok(assemble(
        e,
        ROOT,
        "package.opf",
        &metadata,
        modified,
        items,
        spine,
        &docs,
        files,
    ))
}

/// One chapter of an essay's book: its content document, its table-of-contents line (level, title, href) and
/// its overlay's pars.
struct ChapterDocument {
    entry: Entry,
    toc: (u8, String, String),
    doc: Doc,
}

/// Block `n` of the edition's layout as a content document, each sentence a span with its id.
fn chapter_document(
    e: &Edition,
    n: usize,
    block: &Block,
    sync: SyncLevel,
    lang: &str,
) -> Result<ChapterDocument> {
    let chapter = e.chapters.get(block.chapter);
    let title = chapter.map_or(e.title.as_str(), |c| c.title.as_str());
    let level = chapter.map_or(2, |c| c.level).clamp(1, 6);
    let id = format!("c{n:03}");
    let href = format!("{id}.xhtml");
    let mut body = String::new();
    let mut pars = Vec::new();
    let kind = if n == 0 && level == 1 {
        "titlepage"
    } else {
        "chapter"
    };
    body.push_str(&format!(
        "<section epub:type=\"{kind}\" id=\"{id}-section\""
    ));
    match block.heading {
        Some(h) => {
            let (markup, p) = sentence(e, &e.segments[h], sync, &e.segments[h].text)?;
            body.push_str(&format!(
                " aria-labelledby=\"{id}-h\">\n<h{level} id=\"{id}-h\">{markup}</h{level}>\n"
            ));
            pars.extend(p);
        }
        None => body.push_str(&format!(" aria-label=\"{}\">\n", escape(title))),
    }
    if kind == "titlepage" && block.heading.is_some() {
        if let Some(author) = &e.author {
            // The author is in the text only where the essay has a byline (then it is a spoken sentence).
            let spoken = block
                .paragraphs
                .iter()
                .flatten()
                .any(|&i| e.segments[i].text.contains(author.as_str()));
            if !spoken {
                body.push_str(&format!(
                    "<p class=\"narrate-author\">{}</p>\n",
                    escape(author)
                ));
            }
        }
    }
    for paragraph in &block.paragraphs {
        let mut spans = Vec::new();
        for &i in paragraph {
            let (markup, p) = sentence(e, &e.segments[i], sync, &e.segments[i].text)?;
            spans.push(markup);
            pars.extend(p);
        }
        body.push_str(&format!("<p>{}</p>\n", spans.join(" ")));
    }
    body.push_str("</section>\n");
    Ok(ChapterDocument {
        entry: Entry {
            name: href.clone(),
            body: Body::Text(xhtml(lang, title, &body)),
        },
        toc: (level, title.to_string(), href.clone()),
        doc: Doc { id, href, pars },
    })
}

/// The book's cover as a manifest item and its file.
fn cover(e: &Edition) -> Option<(String, Entry)> {
    let cover = e
        .book
        .as_ref()
        .and_then(|b| b.cover.as_ref())
        .filter(|c| !c.bytes.is_empty())?;
    let name = if cover.media_type == "image/png" {
        "cover.png"
    } else {
        "cover.jpg"
    };
    let item = format!(
        "<item id=\"cover-image\" href=\"{name}\" media-type=\"{}\" properties=\"cover-image\"/>",
        escape(&cover.media_type)
    );
    Some((
        item,
        Entry {
            name: name.into(),
            body: Body::Bytes(cover.bytes.clone()),
        },
    ))
}

/// The book's publisher and date, as Dublin Core elements.
fn book_dc(e: &Edition) -> String {
    let mut out = String::new();
    if let Some(b) = &e.book {
        if let Some(p) = &b.publisher {
            out.push_str(&format!("<dc:publisher>{}</dc:publisher>\n", escape(p)));
        }
        if let Some(d) = &b.date {
            out.push_str(&format!("<dc:date>{}</dc:date>\n", escape(d)));
        }
    }
    out
}

/// What the package document says of the book.
struct Metadata {
    identifier: String,
    title: String,
    creators: Vec<String>,
    language: String,
    /// Further Dublin Core elements, as markup.
    extra: String,
    /// Whether every part of the text is read aloud (then the audio alone suffices).
    all_spoken: bool,
}

/// The overlays, package document and container around a book's content: `root` is the folder of the package
/// (`opf` its name), `items` and `spine` its manifest items and spine so far, `files` the files under `root`.
#[allow(clippy::too_many_arguments)]
fn assemble(
    e: &Edition,
    root: &str,
    opf: &str,
    m: &Metadata,
    modified: &str,
    mut items: Vec<String>,
    spine: Vec<String>,
    docs: &[Doc],
    files: Vec<Entry>,
) -> Book {
    let mut entries = vec![Entry {
        name: "META-INF/container.xml".into(),
        body: Body::Text(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <container version=\"1.0\" xmlns=\"urn:oasis:names:tc:opendocument:xmlns:container\">\n\
             <rootfiles>\n<rootfile full-path=\"{}\" media-type=\"application/oebps-package+xml\"/>\n\
             </rootfiles>\n</container>\n",
            escape(&join(root, opf))
        )),
    }];
    let (overlays, overlay_items, media) = overlays(e, root, "", docs);
    entries.extend(overlays);
    items.extend(overlay_items);
    let mut meta = format!(
        "<dc:identifier id=\"pub-id\">{}</dc:identifier>\n<dc:title>{}</dc:title>\n",
        escape(&m.identifier),
        escape(if m.title.trim().is_empty() {
            "Untitled"
        } else {
            &m.title
        })
    );
    for c in &m.creators {
        meta.push_str(&format!("<dc:creator>{}</dc:creator>\n", escape(c)));
    }
    meta.push_str(&format!(
        "<dc:language>{}</dc:language>\n",
        escape(&m.language)
    ));
    meta.push_str(&m.extra);
    meta.push_str(&format!(
        "<meta property=\"dcterms:modified\">{modified}</meta>\n"
    ));
    meta.push_str(&media);
    meta.push_str(&accessibility(e, m.all_spoken));
    let package = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <package xmlns=\"http://www.idpf.org/2007/opf\" version=\"3.0\" unique-identifier=\"pub-id\" \
         xml:lang=\"{lang}\">\n<metadata xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n{meta}</metadata>\n\
         <manifest>\n{}\n</manifest>\n<spine>\n{}\n</spine>\n</package>\n",
        items.join("\n"),
        spine.join("\n"),
        lang = escape(&m.language),
    );
    entries.push(Entry {
        name: join(root, opf),
        body: Body::Text(package),
    });
    for f in files {
        entries.push(Entry {
            name: join(root, &f.name),
            body: f.body,
        });
    }
    entries.push(Entry {
        name: join(root, AUDIO),
        body: Body::Audio,
    });
    Book { entries }
}

/// The overlays of `docs` (files in `root`, ids prefixed with `prefix`), their manifest items and the audio's,
/// and the media metadata: `media:active-class`, the narrator, `media:duration` in total and per overlay (each
/// the sum of its clips, the total the sum of those).
fn overlays(
    e: &Edition,
    root: &str,
    prefix: &str,
    docs: &[Doc],
) -> (Vec<Entry>, Vec<String>, String) {
    let mut entries = Vec::new();
    let mut items = Vec::new();
    let mut durations = String::new();
    let mut total = 0u64;
    for d in docs.iter().filter(|d| !d.pars.is_empty()) {
        let smil_name = format!("{prefix}{}.smil", d.id);
        let length: u64 = d.pars.iter().map(|p| p.end_ms - p.begin_ms).sum();
        total += length;
        durations.push_str(&format!(
            "<meta property=\"media:duration\" refines=\"#{prefix}mo-{}\">{}</meta>\n",
            d.id,
            duration(length)
        ));
        items.push(format!(
            "<item id=\"{prefix}mo-{}\" href=\"{}\" media-type=\"application/smil+xml\"/>",
            d.id,
            escape(&smil_name)
        ));
        entries.push(Entry {
            name: join(root, &smil_name),
            body: Body::Text(overlay(&d.href, &d.pars)),
        });
    }
    items.push(format!(
        "<item id=\"narrate-audio\" href=\"{AUDIO}\" media-type=\"audio/mp4\"/>"
    ));
    let media = format!(
        "<meta property=\"media:active-class\">{ACTIVE_CLASS}</meta>\n\
         <meta property=\"media:narrator\">{}</meta>\n\
         <meta property=\"media:duration\">{}</meta>\n{durations}",
        escape(&format!("{} ({}, synthetic speech)", e.voice, e.backend)),
        duration(total)
    );
    (entries, items, media)
}

/// A path inside the zip: `file` in the folder `root` (`""`: the top).
fn join(root: &str, file: &str) -> String {
    if root.is_empty() {
        file.to_string()
    } else {
        format!("{root}/{file}")
    }
}

/// The accessibility metadata (schema.org properties, EPUB Accessibility 1.1).
fn accessibility(e: &Edition, all_spoken: bool) -> String {
    let mut out = String::new();
    let mut meta = |property: &str, value: &str| {
        out.push_str(&format!(
            "<meta property=\"schema:{property}\">{}</meta>\n",
            escape(value)
        ));
    };
    meta("accessMode", "textual");
    meta("accessMode", "auditory");
    meta("accessModeSufficient", "textual");
    if all_spoken {
        meta("accessModeSufficient", "auditory");
    }
    for feature in [
        "synchronizedAudioText",
        "readingOrder",
        "tableOfContents",
        "structuralNavigation",
    ] {
        meta("accessibilityFeature", feature);
    }
    meta("accessibilityHazard", "none");
    let unspoken = if all_spoken {
        "All of the text is read aloud."
    } else {
        "The book's front and back matter, images and other parts not read aloud are in the text only."
    };
    let unit = match sync_level(e) {
        SyncLevel::Sentence => "sentence",
        SyncLevel::Word => "word",
    };
    meta(
        "accessibilitySummary",
        &format!(
            "The text is synchronized with a narration in synthetic speech ({} voice {}): reading systems that \
             support EPUB Media Overlays highlight each {unit} as it is read. {unspoken}",
            e.backend, e.voice
        ),
    );
    out
}

/// A content document around `body`.
fn xhtml(lang: &str, title: &str, body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE html>\n\
         <html xmlns=\"http://www.w3.org/1999/xhtml\" xmlns:epub=\"http://www.idpf.org/2007/ops\" \
         xml:lang=\"{lang}\" lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>{}</title>\n\
         <link rel=\"stylesheet\" type=\"text/css\" href=\"{CSS_NAME}\"/>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(if title.trim().is_empty() {
            "Untitled"
        } else {
            title
        }),
        lang = escape(lang),
    )
}

/// The navigation document: the table of contents nested by level, and landmarks.
fn nav(lang: &str, toc: &[(u8, String, String)], start: &str) -> String {
    let mut list = String::from("<ol>\n");
    // Open entries: their level and whether a nested list was opened in them.
    let mut open: Vec<(u8, bool)> = Vec::new();
    for (level, title, href) in toc {
        loop {
            match open.last_mut() {
                Some(top) if top.0 < *level => {
                    if !top.1 {
                        list.push_str("<ol>\n");
                        top.1 = true;
                    }
                    break;
                }
                Some(top) => {
                    if top.1 {
                        list.push_str("</ol>\n");
                    }
                    list.push_str("</li>\n");
                    open.pop();
                }
                None => break,
            }
        }
        let title = if title.trim().is_empty() {
            "Untitled"
        } else {
            title
        };
        list.push_str(&format!(
            "<li><a href=\"{}\">{}</a>",
            escape(href),
            escape(title)
        ));
        open.push((*level, false));
    }
    while let Some(top) = open.pop() {
        if top.1 {
            list.push_str("</ol>\n");
        }
        list.push_str("</li>\n");
    }
    list.push_str("</ol>\n");
    xhtml(
        lang,
        "Contents",
        &format!(
            "<nav epub:type=\"toc\" id=\"toc\">\n<h1>Contents</h1>\n{list}</nav>\n\
             <nav epub:type=\"landmarks\" id=\"landmarks\" hidden=\"hidden\">\n<h2>Landmarks</h2>\n<ol>\n\
             <li><a epub:type=\"bodymatter\" href=\"{}\">Start of reading</a></li>\n</ol>\n</nav>\n",
            escape(start)
        ),
    )
}

/// A Media Overlay document for the content document `href` (relative to the package's folder, where the
/// overlays are).
fn overlay(href: &str, pars: &[Par]) -> String {
    let href = escape(href);
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <smil xmlns=\"http://www.w3.org/ns/SMIL\" xmlns:epub=\"http://www.idpf.org/2007/ops\" version=\"3.0\">\n\
         <body>\n"
    );
    for (n, p) in pars.iter().enumerate() {
        out.push_str(&format!(
            "<par id=\"par-{}\"><text src=\"{href}#{}\"/><audio src=\"{AUDIO}\" clipBegin=\"{}\" clipEnd=\"{}\"/></par>\n",
            n + 1,
            escape(&p.id),
            clip(p.begin_ms),
            clip(p.end_ms)
        ));
    }
    out.push_str("</body>\n</smil>\n");
    out
}

/// Zips the book into `file`: `mimetype` first and stored, then every entry (already-compressed media stored).
fn write_zip(file: &mut std::fs::File, book: &Book, audio: &Path) -> std::io::Result<()> {
    use zip::write::SimpleFileOptions;
    use zip::CompressionMethod;
    let zerr = |e: zip::result::ZipError| std::io::Error::other(e.to_string());
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    zip.start_file("mimetype", stored).map_err(zerr)?;
    zip.write_all(b"application/epub+zip")?;
    for entry in &book.entries {
        match &entry.body {
            Body::Text(t) => {
                zip.start_file(entry.name.as_str(), deflated)
                    .map_err(zerr)?;
                zip.write_all(t.as_bytes())?;
            }
            Body::Bytes(b) => {
                let options = if compressed(&entry.name) {
                    stored
                } else {
                    deflated
                };
                zip.start_file(entry.name.as_str(), options).map_err(zerr)?;
                zip.write_all(b)?;
            }
            Body::Audio => {
                zip.start_file(entry.name.as_str(), stored).map_err(zerr)?;
                let mut f = std::fs::File::open(audio)?;
                std::io::copy(&mut f, &mut zip)?;
            }
        }
    }
    let mut inner = zip.finish().map_err(zerr)?;
    inner.flush()?;
    Ok(())
}

/// Whether a file's name says it is compressed already (images, audio, fonts): stored, not deflated again.
fn compressed(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        ".jpg", ".jpeg", ".png", ".gif", ".webp", ".mp3", ".m4a", ".mp4", ".woff", ".woff2",
    ]
    .iter()
    .any(|ext| lower.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_and_dates() {
        assert_eq!(clip(0), "0.000s");
        assert_eq!(clip(61_005), "61.005s");
        assert_eq!(duration(3_723_004), "1:02:03.004");
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn the_table_of_contents_nests_by_level() {
        let toc = [
            (1, "T".to_string(), "a".to_string()),
            (2, "A".into(), "b".into()),
            (3, "A1".into(), "c".into()),
            (4, "A1a".into(), "d".into()),
            (2, "B".into(), "e".into()),
        ];
        let page = nav("en", &toc, "a");
        let page = page.replace("<!DOCTYPE html>\n", "");
        let doc = roxmltree::Document::parse(&page).unwrap();
        let depth = |text: &str| {
            doc.descendants()
                .find(|n| n.text() == Some(text))
                .unwrap()
                .ancestors()
                .filter(|n| n.has_tag_name("ol"))
                .count()
        };
        assert_eq!(
            [
                depth("T"),
                depth("A"),
                depth("A1"),
                depth("A1a"),
                depth("B")
            ],
            [1, 2, 3, 4, 2]
        );
    }

    #[test]
    fn each_written_word_gets_the_spoken_words_it_was_read_as() {
        let said = [
            ("It", 0),
            ("cost", 1000),
            ("twenty", 2000),
            ("pounds", 3000),
            ("and", 4000),
            ("more", 5000),
        ];
        let s = Segment {
            id: "x".into(),
            chapter: 0,
            line: 1,
            text: "It cost £20 & more.".into(),
            spoken: "It cost twenty pounds and more.".into(),
            take: 1,
            cache_key: String::new(),
            start_sample: 0,
            end_sample: 6000,
            words: said
                .iter()
                .map(|&(t, a)| crate::audio::WordSpan {
                    text: t.into(),
                    start_sample: a,
                    end_sample: a + 1000,
                })
                .collect(),
            words_estimated: false,
        };
        let (markup, pars) = word_markup("s", &s.text, &s, 1000);
        assert_eq!(
            markup,
            "<span id=\"s-w1\">It</span> <span id=\"s-w2\">cost</span> <span id=\"s-w3\">£20</span> <span id=\"s-w4\">&amp;</span> <span id=\"s-w5\">more</span>."
        );
        let clips: Vec<(u64, u64)> = pars.iter().map(|p| (p.begin_ms, p.end_ms)).collect();
        // "£20" was read as "twenty pounds", and "&" as "and".
        assert_eq!(
            clips,
            [
                (0, 1000),
                (1000, 2000),
                (2000, 4000),
                (4000, 5000),
                (5000, 6000)
            ]
        );
    }
}
