//! Reading an essay file (Markdown or plain text) into an [`Essay`], with errors that name the file and line.

use std::path::Path;
use std::sync::OnceLock;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use regex::Regex;

use super::notes::{Note, Notes};
use super::{pause_mark, tidy, BookOptions, Essay, Heading, Pause, Skipped};
use crate::error::{Error, Result};

/// Which parser reads a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Markdown,
    Text,
    /// A saved web page.
    Html,
    /// An EPUB 2 or 3 book (a zip archive, read by `epub.rs`).
    Epub,
}

impl Format {
    /// `.md`, `.markdown`, `.mdown` and `.mkd` are Markdown; `.html`, `.htm` and `.xhtml` are web pages;
    /// `.epub` is a book; everything else is plain text.
    pub(crate) fn from_path(path: &Path) -> Self {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("md" | "markdown" | "mdown" | "mkd") => Format::Markdown,
            Some("html" | "htm" | "xhtml") => Format::Html,
            Some("epub") => Format::Epub,
            _ => Format::Text,
        }
    }

    /// The format of text that came without a file name (standard input): a web page if it opens with a
    /// doctype or an `<html>` tag, Markdown if it has front matter or a `#` heading line, plain text otherwise.
    pub(crate) fn sniff(text: &str) -> Self {
        let start = text.trim_start().to_ascii_lowercase();
        if start.starts_with("<!doctype html") || start.starts_with("<html") {
            Format::Html
        } else if start.starts_with("---\n")
            || text
                .lines()
                .any(|l| l.starts_with("# ") || l.starts_with("## "))
        {
            Format::Markdown
        } else {
            Format::Text
        }
    }
}

/// The path that stands for standard input.
pub(crate) const STDIN: &str = "-";

/// An essay file's bytes (`-`: standard input's), read once: only a regular file (a FIFO or a device could block
/// or never end), and only up to `limit` bytes (a book's file up to `epub::FILE_FACTOR` times that: its text is
/// held to `limit`). [`from_bytes`] parses them.
pub(crate) fn read(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let stdin = path.as_os_str() == STDIN;
    let limit = if !stdin && Format::from_path(path) == Format::Epub {
        limit.saturating_mul(super::epub::FILE_FACTOR)
    } else {
        limit
    };
    let read_err = |source| Error::ReadEssay {
        path: path.to_owned(),
        source,
    };
    let too_large = |size: u64| Error::EssayTooLarge {
        path: path.to_owned(),
        mb: size.div_ceil(1 << 20),
        limit_mb: limit >> 20,
    };
    let bytes = if stdin {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(std::io::stdin().lock(), limit + 1),
            &mut bytes,
        )
        .map_err(read_err)?;
        bytes
    } else {
        let meta = std::fs::metadata(path).map_err(read_err)?;
        if !meta.is_file() {
            return Err(Error::NotAFile {
                path: path.to_owned(),
                kind: kind_of(&meta),
            });
        }
        if meta.len() > limit {
            return Err(too_large(meta.len()));
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        let file = std::fs::File::open(path).map_err(read_err)?;
        std::io::Read::read_to_end(&mut std::io::Read::take(file, limit + 1), &mut bytes)
            .map_err(read_err)?;
        bytes
    };
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Parses an essay file's bytes (read by [`read`]) by the format its name says (standard input's is sniffed);
/// `limit` bounds a book's text, and `book` says how an EPUB is read.
pub(crate) fn from_bytes(
    path: &Path,
    bytes: &[u8],
    limit: u64,
    book: BookOptions,
) -> Result<Essay> {
    let stdin = path.as_os_str() == STDIN;
    if !stdin && Format::from_path(path) == Format::Epub {
        let essay = super::epub::read(path, bytes, limit, book)?.finish();
        if essay.sections.is_empty() {
            return Err(Error::EmptyEssay {
                path: path.to_owned(),
            });
        }
        return Ok(essay);
    }
    let text = decode(path, bytes)?;
    let format = if stdin {
        Format::sniff(&text)
    } else {
        Format::from_path(path)
    };
    let essay = parse_str(&text, format);
    if essay.title.is_none() && essay.sections.is_empty() {
        return Err(Error::EmptyEssay {
            path: path.to_owned(),
        });
    }
    Ok(essay)
}

/// What a path that is not a regular file is, for the message.
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a pipe (FIFO)"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Text from bytes with a UTF-16 or UTF-32 byte-order mark; `None` without one.
fn decode_wide(bytes: &[u8]) -> Option<std::result::Result<String, ()>> {
    let units = |size: usize, big: bool| {
        bytes[size..].chunks(size).map(move |c| {
            let mut v = 0u32;
            for i in 0..size {
                let b = u32::from(*c.get(i).unwrap_or(&0));
                v |= b << (8 * if big { size - 1 - i } else { i });
            }
            v
        })
    };
    if bytes.starts_with(&[0xFF, 0xFE, 0, 0]) || bytes.starts_with(&[0, 0, 0xFE, 0xFF]) {
        if !bytes.len().is_multiple_of(4) {
            return Some(Err(()));
        }
        let big = bytes[0] == 0;
        return Some(units(4, big).map(|u| char::from_u32(u).ok_or(())).collect());
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        if !bytes.len().is_multiple_of(2) {
            return Some(Err(()));
        }
        let big = bytes[0] == 0xFE;
        let u16s: Vec<u16> = units(2, big).map(|u| u as u16).collect();
        return Some(String::from_utf16(&u16s).map_err(|_| ()));
    }
    None
}

/// Checks that the bytes are text (UTF-8, or UTF-16/32 with a byte-order mark) and returns them with a BOM
/// removed, line endings as `\n` and other control characters as spaces.
fn decode(path: &Path, bytes: &[u8]) -> Result<String> {
    let line_of = |offset: usize| bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
    let wide;
    let text = match decode_wide(bytes) {
        Some(Ok(text)) => {
            wide = text;
            wide.as_str()
        }
        Some(Err(())) => {
            return Err(Error::Invalid(format!(
                "{}: starts with a UTF-16/32 byte-order mark but is not valid UTF-16/32 text; save it as UTF-8",
                path.display()
            )))
        }
        None => {
            if let Some(nul) = bytes.iter().position(|&b| b == 0) {
                // Every other byte NUL, and no byte-order mark: UTF-16 without one.
                let halves = bytes.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
                if bytes.len() >= 4 && halves * 10 >= bytes.len() / 2 * 9 {
                    return Err(Error::Invalid(format!(
                        "{}: looks like UTF-16 text without a byte-order mark; save it as UTF-8",
                        path.display()
                    )));
                }
                return Err(Error::Binary {
                    path: path.to_owned(),
                    line: line_of(nul),
                });
            }
            std::str::from_utf8(bytes).map_err(|e| Error::NotUtf8 {
                path: path.to_owned(),
                line: line_of(e.valid_up_to()),
                byte: e.valid_up_to() + 1,
            })?
        }
    };
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    if text.contains('\0') {
        return Err(Error::Binary {
            path: path.to_owned(),
            line: text[..text.find('\0').unwrap_or(0)].matches('\n').count() + 1,
        });
    }
    if text.trim().is_empty() {
        return Err(Error::EmptyEssay {
            path: path.to_owned(),
        });
    }
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    Ok(text
        .chars()
        .map(|c| match c {
            '\u{c}' => '\n',
            c if c.is_control() && c != '\n' && c != '\t' => ' ',
            c => c,
        })
        .collect())
}

/// Parses essay text in the given format. Never fails: odd input gives fewer paragraphs and some warnings.
pub(crate) fn parse_str(text: &str, format: Format) -> Essay {
    match format {
        Format::Markdown => parse_markdown(text),
        Format::Text => super::text::parse_text(text),
        Format::Html | Format::Epub => super::html::parse_html(text),
    }
    .finish()
}

/// The Markdown reader's state between events.
#[derive(Default)]
struct Markdown {
    essay: Essay,
    buf: String,
    buf_line: usize,
    list_depth: usize,
    quote_depth: usize,
    pause: Option<Pause>,
    /// Inside a footnote definition: its text goes here, not into the essay.
    note: Option<Note>,
    notes: Notes,
    /// Inside a heading: its level and line.
    heading: Option<(u8, usize)>,
    /// Inside a skipped code block, image or table: how deeply (images nest in tables).
    skip_depth: usize,
    seen_heading: bool,
    /// Inside YAML front matter: what it holds so far.
    front_matter: Option<String>,
    /// Inside a raw HTML block: where it starts and what it holds.
    html_block: Option<(usize, String)>,
}

impl Markdown {
    /// Ends the paragraph being read: into the essay, or into the footnote being read.
    fn flush(&mut self) {
        let mut text = tidy(&self.buf);
        self.buf.clear();
        // A reference to a note that does not exist comes through as text: it is not read either.
        static MARK: OnceLock<Regex> = OnceLock::new();
        let mark = MARK.get_or_init(|| Regex::new(r"\[\^([^\]\s]+)\]").expect("valid pattern"));
        if mark.is_match(&text) {
            for c in mark.captures_iter(&text) {
                self.notes
                    .refer(&c[1], self.essay.current_section(), self.buf_line);
            }
            text = tidy(&mark.replace_all(&text, ""));
        }
        self.essay.push_text(
            text,
            self.buf_line,
            self.list_depth > 0,
            self.quote_depth > 0,
            &mut self.note,
            &mut self.pause,
        );
    }
}

/// Whether raw HTML is only comments (which are not content, and say nothing worth a warning).
fn only_comments(html: &str) -> bool {
    let mut rest = html.trim();
    while let Some(after) = rest.strip_prefix("<!--") {
        match after.find("-->") {
            Some(end) => rest = after[end + 3..].trim_start(),
            None => return false,
        }
    }
    rest.is_empty()
}

fn parse_markdown(text: &str) -> Essay {
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let line_at = |offset: usize| line_starts.partition_point(|&s| s <= offset);
    let mut md = Markdown::default();
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS;
    for (event, range) in Parser::new_ext(text, options).into_offset_iter() {
        let line = line_at(range.start);
        if !md.inside_skipped(&event) {
            md.event(event, line);
        }
    }
    md.flush();
    md.notes.place(&mut md.essay);
    md.essay
}

impl Markdown {
    /// Whether the event belongs to something not read as text: a skipped block (code, table, image), front
    /// matter or a raw HTML block. Those take the event.
    fn inside_skipped(&mut self, event: &Event) -> bool {
        if self.skip_depth > 0 {
            match event {
                Event::Start(Tag::CodeBlock(_) | Tag::Image { .. } | Tag::Table(_)) => {
                    self.skip_depth += 1
                }
                Event::End(TagEnd::CodeBlock | TagEnd::Image | TagEnd::Table) => {
                    self.skip_depth -= 1
                }
                _ => {}
            }
            return true;
        }
        if let Some(meta) = self.front_matter.as_mut() {
            match event {
                Event::Text(t) => meta.push_str(t),
                Event::End(TagEnd::MetadataBlock(_)) => {
                    let meta = self.front_matter.take().unwrap_or_default();
                    read_front_matter(&meta, &mut self.essay);
                }
                _ => {}
            }
            return true;
        }
        if let Some((_, html)) = self.html_block.as_mut() {
            match event {
                Event::Html(t) | Event::Text(t) => html.push_str(t),
                Event::End(TagEnd::HtmlBlock) => {
                    let (start, html) = self.html_block.take().unwrap_or_default();
                    if let Some(p) = pause_mark(&html) {
                        self.pause = Some(p);
                    } else if !only_comments(&html) {
                        self.essay
                            .warnings
                            .push(Skipped::block(start, "raw HTML block"));
                    }
                }
                _ => {}
            }
            return true;
        }
        false
    }

    /// One event of the text read.
    fn event(&mut self, event: Event, line: usize) {
        match event {
            Event::Start(Tag::MetadataBlock(_)) => self.front_matter = Some(String::new()),
            Event::Start(Tag::HtmlBlock) => {
                self.flush();
                self.html_block = Some((line, String::new()));
            }
            Event::Start(tag @ (Tag::CodeBlock(_) | Tag::Table(_) | Tag::Image { .. })) => {
                let what = match tag {
                    Tag::CodeBlock(_) => "code block",
                    Tag::Table(_) => "table",
                    _ => "image",
                };
                self.essay.warnings.push(Skipped::block(line, what));
                self.skip_depth = 1;
            }
            Event::Start(Tag::Heading { level, .. }) => {
                self.flush();
                self.heading = Some((heading_level(level), line));
            }
            Event::End(TagEnd::Heading(_)) => self.end_heading(line),
            Event::Start(Tag::FootnoteDefinition(label)) => {
                self.flush();
                self.note = Some(Note::new(&label, line, self.essay.current_section()));
            }
            Event::End(TagEnd::FootnoteDefinition) => {
                self.flush();
                if let Some(note) = self.note.take() {
                    self.notes.define(note);
                }
            }
            Event::FootnoteReference(label) => {
                self.notes.refer(&label, self.essay.current_section(), line);
            }
            Event::Start(Tag::Paragraph | Tag::Item | Tag::BlockQuote(_) | Tag::List(_)) => {
                self.flush();
                self.buf_line = line;
                match event {
                    Event::Start(Tag::List(_)) => self.list_depth += 1,
                    Event::Start(Tag::BlockQuote(_)) => self.quote_depth += 1,
                    _ => {}
                }
            }
            Event::End(
                TagEnd::Paragraph | TagEnd::Item | TagEnd::BlockQuote(_) | TagEnd::List(_),
            ) => {
                self.flush();
                match event {
                    Event::End(TagEnd::List(_)) => {
                        self.list_depth = self.list_depth.saturating_sub(1)
                    }
                    Event::End(TagEnd::BlockQuote(_)) => {
                        self.quote_depth = self.quote_depth.saturating_sub(1)
                    }
                    _ => {}
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if self.buf.is_empty() {
                    self.buf_line = line;
                }
                self.buf.push_str(&t);
            }
            Event::SoftBreak | Event::HardBreak => self.buf.push(' '),
            Event::Html(html) => {
                if let Some(p) = pause_mark(&html) {
                    self.pause = Some(p);
                }
            }
            Event::Rule => self.pause = Some(Pause::Section),
            _ => {}
        }
    }

    /// A heading ends: the title if it is the first heading and of level 1, else a section.
    fn end_heading(&mut self, line: usize) {
        let (level, hline) = self.heading.take().unwrap_or((2, line));
        let text = tidy(&self.buf);
        self.buf.clear();
        let heading = Heading {
            text,
            level,
            line: hline,
            pause_before: None,
        };
        if level == 1 && self.essay.title.is_none() && !self.seen_heading {
            self.essay.title = Some(heading);
        } else {
            self.essay.push_heading(heading, &mut self.pause);
        }
        self.seen_heading = true;
    }
}

/// Takes `title:` and `author:` from YAML front matter (simple `key: value` lines; other keys are ignored).
/// The title is used, and spoken, only when the document has no `#` title of its own.
fn read_front_matter(meta: &str, essay: &mut Essay) {
    for (i, line) in meta.lines().enumerate() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = tidy(value.trim().trim_matches(['"', '\'']));
        if value.is_empty() {
            continue;
        }
        match key.trim() {
            "title" if essay.title.is_none() => {
                essay.title = Some(Heading {
                    text: value,
                    level: 1,
                    line: i + 2,
                    pause_before: None,
                })
            }
            "author" => essay.front_matter_author = Some(value),
            "lang" | "language" => essay.language = Some(value),
            _ => {}
        }
    }
}

fn heading_level(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::essay::Aside;

    fn paragraphs(e: &Essay) -> Vec<&str> {
        e.sections
            .iter()
            .flat_map(|s| s.paragraphs.iter().map(|p| p.text.as_str()))
            .collect()
    }

    #[test]
    fn markdown_title_sections_and_skips() {
        let md = "# The Title\n\nBy Ada Writer\n\nIntro *with* [a link](http://x).\n\n## First\n\nOne.\nStill one.\n\n```\ncode();\n```\n\n![alt text](p.png)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nSecond Part\n-----------\n\n- item one\n- item two\n";
        let e = parse_str(md, Format::Markdown);
        assert_eq!(e.title.as_ref().unwrap().text, "The Title");
        assert_eq!(e.byline_author().as_deref(), Some("Ada Writer"));
        assert_eq!(e.sections.len(), 3);
        assert!(e.sections[0].heading.is_none());
        assert_eq!(e.sections[1].heading.as_ref().unwrap().text, "First");
        assert_eq!(e.sections[1].heading.as_ref().unwrap().line, 7);
        assert_eq!(e.sections[2].heading.as_ref().unwrap().text, "Second Part");
        assert_eq!(
            paragraphs(&e),
            vec![
                "Intro with a link.",
                "One. Still one.",
                "item one",
                "item two"
            ]
        );
        assert_eq!(e.sections[1].paragraphs[0].line, 9);
        assert_eq!(e.warnings.len(), 3, "{:?}", e.warnings);
        assert_eq!(
            e.warnings[0].to_string(),
            "12: code block skipped (code blocks are not narrated)"
        );
    }

    #[test]
    fn front_matter_gives_title_and_author_and_is_not_read_aloud() {
        let md =
            "---\ntitle: \"From Front Matter\"\nauthor: Bo Reed\ntags: [a, b]\n---\n\nBody text.\n";
        let e = parse_str(md, Format::Markdown);
        assert_eq!(e.title.as_ref().unwrap().text, "From Front Matter");
        assert_eq!(e.byline_author().as_deref(), Some("Bo Reed"));
        assert_eq!(paragraphs(&e), vec!["Body text."]);
        assert!(!e.has_headings());
    }

    #[test]
    fn list_items_are_marked() {
        let e = parse_str("Intro:\n\n- one\n- two\n\nAfter.\n", Format::Markdown);
        let flags: Vec<bool> = e.sections[0]
            .paragraphs
            .iter()
            .map(|p| p.list_item)
            .collect();
        assert_eq!(flags, vec![false, true, true, false]);
    }

    fn pauses(e: &Essay) -> Vec<Option<Pause>> {
        e.sections[0]
            .paragraphs
            .iter()
            .map(|p| p.pause_before)
            .collect()
    }

    #[test]
    fn explicit_pauses_and_rules() {
        let e = parse_str(
            "# T\n\nOne.\n\n<!-- pause 2s -->\n\nTwo.\n\n---\n\nThree.\n",
            Format::Markdown,
        );
        assert_eq!(
            pauses(&e),
            vec![None, Some(Pause::Millis(2000)), Some(Pause::Section)]
        );
        let t = parse_str(
            "T\n\nOne.\n\n[pause 500ms]\n\nTwo.\n\n* * *\n\nThree.\n",
            Format::Text,
        );
        assert_eq!(
            pauses(&t),
            vec![None, Some(Pause::Millis(500)), Some(Pause::Section)]
        );
    }

    #[test]
    fn footnotes_are_read_after_their_section_and_not_inline() {
        let md = "# T\n\nThe tide is late.[^tide] It always is.\n\n## Second\n\nA claim.[^2] Another.[^missing]\n\n## Third\n\nPlain.\n\n[^tide]: Measured at the pier, not the bay.\n\n[^2]: From the 1998 survey.\n    It was small.\n";
        let e = parse_str(md, Format::Markdown);
        let texts = |i: usize| -> Vec<&str> {
            e.sections[i]
                .paragraphs
                .iter()
                .map(|p| p.text.as_str())
                .collect()
        };
        assert_eq!(
            texts(0),
            vec![
                "The tide is late. It always is.",
                "Note: Measured at the pier, not the bay."
            ]
        );
        assert_eq!(
            texts(1),
            vec![
                "A claim. Another.",
                "Note: From the 1998 survey. It was small."
            ]
        );
        assert_eq!(texts(2), vec!["Plain."]);
        assert_eq!(e.sections[0].paragraphs[1].aside, Some(Aside::Note));
        assert_eq!(e.sections[0].paragraphs[1].line, 13);
        assert_eq!(e.warnings.len(), 1, "{:?}", e.warnings);
        assert_eq!(
            e.warnings[0].to_string(),
            "7: footnote reference [^missing] has no note (nothing is read for it)"
        );
        let skipped = e.without_notes();
        assert!(skipped
            .sections
            .iter()
            .flat_map(|s| &s.paragraphs)
            .all(|p| p.aside.is_none()));
    }

    #[test]
    fn quotes_are_set_apart_and_raw_html_is_skipped_with_a_warning() {
        let md = "# T\n\nBefore.\n\n> Quoted words.\n> Still quoted.\n\nAfter.\n\n<div class=\"aside\">\n  Not read.\n</div>\n\n<!-- a comment for the writer -->\n\n<!-- pause 1s -->\n\nLast.\n";
        let e = parse_str(md, Format::Markdown);
        let paras = &e.sections[0].paragraphs;
        let got: Vec<(&str, Option<Aside>)> =
            paras.iter().map(|p| (p.text.as_str(), p.aside)).collect();
        assert_eq!(
            got,
            vec![
                ("Before.", None),
                ("Quoted words. Still quoted.", Some(Aside::Quote)),
                ("After.", None),
                ("Last.", None),
            ]
        );
        assert_eq!(paras[3].pause_before, Some(Pause::Millis(1000)));
        assert_eq!(e.warnings.len(), 1, "{:?}", e.warnings);
        assert_eq!(
            e.warnings[0].to_string(),
            "10: raw HTML block skipped (raw HTML blocks are not narrated)"
        );
    }

    #[test]
    fn heading_levels_are_kept() {
        let md =
            "# Title\n\n## Chapter\n\nA.\n\n### Section\n\nB.\n\n#### Sub\n\nC.\n\n## Next\n\nD.\n";
        let e = parse_str(md, Format::Markdown);
        let levels: Vec<(String, u8)> = e
            .sections
            .iter()
            .filter_map(|s| s.heading.as_ref())
            .map(|h| (h.text.clone(), h.level))
            .collect();
        assert_eq!(e.title.as_ref().unwrap().level, 1);
        assert_eq!(
            levels,
            vec![
                ("Chapter".into(), 2),
                ("Section".into(), 3),
                ("Sub".into(), 4),
                ("Next".into(), 2)
            ]
        );
    }

    #[test]
    fn front_matter_names_the_language() {
        let e = parse_str("---\nlang: en-GB\n---\n\nText.\n", Format::Markdown);
        assert_eq!(e.language.as_deref(), Some("en-GB"));
    }

    proptest::proptest! {
        /// No input makes a parser panic, and nothing it keeps is empty.
        #[test]
        fn parsers_never_panic(text in "(\\PC|[#>*\\[\\]^:<>/ \n-]){0,200}") {
            for format in [Format::Markdown, Format::Text, Format::Html] {
                let e = parse_str(&text, format);
                for s in &e.sections {
                    proptest::prop_assert!(s.paragraphs.iter().all(|p| !p.text.trim().is_empty()));
                }
            }
            let _ = Format::sniff(&text);
        }
    }

    #[test]
    fn standard_input_formats_are_sniffed() {
        assert_eq!(Format::sniff("  <!DOCTYPE html><p>x"), Format::Html);
        assert_eq!(Format::sniff("<html lang=en>"), Format::Html);
        assert_eq!(Format::sniff("---\ntitle: T\n---\nText"), Format::Markdown);
        assert_eq!(Format::sniff("Intro\n\n## Part\n\nText"), Format::Markdown);
        assert_eq!(Format::sniff("A Title\n\nSome prose."), Format::Text);
        assert_eq!(Format::from_path(Path::new("a/page.HTM")), Format::Html);
    }

    #[test]
    fn markdown_without_h1_has_no_title() {
        let e = parse_str("## Only a section\n\nText here.\n", Format::Markdown);
        assert!(e.title.is_none());
        assert!(e.has_headings());
    }

    #[test]
    fn text_title_headings_and_wrapped_paragraphs() {
        let t = "A Plain Title\n\nFirst paragraph\nwraps here.\n\nA Heading\n\nSecond paragraph.\n";
        let e = parse_str(t, Format::Text);
        assert_eq!(e.title.as_ref().unwrap().text, "A Plain Title");
        assert_eq!(e.sections.len(), 2);
        assert_eq!(e.sections[1].heading.as_ref().unwrap().text, "A Heading");
        assert_eq!(
            paragraphs(&e),
            vec!["First paragraph wraps here.", "Second paragraph."]
        );
        assert_eq!(e.sections[1].paragraphs[0].line, 8);
    }

    #[test]
    fn text_without_blank_lines_is_one_paragraph_per_line() {
        let e = parse_str("Title Here\nOne sentence.\nTwo sentence.\n", Format::Text);
        assert_eq!(e.title.as_ref().unwrap().text, "Title Here");
        assert_eq!(paragraphs(&e), vec!["One sentence.", "Two sentence."]);
        assert!(!e.has_headings());
    }

    #[test]
    fn text_first_line_with_punctuation_is_not_a_title() {
        let e = parse_str("It begins.\n\nAnd goes on.\n", Format::Text);
        assert!(e.title.is_none());
        assert_eq!(paragraphs(&e).len(), 2);
    }

    #[test]
    fn decode_reports_line_of_bad_bytes() {
        let p = Path::new("x.txt");
        match decode(p, b"ok\nfine\n\xff bad") {
            Err(Error::NotUtf8 { line, .. }) => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decode(p, b"a\n\0b"),
            Err(Error::Binary { line: 2, .. })
        ));
        assert!(matches!(
            decode(p, b" \n\t\n"),
            Err(Error::EmptyEssay { .. })
        ));
        assert_eq!(decode(p, b"\xEF\xBB\xBFhi\r\nthere").unwrap(), "hi\nthere");
    }
}
