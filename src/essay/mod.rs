//! The essay as narrate understands it: a title, sections with optional headings, and paragraphs of text.

pub(crate) mod edit;
mod epub;
mod html;
pub(crate) mod lexicon;
pub(crate) mod normalize;
mod notes;
pub(crate) mod parse;
pub(crate) mod segment;
mod text;

use std::path::Path;

use serde::{Deserialize, Serialize};

/// An explicit break written in the essay: `<!-- pause 2s -->` or `[pause 2s]` on its own line, or a
/// horizontal rule (a section-length pause).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum Pause {
    Millis(u32),
    Section,
}

/// A heading or title, with the line it came from in the source file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Heading {
    pub text: String,
    pub level: u8,
    pub line: usize,
    /// A break written just before it.
    pub pause_before: Option<Pause>,
}

/// A paragraph that stands apart from the prose around it, for the listener to hear the difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum Aside {
    /// Inside a block quote: a short pause before and after it.
    Quote,
    /// A footnote, moved to the end of the section that refers to it; its text starts with "Note:".
    Note,
}

/// One paragraph of prose (a list item or quotation counts as one too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Paragraph {
    pub text: String,
    pub line: usize,
    /// A Markdown list item: part of the paragraph before it, not a new chapter of its own.
    pub list_item: bool,
    /// A break written just before it.
    pub pause_before: Option<Pause>,
    /// A quotation or a note, set apart from the prose.
    pub aside: Option<Aside>,
}

/// Text under one heading; the first section may have no heading (an introduction, or a whole op-ed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub(crate) struct Section {
    pub heading: Option<Heading>,
    pub paragraphs: Vec<Paragraph>,
}

/// Something in the source that is not narrated (or not where it was written), and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Skipped {
    pub line: usize,
    /// What happened, in one line: "code block skipped (code blocks are not narrated)".
    pub what: String,
}

impl Skipped {
    /// A kind of block narrate does not read: "12: table skipped (tables are not narrated)".
    pub(crate) fn block(line: usize, kind: &str) -> Skipped {
        Skipped {
            line,
            what: format!("{kind} skipped ({kind}s are not narrated)"),
        }
    }
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.line, self.what)
    }
}

/// A parsed essay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub(crate) struct Essay {
    pub title: Option<Heading>,
    /// A "By Name" line right under the title.
    pub byline: Option<Paragraph>,
    /// `author:` from Markdown front matter.
    pub front_matter_author: Option<String>,
    pub sections: Vec<Section>,
    /// Things the parser skipped (code blocks, images, tables, raw HTML, page navigation).
    pub warnings: Vec<Skipped>,
    /// The essay's own language tag, when it names one: `lang:` or `language:` in front matter, `<html lang>`.
    pub language: Option<String>,
    /// A book's metadata (EPUB): what the edition's tags are made of.
    pub book: Option<Book>,
}

/// What a book says about itself (its OPF metadata), for the edition's tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Book {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cover: Option<Cover>,
}

/// A book's cover image (JPEG or PNG), attached to the M4B and MP3 editions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cover {
    pub media_type: String,
    /// A hash of the image, so a new cover makes a new edition.
    pub digest: String,
    /// The image itself (not written into plans or manifests).
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// How a book is read: its front and back matter, and its images' alt text (the `include_matter` and
/// `alt_text` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BookOptions {
    pub include_matter: bool,
    pub alt_text: bool,
}

impl Essay {
    /// Whether any section has a heading of its own (below the title).
    pub(crate) fn has_headings(&self) -> bool {
        self.sections.iter().any(|s| s.heading.is_some())
    }

    /// The title to use in metadata: the essay's own, or one made from the file name ("stdin" for `-`).
    pub(crate) fn display_title(&self, path: &Path) -> String {
        match &self.title {
            Some(t) => t.text.clone(),
            None if path.as_os_str() == parse::STDIN => "stdin".into(),
            None => path
                .file_stem()
                .map(|s| s.to_string_lossy().replace(['-', '_'], " "))
                .unwrap_or_else(|| "Untitled".into()),
        }
    }

    /// The author named by the byline, if any ("By Ada Lovelace" gives "Ada Lovelace").
    /// Falls back to the front matter's `author:`.
    pub(crate) fn byline_author(&self) -> Option<String> {
        let from_byline = self.byline.as_ref().and_then(|b| {
            let rest = b
                .text
                .strip_prefix("By ")
                .or_else(|| b.text.strip_prefix("by "))?;
            Some(rest.trim().to_string())
        });
        from_byline.or_else(|| self.front_matter_author.clone())
    }

    /// The essay as the `footnotes` setting wants it.
    pub(crate) fn with_footnotes(self, footnotes: Footnotes) -> Essay {
        match footnotes {
            Footnotes::Read => self,
            Footnotes::Skip => self.without_notes(),
        }
    }

    /// The essay without its footnotes (`footnotes = "skip"`).
    pub(crate) fn without_notes(mut self) -> Essay {
        for s in &mut self.sections {
            s.paragraphs.retain(|p| p.aside != Some(Aside::Note));
        }
        self.sections
            .retain(|s| s.heading.is_some() || !s.paragraphs.is_empty());
        self
    }

    /// The section new text goes into (0 before any).
    fn current_section(&self) -> usize {
        self.sections.len().saturating_sub(1)
    }

    /// Adds a paragraph (nothing if `text` is empty); it takes the pending break, if any.
    /// A paragraph's text as read by a parser: into the footnote being read, if any, else as a paragraph of
    /// the essay (an aside when inside a block quote).
    fn push_text(
        &mut self,
        text: String,
        line: usize,
        list_item: bool,
        in_quote: bool,
        note: &mut Option<notes::Note>,
        pause: &mut Option<Pause>,
    ) {
        if let Some(note) = note.as_mut() {
            note.push(&text);
            return;
        }
        let aside = in_quote.then_some(Aside::Quote);
        self.push_paragraph(text, line, list_item, aside, pause);
    }

    fn push_paragraph(
        &mut self,
        text: String,
        line: usize,
        list_item: bool,
        aside: Option<Aside>,
        pause: &mut Option<Pause>,
    ) {
        if text.is_empty() {
            return;
        }
        let pause_before = pause.take();
        if self.sections.is_empty() {
            self.sections.push(Section::default());
        }
        let section = self.sections.last_mut().expect("a section was just pushed");
        section.paragraphs.push(Paragraph {
            text,
            line,
            list_item,
            pause_before,
            aside,
        });
    }

    fn push_heading(&mut self, mut heading: Heading, pause: &mut Option<Pause>) {
        if heading.text.is_empty() {
            return;
        }
        heading.pause_before = pause.take();
        self.sections.push(Section {
            heading: Some(heading),
            paragraphs: Vec::new(),
        });
    }

    /// Moves a short "By Name" paragraph that opens the essay into `byline`, and drops empty sections.
    fn finish(mut self) -> Self {
        if self.title.is_some() {
            if let Some(first) = self.sections.first_mut() {
                if first.heading.is_none() {
                    if let Some(p) = first.paragraphs.first() {
                        if is_byline(&p.text) {
                            self.byline = Some(first.paragraphs.remove(0));
                        }
                    }
                }
            }
        }
        self.sections
            .retain(|s| s.heading.is_some() || !s.paragraphs.is_empty());
        self
    }
}

fn is_byline(text: &str) -> bool {
    (text.starts_with("By ") || text.starts_with("by "))
        && text.chars().count() <= 60
        && !ends_with_sentence_punctuation(text)
}

/// Whether a line ends like a sentence (so it is prose, not a heading or title).
/// A break written on its own line: `<!-- pause 2s -->`, `[pause 2s]`, or a rule (`---`, `***`, `* * *`).
pub(crate) fn pause_mark(line: &str) -> Option<Pause> {
    let t = line.trim();
    let inner = t
        .strip_prefix("<!--")
        .and_then(|r| r.strip_suffix("-->"))
        .or_else(|| t.strip_prefix('[').and_then(|r| r.strip_suffix(']')));
    if let Some(inner) = inner {
        let rest = inner.trim().strip_prefix("pause")?;
        return crate::values::parse_duration(rest.trim())
            .ok()
            .map(Pause::Millis);
    }
    let squeezed: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    let rule = squeezed.len() >= 3
        && (squeezed.chars().all(|c| c == '-') || squeezed.chars().all(|c| c == '*'));
    rule.then_some(Pause::Section)
}

pub(crate) fn ends_with_sentence_punctuation(text: &str) -> bool {
    let trimmed = text.trim_end_matches(['"', '\'', '”', '’', ')', ']', '*', '_']);
    trimmed.ends_with(['.', '!', '?', ':', ';', ',', '…'])
}

/// Tidies inline text: one space between words, no invisible characters (zero-width, soft hyphen, BOM).
pub(crate) fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        match c {
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => {}
            c if c.is_whitespace() => pending_space = true,
            c => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_collapses_space_and_drops_invisibles() {
        assert_eq!(
            tidy("  a\u{00A0}\u{00A0}b\n\tc\u{200B}d\u{00AD}e "),
            "a b cde"
        );
    }

    #[test]
    fn sentence_punctuation() {
        assert!(ends_with_sentence_punctuation("Done."));
        assert!(ends_with_sentence_punctuation("“Done?”"));
        assert!(!ends_with_sentence_punctuation("A Title"));
        assert!(!ends_with_sentence_punctuation("Part 3"));
    }
}

/// What happens to footnotes: read after their section ("Note: …"), or left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Footnotes {
    #[default]
    Read,
    Skip,
}

crate::values::named_enum!(Footnotes, "footnote mode", [
    Footnotes::Read => "read",
    Footnotes::Skip => "skip",
]);
