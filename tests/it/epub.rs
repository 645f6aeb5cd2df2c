//! EPUB books: real ones made at test time from Debian packages' documents (never committed; our own expectations
//! about them in tests/data/corpus/epub-*.toml), a book of our own with every feature, and hostile files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{ffprobe, have, one_error, Env};

/// Chapters below the title: (level, title).
fn chapters(plan: &Value) -> Vec<(u64, String)> {
    plan["chapters"].as_array().unwrap()[1..]
        .iter()
        .map(|c| {
            (
                c["level"].as_u64().unwrap(),
                c["title"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn spoken(plan: &Value) -> String {
    plan["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `narrate plan --json` of a book, with its warnings.
fn plan(env: &Env, book: &Path, extra: &[&str]) -> (Value, Vec<String>) {
    let out = env
        .cmd()
        .arg("plan")
        .arg(book)
        .arg("--json")
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}: {out:?}", book.display());
    let warnings = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .map(str::to_string)
        .collect();
    (serde_json::from_slice(&out.stdout).unwrap(), warnings)
}

/// Writes a zip: (name, bytes, deflated).
fn zip(path: &Path, entries: &[(&str, &[u8], bool)]) {
    let file = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(file);
    for &(name, bytes, deflate) in entries {
        let method = if deflate {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(method)
            .large_file(bytes.len() > u32::MAX as usize / 2);
        z.start_file(name, options).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
}

const CONTAINER: &str = r#"<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"#;

fn opf(manifest: &str, spine: &str, extra: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
    <dc:identifier id="id">urn:uuid:0b7a1e0c-1111-4222-8333-944455556666</dc:identifier>
    <dc:title>The Tide Clocks</dc:title>
    <dc:creator>Ada Fenwick</dc:creator>
    <dc:creator>Bo Reed</dc:creator>
    <dc:language>en-GB</dc:language>
    <dc:publisher>Harbour Press</dc:publisher>
    <dc:date>2024-05-01</dc:date>
  </metadata>
  <manifest>{manifest}</manifest>
  <spine>{spine}</spine>
  {extra}
</package>"#
    )
}

fn page(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head><title/><link rel="stylesheet" href="style.css"/></head>
<body>{body}</body></html>"#
    )
}

/// A book of our own with every feature: nested contents, a chapter split by fragment, a cover, a copyright page,
/// notes of both kinds, an image.
fn our_book(path: &Path) {
    let nav = page(
        r##"<nav epub:type="toc"><h1>Contents</h1><ol>
  <li><a href="ch1.xhtml">The Harbour</a><ol>
     <li><a href="ch1.xhtml#morning">Morning</a></li>
     <li><a href="ch1.xhtml#evening">Evening</a></li></ol></li>
  <li><a href="ch2.xhtml">The Clocks</a></li>
  <li><a href="copyright.xhtml">Copyright</a></li>
</ol></nav>
<nav epub:type="landmarks"><ol>
  <li><a epub:type="cover" href="cover.xhtml">Cover</a></li>
  <li><a epub:type="copyright-page" href="copyright.xhtml">Copyright</a></li>
</ol></nav>"##,
    );
    let ch1 = page(
        r##"<section><h1>The Harbour</h1>
<p>The harbour keeps its own time.<a epub:type="noteref" href="notes.xhtml#n1">1</a></p>
<section id="morning"><h2>Morning</h2><p>Boats leave early.</p>
<p><img src="boat.png" alt="A boat at the pier"/></p>
<h3>Nets</h3><p>Nets go first.</p></section>
<section id="evening"><h2>Evening</h2><p>Boats come back late.<sup><a href="#fn2">2</a></sup></p>
<aside epub:type="footnote" id="fn2"><p>Never after ten.</p></aside></section></section>"##,
    );
    let ch2 = page(r#"<h1>The Clocks</h1><p>The tide clocks run slow in winter.</p>"#);
    let notes = page(
        r##"<section epub:type="endnotes"><ol><li id="n1" epub:type="endnote"><p>Measured at the pier. <a href="ch1.xhtml" epub:type="backlink">back</a></p></li></ol></section>"##,
    );
    let copyright = page("<p>All rights reserved by the lighthouse keepers.</p>");
    let cover = page(r#"<img src="cover.png" alt="Cover"/>"#);
    let manifest = r#"
    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    <item id="cover" href="cover.xhtml" media-type="application/xhtml+xml"/>
    <item id="ch1" href="ch1.xhtml" media-type="application/xhtml+xml"/>
    <item id="ch2" href="ch2.xhtml" media-type="application/xhtml+xml"/>
    <item id="notes" href="notes.xhtml" media-type="application/xhtml+xml"/>
    <item id="copyright" href="copyright.xhtml" media-type="application/xhtml+xml"/>
    <item id="img" href="cover.png" media-type="image/png" properties="cover-image"/>"#;
    let spine = r#"<itemref idref="cover"/><itemref idref="ch1"/><itemref idref="ch2"/><itemref idref="notes"/><itemref idref="copyright"/>"#;
    let png = std::fs::read("/usr/share/pixmaps/debian-logo.png").unwrap_or_default();
    let opf = opf(manifest, spine, "");
    zip(
        path,
        &[
            ("mimetype", b"application/epub+zip", false),
            ("META-INF/container.xml", CONTAINER.as_bytes(), true),
            ("OEBPS/content.opf", opf.as_bytes(), true),
            ("OEBPS/nav.xhtml", nav.as_bytes(), true),
            ("OEBPS/cover.xhtml", cover.as_bytes(), true),
            ("OEBPS/ch1.xhtml", ch1.as_bytes(), true),
            ("OEBPS/ch2.xhtml", ch2.as_bytes(), true),
            ("OEBPS/notes.xhtml", notes.as_bytes(), true),
            ("OEBPS/copyright.xhtml", copyright.as_bytes(), true),
            ("OEBPS/cover.png", &png, false),
        ],
    );
}

#[test]
fn a_book_reads_by_its_own_contents_with_notes_and_without_its_matter() {
    let env = Env::new();
    let book = env.path("tide.epub");
    our_book(&book);
    let (plan_json, warnings) = plan(&env, &book, &[]);
    assert_eq!(plan_json["title"], "The Tide Clocks");
    assert_eq!(plan_json["author"], "Ada Fenwick and Bo Reed");
    assert_eq!(
        chapters(&plan_json),
        vec![
            (2, "The Harbour".to_string()),
            (3, "Morning".to_string()),
            (3, "Evening".to_string()),
            (2, "The Clocks".to_string()),
        ]
    );
    let text = spoken(&plan_json);
    // The chapter's own heading is not read twice; a heading the contents do not list is read as text.
    assert_eq!(text.matches("The Harbour").count(), 1, "{text}");
    for words in [
        "The harbour keeps its own time. Note: Measured at the pier.",
        "Nets go first.",
        "Boats come back late. Note: Never after ten.",
        "The tide clocks run slow in winter.",
    ] {
        let squeezed = text.replace("  ", " ");
        let pieces: Vec<&str> = words.split(". ").collect();
        assert!(
            pieces.iter().all(|p| squeezed.contains(p)),
            "{words}: {text}"
        );
    }
    for silent in [
        "lighthouse keepers",
        "A boat at the pier",
        "pier. back",
        "Contents",
    ] {
        assert!(!text.contains(silent), "{silent}: {text}");
    }
    let matter: Vec<&String> = warnings.iter().filter(|w| w.contains("matter")).collect();
    assert_eq!(matter.len(), 1, "{warnings:?}");
    assert!(
        matter[0].contains("cover") && matter[0].contains("Copyright"),
        "{matter:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("1 image skipped")),
        "{warnings:?}"
    );

    // The matter and the alt text, on request.
    let (all, _) = plan(&env, &book, &["--include-matter", "--alt-text"]);
    let text = spoken(&all);
    assert!(text.contains("lighthouse keepers"), "{text}");
    assert!(text.contains("A boat at the pier"), "{text}");
    assert_eq!(chapters(&all).last().unwrap().1, "Copyright");
    // And from narrate.toml.
    std::fs::write(env.path("narrate.toml"), "include_matter = true\n").unwrap();
    let (all, _) = plan(&env, &book, &[]);
    assert!(spoken(&all).contains("lighthouse keepers"));
}

#[test]
fn a_book_edition_carries_its_metadata_and_cover() {
    if !have("ffprobe") || !Path::new("/usr/share/pixmaps/debian-logo.png").exists() {
        return;
    }
    let env = Env::new();
    let book = env.path("tide.epub");
    our_book(&book);
    let out = env
        .cmd()
        .args([
            "build",
            "--backend",
            "tone",
            "--format",
            "m4b,mp3",
            "-o",
            "out",
        ])
        .arg(&book)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let manifest = crate::support::read_json(env.path("out/tide.json"));
    let b = &manifest["book"];
    assert_eq!(b["publisher"], "Harbour Press");
    assert_eq!(b["language"], "en-GB");
    assert_eq!(b["date"], "2024-05-01");
    assert_eq!(b["authors"][1], "Bo Reed");
    assert_eq!(b["cover"]["media_type"], "image/png");
    assert_eq!(manifest["settings"]["include_matter"], false);
    for ext in ["m4b", "mp3"] {
        let file = env.path(&format!("out/tide.{ext}"));
        let probe = ffprobe(&file);
        let tags = &probe["format"]["tags"];
        assert_eq!(tags["title"], "The Tide Clocks", "{ext}: {probe}");
        assert_eq!(tags["artist"], "Ada Fenwick and Bo Reed", "{ext}");
        assert_eq!(tags["album"], "The Tide Clocks", "{ext}");
        let streams = Command::new("ffprobe")
            .args(["-v", "error", "-show_streams", "-of", "json"])
            .arg(&file)
            .output()
            .unwrap();
        let streams: Value = serde_json::from_slice(&streams.stdout).unwrap();
        let cover = streams["streams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["codec_type"] == "video")
            .unwrap_or_else(|| panic!("{ext}: no cover stream"));
        assert_eq!(cover["disposition"]["attached_pic"], 1, "{ext}");
        assert_eq!(cover["codec_name"], "png", "{ext}");
    }
}

/// One corpus entry (tests/data/corpus/epub-*.toml).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    source_package: String,
    producer: String,
    version: u8,
    title: String,
    author: Option<String>,
    chapter_count: usize,
    chapters: Vec<(u64, String)>,
    matter: Vec<String>,
    speak: Vec<String>,
    #[serde(default)]
    silent: Vec<String>,
    #[serde(default)]
    cover: bool,
}

fn corpus() -> Vec<(PathBuf, Expected)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus");
    let mut out: Vec<(PathBuf, Expected)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("epub-"))
        })
        .map(|p| {
            let e = toml::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (p, e)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn real_books_read_as_their_contents_say() {
    if !have("pandoc") || !have("ebook-convert") {
        return;
    }
    let env = Env::new();
    let corpus = corpus();
    assert!(corpus.len() >= 8);
    let versions: std::collections::BTreeSet<u8> = corpus.iter().map(|(_, e)| e.version).collect();
    assert_eq!(versions.len(), 2, "EPUB 2 and 3");
    for (file, e) in &corpus {
        let name = file.file_stem().unwrap().to_string_lossy().to_string();
        let book = env.path(&format!("{name}.epub"));
        let made = Command::new("sh")
            .args(["-c", &e.producer])
            .env("OUT", &book)
            .output()
            .unwrap();
        assert!(
            made.status.success() && book.exists(),
            "{name}: `{}` (from {}) failed: {made:?}",
            e.producer,
            e.source_package
        );
        let (plan_json, warnings) = plan(&env, &book, &[]);
        assert_eq!(plan_json["title"], e.title.as_str(), "{name}");
        assert_eq!(plan_json["author"].as_str(), e.author.as_deref(), "{name}");
        let got = chapters(&plan_json);
        assert_eq!(got.len(), e.chapter_count, "{name}: {got:?}");
        assert_eq!(got[..e.chapters.len()], e.chapters[..], "{name}");
        let matter: Vec<&String> = warnings
            .iter()
            .filter(|w| w.contains("matter skipped"))
            .collect();
        assert_eq!(matter.len(), 1, "{name}: {warnings:?}");
        for m in &e.matter {
            assert!(
                matter[0].contains(m.as_str()),
                "{name}: {m} not in {matter:?}"
            );
        }
        let text = spoken(&plan_json);
        for words in &e.speak {
            assert!(
                text.contains(words.as_str()),
                "{name}: `{words}` not spoken"
            );
        }
        for words in &e.silent {
            assert!(!text.contains(words.as_str()), "{name}: `{words}` spoken");
        }
        assert_eq!(
            plan_json["book"]["cover"]["media_type"].is_string(),
            e.cover,
            "{name}: {}",
            plan_json["book"]
        );
    }
}

/// A valid book with one part changed, for the hostile table.
fn hostile(env: &Env, name: &str, opf_text: &str, extra: &[(&str, &[u8], bool)]) -> String {
    let ch = page("<h1>One</h1><p>The kettle sings.</p>");
    let mut entries: Vec<(&str, &[u8], bool)> = vec![
        ("mimetype", b"application/epub+zip", false),
        ("META-INF/container.xml", CONTAINER.as_bytes(), true),
        ("OEBPS/content.opf", opf_text.as_bytes(), true),
        ("OEBPS/ch1.xhtml", ch.as_bytes(), true),
    ];
    entries.extend_from_slice(extra);
    zip(&env.path(name), &entries);
    name.to_string()
}

#[test]
fn hostile_books_get_one_line_in_bounded_memory() {
    let env = Env::new();
    let item = r#"<item id="ch1" href="ch1.xhtml" media-type="application/xhtml+xml"/>"#;
    let one = r#"<itemref idref="ch1"/>"#;
    let plain = opf(item, one, "");
    let good = hostile(&env, "good.epub", &plain, &[]);

    let encryption = br#"<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" xmlns:enc="http://www.w3.org/2001/04/xmlenc#">
  <enc:EncryptedData><enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
  <enc:CipherData><enc:CipherReference URI="OEBPS/ch1.xhtml"/></enc:CipherData></enc:EncryptedData></encryption>"#;
    let drm = hostile(
        &env,
        "drm.epub",
        &plain,
        &[("META-INF/encryption.xml", encryption, true)],
    );

    let zeros = vec![0u8; 64 << 20];
    let bomb_opf = opf(
        &format!(r#"{item}<item id="big" href="big.xhtml" media-type="application/xhtml+xml"/>"#),
        &format!(r#"{one}<itemref idref="big"/>"#),
        "",
    );
    let bomb = hostile(
        &env,
        "bomb.epub",
        &bomb_opf,
        &[("OEBPS/big.xhtml", &zeros, true)],
    );

    let many = opf(item, &one.repeat(10_000), "");
    let spine = hostile(&env, "spine.epub", &many, &[]);

    let missing_opf = opf(
        &format!(r#"{item}<item id="gone" href="gone.xhtml" media-type="application/xhtml+xml"/>"#),
        &format!(r#"{one}<itemref idref="gone"/>"#),
        "",
    );
    let missing = hostile(&env, "missing.epub", &missing_opf, &[]);

    let mut lol =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE package [\n<!ENTITY lol \"lol\">\n");
    for i in 1..=9 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        lol.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    lol.push_str("]>\n");
    let laughs_opf = plain
        .replacen("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", &lol, 1)
        .replace(
            "<dc:title>The Tide Clocks</dc:title>",
            "<dc:title>&lol9;</dc:title>",
        );
    let laughs = hostile(&env, "laughs.epub", &laughs_opf, &[]);

    let escape = hostile(
        &env,
        "escape.epub",
        &plain,
        &[("../../outside.xhtml", b"<p>out</p>", true)],
    );

    std::fs::write(
        env.path("corrupt.epub"),
        b"PK\x03\x04 this is not really a zip",
    )
    .unwrap();
    let whole = std::fs::read(env.path(&good)).unwrap();
    std::fs::write(env.path("cut.epub"), &whole[..whole.len() / 2]).unwrap();

    let table: &[(&str, i32, &str)] = &[
        (&good, 0, "The kettle sings"),
        (&drm, 2, "is encrypted (DRM)"),
        (&bomb, 2, "a zip bomb?"),
        (&spine, 2, "spine lists 10000 documents"),
        (&missing, 2, "`OEBPS/gone.xhtml` is missing from the book"),
        (&laughs, 2, "billion laughs"),
        (&escape, 2, "points outside the book"),
        ("corrupt.epub", 2, "not a readable zip archive"),
        ("cut.epub", 2, "not a readable zip archive"),
    ];
    for &(file, code, says) in table {
        let out = crate::reliability::plan_bounded(&env, file);
        assert_eq!(out.status.code(), Some(code), "{file}: {out:?}");
        if code == 0 {
            assert!(
                String::from_utf8_lossy(&out.stdout).contains(says),
                "{file}"
            );
        } else {
            let stderr = one_error(&out);
            assert!(stderr.contains(says), "{file}: {stderr}");
            assert!(stderr.contains(file), "{file}: {stderr}");
        }
    }
}
