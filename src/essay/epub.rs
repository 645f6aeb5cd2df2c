//! EPUB 2 and EPUB 3 books: the zip read with limits on every entry (a zip bomb, a `../` path, DRM or a missing
//! spine item is one error naming the book), the container and OPF read with roxmltree (no external entities, a
//! cap on entity expansion), the spine in reading order cut into chapters by the book's own table of contents
//! (EPUB 3 `nav` `toc`, else EPUB 2 `toc.ncx`), nested entries kept as heading levels and entries that point into
//! the middle of a document splitting it there. Content documents are parsed by html5ever (through scraper) and
//! laid out again as plain HTML for the web-page reader (`html.rs`), which reads their paragraphs, lists and
//! quotes. Notes (`epub:type` noteref/footnote/endnote, and the common `<sup><a href="#fn1">`) are read as
//! Markdown footnotes are; front and back matter and images are skipped with one warning each.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

use ego_tree::NodeRef;
use regex::Regex;
use scraper::{Html, Node};

use super::notes::{Note, Notes};
use super::{tidy, Book, BookOptions, Cover, Essay, Heading, Paragraph, Section, Skipped};
use crate::error::{Error, Result};

/// Most files an EPUB may hold (a long illustrated book has a few thousand).
const MAX_ENTRIES: usize = 20_000;
/// Most spine items read (a long book has a few hundred).
pub(crate) const MAX_SPINE: usize = 5_000;
/// Largest uncompressed/compressed ratio of an entry over [`RATIO_FLOOR`] bytes (text deflates 3 to 10 times;
/// a zip bomb hundreds of times).
const MAX_RATIO: u64 = 200;
const RATIO_FLOOR: u64 = 1 << 20;
/// Largest cover image read.
const MAX_COVER: u64 = 10 << 20;
/// Most XML nodes in one container, OPF or NCX file.
const MAX_XML_NODES: u32 = 2_000_000;
/// How many times `max_essay_mb` the EPUB file itself may be (its pictures and fonts are not read).
pub(crate) const FILE_FACTOR: u64 = 4;

/// What is wrong with a book, as one [`Error::Book`].
fn problem(path: &Path, what: impl Into<String>, remedy: &'static str) -> Error {
    Error::Book {
        path: path.to_owned(),
        problem: what.into(),
        remedy,
    }
}

const DAMAGED: &str =
    "the file is damaged or not an EPUB; export it again from the program that made it";

/// The zip, read with limits: every entry's size, the total, and the compression ratio.
struct Archive<'a> {
    path: &'a Path,
    zip: zip::ZipArchive<std::io::Cursor<&'a [u8]>>,
    /// Text read so far (content documents, OPF, NCX…), against `limit`.
    read: u64,
    limit: u64,
}

impl Archive<'_> {
    fn open<'a>(path: &'a Path, bytes: &'a [u8], limit: u64) -> Result<Archive<'a>> {
        let file = std::io::Cursor::new(bytes);
        let zip = zip::ZipArchive::new(file)
            .map_err(|e| problem(path, format!("not a readable zip archive ({e})"), DAMAGED))?;
        if zip.len() > MAX_ENTRIES {
            return Err(problem(
                path,
                format!(
                    "holds {} files, more than the {MAX_ENTRIES} narrate reads",
                    zip.len()
                ),
                DAMAGED,
            ));
        }
        for name in zip.file_names_raw() {
            let name = String::from_utf8_lossy(name);
            if !safe_name(&name) {
                return Err(problem(
                    path,
                    format!(
                        "the zip entry `{name}` points outside the book (`..` or an absolute path)"
                    ),
                    "such a file is unsafe to unpack; get the book again from its source",
                ));
            }
        }
        Ok(Archive {
            path,
            zip,
            read: 0,
            limit,
        })
    }

    fn has(&self, name: &str) -> bool {
        self.zip.index_for_name(name).is_some()
    }

    /// An entry's bytes, at most `max`; text entries also count against the book's total.
    fn bytes(&mut self, name: &str, max: u64, text: bool) -> Result<Vec<u8>> {
        let path = self.path;
        let mut entry = match self.zip.by_name(name) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(problem(
                    path,
                    format!("`{name}` is named by the book but missing from it"),
                    DAMAGED,
                ))
            }
            Err(e) => return Err(problem(path, format!("cannot read `{name}`: {e}"), DAMAGED)),
        };
        let left = if text {
            self.limit.saturating_sub(self.read)
        } else {
            max
        };
        let max = max.min(left);
        let bomb = |size: u64| {
            problem(
                path,
                format!(
                    "`{name}` unpacks to {} MB or more, over the limit of {} MB (a zip bomb?)",
                    size.div_ceil(1 << 20),
                    max >> 20
                ),
                "raise `max_essay_mb` (or --max-essay-mb) if the book really is that long",
            )
        };
        if entry.size() > max {
            return Err(bomb(entry.size()));
        }
        let compressed = entry.compressed_size().max(1);
        if entry.size() > RATIO_FLOOR && entry.size() / compressed > MAX_RATIO {
            return Err(problem(
                path,
                format!(
                    "`{name}` is compressed {} to 1, more than the {MAX_RATIO} to 1 of any real book (a zip bomb?)",
                    entry.size() / compressed
                ),
                DAMAGED,
            ));
        }
        let mut bytes = Vec::with_capacity(entry.size().min(max) as usize);
        (&mut entry)
            .take(max + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| problem(path, format!("cannot unpack `{name}`: {e}"), DAMAGED))?;
        if bytes.len() as u64 > max {
            return Err(bomb(bytes.len() as u64));
        }
        if text {
            self.read += bytes.len() as u64;
        }
        Ok(bytes)
    }

    fn text(&mut self, name: &str) -> Result<String> {
        let bytes = self.bytes(name, u64::MAX, true)?;
        Ok(decode(&bytes))
    }
}

/// A zip entry name that stays inside the book: relative, no `..`, no backslashes or NULs.
fn safe_name(name: &str) -> bool {
    let unsafe_name = name.starts_with('/')
        || name.contains(['\\', '\0'])
        || name.split('/').any(|part| part == "..")
        || (name.len() > 1 && name.as_bytes()[1] == b':');
    !unsafe_name
}

/// Text of an XML or XHTML file: UTF-8 (a BOM dropped) or UTF-16 with a BOM.
fn decode(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

/// Parses a package file (container, OPF, NCX, encryption) as XML: internal entities only, with roxmltree's
/// cap on their expansion; an entity that expands into many more is refused.
fn xml<'a>(path: &Path, name: &str, text: &'a str) -> Result<roxmltree::Document<'a>> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        nodes_limit: MAX_XML_NODES,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::EntityReferenceLoop(_) => problem(
            path,
            format!(
                "`{name}` defines XML entities that expand without end (a \"billion laughs\" file)"
            ),
            "such a file is made to exhaust memory; get the book again from its source",
        ),
        roxmltree::Error::NodesLimitReached => problem(
            path,
            format!("`{name}` has more than {MAX_XML_NODES} XML nodes"),
            DAMAGED,
        ),
        e => problem(
            path,
            format!("`{name}` is not well-formed XML ({e})"),
            DAMAGED,
        ),
    })
}

/// The first descendant element with this local name.
fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.descendants()
        .find(|n| n.is_element() && n.tag_name().name() == name)
}

/// The text inside a node, tidied.
fn text_in(node: roxmltree::Node) -> String {
    let mut out = String::new();
    for d in node.descendants().filter(|d| d.is_text()) {
        out.push_str(d.text().unwrap_or(""));
    }
    tidy(&out)
}

/// Resolves `href` (percent-encoded, maybe with a `#fragment`) against the folder of `base` inside the zip.
/// `None` when it is not inside the book (an external link, or `..` above the root).
fn resolve(base: &str, href: &str) -> Option<(String, Option<String>)> {
    let (file, fragment) = match href.split_once('#') {
        Some((f, frag)) => (f, Some(percent_decode(frag))),
        None => (href, None),
    };
    if file.contains("://") || file.starts_with("mailto:") || file.starts_with("data:") {
        return None;
    }
    if file.is_empty() {
        return Some((base.to_string(), fragment));
    }
    let mut parts: Vec<&str> = match base.rfind('/') {
        Some(i) => base[..i].split('/').collect(),
        None => Vec::new(),
    };
    if file.starts_with('/') {
        parts.clear();
    }
    let decoded = percent_decode(file);
    for part in decoded.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    // `parts` borrows from `base` and `decoded`: build the owned string before they go.
    let joined = parts.join("/");
    Some((joined, fragment))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An entry of the book's table of contents.
#[derive(Debug, Clone)]
struct TocEntry {
    title: String,
    /// 1 for a top-level entry.
    depth: u8,
    file: String,
    fragment: Option<String>,
}

/// A manifest item.
struct Item {
    href: String,
    media_type: String,
    properties: String,
}

/// The OPF: metadata, manifest, spine, guide.
struct Package {
    book: Book,
    cover_item: Option<String>,
    items: HashMap<String, Item>,
    /// Spine: manifest id, linear.
    spine: Vec<(String, bool)>,
    ncx: Option<String>,
    /// EPUB 2 `<guide>`: file, fragment, type.
    guide: Vec<(String, Option<String>, String)>,
}

fn read_package(path: &Path, opf_name: &str, text: &str) -> Result<Package> {
    let doc = xml(path, opf_name, text)?;
    let root = doc.root_element();
    let mut book = Book::default();
    let mut cover_item = None;
    if let Some(meta) = child(root, "metadata") {
        for n in meta.children().filter(|n| n.is_element()) {
            let value = text_in(n);
            let first = |slot: &mut Option<String>| {
                if slot.is_none() && !value.is_empty() {
                    *slot = Some(value.clone());
                }
            };
            match n.tag_name().name() {
                "title" => first(&mut book.title),
                // Calibre writes "Unknown" for a book without an author.
                "creator" if !value.is_empty() && value != "Unknown" => {
                    let role = n
                        .attributes()
                        .find(|a| a.name() == "role")
                        .map(|a| a.value().to_string());
                    if role.is_none_or(|r| r == "aut") {
                        book.authors.push(value.clone());
                    }
                }
                "language" => first(&mut book.language),
                "publisher" => first(&mut book.publisher),
                "date" => first(&mut book.date),
                "identifier" => first(&mut book.identifier),
                "meta" if n.attribute("name") == Some("cover") => {
                    cover_item = n.attribute("content").map(str::to_string);
                }
                _ => {}
            }
        }
    }
    let mut items = HashMap::new();
    if let Some(manifest) = child(root, "manifest") {
        for n in manifest
            .children()
            .filter(|n| n.is_element() && n.tag_name().name() == "item")
        {
            let (Some(id), Some(href)) = (n.attribute("id"), n.attribute("href")) else {
                continue;
            };
            let Some((file, _)) = resolve(opf_name, href) else {
                return Err(problem(
                    path,
                    format!("the manifest item `{href}` points outside the book"),
                    "such a file is unsafe to read; get the book again from its source",
                ));
            };
            let properties = n.attribute("properties").unwrap_or("").to_string();
            if properties.split_whitespace().any(|p| p == "cover-image") {
                cover_item = Some(id.to_string());
            }
            items.insert(
                id.to_string(),
                Item {
                    href: file,
                    media_type: n.attribute("media-type").unwrap_or("").to_string(),
                    properties,
                },
            );
        }
    }
    let spine_node = child(root, "spine");
    let spine: Vec<(String, bool)> = spine_node
        .map(|s| {
            s.children()
                .filter(|n| n.is_element() && n.tag_name().name() == "itemref")
                .filter_map(|n| {
                    let id = n.attribute("idref")?;
                    Some((id.to_string(), n.attribute("linear") != Some("no")))
                })
                .collect()
        })
        .unwrap_or_default();
    let ncx = spine_node
        .and_then(|s| s.attribute("toc"))
        .and_then(|id| items.get(id))
        .map(|i| i.href.clone())
        .or_else(|| {
            items
                .values()
                .find(|i| i.media_type == "application/x-dtbncx+xml")
                .map(|i| i.href.clone())
        });
    let guide = child(root, "guide")
        .map(|g| {
            g.children()
                .filter(|n| n.is_element() && n.tag_name().name() == "reference")
                .filter_map(|n| {
                    let (file, frag) = resolve(opf_name, n.attribute("href")?)?;
                    Some((file, frag, n.attribute("type")?.to_ascii_lowercase()))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Package {
        book,
        cover_item,
        items,
        spine,
        ncx,
        guide,
    })
}

/// Reads an EPUB file into an essay: the book's title and authors, its chapters as its table of contents has
/// them, and its metadata in `Essay::book`.
pub(crate) fn read(path: &Path, bytes: &[u8], limit: u64, options: BookOptions) -> Result<Essay> {
    let mut zip = Archive::open(path, bytes, limit)?;
    let opf_name = package_name(path, &mut zip)?;
    let opf_text = zip.text(&opf_name)?;
    let package = read_package(path, &opf_name, &opf_text)?;
    drop(opf_text);
    let spine = spine_files(path, &package, &zip)?;
    check_encryption(&mut zip, &spine)?;

    // The table of contents: EPUB 3 nav, else EPUB 2 NCX.
    let nav_item = package
        .items
        .values()
        .find(|i| i.properties.split_whitespace().any(|p| p == "nav"))
        .map(|i| i.href.clone());
    let mut toc = Vec::new();
    let mut landmarks = Vec::new();
    if let Some(nav) = &nav_item {
        if zip.has(nav) {
            let text = zip.text(nav)?;
            (toc, landmarks) = read_nav(nav, &text);
        }
    }
    if toc.is_empty() {
        if let Some(ncx) = package.ncx.as_ref().filter(|n| zip.has(n)) {
            let text = zip.text(ncx)?;
            toc = read_ncx(path, ncx, &text)?;
        }
    }
    toc.retain(|e| !e.title.is_empty());
    mend_toc(&mut toc, &spine);

    // Front and back matter: landmarks, guide, the nav document, and the documents' own types.
    let mut matter: HashMap<(String, Option<String>), String> = HashMap::new();
    for (file, frag, kind) in landmarks.iter().chain(&package.guide) {
        if let Some(name) = matter_name(kind) {
            matter.insert((file.clone(), frag.clone()), name.to_string());
        }
    }
    if let Some(nav) = &nav_item {
        matter.insert((nav.clone(), None), "table of contents".into());
    }

    // The content documents, parsed once.
    let mut docs: Vec<(String, bool, Html)> = Vec::with_capacity(spine.len());
    let mut seen = HashSet::new();
    for (file, linear) in spine {
        if !seen.insert(file.clone()) {
            continue;
        }
        let text = zip.text(&file)?;
        let html = Html::parse_document(&close_empty_tags(&text));
        docs.push((file, linear, html));
    }
    let cover = package
        .cover_item
        .as_ref()
        .and_then(|id| package.items.get(id))
        .filter(|i| matches!(i.media_type.as_str(), "image/jpeg" | "image/png"))
        .and_then(|i| {
            let bytes = zip.bytes(&i.href, MAX_COVER, false).ok()?;
            Some(Cover {
                media_type: i.media_type.clone(),
                digest: blake3::hash(&bytes).to_hex()[..16].to_string(),
                bytes,
            })
        });
    let mut book = package.book;
    book.cover = cover;
    Ok(Layout::new(&docs, &toc, matter, options).essay(book))
}

/// The package (OPF) file `META-INF/container.xml` names, checked to be inside the book.
fn package_name(path: &Path, zip: &mut Archive) -> Result<String> {
    if !zip.has("META-INF/container.xml") {
        return Err(problem(
            path,
            "has no META-INF/container.xml, so it is not an EPUB",
            DAMAGED,
        ));
    }
    let container = zip.text("META-INF/container.xml")?;
    let doc = xml(path, "META-INF/container.xml", &container)?;
    let opf_name = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "rootfile")
        .find(|n| {
            n.attribute("media-type")
                .is_none_or(|m| m == "application/oebps-package+xml")
        })
        .and_then(|n| n.attribute("full-path"))
        .map(str::to_string)
        .ok_or_else(|| {
            problem(
                path,
                "META-INF/container.xml names no package (OPF) file",
                DAMAGED,
            )
        })?;
    if !safe_name(&opf_name) {
        return Err(problem(
            path,
            format!("the package file `{opf_name}` points outside the book"),
            "such a file is unsafe to read; get the book again from its source",
        ));
    }
    Ok(opf_name)
}

/// The spine's documents in reading order (file, linear), each checked to be in the manifest and the book.
fn spine_files(path: &Path, package: &Package, zip: &Archive) -> Result<Vec<(String, bool)>> {
    if package.spine.len() > MAX_SPINE {
        return Err(problem(
            path,
            format!(
                "its spine lists {} documents, more than the {MAX_SPINE} narrate reads",
                package.spine.len()
            ),
            DAMAGED,
        ));
    }
    if package.spine.is_empty() {
        return Err(problem(
            path,
            "its spine lists no documents to read",
            DAMAGED,
        ));
    }
    let mut spine: Vec<(String, bool)> = Vec::with_capacity(package.spine.len());
    for (id, linear) in &package.spine {
        let item = package.items.get(id).ok_or_else(|| {
            problem(
                path,
                format!("the spine item `{id}` is not in the manifest"),
                DAMAGED,
            )
        })?;
        if !zip.has(&item.href) {
            return Err(problem(
                path,
                format!("the spine item `{}` is missing from the book", item.href),
                DAMAGED,
            ));
        }
        spine.push((item.href.clone(), *linear));
    }
    Ok(spine)
}

/// A table-of-contents link to a file the book does not have (some tools write them relative to the wrong
/// folder) is taken to mean the spine document of the same name, in the reading order if there are several.
fn mend_toc(toc: &mut [TocEntry], spine: &[(String, bool)]) {
    let base = |f: &str| f.rsplit('/').next().unwrap_or(f).to_string();
    for entry in toc.iter_mut() {
        if spine.iter().any(|(f, _)| *f == entry.file) {
            continue;
        }
        let name = base(&entry.file);
        let mut found: Vec<&(String, bool)> =
            spine.iter().filter(|(f, _)| base(f) == name).collect();
        found.sort_by_key(|(f, linear)| (!linear, f.len()));
        if let Some((file, _)) = found.first() {
            entry.file = file.clone();
        }
    }
}

/// The `epub:type` or guide type of front or back matter, as the warning names it; `None` for the body.
fn matter_name(kind: &str) -> Option<&'static str> {
    let kind = kind.trim().to_ascii_lowercase();
    Some(match kind.as_str() {
        "cover" | "cover-image" => "cover",
        "titlepage" | "title-page" | "halftitlepage" | "fulltitle" => "title page",
        "copyright-page" | "copyright" | "imprint" | "colophon" | "imprimatur" => "copyright",
        "toc" | "landmarks" | "loi" | "lot" | "page-list" => "table of contents",
        "index" => "index",
        "acknowledgments" | "acknowledgements" => "acknowledgements",
        "other.backmatter" | "other.ad-card" | "other.also-by" => "back matter",
        _ => return None,
    })
}

/// Matter told by a chapter title or file name when the book does not mark it.
fn matter_by_name(title: &str, file: &str) -> Option<&'static str> {
    let title = title.trim().trim_end_matches(['.', ':']).to_lowercase();
    let by_title = match title.as_str() {
        "cover" | "front cover" | "back cover" => Some("cover"),
        "title page" | "titlepage" | "half title" => Some("title page"),
        "copyright" | "copyright page" | "colophon" | "imprint" => Some("copyright"),
        "contents" | "table of contents" => Some("table of contents"),
        "index" => Some("index"),
        "acknowledgements" | "acknowledgments" => Some("acknowledgements"),
        _ => None,
    };
    let stem = file
        .rsplit('/')
        .next()
        .unwrap_or(file)
        .split('.')
        .next()
        .unwrap_or("")
        .to_lowercase();
    by_title.or(match stem.as_str() {
        "cover" | "coverpage" | "cover_page" | "cover-page" => Some("cover"),
        "titlepage" | "title_page" | "title-page" | "title" => Some("title page"),
        "copyright" | "copyright_page" | "copyright-page" | "colophon" => Some("copyright"),
        "toc" | "contents" | "nav" => Some("table of contents"),
        _ if stem.starts_with("acknowledg") => Some("acknowledgements"),
        _ => None,
    })
}

/// `META-INF/encryption.xml` that encrypts anything but fonts is DRM.
fn check_encryption(zip: &mut Archive, spine: &[(String, bool)]) -> Result<()> {
    const NAME: &str = "META-INF/encryption.xml";
    if !zip.has(NAME) {
        return Ok(());
    }
    let path = zip.path;
    let text = zip.text(NAME)?;
    let doc = xml(path, NAME, &text)?;
    for data in doc
        .descendants()
        .filter(|n| n.tag_name().name() == "EncryptedData")
    {
        let algorithm = child(data, "EncryptionMethod")
            .and_then(|m| m.attribute("Algorithm"))
            .unwrap_or("");
        let uri = child(data, "CipherReference")
            .and_then(|c| c.attribute("URI"))
            .unwrap_or("");
        // Font obfuscation (IDPF, Adobe) is not DRM: the text is readable.
        let font_obfuscation = algorithm == "http://www.idpf.org/2008/embedding"
            || algorithm == "http://ns.adobe.com/pdf/enc#RC";
        let content = spine.iter().any(|(f, _)| uri.ends_with(f.as_str()))
            || uri.ends_with(".xhtml")
            || uri.ends_with(".html")
            || uri.ends_with(".opf");
        if content || !font_obfuscation {
            return Err(problem(
                path,
                format!("is encrypted (DRM): `{uri}` cannot be read"),
                "narrate reads only books without DRM; use a DRM-free copy of the book",
            ));
        }
    }
    Ok(())
}

/// The table of contents and landmarks of an EPUB 3 navigation document.
type Landmark = (String, Option<String>, String);

fn read_nav(nav: &str, text: &str) -> (Vec<TocEntry>, Vec<Landmark>) {
    let html = Html::parse_document(&close_empty_tags(text));
    let mut toc = Vec::new();
    let mut landmarks = Vec::new();
    for node in html.tree.root().descendants() {
        let Some(el) = node.value().as_element() else {
            continue;
        };
        if el.name() != "nav" {
            continue;
        }
        let kind = el.attr("epub:type").unwrap_or("");
        let kinds: Vec<&str> = kind.split_whitespace().collect();
        if kinds.contains(&"toc") && toc.is_empty() {
            if let Some(list) = node.children().find(|c| {
                c.value()
                    .as_element()
                    .is_some_and(|e| e.name() == "ol" || e.name() == "ul")
            }) {
                nav_list(nav, list, 1, &mut toc);
            }
        } else if kinds.contains(&"landmarks") {
            for a in node.descendants() {
                let Some(a_el) = a.value().as_element().filter(|e| e.name() == "a") else {
                    continue;
                };
                if let (Some(href), Some(kind)) = (a_el.attr("href"), a_el.attr("epub:type")) {
                    if let Some((file, frag)) = resolve(nav, href) {
                        landmarks.push((file, frag, kind.to_string()));
                    }
                }
            }
        }
    }
    (toc, landmarks)
}

fn nav_list(nav: &str, list: NodeRef<Node>, depth: u8, toc: &mut Vec<TocEntry>) {
    for li in list.children() {
        if li.value().as_element().is_none_or(|e| e.name() != "li") {
            continue;
        }
        let link = li.children().find(|c| {
            c.value()
                .as_element()
                .is_some_and(|e| e.name() == "a" || e.name() == "span")
        });
        if let Some(link) = link {
            let href = link.value().as_element().and_then(|e| e.attr("href"));
            let title = tidy(
                &link
                    .descendants()
                    .filter_map(|d| match d.value() {
                        Node::Text(t) => Some(&**t),
                        _ => None,
                    })
                    .collect::<String>(),
            );
            if let Some((file, fragment)) = href.and_then(|h| resolve(nav, h)) {
                toc.push(TocEntry {
                    title,
                    depth,
                    file,
                    fragment,
                });
            }
        }
        for sub in li.children() {
            if sub
                .value()
                .as_element()
                .is_some_and(|e| e.name() == "ol" || e.name() == "ul")
            {
                nav_list(nav, sub, depth.saturating_add(1), toc);
            }
        }
    }
}

fn read_ncx(path: &Path, ncx: &str, text: &str) -> Result<Vec<TocEntry>> {
    let doc = xml(path, ncx, text)?;
    let mut toc = Vec::new();
    fn points(ncx: &str, node: roxmltree::Node, depth: u8, toc: &mut Vec<TocEntry>) {
        for p in node
            .children()
            .filter(|n| n.is_element() && n.tag_name().name() == "navPoint")
        {
            let title = p
                .children()
                .find(|n| n.tag_name().name() == "navLabel")
                .map(text_in)
                .unwrap_or_default();
            let src = p
                .children()
                .find(|n| n.tag_name().name() == "content")
                .and_then(|c| c.attribute("src"));
            if let Some((file, fragment)) = src.and_then(|s| resolve(ncx, s)) {
                toc.push(TocEntry {
                    title,
                    depth,
                    file,
                    fragment,
                });
            }
            points(ncx, p, depth.saturating_add(1), toc);
        }
    }
    if let Some(map) = child(doc.root_element(), "navMap") {
        points(ncx, map, 1, &mut toc);
    }
    Ok(toc)
}

/// XHTML's `<div/>`, `<a id="x"/>` and `<title/>` as an HTML parser wants them (`<div></div>`): an HTML
/// parser takes `/>` on a non-void element as an opening tag, and a `<title/>` would swallow the whole page.
fn close_empty_tags(text: &str) -> std::borrow::Cow<'_, str> {
    static TAG: OnceLock<Regex> = OnceLock::new();
    let tag = TAG.get_or_init(|| {
        Regex::new(r"<([A-Za-z][A-Za-z0-9:_-]*)(\s[^<>]*?)?/>").expect("valid pattern")
    });
    const VOID: &[&str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr", "param",
    ];
    tag.replace_all(text, |c: &regex::Captures| {
        let name = &c[1];
        let attrs = c.get(2).map_or("", |m| m.as_str());
        if VOID.contains(&name.to_ascii_lowercase().as_str()) {
            format!("<{name}{attrs}>")
        } else {
            format!("<{name}{attrs}></{name}>")
        }
    })
}

/// A piece of the book between two table-of-contents targets.
struct Chunk {
    /// The table-of-contents entry it starts, if any.
    toc: Option<usize>,
    file: String,
    linear: bool,
    html: String,
    /// Notes referred to from it: label, in order.
    refs: Vec<String>,
    /// Images in it.
    images: usize,
}

/// Lays out the spine's documents as chunks of plain HTML, one per table-of-contents entry.
struct Layout<'a> {
    toc: &'a [TocEntry],
    matter: HashMap<(String, Option<String>), String>,
    options: BookOptions,
    /// Elements that are notes: (file, id).
    note_bodies: HashSet<(String, String)>,
    /// Elements that are references to notes (their ids: a link back to one leaves a note).
    note_refs: HashSet<(String, String)>,
    /// The notes' text, by label.
    notes: Vec<(String, String)>,
    chunks: Vec<Chunk>,
    /// Serializing: the open elements of the chunk being written.
    open: Vec<String>,
    /// Serializing: nothing but space written since the chunk started.
    fresh: bool,
}

/// Roles and types of the page around the text (a tool's navigation bar, page numbers): not read.
const CHROME: &[&str] = &[
    "navigation",
    "banner",
    "contentinfo",
    "search",
    "pagebreak",
    "page-list",
];
const NOTE_TYPES: &[&str] = &["footnote", "endnote", "rearnote", "note"];
const NOTES_CONTAINERS: &[&str] = &["footnotes", "endnotes", "rearnotes"];
/// Elements left out of the layout (not read, not warned about).
const DROPPED: &[&str] = &[
    "head", "script", "style", "template", "noscript", "nav", "audio", "video", "object", "embed",
    "iframe", "math", "button", "input", "select", "textarea", "form", "link", "meta", "title",
];

fn types(el: &scraper::node::Element) -> Vec<String> {
    let mut out: Vec<String> = el
        .attr("epub:type")
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    if let Some(role) = el.attr("role") {
        out.extend(
            role.split_whitespace()
                .map(|r| r.trim_start_matches("doc-").to_ascii_lowercase()),
        );
    }
    out
}

fn has_type(el: &scraper::node::Element, names: &[&str]) -> bool {
    types(el).iter().any(|t| names.contains(&t.as_str()))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl<'a> Layout<'a> {
    fn new(
        docs: &[(String, bool, Html)],
        toc: &'a [TocEntry],
        matter: HashMap<(String, Option<String>), String>,
        options: BookOptions,
    ) -> Layout<'a> {
        let mut layout = Layout {
            toc,
            matter,
            options,
            note_bodies: HashSet::new(),
            note_refs: HashSet::new(),
            notes: Vec::new(),
            chunks: Vec::new(),
            open: Vec::new(),
            fresh: true,
        };
        // Pass 1: which links are note references and which elements are notes.
        for (file, _, html) in docs {
            for node in html.tree.root().descendants() {
                let Some(el) = node.value().as_element() else {
                    continue;
                };
                if has_type(el, NOTE_TYPES) || has_type(el, &["footnote", "endnote"]) {
                    if let Some(id) = el.id() {
                        layout.note_bodies.insert((file.clone(), id.to_string()));
                    }
                }
                if el.name() == "a" && is_note_link(node, el) {
                    if let Some((target, Some(frag))) =
                        el.attr("href").and_then(|h| resolve(file, h))
                    {
                        layout.note_bodies.insert((target, frag));
                        if let Some(id) = el.id() {
                            layout.note_refs.insert((file.clone(), id.to_string()));
                        }
                    }
                }
            }
        }
        // Pass 2: the notes' text, then the chunks.
        for (file, _, html) in docs {
            for node in html.tree.root().descendants() {
                let Some(el) = node.value().as_element() else {
                    continue;
                };
                if let Some(id) = el.id() {
                    if layout.note_bodies.contains(&(file.clone(), id.to_string())) {
                        let text = layout.note_text(file, node);
                        layout.notes.push((format!("{file}#{id}"), text));
                    }
                }
            }
        }
        for (file, linear, html) in docs {
            layout.start_chunk(layout.toc_at(file, None), file, *linear);
            let body = html
                .tree
                .root()
                .descendants()
                .find(|n| n.value().as_element().is_some_and(|e| e.name() == "body"))
                .unwrap_or(html.tree.root());
            if let Some(el) = body.value().as_element() {
                for t in types(el) {
                    if let Some(name) = matter_name(&t) {
                        layout
                            .matter
                            .entry((file.clone(), None))
                            .or_insert_with(|| name.to_string());
                    }
                }
            }
            layout.children(file, body);
            layout.end_chunk();
        }
        layout
    }

    /// The first table-of-contents entry pointing at this place.
    fn toc_at(&self, file: &str, fragment: Option<&str>) -> Vec<usize> {
        self.toc
            .iter()
            .enumerate()
            .filter(|(_, e)| e.file == file && e.fragment.as_deref() == fragment)
            .map(|(i, _)| i)
            .collect()
    }

    fn start_chunk(&mut self, entries: Vec<usize>, file: &str, linear: bool) {
        let entries = if entries.is_empty() {
            vec![usize::MAX]
        } else {
            entries
        };
        for entry in entries {
            self.chunks.push(Chunk {
                toc: (entry != usize::MAX).then_some(entry),
                file: file.to_string(),
                linear,
                html: String::new(),
                refs: Vec::new(),
                images: 0,
            });
        }
        for tag in &self.open {
            let chunk = self.chunks.last_mut().expect("a chunk was just pushed");
            chunk.html.push_str(&format!("<{tag}>"));
        }
        self.fresh = true;
    }

    fn end_chunk(&mut self) {
        if let Some(chunk) = self.chunks.last_mut() {
            for tag in self.open.iter().rev() {
                chunk.html.push_str(&format!("</{tag}>"));
            }
        }
    }

    fn write(&mut self, s: &str) {
        if let Some(chunk) = self.chunks.last_mut() {
            chunk.html.push_str(s);
        }
    }

    fn children(&mut self, file: &str, node: NodeRef<Node>) {
        for child in node.children() {
            match child.value() {
                Node::Text(t) => {
                    if !t.trim().is_empty() {
                        self.fresh = false;
                    }
                    self.write(&escape(t));
                }
                Node::Element(el) => self.element(file, child, el),
                _ => {}
            }
        }
    }

    fn element(&mut self, file: &str, node: NodeRef<Node>, el: &scraper::node::Element) {
        let name = el.name().to_ascii_lowercase();
        if let Some(id) = el.id() {
            let entries = self.toc_at(file, Some(id));
            if !entries.is_empty() {
                self.end_chunk();
                self.start_chunk(entries, file, true);
                let linear = self.chunks.iter().rev().nth(1).is_none_or(|c| c.linear);
                if let Some(c) = self.chunks.last_mut() {
                    c.linear = linear;
                }
            }
            if self
                .note_bodies
                .contains(&(file.to_string(), id.to_string()))
            {
                return;
            }
        }
        if DROPPED.contains(&name.as_str())
            || has_type(el, CHROME)
            || has_type(el, NOTES_CONTAINERS)
            || has_type(el, NOTE_TYPES)
            || el.attr("hidden").is_some()
        {
            return;
        }
        if name == "a" && is_note_link(node, el) {
            if let Some((target, Some(frag))) = el.attr("href").and_then(|h| resolve(file, h)) {
                if let Some(chunk) = self.chunks.last_mut() {
                    chunk.refs.push(format!("{target}#{frag}"));
                }
            }
            return;
        }
        match name.as_str() {
            "img" | "svg" | "picture" | "image" => {
                self.count_images(1);
                let alt = el.attr("alt").map(tidy).unwrap_or_default();
                if self.options.alt_text && !alt.is_empty() {
                    self.write(&format!(" {} ", escape(&alt)));
                    self.fresh = false;
                }
                return;
            }
            "figure" if !self.options.alt_text => {
                let n = node
                    .descendants()
                    .filter(|d| {
                        d.value()
                            .as_element()
                            .is_some_and(|e| matches!(e.name(), "img" | "svg" | "picture"))
                    })
                    .count()
                    .max(1);
                self.count_images(n);
                return;
            }
            "figure" | "figcaption" => {
                self.tag(file, node, "div");
                return;
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                // The heading a chapter opens with is its table-of-contents title, already spoken; any other
                // is read as a paragraph (the book's contents do not list it).
                let opens_chunk = self.fresh && self.chunks.last().is_some_and(|c| c.toc.is_some());
                if !opens_chunk {
                    self.tag(file, node, "p");
                }
                return;
            }
            _ => {}
        }
        const VOID: &[&str] = &["br", "hr", "wbr", "col", "area", "source", "track", "param"];
        if VOID.contains(&name.as_str()) {
            self.write(&format!("<{name}>"));
            return;
        }
        let keep = matches!(
            name.as_str(),
            "p" | "div"
                | "section"
                | "article"
                | "main"
                | "header"
                | "footer"
                | "aside"
                | "ul"
                | "ol"
                | "li"
                | "dl"
                | "dt"
                | "dd"
                | "blockquote"
                | "pre"
                | "table"
                | "address"
                | "details"
                | "summary"
                | "center"
                | "body"
                | "hgroup"
        );
        let tag = match name.as_str() {
            // Page parts to a web page, but part of a book's text.
            "header" | "footer" | "aside" | "main" | "article" | "body" => "div",
            other if keep => other,
            _ => "span",
        };
        self.tag(file, node, tag);
    }

    fn count_images(&mut self, n: usize) {
        if let Some(chunk) = self.chunks.last_mut() {
            chunk.images += n;
        }
    }

    /// Writes an element as `tag` with its children, closing and reopening it across a chunk boundary.
    fn tag(&mut self, file: &str, node: NodeRef<Node>, tag: &str) {
        self.write(&format!("<{tag}>"));
        self.open.push(tag.to_string());
        self.children(file, node);
        self.open.pop();
        self.write(&format!("</{tag}>"));
    }

    /// A note's text: its paragraphs, read by the web-page reader, in one line; links back left out.
    fn note_text(&self, file: &str, node: NodeRef<Node>) -> String {
        let mut html = String::from("<div>");
        fn inner(layout: &Layout, file: &str, node: NodeRef<Node>, out: &mut String) {
            for child in node.children() {
                match child.value() {
                    Node::Text(t) => out.push_str(&escape(t)),
                    Node::Element(el) => {
                        let back = el.name() == "a"
                            && (has_type(el, &["backlink"])
                                || el.classes().any(|c| c.contains("back"))
                                || el.attr("href").and_then(|h| resolve(file, h)).is_some_and(
                                    |(f, frag)| {
                                        frag.is_some_and(|frag| {
                                            layout.note_refs.contains(&(f, frag))
                                        })
                                    },
                                ));
                        if back || DROPPED.contains(&el.name()) {
                            continue;
                        }
                        let tag =
                            if matches!(el.name(), "p" | "div" | "li" | "ul" | "ol" | "blockquote")
                            {
                                "p"
                            } else {
                                "span"
                            };
                        out.push_str(&format!("<{tag}>"));
                        inner(layout, file, child, out);
                        out.push_str(&format!("</{tag}>"));
                    }
                    _ => {}
                }
            }
        }
        inner(self, file, node, &mut html);
        html.push_str("</div>");
        let essay = super::html::parse_html(&html);
        let text: Vec<String> = essay
            .sections
            .iter()
            .flat_map(|s| s.paragraphs.iter().map(|p| p.text.clone()))
            .collect();
        tidy(&text.join(" "))
    }

    /// The essay: the book's title, one section per table-of-contents entry, notes placed as Markdown's are.
    fn essay(self, book: Book) -> Essay {
        let Layout {
            toc,
            matter,
            options,
            notes: note_texts,
            chunks,
            ..
        } = self;
        let mut essay = Essay {
            title: book.title.clone().map(|text| Heading {
                text,
                level: 1,
                line: 1,
                pause_before: None,
            }),
            front_matter_author: (!book.authors.is_empty()).then(|| book.authors.join(" and ")),
            language: book.language.clone().filter(|l| {
                l.len() >= 2
                    && l.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && !matches!(l.as_str(), "und" | "zxx" | "mul")
            }),
            ..Essay::default()
        };
        let mut notes = Notes::default();
        let mut told = Told::default();
        let mut line = 2usize;
        let mut in_matter: Option<(String, String)> = None;
        for chunk in chunks {
            let entry = chunk.toc.map(|i| &toc[i]);
            let title = entry.map_or("", |e| e.title.as_str());
            let kind = matter_kind(&matter, &chunk, entry, &in_matter);
            in_matter = kind.clone().map(|k| (chunk.file.clone(), k));
            if let Some(kind) = kind.filter(|_| !options.include_matter) {
                let named = if title.is_empty() {
                    kind
                } else if title.eq_ignore_ascii_case(&kind) {
                    title.to_string()
                } else {
                    format!("{kind} ({title})")
                };
                if !told.skipped.contains(&named) {
                    told.skipped.push(named);
                }
                continue;
            }
            told.images += chunk.images;
            let last = append_chunk(&mut essay, &chunk, entry, line, &mut told.warnings);
            let section = essay.current_section();
            for label in chunk.refs {
                notes.refer(&label, section, last);
            }
            line = last + 1;
        }
        let mut placed = HashSet::new();
        for (label, text) in note_texts {
            if !placed.insert(label.clone()) || text.is_empty() {
                continue;
            }
            let mut note = Note::new(&label, line, essay.current_section());
            note.push(&text);
            notes.define(note);
        }
        notes.place(&mut essay);
        told.into_warnings(&mut essay, &options);
        essay.book = Some(book);
        essay
    }
}

/// What reading a book tells the user, gathered as it is read.
#[derive(Default)]
struct Told {
    /// Front and back matter skipped, by name.
    skipped: Vec<String>,
    /// Images met.
    images: usize,
    /// The documents' own warnings, each once: its first line and how many times.
    warnings: BTreeMap<String, (usize, usize)>,
}

impl Told {
    fn into_warnings(mut self, essay: &mut Essay, options: &BookOptions) {
        // A reference to a note the book does not have is not worth a warning per reference.
        let missing = essay
            .warnings
            .iter()
            .filter(|w| w.what.starts_with("footnote reference"))
            .count();
        essay
            .warnings
            .retain(|w| !w.what.starts_with("footnote reference"));
        if missing > 0 {
            self.warnings.insert(
                "note links to no note (nothing is read for them)".into(),
                (1, missing),
            );
        }
        if !self.skipped.is_empty() {
            essay.warnings.push(Skipped {
                line: 1,
                what: format!(
                    "front and back matter skipped: {}; read it with --include-matter",
                    self.skipped.join(", ")
                ),
            });
        }
        let images = self.images;
        if images > 0 {
            essay.warnings.push(Skipped {
                line: 1,
                what: if options.alt_text {
                    format!(
                        "{images} image{} read by their alt text only",
                        plural(images)
                    )
                } else {
                    format!(
                        "{images} image{} skipped; read their descriptions with --alt-text",
                        plural(images)
                    )
                },
            });
        }
        for (what, (at, n)) in self.warnings {
            essay.warnings.push(Skipped {
                line: at,
                what: if n == 1 {
                    what
                } else {
                    format!("{n} × {what}")
                },
            });
        }
    }
}

/// The kind of front or back matter a chunk is (from the book's landmarks or guide, its title or file name, or
/// its being outside the reading order), if it is; a chunk with no entry of its own continues the one before
/// (its matter too).
fn matter_kind(
    matter: &HashMap<(String, Option<String>), String>,
    chunk: &Chunk,
    entry: Option<&TocEntry>,
    in_matter: &Option<(String, String)>,
) -> Option<String> {
    let title = entry.map_or("", |e| e.title.as_str());
    let fragment = entry.and_then(|e| e.fragment.clone());
    let kind = matter
        .get(&(chunk.file.clone(), fragment))
        .or_else(|| matter.get(&(chunk.file.clone(), None)))
        .map(String::as_str)
        .or_else(|| matter_by_name(title, &chunk.file))
        .or((!chunk.linear).then_some("pages outside the reading order"));
    match (kind, in_matter, chunk.toc) {
        (Some(k), _, _) => Some(k.to_string()),
        (None, Some((file, k)), None) if *file == chunk.file => Some(k.clone()),
        _ => None,
    }
}

/// Reads a chunk's HTML into the essay, under a section for its table-of-contents entry if it starts one, its
/// lines counted from `line`; its warnings are gathered. Returns the last line it used.
fn append_chunk(
    essay: &mut Essay,
    chunk: &Chunk,
    entry: Option<&TocEntry>,
    line: usize,
    warnings: &mut BTreeMap<String, (usize, usize)>,
) -> usize {
    let part = super::html::parse_html(&format!(
        "<html><body><article>{}</article></body></html>",
        chunk.html
    ));
    if let Some(e) = entry {
        essay.sections.push(Section {
            heading: Some(Heading {
                text: e.title.clone(),
                level: e.depth.saturating_add(1).min(6),
                line,
                pause_before: None,
            }),
            paragraphs: Vec::new(),
        });
    }
    let mut last = line;
    for s in part.sections {
        // The reader found a heading (none is written, but a page may hold one): read it as a paragraph.
        let heading = s.heading.map(|h| Paragraph {
            text: h.text,
            line: h.line,
            list_item: false,
            pause_before: None,
            aside: None,
        });
        for mut p in heading.into_iter().chain(s.paragraphs) {
            p.line += line;
            last = last.max(p.line);
            if essay.sections.is_empty() {
                essay.sections.push(Section::default());
            }
            essay
                .sections
                .last_mut()
                .expect("a section was just pushed")
                .paragraphs
                .push(p);
        }
    }
    for w in part.warnings {
        let at = w.line + line;
        let seen = warnings.entry(w.what).or_insert((at, 0));
        seen.1 += 1;
    }
    last
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A link to a note: typed as one (`epub:type="noteref"`, `role="doc-noteref"`), classed as one, or a short
/// superscript link to a place in the book (`<sup><a href="#fn1">1</a></sup>`).
fn is_note_link(node: NodeRef<Node>, el: &scraper::node::Element) -> bool {
    let Some(href) = el.attr("href") else {
        return false;
    };
    if !href.contains('#') || href.contains("://") {
        return false;
    }
    if has_type(el, &["noteref"]) {
        return true;
    }
    if el
        .classes()
        .any(|c| c.contains("footnote-ref") || c.contains("noteref") || c == "footnote")
    {
        return true;
    }
    let in_sup = node
        .ancestors()
        .take(2)
        .any(|a| a.value().as_element().is_some_and(|e| e.name() == "sup"))
        || node
            .children()
            .any(|c| c.value().as_element().is_some_and(|e| e.name() == "sup"));
    let text: String = node
        .descendants()
        .filter_map(|d| match d.value() {
            Node::Text(t) => Some(&**t),
            _ => None,
        })
        .collect();
    let short = text.trim().chars().count() <= 4 && !text.trim().is_empty();
    in_sup && short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_inside_the_book() {
        assert!(safe_name("OEBPS/text/ch1.xhtml"));
        assert!(!safe_name("../evil.xhtml"));
        assert!(!safe_name("OEBPS/../../evil"));
        assert!(!safe_name("/etc/passwd"));
        assert!(!safe_name("C:\\x"));
    }

    #[test]
    fn hrefs_resolve_against_their_file() {
        assert_eq!(
            resolve("OEBPS/nav.xhtml", "text/ch%201.xhtml#s2"),
            Some(("OEBPS/text/ch 1.xhtml".into(), Some("s2".into())))
        );
        assert_eq!(
            resolve("OEBPS/text/a.xhtml", "../b.xhtml"),
            Some(("OEBPS/b.xhtml".into(), None))
        );
        assert_eq!(
            resolve("OEBPS/text/a.xhtml", "#fn1"),
            Some(("OEBPS/text/a.xhtml".into(), Some("fn1".into())))
        );
        assert_eq!(resolve("a.xhtml", "../../x"), None);
        assert_eq!(resolve("a.xhtml", "https://example.org/#x"), None);
    }

    #[test]
    fn empty_xhtml_tags_are_closed() {
        assert_eq!(
            close_empty_tags("<title/><a id=\"x\"/><br/><p>t</p>"),
            "<title></title><a id=\"x\"></a><br><p>t</p>"
        );
    }

    #[test]
    fn matter_by_title_and_file() {
        assert_eq!(
            matter_by_name("Copyright", "x/ch9.xhtml"),
            Some("copyright")
        );
        assert_eq!(
            matter_by_name("", "OEBPS/titlepage.xhtml"),
            Some("title page")
        );
        assert_eq!(matter_by_name("Chapter One", "text/ch001.xhtml"), None);
        assert_eq!(matter_by_name("The Index of Things", "index.xhtml"), None);
    }
}
