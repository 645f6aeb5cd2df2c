//! The read-along EPUB (`--export epub`): checked by the reference validator (Debian's epubcheck) and by a reading
//! of our own — the zip opened with the zip crate, the package, overlays and content documents parsed with
//! roxmltree — against the manifest: every `<par>` points at an element of its content document, its clip is the
//! segment's span to the millisecond, clips stay inside the audio and in reading order; and kept in step by regen.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::*;

/// Debian ships epubcheck as a jar (`/usr/bin/epubcheck` links to it; running it directly needs binfmt-support),
/// so it runs through `java -jar`.
const EPUBCHECK_JAR: &str = "/usr/share/java/epubcheck.jar";

fn have_epubcheck() -> bool {
    let there = have("java") && Path::new(EPUBCHECK_JAR).exists();
    if !there {
        assert!(
            std::env::var_os("NARRATE_REQUIRE_TOOLS").is_none(),
            "{EPUBCHECK_JAR} is missing; scripts/test installs epubcheck and default-jre-headless"
        );
        eprintln!("skipping: epubcheck is not installed");
    }
    there
}

/// epubcheck's counts of fatal errors and errors, and its report.
fn epubcheck(book: &Path) -> (u32, u32, String) {
    let out = Command::new("java")
        .args(["-jar", EPUBCHECK_JAR])
        .arg(book)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("Messages:"))
        .unwrap_or_else(|| panic!("no summary from epubcheck: {text}"));
    let count = |what: &str| -> u32 {
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = words.iter().position(|w| w.starts_with(what)).unwrap();
        words[at - 1].parse().unwrap()
    };
    (count("fatal"), count("error"), text)
}

fn assert_valid(book: &Path) {
    let (fatal, errors, report) = epubcheck(book);
    assert_eq!(
        (fatal, errors),
        (0, 0),
        "{}: epubcheck: {report}",
        book.display()
    );
}

/// One `<par>`: the content document and fragment it points at, and its clip in milliseconds.
#[derive(Debug, Clone, PartialEq)]
struct Par {
    doc: String,
    id: String,
    begin_ms: u64,
    end_ms: u64,
}

/// A read-along book as our own reading finds it.
struct Book {
    /// Overlays in spine order: the content document's path in the zip and its pars.
    overlays: Vec<(String, Vec<Par>)>,
    /// `media:duration` of each overlay (by its content document's path) and of the whole book, in ms.
    durations: HashMap<String, u64>,
    total_ms: u64,
    /// The audio's length by ffprobe, in ms, and its bytes.
    audio_ms: u64,
    audio: Vec<u8>,
    files: HashMap<String, Vec<u8>>,
}

/// roxmltree parses a content document with `<!DOCTYPE html>` when DTDs are allowed.
fn parse_xhtml(text: &str) -> Result<roxmltree::Document<'_>, roxmltree::Error> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(text, options)
}

/// `12.345s`, `1:02:03.004`, `02:03.5`, `250ms` → milliseconds.
fn clock_ms(v: &str) -> u64 {
    let v = v.trim();
    if let Some(ms) = v.strip_suffix("ms") {
        return ms.parse::<f64>().unwrap().round() as u64;
    }
    if let Some(s) = v.strip_suffix('s') {
        return (s.parse::<f64>().unwrap() * 1000.0).round() as u64;
    }
    let parts: Vec<f64> = v.split(':').map(|p| p.parse().unwrap()).collect();
    let secs = parts.iter().fold(0.0, |acc, p| acc * 60.0 + p);
    (secs * 1000.0).round() as u64
}

/// `dir/rel` with `..` resolved, as a zip path.
fn resolve(dir: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for p in rel.split('/') {
        match p {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            p => parts.push(p),
        }
    }
    parts.join("/")
}

fn folder(path: &str) -> String {
    path.rsplit_once('/')
        .map_or(String::new(), |(d, _)| d.to_string())
}

fn read_book(env: &Env, path: &Path) -> Book {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut files = HashMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        files.insert(f.name().unwrap().to_string(), bytes);
    }
    {
        let first = zip.by_index(0).unwrap();
        assert_eq!(first.name().unwrap(), "mimetype");
        assert_eq!(first.compression(), zip::CompressionMethod::Stored);
    }
    assert_eq!(files["mimetype"], b"application/epub+zip");
    let text = |name: &str| {
        String::from_utf8(
            files
                .get(name)
                .unwrap_or_else(|| panic!("{name} is not in the book"))
                .clone(),
        )
        .unwrap()
    };
    let container = text("META-INF/container.xml");
    let container = roxmltree::Document::parse(&container).unwrap();
    let opf_path = container
        .descendants()
        .find(|n| n.has_tag_name("rootfile"))
        .unwrap()
        .attribute("full-path")
        .unwrap()
        .to_string();
    let opf_dir = folder(&opf_path);
    let opf_text = text(&opf_path);
    let opf = roxmltree::Document::parse(&opf_text).unwrap();
    let items: HashMap<&str, roxmltree::Node> = opf
        .descendants()
        .filter(|n| n.has_tag_name("item"))
        .map(|n| (n.attribute("id").unwrap(), n))
        .collect();
    let metas: Vec<roxmltree::Node> = opf
        .descendants()
        .filter(|n| n.has_tag_name("meta"))
        .collect();
    let mut smil_durations = HashMap::new();
    let mut durations = HashMap::new();
    let mut total_ms = None;
    for m in &metas {
        if m.attribute("property") != Some("media:duration") {
            continue;
        }
        let value = clock_ms(m.text().unwrap());
        match m.attribute("refines") {
            None => total_ms = Some(value),
            Some(r) => {
                let mo = r.trim_start_matches('#');
                let smil = items[mo].attribute("href").unwrap();
                smil_durations.insert(resolve(&opf_dir, smil), value);
            }
        }
    }
    let mut audio_name = None;
    let mut overlays = Vec::new();
    for itemref in opf.descendants().filter(|n| n.has_tag_name("itemref")) {
        let item = items[itemref.attribute("idref").unwrap()];
        let Some(mo) = item.attribute("media-overlay") else {
            continue;
        };
        let doc_path = resolve(&opf_dir, item.attribute("href").unwrap());
        let smil_path = resolve(&opf_dir, items[mo].attribute("href").unwrap());
        assert_eq!(
            items[mo].attribute("media-type"),
            Some("application/smil+xml")
        );
        let doc_text = text(&doc_path);
        let doc = parse_xhtml(&doc_text).unwrap_or_else(|e| panic!("{doc_path}: {e}"));
        let smil_text = text(&smil_path);
        let smil = roxmltree::Document::parse(&smil_text).unwrap();
        let smil_dir = folder(&smil_path);
        let mut pars = Vec::new();
        for par in smil.descendants().filter(|n| n.has_tag_name("par")) {
            let t = par
                .children()
                .find(|n| n.has_tag_name("text"))
                .unwrap()
                .attribute("src")
                .unwrap();
            let a = par.children().find(|n| n.has_tag_name("audio")).unwrap();
            let (file, id) = t.split_once('#').unwrap();
            let file = resolve(&smil_dir, file);
            assert_eq!(
                file, doc_path,
                "{smil_path}: a par points into another document"
            );
            assert!(
                doc.descendants()
                    .any(|n| n.is_element() && n.attribute("id") == Some(id)),
                "{smil_path}: #{id} is not an element of {doc_path}"
            );
            let audio = resolve(&smil_dir, a.attribute("src").unwrap());
            assert_eq!(*audio_name.get_or_insert(audio.clone()), audio);
            pars.push(Par {
                doc: doc_path.clone(),
                id: id.to_string(),
                begin_ms: clock_ms(a.attribute("clipBegin").unwrap()),
                end_ms: clock_ms(a.attribute("clipEnd").unwrap()),
            });
        }
        assert!(!pars.is_empty(), "{smil_path} has no par");
        durations.insert(doc_path.clone(), smil_durations[&smil_path]);
        overlays.push((doc_path, pars));
    }
    assert!(!overlays.is_empty(), "{}: no overlay", path.display());
    let audio_name = audio_name.unwrap();
    let audio = files[&audio_name].clone();
    let probe_path = env.path("probe.m4a");
    std::fs::write(&probe_path, &audio).unwrap();
    let probe = ffprobe(&probe_path);
    assert!(
        probe["format"]["format_name"]
            .as_str()
            .unwrap()
            .contains("mp4"),
        "AAC in MP4, a core media type: {probe}"
    );
    let audio_ms = (probe["format"]["duration"]
        .as_str()
        .unwrap()
        .parse::<f64>()
        .unwrap()
        * 1000.0)
        .round() as u64;
    Book {
        overlays,
        durations,
        total_ms: total_ms.expect("a total media:duration"),
        audio_ms,
        audio,
        files,
    }
}

/// The checks every book passes: clips inside the audio, non-overlapping and in reading order; each overlay's
/// `media:duration` the sum of its clips and the total the sum of those; and each sentence's clip the manifest's
/// span to the millisecond. Returns how many of the manifest's segments have a par.
fn check_against_manifest(book: &Book, manifest: &Value) -> usize {
    let ms = |s: &Value| (s.as_f64().unwrap() * 1000.0).round() as u64;
    let spans: HashMap<String, (u64, u64)> = manifest["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                format!("narrate-s-{}", s["id"].as_str().unwrap()),
                (ms(&s["start_seconds"]), ms(&s["end_seconds"])),
            )
        })
        .collect();
    let mut last_end = 0;
    let mut found = 0;
    let mut sum = 0;
    for (doc, pars) in &book.overlays {
        let mut length = 0;
        for p in pars {
            assert!(p.begin_ms <= p.end_ms, "{p:?}");
            assert!(
                p.begin_ms >= last_end,
                "{p:?} overlaps or comes before {last_end}"
            );
            assert!(
                p.end_ms <= book.audio_ms + 50,
                "{p:?} ends after the audio ({} ms)",
                book.audio_ms
            );
            last_end = p.end_ms;
            length += p.end_ms - p.begin_ms;
            if let Some(&span) = spans.get(&p.id) {
                assert_eq!((p.begin_ms, p.end_ms), span, "{}", p.id);
                found += 1;
            }
        }
        assert_eq!(book.durations[doc], length, "{doc}");
        sum += length;
    }
    assert_eq!(book.total_ms, sum);
    found
}

fn segment_count(manifest: &Value) -> usize {
    manifest["segments"].as_array().unwrap().len()
}

#[test]
fn sample_essays_make_valid_read_along_books_with_every_sentence_in_its_overlay() {
    if !have_epubcheck() || !have("ffmpeg") {
        return;
    }
    let env = Env::new();
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("audio/samples");
    let mut essays: Vec<PathBuf> = std::fs::read_dir(&samples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    essays.sort();
    assert!(essays.len() >= 2);
    for src in essays {
        let name = src.file_name().unwrap().to_str().unwrap();
        let essay = env.path(name);
        std::fs::copy(&src, &essay).unwrap();
        let stem = src.file_stem().unwrap().to_str().unwrap();
        env.build(&essay, &["--export", "epub", "-o", "out"]);
        let epub = env.path(&format!("out/{stem}.epub"));
        assert_valid(&epub);
        let manifest = read_json(env.path(&format!("out/{stem}.json")));
        assert_eq!(manifest["settings"]["sync"], "sentence");
        let book = read_book(&env, &epub);
        assert_eq!(
            check_against_manifest(&book, &manifest),
            segment_count(&manifest),
            "{name}: every sentence has its par"
        );
        // The text the reader sees is the essay's, not the spoken text.
        let all: String = book
            .overlays
            .iter()
            .map(|(d, _)| String::from_utf8_lossy(&book.files[d]).into_owned())
            .collect();
        let first = manifest["segments"][1]["text"].as_str().unwrap();
        assert!(
            all.contains(&first.replace('\'', "&#39;").replace('&', "&amp;"))
                || all.contains(first),
            "{name}: {first}"
        );
        // The package says what it is.
        let opf = String::from_utf8_lossy(&book.files["EPUB/package.opf"]).into_owned();
        for needed in [
            "media:active-class",
            "dcterms:modified",
            "schema:accessMode\">auditory",
            "schema:accessibilityFeature\">synchronizedAudioText",
            "schema:accessibilityHazard\">none",
            "schema:accessibilitySummary",
        ] {
            assert!(opf.contains(needed), "{name}: {needed} missing");
        }
    }
}

#[test]
fn a_mastered_m4b_edition_gives_its_m4b_to_the_book() {
    if !have_epubcheck() || !have("ffmpeg") {
        return;
    }
    let env = Env::new();
    let essay = env.fixture("headings.md");
    env.build(
        &essay,
        &[
            "--master", "podcast", "--format", "m4b", "--export", "epub", "-o", "out",
        ],
    );
    let epub = env.path("out/headings.epub");
    assert_valid(&epub);
    let manifest = read_json(env.path("out/headings.json"));
    let book = read_book(&env, &epub);
    assert_eq!(
        check_against_manifest(&book, &manifest),
        segment_count(&manifest)
    );
    assert!(
        book.audio == std::fs::read(env.path("out/headings.m4b")).unwrap(),
        "the book's audio is the M4B"
    );
}

#[test]
fn regen_rewrites_the_book_and_moves_later_clips_by_the_new_takes_length() {
    if !have_epubcheck() || !have("ffmpeg") {
        return;
    }
    let env = Env::new();
    let essay = env.fixture("headings.md");
    env.build(&essay, &["--export", "epub"]);
    let dir = env.path("audio/out/headings");
    let epub = dir.join("headings.epub");
    let before = read_book(&env, &epub);
    let manifest = read_json(dir.join("headings.json"));
    let target = manifest["segments"]
        .as_array()
        .unwrap()
        .iter()
        .position(|s| s["text"].as_str().unwrap().starts_with("Dr. Okafor"))
        .unwrap();
    let id = manifest["segments"][target]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let par_id = format!("narrate-s-{id}");
    env.json(&["regen", essay.to_str().unwrap(), &id]);
    let after = read_book(&env, &epub);
    let manifest_after = read_json(dir.join("headings.json"));
    assert_eq!(
        check_against_manifest(&after, &manifest_after),
        segment_count(&manifest_after)
    );
    assert_valid(&epub);

    let flat = |b: &Book| -> Vec<Par> { b.overlays.iter().flat_map(|(_, p)| p.clone()).collect() };
    let (old, new) = (flat(&before), flat(&after));
    assert_eq!(old.len(), new.len());
    let at = old.iter().position(|p| p.id == par_id).unwrap();
    let length = |p: &Par| p.end_ms as i64 - p.begin_ms as i64;
    let change = length(&new[at]) - length(&old[at]);
    assert_ne!(change, 0, "the new take has another length");
    for (i, (o, n)) in old.iter().zip(&new).enumerate() {
        assert_eq!(o.id, n.id);
        let shift = n.begin_ms as i64 - o.begin_ms as i64;
        if i <= at {
            assert_eq!(shift, 0, "{} before the new take moved", o.id);
        } else {
            assert!(
                (shift - change).abs() <= 1,
                "{}: moved {shift} ms, the take changed by {change} ms",
                o.id
            );
        }
    }
    // Its chapter's overlay is longer or shorter by the difference; the others before it are unchanged.
    let doc = &old[at].doc;
    let d = after.durations[doc] as i64 - before.durations[doc] as i64;
    assert!((d - change).abs() <= 1, "{doc}: {d} ms, take {change} ms");
}

#[test]
fn word_sync_gives_each_word_its_par_at_the_manifest_s_time_and_an_old_edition_says_what_to_do() {
    if !have_epubcheck() || !have("ffmpeg") {
        return;
    }
    let env = Env::new();
    let essay = env.fixture("headings.md");
    env.build(&essay, &["--export", "epub", "--sync", "word", "-o", "out"]);
    let epub = env.path("out/headings.epub");
    assert_valid(&epub);
    let manifest = read_json(env.path("out/headings.json"));
    let book = read_book(&env, &epub);
    // Order, durations and clips inside the audio (no sentence-level par here: the words are the pars).
    assert_eq!(check_against_manifest(&book, &manifest), 0);
    let rate = manifest["sample_rate"].as_f64().unwrap();
    let ms = |samples: &Value| (samples.as_f64().unwrap() / rate * 1000.0).round() as u64;
    let mut starts = std::collections::HashSet::new();
    let mut words = 0;
    for s in manifest["segments"].as_array().unwrap() {
        for w in s["words"].as_array().unwrap() {
            starts.insert(ms(&w["start_sample"]));
            words += 1;
        }
    }
    let written: usize = manifest["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["text"]
                .as_str()
                .unwrap()
                .split_whitespace()
                .filter(|w| w.chars().any(char::is_alphanumeric))
                .count()
        })
        .sum();
    let pars: Vec<&Par> = book.overlays.iter().flat_map(|(_, p)| p).collect();
    eprintln!(
        "{} pars for {written} written and {words} spoken words in {} segments",
        pars.len(),
        segment_count(&manifest)
    );
    // Every written word has its par (spoken words the text does not show, as in "3.5", share its par).
    assert_eq!(pars.len(), written);
    let opf = String::from_utf8_lossy(&book.files["EPUB/package.opf"]).into_owned();
    assert!(opf.contains("highlight each word as it is read"), "{opf}");
    for p in &pars {
        assert!(
            starts.contains(&p.begin_ms),
            "{p:?} starts at no word of the manifest"
        );
    }

    // An edition recorded before word timings: one line saying what to do.
    let json = env.path("out/headings.json");
    let mut old = manifest.clone();
    for s in old["segments"].as_array_mut().unwrap() {
        s.as_object_mut().unwrap().remove("words");
    }
    std::fs::write(&json, serde_json::to_string(&old).unwrap()).unwrap();
    let mut cmd = env.cmd();
    cmd.args([
        "export",
        json.to_str().unwrap(),
        "-f",
        "epub",
        "-o",
        "again",
    ]);
    let err = error_of(cmd);
    assert!(err.contains("--sync sentence"), "{err}");
    assert!(err.contains("word timings"), "{err}");
}

/// epubcheck's messages counted by code (`RSC-005`), fatal errors and errors only.
fn error_codes(report: &str) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for line in report.lines() {
        if let Some(rest) = line
            .strip_prefix("ERROR(")
            .or_else(|| line.strip_prefix("FATAL("))
        {
            let code = rest.split(')').next().unwrap_or("").to_string();
            *out.entry(code).or_default() += 1;
        }
    }
    out
}

/// epubcheck's report on a read-along book (`report`) has no error the book it was made from did not have as
/// often; the book's own error counts by code.
fn no_new_errors(
    name: &str,
    book: &Path,
    report: &str,
) -> std::collections::BTreeMap<String, usize> {
    let (_, _, before) = epubcheck(book);
    let (old, new) = (error_codes(&before), error_codes(report));
    for (code, n) in &new {
        assert!(
            old.get(code).is_some_and(|o| o >= n),
            "{name}: {n} × {code} in the read-along book, {:?} in the book: {report}",
            old.get(code)
        );
    }
    old
}

/// Real books (tests/data/corpus/epub-*.toml, made at test time from Debian packages): an EPUB 3 becomes a
/// read-along book of its own documents, with no epubcheck error it did not have (the four EPUB 3 books of the
/// corpus are themselves not valid); an EPUB 2 becomes one made from the edition's text, valid.
#[test]
fn real_books_become_read_along_books_with_no_new_errors() {
    if !have_epubcheck() || !have("ffmpeg") || !have("pandoc") || !have("ebook-convert") {
        return;
    }
    let env = Env::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus");
    let mut books: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("epub-")
        })
        .collect();
    books.sort();
    let mut own = 0;
    for toml_path in books {
        let name = toml_path
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let expect: toml::Value =
            toml::from_str(&std::fs::read_to_string(&toml_path).unwrap()).unwrap();
        let book = env.path(&format!("{name}.epub"));
        let made = Command::new("sh")
            .args(["-c", expect["producer"].as_str().unwrap()])
            .env("OUT", &book)
            .output()
            .unwrap();
        assert!(made.status.success(), "{name}: {made:?}");
        env.build(&book, &["--export", "epub", "-o", "out"]);
        let epub = env.path(&format!("out/{name}.epub"));
        let manifest = read_json(env.path(&format!("out/{name}.json")));
        let read = read_book(&env, &epub);
        let found = check_against_manifest(&read, &manifest);
        let total = segment_count(&manifest);
        let (fatal, errors, report) = epubcheck(&epub);
        if expect["version"].as_integer() == Some(3) {
            own += 1;
            let old = no_new_errors(&name, &book, &report);
            // The book's own documents: its files are all still there.
            let mut source = zip::ZipArchive::new(std::fs::File::open(&book).unwrap()).unwrap();
            for i in 0..source.len() {
                let f = source.by_index(i).unwrap();
                let n = f.name().unwrap().to_string();
                if f.is_dir() {
                    continue;
                }
                assert!(read.files.contains_key(&n), "{name}: {n} is gone");
            }
            eprintln!("{name}: {found} of {total} sentences highlighted; epubcheck {fatal} fatal, {errors} errors (the book alone: {old:?})");
            assert!(
                found * 10 >= total * 9,
                "{name}: {found} of {total} sentences found in the book's text, under 90 %"
            );
        } else {
            assert_eq!((fatal, errors), (0, 0), "{name}: {report}");
            assert_eq!(found, total, "{name}");
        }
    }
    assert!(own >= 4, "at least four EPUB 3 books");
}

/// The package's `media:active-class`.
fn active_class(book: &Book) -> String {
    let (_, opf) = book
        .files
        .iter()
        .find(|(n, _)| n.ends_with(".opf"))
        .expect("a package document");
    let opf = String::from_utf8_lossy(opf).into_owned();
    let doc = roxmltree::Document::parse(&opf).unwrap();
    doc.descendants()
        .find(|n| n.attribute("property") == Some("media:active-class"))
        .and_then(|n| n.text())
        .expect("media:active-class")
        .trim()
        .to_string()
}

/// Our own test page (tests/data/readalong_browser.py and readalong_reader.html, not a reading system) in
/// headless Chromium: it reads the package and the first content document's overlay, plays the book's audio, and
/// gives the package's active class to the element whose `<par>` holds `currentTime`. Set inside every few pars
/// (at sentence and at word level) exactly that element carries the class and its background is not its parent's;
/// set between two clips, nothing does; nothing is loaded from anywhere but the page's own server.
#[test]
fn a_test_page_highlights_the_element_whose_clip_holds_the_player_s_time() {
    let Some(python) = selenium_python() else {
        return;
    };
    if !have("ffmpeg") {
        return;
    }
    let env = Env::new();
    // A first content document of several sentences (no title: the title would be a document of its own), one
    // of them with a number read out.
    let essay = env.essay(
        "lamps.md",
        "The harbour lamps are lit at dusk. A keeper walks the quay with a long pole. \
         He lights 12 lamps in all, one after another.\n\nGulls watch him from the bollards. The last lamp \
         hangs over the slipway. Then the keeper goes home for his tea.\n\n## Morning\n\nAt dawn he puts \
         them out again.\n",
    );
    for sync in ["sentence", "word"] {
        env.build(&essay, &["--export", "epub", "--sync", sync, "-o", sync]);
        let epub = env.path(&format!("{sync}/lamps.epub"));
        let book = read_book(&env, &epub);
        page_follows_the_overlay(&env, &python, &epub, &book, 0, sync);
    }
}

/// Opens `epub` in the test page, sets the player inside every few pars of its overlay number `overlay` (0: the
/// first, which the page opens by itself) and between clips, and checks what is highlighted.
fn page_follows_the_overlay(
    env: &Env,
    python: &str,
    epub: &Path,
    book: &Book,
    overlay: usize,
    what: &str,
) {
    let (doc, pars) = &book.overlays[overlay];
    assert!(pars.len() >= 5, "{what}: {} pars in {doc}", pars.len());
    let secs = |ms: u64| ms as f64 / 1000.0;
    let step = pars.len().div_ceil(24);
    let inside: Vec<&Par> = pars.iter().step_by(step).chain(pars.last()).collect();
    let gaps: Vec<f64> = pars
        .windows(2)
        .filter(|w| w[1].begin_ms >= w[0].end_ms + 20)
        .map(|w| secs(w[0].end_ms + w[1].begin_ms) / 2.0)
        .take(6)
        .collect();
    assert!(!gaps.is_empty(), "{what}: no gap between clips");
    let mut probes: Vec<f64> = inside
        .iter()
        .map(|p| secs(p.begin_ms + p.end_ms) / 2.0)
        .collect();
    probes.extend(&gaps);
    let scratch = env.path(&format!("reader-{what}"));
    std::fs::create_dir_all(&scratch).unwrap();
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("readalong-{what}.png"));
    let mut spec =
        serde_json::json!({"book": epub, "dir": scratch, "probes": probes, "screenshot": shot});
    if overlay > 0 {
        spec["document"] = doc.as_str().into();
    }
    let report = data_script(python, "readalong_browser.py", &[&spec.to_string()], &[]);
    assert!(report["error"].is_null(), "{what}: {report:#}");

    // The page read what our own parse of the book reads.
    let reader = &report["reader"];
    assert_eq!(
        reader["active_class"],
        active_class(book).as_str(),
        "{what}"
    );
    assert_eq!(
        reader["document"],
        format!("/book/{doc}").as_str(),
        "{what}"
    );
    let read: Vec<(String, u64, u64)> = reader["pars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let ms = |v: &Value| (v.as_f64().unwrap() * 1000.0).round() as u64;
            (
                p["id"].as_str().unwrap().to_string(),
                ms(&p["begin"]),
                ms(&p["end"]),
            )
        })
        .collect();
    let ours: Vec<(String, u64, u64)> = pars
        .iter()
        .map(|p| (p.id.clone(), p.begin_ms, p.end_ms))
        .collect();
    assert_eq!(read, ours, "{what}");

    let seen = report["probes"].as_array().unwrap();
    assert_eq!(seen.len(), probes.len(), "{what}");
    for (par, probe) in inside.iter().zip(seen) {
        let lit = probe["active"].as_array().unwrap();
        assert_eq!(lit.len(), 1, "{what}: {par:?}: {probe}");
        let el = &lit[0];
        assert_eq!(el["id"], par.id.as_str(), "{what}: {probe}");
        assert!(
            el["text"]
                .as_str()
                .unwrap()
                .chars()
                .any(char::is_alphanumeric),
            "{what}: {probe}"
        );
        assert_ne!(el["background"], el["parent_background"], "{what}: {probe}");
        assert_ne!(el["background"], "rgba(0, 0, 0, 0)", "{what}: {probe}");
    }
    for probe in &seen[inside.len()..] {
        assert_eq!(
            probe["active"],
            serde_json::json!([]),
            "{what}: between clips: {probe}"
        );
    }

    // Nothing but the page's own server (and the audio it holds in memory).
    let url = report["url"].as_str().unwrap();
    let origin = &url[..url.rfind('/').unwrap() + 1];
    let requests = report["requests"].as_array().unwrap();
    assert!(requests.len() > 3, "{what}: {requests:?}");
    for r in requests {
        let r = r.as_str().unwrap();
        assert!(
            r.starts_with(origin) || r.starts_with("blob:") || r.starts_with("data:"),
            "{what}: the page loaded {r}"
        );
    }
}

/// A corpus EPUB 3 made at test time from its Debian package (tests/data/corpus/NAME.toml), at `path`.
fn corpus_book(name: &str, path: &Path) {
    let toml_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/corpus/{name}.toml"));
    let expect: toml::Value = toml::from_str(&std::fs::read_to_string(toml_path).unwrap()).unwrap();
    let made = Command::new("sh")
        .args(["-c", expect["producer"].as_str().unwrap()])
        .env("OUT", path)
        .output()
        .unwrap();
    assert!(made.status.success(), "{name}: {made:?}");
}

/// `--sync word` on EPUB 3 inputs (pandoc's and calibre's): the book's own documents get a span per written word
/// the voice said, each its `<par>` (our parse resolves every one), its clip from the start of the first spoken
/// word it was read as to the end of the last, to the millisecond of the manifest's word spans; words in reading
/// order; a sentence none of whose words could be marked keeps its sentence's clip; no new epubcheck error; and
/// the test page highlights the words.
#[test]
fn word_sync_marks_each_spoken_word_in_an_epub_3_book_s_own_documents() {
    if !have_epubcheck() || !have("ffmpeg") || !have("pandoc") || !have("ebook-convert") {
        return;
    }
    let python = selenium_python();
    let env = Env::new();
    for name in ["epub-pandoc-readme", "epub-fontconfig-calibre"] {
        let book = env.path(&format!("{name}.epub"));
        corpus_book(name, &book);
        env.build(&book, &["--export", "epub", "--sync", "word", "-o", "out"]);
        let epub = env.path(&format!("out/{name}.epub"));
        let manifest = read_json(env.path(&format!("out/{name}.json")));
        let read = read_book(&env, &epub);
        let sentences_whole = check_against_manifest(&read, &manifest);
        let rate = manifest["sample_rate"].as_f64().unwrap();
        let ms = |samples: &Value| (samples.as_f64().unwrap() / rate * 1000.0).round() as u64;
        let segments: HashMap<String, &Value> = manifest["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (format!("narrate-s-{}", s["id"].as_str().unwrap()), s))
            .collect();
        let (mut word_pars, mut with_words) = (0, std::collections::HashSet::new());
        for p in read.overlays.iter().flat_map(|(_, p)| p) {
            if segments.contains_key(&p.id) {
                continue;
            }
            let (sentence, n) =
                p.id.rsplit_once("-w")
                    .unwrap_or_else(|| panic!("{name}: {p:?}"));
            let n: usize = n.parse().unwrap();
            let said = segments[sentence]["words"].as_array().unwrap();
            assert!(
                said.iter().any(|w| ms(&w["start_sample"]) == p.begin_ms)
                    && said.iter().any(|w| ms(&w["end_sample"]) == p.end_ms),
                "{name}: {p:?} is not where the manifest's words are: {said:?}"
            );
            let written = segments[sentence]["text"]
                .as_str()
                .unwrap()
                .split_whitespace()
                .count();
            assert!(
                n >= 1 && n <= written,
                "{name}: {p:?}: word {n} of {written}"
            );
            word_pars += 1;
            with_words.insert(sentence.to_string());
        }
        let total = segment_count(&manifest);
        eprintln!(
            "{name}: {word_pars} word pars in {} sentences, {sentences_whole} sentences whole, of {total}",
            with_words.len()
        );
        assert!(
            (with_words.len() + sentences_whole) * 10 >= total * 9,
            "{name}: under 90 % of the sentences highlighted"
        );
        assert!(
            with_words.len() * 10 >= total * 8,
            "{name}: {} of {total} sentences have their words marked",
            with_words.len()
        );
        let (_, _, report) = epubcheck(&epub);
        no_new_errors(name, &book, &report);
        if let Some(python) = &python {
            // The first document with a few sentences' words (the first may be a title page).
            let many = read
                .overlays
                .iter()
                .position(|(_, p)| p.len() >= 20)
                .unwrap();
            page_follows_the_overlay(&env, python, &epub, &read, many, name);
        }
    }
}
