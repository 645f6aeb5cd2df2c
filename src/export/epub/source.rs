//! The read-along book of an EPUB 3 input: the book itself — its content documents, styles, images, metadata and
//! skipped matter — with a `<span id>` around each spoken sentence found in its text, a link to the highlight's
//! style sheet, and the overlays, audio and media metadata added to its package. The reader sees the book's text,
//! not the spoken text.
//!
//! Sentences are found by their letters and digits (case aside) in the spine documents' text, so markup, entities,
//! whitespace, soft hyphens and punctuation between them do not matter; all of them at once, in order, as the
//! places that find the most of their letters (`align`), so a sentence the text lacks where it is read (a title
//! from the contents, a heading read twice) does not pull the others after a later mention of it. A span is added
//! only where it keeps the document well-formed and valid: inside one text node, or over sibling phrasing content
//! (a sentence ending inside an `<em>` takes the whole `<em>`); a sentence that cannot be wrapped so (or is not
//! found: a title from the metadata, a note read elsewhere) has no `<par>`, and its audio plays without a
//! highlight. EPUB 2 books get the book made from the edition's text (`open` returns `None`).

use std::io::Read;

use super::{accessibility, ms, CSS, CSS_NAME};
use super::{
    escape, overlays, sentence_id, words_or_error, written_runs, Body, Book, Doc, Entry, Par,
    SyncLevel,
};
use crate::edition::{Edition, Segment};
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

/// Elements a `<span>` may hold and that may stand between a sentence's first and last words (with HTML 4's
/// inline `tt`, `big` and `font`, which converters such as calibre keep: a span around one adds no error the book
/// did not have).
const PHRASING: &[&str] = &[
    "a", "abbr", "b", "bdi", "bdo", "big", "br", "cite", "code", "data", "dfn", "em", "font", "i",
    "img", "kbd", "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "tt",
    "u", "var", "wbr",
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
        for (d, a, b) in decode(slice) {
            if d.is_alphanumeric() {
                for l in d.to_lowercase() {
                    out.at
                        .push((out.flat.len(), index, range.start + a, range.start + b));
                    out.flat.push(l);
                }
            }
        }
    }
    out
}

/// A text node's raw text as characters, each with the bytes of `slice` it was written as (a character reference
/// `&amp;`, `&#233;` is one character; an unknown one is left out).
fn decode(slice: &str) -> Vec<(char, usize, usize)> {
    let mut out = Vec::with_capacity(slice.len());
    let mut chars = slice.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '&' {
            out.push((c, i, i + c.len_utf8()));
            continue;
        }
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
            _ if entity.starts_with('#') => entity[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        while chars.peek().is_some_and(|&(j, _)| j <= i + semi) {
            chars.next();
        }
        if let Some(d) = d {
            out.push((d, i, i + semi + 1));
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
    mark_sentences(e, &mut work, sync);

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

/// Finds each of the edition's sentences in the documents ([`align`]) and wraps it in a span with its id (the
/// span and the overlay's `<par>` go into the document's work).
fn mark_sentences(e: &Edition, work: &mut [Option<Work>], sync: SyncLevel) {
    let rate = e.sample_rate;
    let keys: Vec<String> = e.segments.iter().map(|s| key(&s.text)).collect();
    // The documents' letters one after another (a line break between two, so no sentence is found across them).
    let mut whole = String::new();
    let mut starts = Vec::with_capacity(work.len());
    for w in work.iter() {
        starts.push(whole.len());
        if let Some(w) = w {
            whole.push_str(&w.flat.flat);
        }
        whole.push('\n');
    }
    for ((s, k), at) in e.segments.iter().zip(&keys).zip(align(&keys, &whole)) {
        let Some(g) = at else { continue };
        let d = starts.partition_point(|&x| x <= g) - 1;
        let p = g - starts[d];
        let w = work[d].as_mut().expect("found in it");
        let first = w.flat.at.partition_point(|x| x.0 < p);
        let last = w.flat.at.partition_point(|x| x.0 < p + k.len()) - 1;
        let (_, na, mut start, _) = w.flat.at[first];
        let (_, nb, _, mut end) = w.flat.at[last];
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
        w.inserts
            .push((start, SENTENCE_OPEN, format!("<span id=\"{id}\">")));
        w.inserts.push((end, SENTENCE_CLOSE, "</span>".into()));
        w.last_end = end;
        let words = match sync {
            SyncLevel::Word => mark_words(w, s, &id, (start, end), rate),
            SyncLevel::Sentence => Vec::new(),
        };
        if words.is_empty() {
            // At word level too, a sentence none of whose words could be marked is highlighted whole.
            w.pars.push(Par {
                id,
                begin_ms: ms(s.start_sample, rate),
                end_ms: ms(s.end_sample, rate),
            });
        }
        w.pars.extend(words);
    }
}

/// The order of insertions at one place: a word's span closes, then its sentence's, then the next sentence's
/// opens, then its first word's.
const WORD_CLOSE: u8 = 0;
const SENTENCE_CLOSE: u8 = 1;
const SENTENCE_OPEN: u8 = 2;
const WORD_OPEN: u8 = 3;

/// The written words of sentence `s`, found in the book's text between raw bytes `range` (its span's content),
/// each in a span of its own (`ID-wN`, as in a book made from an essay) where one can go without crossing
/// markup or another word: the book's text of the sentence is cut into runs by [`written_runs`], which pairs each
/// written word with the spoken words it was read as. Returns their pars.
fn mark_words(
    w: &mut Work,
    s: &Segment,
    id: &str,
    (start, end): (usize, usize),
    rate: u32,
) -> Vec<Par> {
    // The sentence as the book writes it, each character with its text node and raw bytes.
    let mut text = String::new();
    let mut at: Vec<(usize, roxmltree::NodeId, usize, usize)> = Vec::new();
    let range = |n: roxmltree::NodeId| w.doc.get_node(n).expect("a node").range();
    let from = w.flat.nodes.partition_point(|&n| range(n).end <= start);
    for &node in &w.flat.nodes[from..] {
        let r = range(node);
        if r.start >= end {
            break;
        }
        for (c, a, b) in decode(&w.raw[r.clone()]) {
            let (a, b) = (r.start + a, r.start + b);
            if a >= start && b <= end {
                at.push((text.len(), node, a, b));
                text.push(c);
            }
        }
    }
    let mut pars = Vec::new();
    let mut last = start;
    for run in written_runs(&text, s) {
        let Some((first_sample, last_sample)) = run.at else {
            continue;
        };
        let from = run.text.as_ptr() as usize - text.as_ptr() as usize;
        let to = from + run.text.len();
        if from == to {
            continue;
        }
        let (_, na, a, _) = at[at.partition_point(|x| x.0 < from)];
        let (_, nb, _, b) = at[at.partition_point(|x| x.0 < to) - 1];
        let Some((a, b)) = wrappable(&w.doc, na, nb, a, b) else {
            continue;
        };
        if a < last || b > end {
            continue;
        }
        let wid = format!("{id}-w{}", run.word + 1);
        w.inserts
            .push((a, WORD_OPEN, format!("<span id=\"{wid}\">")));
        w.inserts.push((b, WORD_CLOSE, "</span>".into()));
        last = b;
        pars.push(Par {
            id: wid,
            begin_ms: ms(first_sample, rate),
            end_ms: ms(last_sample, rate),
        });
    }
    pars
}

/// A key found this many times or fewer is placed in the first pass; one found more often ("a", "1") only
/// between the places of the sentences around it.
const RARE: usize = 8;
/// Most places of one key considered.
const MOST: usize = 64;
/// How many bytes of a key are looked for before the whole key is checked.
const PREFIX: usize = 24;

/// The first [`PREFIX`] bytes of `k`, or fewer to end on a character.
fn beginning(k: &str) -> &str {
    let n = (0..=k.len().min(PREFIX))
        .rev()
        .find(|&i| k.is_char_boundary(i))
        .unwrap_or(0);
    &k[..n]
}

/// Where each sentence (by its key, [`key`]) is in `text`: the places, in the sentences' order and not overlapping,
/// that find the most of their letters (a sentence's place counts its key's length). A sentence the text does
/// not hold where it should (a title from the metadata, a heading read twice, a note read elsewhere) has none,
/// and does not pull the others after a later mention of it, as a search from the last place found would.
/// Rare keys are placed first; a common one is then looked for between the places of its neighbours.
fn align(keys: &[String], text: &str) -> Vec<Option<usize>> {
    let mut unique: Vec<&str> = keys
        .iter()
        .map(String::as_str)
        .filter(|k| !k.is_empty())
        .collect();
    unique.sort_unstable();
    unique.dedup();
    // The keys are looked for by their first letters (an automaton of whole sentences would take memory in
    // proportion to the book), each place then checked for the whole key. Sorted, the keys that begin alike are
    // neighbours: one group per beginning.
    let mut groups: Vec<(&str, usize, usize)> = Vec::new();
    for (i, k) in unique.iter().enumerate() {
        match groups.last_mut() {
            Some(g) if g.0 == beginning(k) => g.2 = i + 1,
            _ => groups.push((beginning(k), i, i + 1)),
        }
    }
    let mut found: Vec<Vec<usize>> = vec![Vec::new(); unique.len()];
    let mut count = vec![0usize; unique.len()];
    let beginnings: Vec<&str> = groups.iter().map(|g| g.0).collect();
    if let Ok(ac) = aho_corasick::AhoCorasick::new(&beginnings) {
        for m in ac.find_overlapping_iter(text) {
            let (_, from, to) = groups[m.pattern().as_usize()];
            for i in from..to {
                if text[m.start()..].starts_with(unique[i]) {
                    count[i] += 1;
                    if found[i].len() < MOST {
                        found[i].push(m.start());
                    }
                }
            }
        }
    }
    let pattern = |k: &str| unique.binary_search(&k).ok();
    // Pass 1: the rare keys.
    let rare: Vec<Vec<usize>> = keys
        .iter()
        .map(|k| match pattern(k) {
            Some(i) if count[i] <= RARE => found[i].clone(),
            _ => Vec::new(),
        })
        .collect();
    let anchors = chain(keys, &rare);
    // Pass 2: every key, a common one between the anchors around it.
    let mut candidates = rare;
    let mut before = 0;
    for (n, k) in keys.iter().enumerate() {
        if let Some(p) = anchors[n] {
            before = p + k.len();
            continue;
        }
        let Some(i) = pattern(k) else { continue };
        if count[i] <= RARE {
            continue;
        }
        let after = anchors[n + 1..]
            .iter()
            .flatten()
            .next()
            .copied()
            .unwrap_or(text.len());
        if after < before + k.len() {
            continue;
        }
        candidates[n] = if count[i] <= MOST {
            found[i]
                .iter()
                .copied()
                .filter(|&p| p >= before && p + k.len() <= after)
                .collect()
        } else {
            text[before..after]
                .match_indices(k.as_str())
                .take(MOST)
                .map(|(p, _)| before + p)
                .collect()
        };
    }
    chain(keys, &candidates)
}

/// The heaviest chain of places, one or none per key, in the keys' order and not overlapping, each weighing its
/// key's length: for each key's places in turn, the best chain ending before it (a Fenwick tree of the best
/// chain by where it ends), then the chain traced back from the best end.
fn chain(keys: &[String], candidates: &[Vec<usize>]) -> Vec<Option<usize>> {
    let mut ends: Vec<usize> = candidates
        .iter()
        .zip(keys)
        .flat_map(|(c, k)| c.iter().map(move |p| p + k.len()))
        .collect();
    ends.sort_unstable();
    ends.dedup();
    // tree[i]: the best (weight, node) over a range of ends; nodes are (key, place, previous node).
    let mut tree: Vec<(usize, usize)> = vec![(0, usize::MAX); ends.len() + 1];
    let mut nodes: Vec<(usize, usize, usize)> = Vec::new();
    let best_before = |tree: &[(usize, usize)], place: usize| {
        let mut i = ends.partition_point(|&e| e <= place);
        let mut best = (0, usize::MAX);
        while i > 0 {
            if tree[i].0 > best.0 {
                best = tree[i];
            }
            i &= i - 1;
        }
        best
    };
    let mut overall = (0, usize::MAX);
    for (n, (places, k)) in candidates.iter().zip(keys).enumerate() {
        let scored: Vec<(usize, usize)> = places
            .iter()
            .map(|&p| {
                let (weight, previous) = best_before(&tree, p);
                nodes.push((n, p, previous));
                (weight + k.chars().count(), nodes.len() - 1)
            })
            .collect();
        for ((weight, node), &p) in scored.into_iter().zip(places) {
            if weight > overall.0 {
                overall = (weight, node);
            }
            let mut i = ends.partition_point(|&e| e < p + k.len()) + 1;
            while i < tree.len() {
                if weight > tree[i].0 {
                    tree[i] = (weight, node);
                }
                i += i & i.wrapping_neg();
            }
        }
    }
    let mut out = vec![None; keys.len()];
    let mut node = overall.1;
    while node != usize::MAX {
        let (n, p, previous) = nodes[node];
        out[n] = Some(p);
        node = previous;
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(sentences: &[&str]) -> Vec<String> {
        sentences.iter().map(|s| key(s)).collect()
    }

    #[test]
    fn a_sentence_the_text_lacks_where_it_should_be_does_not_pull_the_others_after_a_later_mention()
    {
        // The chapter's title is read twice (from the contents and as its heading) and named again later.
        let text = key(
            "Debugging Applications. To help, it is built with debugging left on. Set a number. \
             Output goes to stdout. Lang Tags. Each font lists its languages. See Debugging Applications.",
        );
        let sentences = [
            "Debugging Applications",
            "Debugging Applications",
            "To help, it is built with debugging left on.",
            "Set a number.",
            "Output goes to stdout.",
            "Lang Tags",
            "Each font lists its languages.",
        ];
        let found = align(&keys(&sentences), &text);
        assert_eq!(found.iter().filter(|f| f.is_some()).count(), 6, "{found:?}");
        assert!(found[2..].iter().all(Option::is_some), "{found:?}");
        let mut places: Vec<usize> = found.iter().flatten().copied().collect();
        let sorted = places.clone();
        places.sort_unstable();
        assert_eq!(places, sorted, "in order");
    }

    #[test]
    fn sentences_that_begin_alike_are_each_found_at_their_own_place() {
        let a = "This element contains a directory name to scan.";
        let b = "This element contains a directory name to cache.";
        let text = key(&format!("{b} {a} {b}"));
        let found = align(&keys(&[a, b]), &text);
        assert_eq!(
            found,
            [Some(key(b).len()), Some(key(b).len() + key(a).len())]
        );
    }

    #[test]
    fn a_common_key_is_found_between_its_neighbours() {
        // "A." is everywhere; the one meant is between the sentences around it.
        let text =
            key("a a a a a a a a a a First one here. A. Second one there. a a a a a a a a a");
        let found = align(
            &keys(&["First one here.", "A.", "Second one there."]),
            &text,
        );
        let first = key("a a a a a a a a a a First one here.").len();
        assert_eq!(found[1], Some(first), "{found:?} in {text}");
        assert!(found[0].is_some() && found[2].is_some());
    }
}
