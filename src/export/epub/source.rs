//! The read-along book of an EPUB 3 input: the book itself — its content documents, styles, images, metadata and
//! skipped matter — with a `<span id>` around each spoken sentence found in its text, a link to the highlight's
//! style sheet, and the overlays, audio and media metadata added to its package. The reader sees the book's text,
//! not the spoken text.
//!
//! Sentences are found by their letters and digits (case aside) in the text of each spine document after the last
//! one found, so markup, entities, whitespace and punctuation between them do not matter. A span is added only
//! where it keeps the document well-formed and valid: inside one text node, or over sibling phrasing content
//! (a sentence ending inside an `<em>` takes the whole `<em>`); a sentence that cannot be wrapped so (or is not
//! found: a title from the metadata, a note read elsewhere) has no `<par>`, and its audio plays without a
//! highlight. EPUB 2 books get the book made from the edition's text (`open` returns `None`).

use std::io::Read;

use super::{accessibility, ms, CSS, CSS_NAME};
use super::{
    escape, overlays, sentence_id, words_or_error, Body, Book, Doc, Entry, Par, SyncLevel,
};
use crate::edition::Edition;
use crate::error::{Error, Result};

/// Largest source book read again, and largest entry in it.
const MAX_BOOK: u64 = 1 << 30;

/// The source book's files, in zip order, and its package document.
pub(super) struct Source {
    files: Vec<(String, Vec<u8>)>,
    opf_path: String,
}

fn unreadable(e: &Edition, what: impl std::fmt::Display) -> Error {
    Error::Invalid(format!(
        "{}: the book cannot be read again for the read-along EPUB ({what}); run the build where the book is, \
         or export without epub",
        e.source
    ))
}

/// The edition's source book, when it is an EPUB 3 (EPUB 2 books, and essays, give `None`).
pub(super) fn open(e: &Edition) -> Result<Option<Source>> {
    if !e.source.to_ascii_lowercase().ends_with(".epub") {
        return Ok(None);
    }
    let bytes = std::fs::read(&e.source).map_err(|err| unreadable(e, err))?;
    let mut zip =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|err| unreadable(e, err))?;
    let mut files = Vec::new();
    let mut total = 0u64;
    for i in 0..zip.len() {
        let entry = zip.by_index(i).map_err(|err| unreadable(e, err))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().map_err(|err| unreadable(e, err))?.to_string();
        let mut data = Vec::new();
        entry
            .take(MAX_BOOK)
            .read_to_end(&mut data)
            .map_err(|err| unreadable(e, err))?;
        total += data.len() as u64;
        if total > MAX_BOOK {
            return Err(unreadable(e, "over 1 GB unpacked"));
        }
        files.push((name, data));
    }
    let text = |name: &str| {
        files
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, b)| std::str::from_utf8(b).ok())
    };
    let container = text("META-INF/container.xml").ok_or_else(|| unreadable(e, "no container"))?;
    let container = roxmltree::Document::parse(container).map_err(|err| unreadable(e, err))?;
    let opf_path = container
        .descendants()
        .find(|n| n.tag_name().name() == "rootfile")
        .and_then(|n| n.attribute("full-path"))
        .ok_or_else(|| unreadable(e, "no package named in its container"))?
        .to_string();
    let opf = text(&opf_path).ok_or_else(|| unreadable(e, "no package document"))?;
    let doc = roxmltree::Document::parse(opf).map_err(|err| unreadable(e, err))?;
    let version = doc.root_element().attribute("version").unwrap_or("");
    if !version.starts_with('3') {
        return Ok(None);
    }
    Ok(Some(Source { files, opf_path }))
}

/// `rel` (a manifest href) against the folder `dir`, as a zip path.
fn resolve(dir: &str, rel: &str) -> String {
    let rel = rel.split('#').next().unwrap_or("");
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

fn parse(text: &str) -> Option<roxmltree::Document<'_>> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(text, options).ok()
}

/// Elements a `<span>` may hold and that may stand between a sentence's first and last words.
const PHRASING: &[&str] = &[
    "a", "abbr", "b", "bdi", "bdo", "br", "cite", "code", "data", "dfn", "em", "i", "img", "kbd",
    "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var", "wbr",
];
/// Elements whose text is not read (and where a span may not go).
const NOT_TEXT: &[&str] = &[
    "head", "script", "style", "title", "svg", "math", "noscript",
];
/// Elements in which a span may not stand.
const NO_SPAN_IN: &[&str] = &[
    "html", "head", "ul", "ol", "dl", "table", "thead", "tbody", "tfoot", "tr", "colgroup",
    "select", "optgroup", "datalist", "hgroup", "picture", "ruby",
];

/// One spine document as its letters and digits: `flat` lowercased, and for each char of it (by its byte offset
/// in `flat`) the text node and raw byte range it came from.
struct Flat {
    flat: String,
    /// (offset in `flat`, text node index in `nodes`, raw start, raw end)
    at: Vec<(usize, usize, usize, usize)>,
    nodes: Vec<roxmltree::NodeId>,
}

fn flatten(raw: &str, doc: &roxmltree::Document<'_>) -> Flat {
    let mut out = Flat {
        flat: String::new(),
        at: Vec::new(),
        nodes: Vec::new(),
    };
    let Some(body) = doc.descendants().find(|n| n.has_tag_name("body")) else {
        return out;
    };
    for node in body.descendants().filter(|n| n.is_text()) {
        if node
            .ancestors()
            .any(|a| NOT_TEXT.contains(&a.tag_name().name()))
        {
            continue;
        }
        let range = node.range();
        let slice = &raw[range.clone()];
        if slice.contains("<![CDATA[") {
            continue;
        }
        let index = out.nodes.len();
        out.nodes.push(node.id());
        let mut chars = slice.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let (decoded, end) = if c == '&' {
                let Some(semi) = slice[i..].find(';') else {
                    continue;
                };
                let entity = &slice[i + 1..i + semi];
                let d = match entity {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    _ if entity.starts_with("#x") || entity.starts_with("#X") => {
                        u32::from_str_radix(&entity[2..], 16)
                            .ok()
                            .and_then(char::from_u32)
                    }
                    _ if entity.starts_with('#') => {
                        entity[1..].parse().ok().and_then(char::from_u32)
                    }
                    _ => None,
                };
                while chars.peek().is_some_and(|&(j, _)| j <= i + semi) {
                    chars.next();
                }
                (d, i + semi + 1)
            } else {
                (Some(c), i + c.len_utf8())
            };
            if let Some(d) = decoded.filter(|d| d.is_alphanumeric()) {
                for l in d.to_lowercase() {
                    out.at
                        .push((out.flat.len(), index, range.start + i, range.start + end));
                    out.flat.push(l);
                }
            }
        }
    }
    out
}

/// A sentence's letters and digits, lowercased.
fn key(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Where a span may go around raw bytes `start..end` (from text node `a` to text node `b`): the same range, or
/// one widened to whole sibling elements; `None` when no span can hold it.
fn wrappable(
    doc: &roxmltree::Document<'_>,
    a: roxmltree::NodeId,
    b: roxmltree::NodeId,
    start: usize,
    end: usize,
) -> Option<(usize, usize)> {
    let (na, nb) = (doc.get_node(a)?, doc.get_node(b)?);
    let common = na
        .ancestors()
        .skip(1)
        .find(|x| nb.ancestors().skip(1).any(|y| y.id() == x.id()))?;
    if NO_SPAN_IN.contains(&common.tag_name().name()) {
        return None;
    }
    let is_child = |x: &roxmltree::Node<'_, '_>| x.parent().is_some_and(|p| p.id() == common.id());
    let ca = na.ancestors().find(is_child)?;
    let cb = nb.ancestors().find(is_child)?;
    let mut sibling = Some(ca);
    while let Some(s) = sibling {
        if s.is_element() && !PHRASING.contains(&s.tag_name().name()) {
            return None;
        }
        if s.id() == cb.id() {
            break;
        }
        sibling = s.next_sibling();
    }
    let start = if ca.id() == a {
        start
    } else {
        ca.range().start
    };
    let end = if cb.id() == b { end } else { cb.range().end };
    Some((start, end))
}

/// A relative path from the folder of `from` (a zip path) to the zip path `to`.
fn relative(from: &str, to: &str) -> String {
    let from_dir: Vec<&str> = from.split('/').collect();
    let from_dir = &from_dir[..from_dir.len() - 1];
    let to_parts: Vec<&str> = to.split('/').collect();
    let same = from_dir
        .iter()
        .zip(&to_parts)
        .take_while(|(x, y)| x == y)
        .count();
    let mut out: Vec<&str> = vec![".."; from_dir.len() - same];
    out.extend(&to_parts[same..]);
    out.join("/")
}

/// Applies insertions (raw offset, order at the same offset, text) to `raw`.
fn insert(raw: &str, mut at: Vec<(usize, u8, String)>) -> String {
    at.sort_by_key(|(pos, order, _)| (*pos, *order));
    let mut out = String::with_capacity(raw.len() + at.len() * 40);
    let mut last = 0;
    for (pos, _, text) in at {
        out.push_str(&raw[last..pos]);
        out.push_str(&text);
        last = pos;
    }
    out.push_str(&raw[last..]);
    out
}

/// Where a closing tag starts inside an element's raw range (`</name>` at its end).
fn closing_tag(raw: &str, node: roxmltree::Node<'_, '_>) -> Option<usize> {
    let r = node.range();
    raw[r.clone()]
        .rfind("</")
        .map(|p| r.start + p)
        .filter(|_| raw[r].ends_with('>'))
}

impl Source {
    /// Where the file named `name` is among the book's files.
    fn position(&self, name: &str) -> Option<usize> {
        self.files.iter().position(|(n, _)| n == name)
    }
}

/// A content document of the spine: its manifest item, its href (from the package) and path (in the book), and
/// where it is among the book's files.
struct SpineDoc<'a, 'input> {
    item: roxmltree::Node<'a, 'input>,
    href: String,
    path: String,
    index: usize,
}

/// One spine document's text, and the sentences found in it, in order.
struct Work<'a> {
    raw: &'a str,
    doc: roxmltree::Document<'a>,
    flat: Flat,
    inserts: Vec<(usize, u8, String)>,
    pars: Vec<Par>,
    last_end: usize,
}

pub(super) fn book(e: &Edition, src: &Source, sync: SyncLevel, modified: &str) -> Result<Book> {
    if sync == SyncLevel::Word {
        if let Some(s) = e.segments.first() {
            words_or_error(e, s)?;
        }
    }
    let opf_dir = src
        .opf_path
        .rsplit_once('/')
        .map_or("", |(d, _)| d)
        .to_string();
    let opf_index = src.position(&src.opf_path).expect("read in open");
    let opf_text =
        std::str::from_utf8(&src.files[opf_index].1).map_err(|err| unreadable(e, err))?;
    let opf = roxmltree::Document::parse(opf_text).map_err(|err| unreadable(e, err))?;
    let items: Vec<roxmltree::Node> = opf
        .descendants()
        .filter(|n| n.tag_name().name() == "item")
        .collect();
    let spine_docs = spine_documents(src, &opf, &items, &opf_dir);
    let mut work: Vec<Option<Work>> = spine_docs
        .iter()
        .map(|d| {
            let raw = std::str::from_utf8(&src.files[d.index].1).ok()?;
            let doc = parse(raw)?;
            let flat = flatten(raw, &doc);
            Some(Work {
                raw,
                doc,
                flat,
                inserts: Vec::new(),
                pars: Vec::new(),
                last_end: 0,
            })
        })
        .collect();
    mark_sentences(e, &mut work);

    // The documents rewritten, the overlays and the package.
    let css_path = if opf_dir.is_empty() {
        CSS_NAME.to_string()
    } else {
        format!("{opf_dir}/{CSS_NAME}")
    };
    let mut replaced: Vec<Option<String>> = vec![None; src.files.len()];
    let mut docs = Vec::new();
    for (d, w) in spine_docs.iter().zip(work) {
        let Some(mut w) = w else { continue };
        if w.pars.is_empty() {
            continue;
        }
        if let Some(head) = w.doc.descendants().find(|n| n.has_tag_name("head")) {
            if let Some(at) = closing_tag(w.raw, head) {
                w.inserts.push((
                    at,
                    2,
                    format!(
                        "<link rel=\"stylesheet\" type=\"text/css\" href=\"{}\"/>\n",
                        escape(&relative(&d.path, &css_path))
                    ),
                ));
            }
        }
        replaced[d.index] = Some(insert(w.raw, w.inserts));
        docs.push(Doc {
            id: d.item.attribute("id").unwrap_or("doc").to_string(),
            href: d.href.clone(),
            pars: w.pars,
        });
    }
    let (overlay_entries, mut new_items, media) = overlays(e, &opf_dir, "narrate-", &docs);
    new_items.push(format!(
        "<item id=\"narrate-css\" href=\"{CSS_NAME}\" media-type=\"text/css\"/>"
    ));
    let package = Package {
        text: opf_text,
        opf: &opf,
        items: &items,
    };
    replaced[opf_index] = Some(package.rewritten(e, &docs, &new_items, &media, modified)?);

    let mut entries = Vec::new();
    for (i, (name, bytes)) in src.files.iter().enumerate() {
        if name == "mimetype" {
            continue;
        }
        entries.push(Entry {
            name: name.clone(),
            body: match replaced[i].take() {
                Some(t) => Body::Text(t),
                None => Body::Bytes(bytes.clone()),
            },
        });
    }
    entries.extend(overlay_entries);
    entries.push(Entry {
        name: css_path,
        body: Body::Text(CSS.into()),
    });
    entries.push(Entry {
        name: super::join(&opf_dir, super::AUDIO),
        body: Body::Audio,
    });
    Ok(Book { entries })
}

/// The spine's XHTML content documents in reading order (the navigation document left out).
fn spine_documents<'a, 'input>(
    src: &Source,
    opf: &'a roxmltree::Document<'input>,
    items: &[roxmltree::Node<'a, 'input>],
    opf_dir: &str,
) -> Vec<SpineDoc<'a, 'input>> {
    let mut spine_docs = Vec::new();
    for itemref in opf
        .descendants()
        .filter(|n| n.tag_name().name() == "itemref")
    {
        let Some(item) = items
            .iter()
            .find(|i| i.attribute("id") == itemref.attribute("idref"))
        else {
            continue;
        };
        let nav = item
            .attribute("properties")
            .is_some_and(|p| p.split_whitespace().any(|w| w == "nav"));
        if item.attribute("media-type") != Some("application/xhtml+xml") || nav {
            continue;
        }
        let href = item.attribute("href").unwrap_or("");
        let path = resolve(opf_dir, href);
        let Some(index) = src.position(&path) else {
            continue;
        };
        spine_docs.push(SpineDoc {
            item: *item,
            href: href.to_string(),
            path,
            index,
        });
    }
    spine_docs
}

/// Finds each of the edition's sentences in the documents, in order, and wraps it in a span with its id (the
/// span and the overlay's `<par>` go into the document's work).
fn mark_sentences(e: &Edition, work: &mut [Option<Work>]) {
    let rate = e.sample_rate;
    let (mut doc_at, mut flat_at) = (0usize, 0usize);
    for s in &e.segments {
        let k = key(&s.text);
        if k.is_empty() {
            continue;
        }
        let Some((d, p)) = find_sentence(work, &k, doc_at, flat_at) else {
            continue;
        };
        let w = work[d].as_mut().expect("found in it");
        let first = w.flat.at.partition_point(|x| x.0 < p);
        let last = w.flat.at.partition_point(|x| x.0 < p + k.len()) - 1;
        let (_, na, mut start, _) = w.flat.at[first];
        let (_, nb, _, mut end) = w.flat.at[last];
        (doc_at, flat_at) = (d, p + k.len());
        // Take in the punctuation next to the sentence (quotes, the full stop) within its text nodes.
        let ra = w.doc.get_node(w.flat.nodes[na]).expect("a node").range();
        let rb = w.doc.get_node(w.flat.nodes[nb]).expect("a node").range();
        while let Some(c) = w.raw[ra.start.max(w.last_end)..start].chars().next_back() {
            if c.is_whitespace() || c == '>' {
                break;
            }
            start -= c.len_utf8();
        }
        while let Some(c) = w.raw[end..rb.end].chars().next() {
            if c.is_whitespace() || c == '<' || c == '&' {
                break;
            }
            end += c.len_utf8();
        }
        let Some((start, end)) = wrappable(&w.doc, w.flat.nodes[na], w.flat.nodes[nb], start, end)
        else {
            continue;
        };
        if start < w.last_end {
            continue;
        }
        let id = sentence_id(s);
        w.inserts.push((start, 1, format!("<span id=\"{id}\">")));
        w.inserts.push((end, 0, "</span>".into()));
        w.last_end = end;
        w.pars.push(Par {
            id,
            begin_ms: ms(s.start_sample, rate),
            end_ms: ms(s.end_sample, rate),
        });
    }
}

/// Where the sentence with key `k` is, from document `doc_at` at `flat_at` on: (document, offset in its flat
/// text). A short sentence ("Installing") is looked for near the last one found only.
fn find_sentence(
    work: &[Option<Work>],
    k: &str,
    doc_at: usize,
    flat_at: usize,
) -> Option<(usize, usize)> {
    let short = k.chars().count() < 20;
    for (d, w) in work.iter().enumerate().skip(doc_at) {
        let Some(w) = w else { continue };
        let from = if d == doc_at { flat_at } else { 0 };
        if from > w.flat.flat.len() {
            continue;
        }
        if let Some(p) = w.flat.flat[from..].find(k) {
            let p = from + p;
            if !short || (d == doc_at && p - from < 3000) || (d > doc_at && p < 3000) {
                return Some((d, p));
            }
            return None;
        }
        if short && d > doc_at && !w.flat.flat.is_empty() {
            return None;
        }
    }
    None
}

/// The book's package document, as read.
struct Package<'a, 'input> {
    text: &'input str,
    opf: &'a roxmltree::Document<'input>,
    items: &'a [roxmltree::Node<'a, 'input>],
}

impl Package<'_, '_> {
    /// The package with a media-overlay on each document with an overlay, the new items, the media and
    /// accessibility metadata, and the new modified date.
    fn rewritten(
        &self,
        e: &Edition,
        docs: &[Doc],
        new_items: &[String],
        media: &str,
        modified: &str,
    ) -> Result<String> {
        let (opf, opf_text) = (self.opf, self.text);
        let mut opf_inserts: Vec<(usize, u8, String)> = Vec::new();
        for d in docs {
            if let Some(item) = self
                .items
                .iter()
                .find(|i| i.attribute("id") == Some(d.id.as_str()))
            {
                let r = item.range();
                let name_len = opf_text[r.start + 1..]
                    .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
                    .unwrap_or(0);
                opf_inserts.push((
                    r.start + 1 + name_len,
                    0,
                    format!(" media-overlay=\"narrate-mo-{}\"", d.id),
                ));
            }
        }
        let replace_modified = opf
            .descendants()
            .rfind(|m| {
                m.tag_name().name() == "meta"
                    && m.attribute("property") == Some("dcterms:modified")
                    && m.attribute("refines").is_none()
            })
            .map(|m| m.range());
        let mut metas = String::new();
        if replace_modified.is_none() {
            metas.push_str(&format!(
                "<meta property=\"dcterms:modified\">{modified}</meta>\n"
            ));
        }
        metas.push_str(media);
        metas.push_str(&self.accessibility_missing(e));
        let metadata = opf
            .descendants()
            .find(|n| n.tag_name().name() == "metadata")
            .ok_or_else(|| unreadable(e, "no metadata in its package"))?;
        let manifest = opf
            .descendants()
            .find(|n| n.tag_name().name() == "manifest")
            .ok_or_else(|| unreadable(e, "no manifest in its package"))?;
        let (Some(meta_end), Some(manifest_end)) = (
            closing_tag(opf_text, metadata),
            closing_tag(opf_text, manifest),
        ) else {
            return Err(unreadable(e, "an empty metadata or manifest element"));
        };
        opf_inserts.push((meta_end, 0, metas));
        opf_inserts.push((manifest_end, 0, format!("{}\n", new_items.join("\n"))));
        let mut opf_new = insert(opf_text, opf_inserts);
        if let Some(r) = replace_modified {
            // Nothing is inserted before it (the metadata's additions go at its end), so it is where it was.
            let old = &opf_text[r.clone()];
            let at = opf_new.find(old).unwrap_or(r.start);
            opf_new.replace_range(
                at..at + old.len(),
                &format!("<meta property=\"dcterms:modified\">{modified}</meta>"),
            );
        }
        Ok(opf_new)
    }

    /// The accessibility metadata the book does not say already, one line each: the book's own is kept (one
    /// summary at most).
    fn accessibility_missing(&self, e: &Edition) -> String {
        let have: Vec<(String, String)> = self
            .opf
            .descendants()
            .filter(|n| n.tag_name().name() == "meta")
            .filter_map(|m| {
                Some((
                    m.attribute("property")?.to_string(),
                    m.text().unwrap_or("").trim().to_string(),
                ))
            })
            .collect();
        let mut metas = String::new();
        for line in accessibility(e, false).lines() {
            let doc = roxmltree::Document::parse(line).expect("our own markup");
            let m = doc.root_element();
            let property = m.attribute("property").unwrap_or("").to_string();
            let value = m.text().unwrap_or("").to_string();
            let said = have.iter().any(|(p, v)| {
                *p == property && (*v == value || property == "schema:accessibilitySummary")
            });
            if !said {
                metas.push_str(line);
                metas.push('\n');
            }
        }
        metas
    }
}
