//! Plain text into an [`Essay`]: the structure people write by hand. Blocks are runs of non-blank lines; a block
//! that is one short line can be a heading (numbered "1. Introduction", lettered "A. Scope", "Section 3",
//! "Article 12", "Chapter IV", "PART TWO", an ALL-CAPS or centred line, or a line underlined with `====`/`----`),
//! and its level comes from its kind (PART above Chapter above underlined, capital and centred lines above numbered
//! sections, "1.1" below "1"). A candidate that heads nothing (the next one follows at once, as in a list of steps)
//! is read as text. Scene breaks (`* * *`, `#`) are pauses; page numbers are dropped; a Project Gutenberg header
//! and licence are skipped with a warning; `_italics_` lose their underscores; a printed table of contents is
//! skipped.

use std::sync::OnceLock;

use regex::Regex;

use super::{ends_with_sentence_punctuation, pause_mark, tidy, Essay, Heading, Pause, Skipped};

/// Longest line taken for a heading (a title may be a little longer).
const MAX_HEADING_CHARS: usize = 80;
const MAX_TITLE_CHARS: usize = 150;
/// Most words in a numbered heading's title ("17. Interpretation of Sections 15 and 16." has six).
const MAX_HEADING_WORDS: usize = 12;

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("valid pattern"))
}

/// "1. Introduction", "2.1. General rules", "4.8.1 '--version'", "A. Scope", "IV. The Law": the number and the
/// title.
fn numbered(text: &str) -> Option<(usize, &str)> {
    static NUM: OnceLock<Regex> = OnceLock::new();
    let num = re(
        &NUM,
        r"^(?:(\d{1,3}(?:\.\d{1,3})*|[A-Z](?:\.\d{1,3})+)\.?|([A-Z])\.|([IVXLC]{1,6})\.)\s+(\S.*)$",
    );
    let c = num.captures(text)?;
    let depth = c.get(1).map_or(1, |d| d.as_str().split('.').count());
    Some((depth, c.get(4)?.as_str()))
}

/// "Section 3", "Article 12", "§ 4", "Chapter IV", "CHAPTER I.", "PART TWO", "Book 2": the keyword's rank.
fn keyword(text: &str) -> Option<Rank> {
    static KEY: OnceLock<Regex> = OnceLock::new();
    let key = re(
        &KEY,
        r"(?i)^(?:(part|book|volume)|(chapter)|(section|article|§))\s*(?:\d{1,4}|[ivxlcdm]{1,7}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|the first|the second|the third|the last)\b[.:]?(?:\s.*)?$",
    );
    let c = key.captures(text)?;
    if c.get(1).is_some() {
        Some(Rank::Part)
    } else if c.get(2).is_some() {
        Some(Rank::Chapter)
    } else {
        Some(Rank::Numbered(1))
    }
}

/// The kinds of heading, shallowest first; levels follow this order over the kinds a text uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Part,
    Chapter,
    /// Underlined; the number is the order the underline characters first appear in.
    Underlined(u8),
    /// ALL CAPS, centred, or a short line that does not end like a sentence.
    Display,
    /// Numbered or lettered, with its depth ("1" is 1, "2.1" is 2).
    Numbered(u8),
}

/// One line of the source: its number, indentation (tabs as 8) and text without the indentation.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    n: usize,
    indent: usize,
    text: &'a str,
}

fn indent_of(raw: &str) -> usize {
    let mut col = 0;
    for c in raw.chars() {
        match c {
            ' ' => col += 1,
            '\t' => col = (col / 8 + 1) * 8,
            c if c.is_whitespace() => col += 1,
            _ => break,
        }
    }
    col
}

/// What a block became.
#[derive(Debug)]
enum Item {
    Heading {
        text: String,
        rank: Rank,
        line: usize,
        /// A numbered heading whose text ends like a sentence (a list of steps looks the same).
        numbered: bool,
    },
    Paragraph {
        text: String,
        line: usize,
        list_item: bool,
    },
    Pause(Pause),
}

/// Whether a line is a scene break: `* * *`, `***`, `#`, `~~~`, `⁂`, `- - -`.
fn scene_break(text: &str) -> bool {
    let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    squeezed == "#"
        || squeezed == "⁂"
        || (squeezed.chars().count() >= 3
            && ['*', '~', '-', '•', '·', '#', '=']
                .iter()
                .any(|&m| squeezed.chars().all(|c| c == m) && (m != '=' || text.contains(' '))))
}

/// A line that is only a page number: "12", "- 12 -", "Page 12", "[Page 12]", or an RFC-style page footer or
/// header ("Postel        [Page 3]", "RFC 791      Internet Protocol      September 1981").
fn page_number(text: &str) -> bool {
    static PAGE: OnceLock<Regex> = OnceLock::new();
    let page = re(
        &PAGE,
        r"^(?:[-–—]?\s*\d{1,4}\s*[-–—]?|\[?(?i:page)\s+\d{1,4}\]?|.*\s{3,}\[Page \d{1,4}\]|RFC \d{1,5}\s{3,}.*\s{3,}\S.*\d{4})$",
    );
    page.is_match(text)
}

/// Whether a line is an underline: three or more of one of `=`, `-`, `*`, `~`, `^`, `.`.
fn underline(text: &str) -> Option<char> {
    let first = text.chars().next()?;
    (text.chars().count() >= 3 && "=-*~^.".contains(first) && text.chars().all(|c| c == first))
        .then_some(first)
}

/// Whether every letter is a capital (and there are at least three).
fn all_caps(text: &str) -> bool {
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    letters >= 3
        && text
            .chars()
            .filter(|c| c.is_alphabetic())
            .all(|c| c.is_uppercase())
}

/// Removes the underscores of `_italics_` (Project Gutenberg's and e-mail's emphasis).
fn plain_emphasis(text: &str) -> String {
    static EM: OnceLock<Regex> = OnceLock::new();
    let em = re(&EM, r"(^|[^\w_])_([^_\s](?:[^_]*[^_\s])?)_($|[^\w_])");
    let once = em.replace_all(text, "$1$2$3");
    // Adjacent matches share a character; a second pass takes the ones the first skipped.
    em.replace_all(&once, "$1$2$3").into_owned()
}

/// A list item's marker at the start of a line: "1.", "2)", "a)", "(iv)", "-", "*", "•".
fn list_marker(text: &str) -> bool {
    static MARK: OnceLock<Regex> = OnceLock::new();
    re(
        &MARK,
        r"^(?:\d{1,3}[.)]|[a-z][.)]|\((?:\d{1,3}|[a-z]|[ivx]{1,5})\)|[-*•+])\s+\S",
    )
    .is_match(text)
}

/// The Project Gutenberg header and licence around a book: where the book starts and ends, and the header's
/// title, author and language.
struct Gutenberg {
    start: usize,
    end: usize,
    title: Option<String>,
    author: Option<String>,
    language: Option<String>,
}

fn gutenberg(lines: &[&str]) -> Option<Gutenberg> {
    static START: OnceLock<Regex> = OnceLock::new();
    static END: OnceLock<Regex> = OnceLock::new();
    let start = re(
        &START,
        r"(?i)^\s*\*{3}\s*START OF (?:THE|THIS) PROJECT GUTENBERG",
    );
    let end = re(
        &END,
        r"(?i)^\s*(?:\*{3}\s*END OF (?:THE|THIS) PROJECT GUTENBERG|End of (?:the )?Project Gutenberg)",
    );
    let s = lines.iter().position(|l| start.is_match(l))?;
    let e = lines[s + 1..]
        .iter()
        .position(|l| end.is_match(l))
        .map_or(lines.len(), |e| s + 1 + e);
    let field = |key: &str| {
        lines[..s]
            .iter()
            .find_map(|l| l.strip_prefix(key).map(tidy).filter(|v| !v.is_empty()))
    };
    Some(Gutenberg {
        start: s + 1,
        end: e,
        title: field("Title:"),
        author: field("Author:"),
        language: field("Language:"),
    })
}

/// A line of a box drawn with asterisks (a licence's warranty disclaimer): its frame taken off, so the text in
/// it reads like the rest.
fn unbox(line: &str) -> String {
    let t = line.trim();
    if t.len() >= 20 && t.chars().all(|c| c == '*') {
        return String::new();
    }
    if t.len() >= 40 {
        if let Some(inner) = t.strip_prefix("* ").and_then(|r| r.strip_suffix(" *")) {
            return format!("{:1$}{inner}", "", line.len() - line.trim_start().len());
        }
        if t == "*" || t.trim_matches('*').trim().is_empty() {
            return String::new();
        }
    }
    line.to_string()
}

/// Reads plain text. Never fails.
pub(crate) fn parse_text(text: &str) -> Essay {
    let unboxed: Vec<String> = text.lines().map(unbox).collect();
    let raw: Vec<&str> = unboxed.iter().map(String::as_str).collect();
    let mut essay = Essay::default();
    let (first, last, book_title) = match gutenberg(&raw) {
        Some(g) => skip_gutenberg(g, raw.len(), &mut essay),
        None => (0, raw.len(), None),
    };
    let lines: Vec<Line> = raw[first..last]
        .iter()
        .enumerate()
        .map(|(i, l)| Line {
            n: first + i + 1,
            indent: indent_of(l),
            text: l.trim(),
        })
        .collect();
    let layout = Layout::of(&lines);
    let centred = |l: &Line| layout.centred(l);
    let mut blocks = blocks_of(&lines);
    drop_page_numbers(&mut blocks, &mut essay.warnings);

    let mut underlines: Vec<char> = Vec::new();
    let mut items: Vec<Item> = Vec::new();
    // A first line repeated over a later block ("GNU LESSER GENERAL PUBLIC LICENSE" over the terms) is a running
    // title: the rest of that block is read on its own.
    let title_line = blocks.first().map(|b| tidy(b[0].text).to_lowercase());
    for (i, block) in blocks.iter().enumerate() {
        let repeats = i > 0
            && block.len() > 1
            && title_line.as_deref() == Some(tidy(block[0].text).to_lowercase().as_str());
        let block = if repeats { &block[1..] } else { &block[..] };
        let lead_in = blocks.get(i + 1).is_some_and(|next| {
            next.len() <= 3
                && next[0].indent >= block[0].indent + 2
                && next[0]
                    .text
                    .starts_with(|c: char| c.is_lowercase() || "$#/.<[{(-".contains(c))
        });
        read_block(
            block,
            lead_in,
            &centred,
            &mut underlines,
            &mut items,
            &mut essay.warnings,
        );
    }
    place_items(&mut essay, items, book_title, first);
    essay
}

/// Records a Project Gutenberg header and licence as skipped, with the book's title, author and language from
/// the header: the lines the book spans (first, end) and its title.
fn skip_gutenberg(g: Gutenberg, lines: usize, essay: &mut Essay) -> (usize, usize, Option<String>) {
    let after = lines - g.end;
    essay.warnings.push(Skipped {
        line: 1,
        what: format!(
            "Project Gutenberg header and licence skipped (lines 1-{}{}); the book starts at line {}",
            g.start,
            if after > 0 {
                format!(" and {}-{}", g.end + 1, lines)
            } else {
                String::new()
            },
            g.start + 1
        ),
    });
    essay.front_matter_author = g.author;
    essay.language = g.language.filter(|l| l.len() <= 3 || l == "English");
    if essay.language.as_deref() == Some("English") {
        essay.language = Some("en".into());
    }
    (g.start, g.end, g.title)
}

/// How a text is laid out: its usual indentation (so that a centred line stands out from it) and the width it
/// is wrapped to.
struct Layout {
    body_indent: usize,
    width: usize,
}

impl Layout {
    fn of(lines: &[Line]) -> Layout {
        let mut counts = std::collections::HashMap::new();
        for l in lines.iter().filter(|l| !l.text.is_empty()) {
            *counts.entry(l.indent).or_insert(0usize) += 1;
        }
        let body_indent = counts
            .iter()
            .max_by_key(|(i, c)| (**c, std::cmp::Reverse(**i)))
            .map_or(0, |(i, _)| *i);
        // The width: where most long lines end.
        let mut ends: Vec<usize> = lines
            .iter()
            .map(|l| l.indent + l.text.chars().count())
            .filter(|&e| e >= 40)
            .collect();
        ends.sort_unstable();
        let width = ends
            .get(ends.len() * 9 / 10)
            .copied()
            .unwrap_or(72)
            .min(100);
        Layout { body_indent, width }
    }

    /// Centred: well in from the text's own indentation, with about as much space on the right as on the left.
    fn centred(&self, l: &Line) -> bool {
        let right = self.width.saturating_sub(l.indent + l.text.chars().count());
        l.indent >= (self.body_indent + 6).max(8)
            && l.indent.abs_diff(right) <= (l.indent * 6 / 10).max(8)
    }
}

/// Blocks: runs of non-blank lines. A text with no blank line at all has one paragraph per line.
fn blocks_of<'a>(lines: &[Line<'a>]) -> Vec<Vec<Line<'a>>> {
    let has_blank = lines
        .iter()
        .skip_while(|l| l.text.is_empty())
        .any(|l| l.text.is_empty());
    let mut blocks: Vec<Vec<Line>> = Vec::new();
    let mut current: Vec<Line> = Vec::new();
    for &l in lines {
        if l.text.is_empty() || !has_blank {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
            if l.text.is_empty() {
                continue;
            }
        }
        current.push(l);
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

/// Page numbers standing alone are dropped, with a count.
fn drop_page_numbers(blocks: &mut Vec<Vec<Line>>, warnings: &mut Vec<Skipped>) {
    let mut pages = Vec::new();
    blocks.retain(|b| {
        let drop = b.iter().all(|l| page_number(l.text));
        if drop {
            pages.push(b[0].n);
        }
        !drop
    });
    if let Some(&line) = pages.first() {
        warnings.push(Skipped {
            line,
            what: format!(
                "{} page number{} skipped",
                pages.len(),
                if pages.len() == 1 { "" } else { "s" }
            ),
        });
    }
}

/// Puts the items read into the essay: the title (the header's, or a first block that is a heading before any
/// text), then headings at levels from the kinds this text uses, in rank order from 2, and paragraphs.
fn place_items(essay: &mut Essay, items: Vec<Item>, book_title: Option<String>, first: usize) {
    let mut items = items.into_iter().peekable();
    if let Some(title) = book_title {
        essay.title = Some(Heading {
            text: title,
            level: 1,
            line: first.max(1),
            pause_before: None,
        });
    } else if let Some(Item::Heading { text, line, .. }) = items.peek() {
        if text.chars().count() <= MAX_TITLE_CHARS {
            essay.title = Some(Heading {
                text: text.clone(),
                level: 1,
                line: *line,
                pause_before: None,
            });
            items.next();
        }
    }
    let mut items: Vec<Item> = items.collect();
    demote_empty_headings(&mut items);
    let mut ranks: Vec<Rank> = items
        .iter()
        .filter_map(|i| match i {
            Item::Heading { rank, .. } => Some(*rank),
            _ => None,
        })
        .collect();
    ranks.sort();
    ranks.dedup();
    let mut pause = None;
    for item in items {
        match item {
            Item::Pause(p) => pause = Some(p),
            Item::Heading {
                text, rank, line, ..
            } => {
                let level = 2 + ranks.iter().position(|r| *r == rank).unwrap_or(0);
                essay.push_heading(
                    Heading {
                        text,
                        level: level.min(6) as u8,
                        line,
                        pause_before: None,
                    },
                    &mut pause,
                );
            }
            Item::Paragraph {
                text,
                line,
                list_item,
            } => essay.push_paragraph(text, line, list_item, None, &mut pause),
        }
    }
}

/// A heading that heads nothing (the next heading of its rank or a shallower one follows at once) is read as
/// text; so is a run of numbered ones with nothing between them (a list of steps).
fn demote_empty_headings(items: &mut [Item]) {
    let rank_at = |items: &[Item], i: usize| match items.get(i) {
        Some(Item::Heading { rank, .. }) => Some(*rank),
        _ => None,
    };
    let mut demote = vec![false; items.len()];
    for i in 0..items.len() {
        let Some(rank) = rank_at(items, i) else {
            continue;
        };
        let next = (i + 1..items.len()).find(|&j| !matches!(items[j], Item::Pause(_)));
        let heads_nothing = match next {
            None => true,
            Some(j) => rank_at(items, j).is_some_and(|r| r <= rank),
        };
        if heads_nothing {
            demote[i] = true;
            // The rest of a run of numbered items of this rank goes with it.
            if matches!(rank, Rank::Numbered(_)) {
                let mut j = i + 1;
                while rank_at(items, j) == Some(rank) {
                    demote[j] = true;
                    j += 1;
                }
            }
        }
    }
    for (i, item) in items.iter_mut().enumerate() {
        if demote[i] {
            if let Item::Heading {
                text,
                line,
                numbered,
                ..
            } = item
            {
                *item = Item::Paragraph {
                    text: std::mem::take(text),
                    line: *line,
                    list_item: *numbered,
                };
            }
        }
    }
}

/// A one-line block's heading kind, if it is one.
fn heading_rank(line: &Line, centred: bool, lead_in: bool) -> Option<(Rank, bool)> {
    let text = line.text;
    let chars = text.chars().count();
    if chars > MAX_HEADING_CHARS || super::is_byline(text) {
        return None;
    }
    if text.ends_with([',', ';', ':']) && !text.ends_with("::") {
        return None;
    }
    if let Some(rank) = keyword(text) {
        return Some((rank, matches!(rank, Rank::Numbered(_))));
    }
    static NOT: OnceLock<Regex> = OnceLock::new();
    if re(&NOT, r"(?i)^(?:copyright\b|\(c\)|©)|://|^www\.|@\S+\.\w").is_match(text) {
        return None;
    }
    static APPENDIX: OnceLock<Regex> = OnceLock::new();
    if re(&APPENDIX, r"(?i)^(?:appendix|annex|exhibit|schedule)\b").is_match(text) {
        return Some((Rank::Display, false));
    }
    if let Some((depth, title)) = numbered(text) {
        let words = title.split_whitespace().count();
        let capital = title.chars().next().is_some_and(|c| !c.is_lowercase());
        if capital && words <= MAX_HEADING_WORDS && !title.ends_with(['!', '?']) {
            return Some((Rank::Numbered(depth.min(4) as u8), true));
        }
        return None;
    }
    let sentence = ends_with_sentence_punctuation(text);
    // Capitals that are words, not code ("SOURCEFILE:LINENO: MESSAGE").
    let visible = text.chars().filter(|c| !c.is_whitespace()).count();
    let caps =
        all_caps(text) && text.chars().filter(|c| c.is_alphabetic()).count() * 10 >= visible * 8;
    let short_caps = caps && text.split_whitespace().count() <= 6;
    // A line that starts like a heading: a capital, a digit or a quotation mark (not a bullet, a command, a mark).
    let starts = text
        .chars()
        .next()
        .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit() || "\"“‘'«".contains(c));
    // A plain line over an indented example introduces it ("To update your system, run").
    if lead_in && !caps && !centred {
        return None;
    }
    if (!sentence || (short_caps && text.ends_with('.'))) && starts {
        return Some((Rank::Display, false));
    }
    None
}

/// A numbered paragraph that starts with a title of its own: "2. Grant of Copyright License. Subject to the
/// terms…" gives the heading and the rest.
fn run_in_heading(text: &str) -> Option<(usize, String, String)> {
    let (depth, title_and_rest) = numbered(text)?;
    let end = title_and_rest.find(". ")?;
    let title = &title_and_rest[..=end];
    let words: Vec<&str> = title.split_whitespace().collect();
    let small = [
        "a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to",
        "with",
    ];
    let title_case = words.iter().enumerate().all(|(i, w)| {
        let first = w.chars().next().unwrap_or('a');
        first.is_uppercase() || (i > 0 && small.contains(w)) || !first.is_alphabetic()
    });
    if words.len() > 8 || !title_case || words.is_empty() {
        return None;
    }
    let number = &text[..text.len() - title_and_rest.len()];
    Some((
        depth,
        tidy(&format!("{number}{title}")),
        title_and_rest[end + 1..].trim().to_string(),
    ))
}

/// Reads one block of lines into items: a pause, a heading (underlined, a chapter and its title, one line, a
/// title block, a run-in heading) and what follows it, or paragraphs; a printed table of contents is skipped.
fn read_block(
    block: &[Line],
    lead_in: bool,
    centred: &dyn Fn(&Line) -> bool,
    underlines: &mut Vec<char>,
    items: &mut Vec<Item>,
    warnings: &mut Vec<Skipped>,
) {
    let first = &block[0];
    // A pause written as text, or a scene break.
    if block.len() == 1 {
        if let Some(p) = pause_mark(first.text) {
            items.push(Item::Pause(p));
            return;
        }
        if scene_break(first.text) {
            items.push(Item::Pause(Pause::Section));
            return;
        }
    }
    if let Some(rest) = underlined_heading(block, underlines, items) {
        if !rest.is_empty() {
            read_block(rest, lead_in, centred, underlines, items, warnings);
        }
        return;
    }
    if contents_table(block, warnings) || chapter_and_title(block, items) {
        return;
    }
    if block.len() == 1 {
        if let Some((rank, numbered)) = heading_rank(first, centred(first), lead_in) {
            items.push(Item::Heading {
                text: plain_emphasis(&tidy(first.text)),
                rank,
                line: first.n,
                numbered,
            });
            return;
        }
    }
    // A title block of centred lines: each line on its own, the first as a heading.
    if block.len() <= 4 && block.iter().all(centred) {
        if let Some((rank, numbered)) = heading_rank(first, centred(first), lead_in) {
            items.push(Item::Heading {
                text: tidy(first.text),
                rank,
                line: first.n,
                numbered,
            });
            for l in &block[1..] {
                items.push(Item::Paragraph {
                    text: plain_emphasis(&tidy(l.text)),
                    line: l.n,
                    list_item: false,
                });
            }
            return;
        }
    }
    // "2. Grant of Copyright License. Subject to…": a run-in heading.
    if let Some((depth, title, rest)) = run_in_heading(first.text) {
        items.push(Item::Heading {
            text: title,
            rank: Rank::Numbered(depth.min(4) as u8),
            line: first.n,
            numbered: true,
        });
        let mut lines = block.to_vec();
        lines[0].text = first.text[first.text.len() - rest.len()..].trim();
        if lines[0].text.is_empty() {
            lines.remove(0);
        }
        if !lines.is_empty() {
            paragraphs(&lines, items);
        }
        return;
    }
    paragraphs(block, items);
}

/// A line underlined with one character: a heading (its rank from the order underline characters first
/// appear in), and the rest of the block after it. An underline above the title too ("=====\nTitle\n=====") is
/// left out.
fn underlined_heading<'b, 'a>(
    block: &'b [Line<'a>],
    underlines: &mut Vec<char>,
    items: &mut Vec<Item>,
) -> Option<&'b [Line<'a>]> {
    let over = underline(block[0].text).is_some() && block.len() >= 3;
    let (head, rest) = if over { (1, 2) } else { (0, 1) };
    let c = block.get(rest).and_then(|l| underline(l.text))?;
    if block[head].text.is_empty() || underline(block[head].text).is_some() {
        return None;
    }
    let order = underlines.iter().position(|&u| u == c).unwrap_or_else(|| {
        underlines.push(c);
        underlines.len() - 1
    });
    items.push(Item::Heading {
        text: tidy(block[head].text),
        rank: Rank::Underlined(order as u8),
        line: block[head].n,
        numbered: false,
    });
    Some(&block[rest + 1..])
}

/// A printed table of contents (most lines numbered titles): skipped with a warning.
fn contents_table(block: &[Line], warnings: &mut Vec<Skipped>) -> bool {
    if block.len() < 4 {
        return false;
    }
    let entries = block
        .iter()
        .filter(|l| numbered(l.text).is_some() && !ends_with_sentence_punctuation(l.text))
        .count();
    if entries * 5 < block.len() * 4 {
        return false;
    }
    warnings.push(Skipped {
        line: block[0].n,
        what: format!(
            "table of contents skipped ({} lines; the headings are read where they are)",
            block.len()
        ),
    });
    true
}

/// "CHAPTER I." and its title on the next line: one heading.
fn chapter_and_title(block: &[Line], items: &mut Vec<Item>) -> bool {
    let [first, second] = block else {
        return false;
    };
    let Some(rank @ (Rank::Part | Rank::Chapter)) = keyword(first.text) else {
        return false;
    };
    if second.text.chars().count() > MAX_HEADING_CHARS
        || ends_with_sentence_punctuation(second.text)
    {
        return false;
    }
    let number = first.text.trim_end_matches(['.', ':']);
    items.push(Item::Heading {
        text: tidy(&format!("{number}: {}", second.text)),
        rank,
        line: first.n,
        numbered: false,
    });
    true
}

/// The paragraphs of a block of prose: a new one where a line starts a list item, where a line is indented like
/// the block's first line after flush ones (the first-line indent of a book without blank lines), and after a
/// short line with deeper lines under it (a term and its description).
fn paragraphs(block: &[Line], items: &mut Vec<Item>) {
    let width = block
        .iter()
        .map(|l| l.indent + l.text.chars().count())
        .max()
        .unwrap_or(0);
    let mut start = 0;
    let push = |from: usize, to: usize, items: &mut Vec<Item>| {
        let joined = block[from..to]
            .iter()
            .map(|l| l.text)
            .collect::<Vec<_>>()
            .join(" ");
        let text = plain_emphasis(&tidy(&joined));
        if !text.is_empty() {
            items.push(Item::Paragraph {
                text,
                line: block[from].n,
                list_item: list_marker(block[from].text),
            });
        }
    };
    for i in 1..block.len() {
        let (prev, line) = (&block[i - 1], &block[i]);
        let item = list_marker(line.text)
            && (line.indent > 0 || prev.text.ends_with(['.', ':', ';', '!', '?']));
        let first_line_indent =
            line.indent == block[start].indent && line.indent > prev.indent && start + 1 < i;
        let term = line.indent > prev.indent
            && width >= 50
            && (prev.indent + prev.text.chars().count()) * 10 < width * 6
            && !prev.text.ends_with(['.', ',', ';', ':']);
        if item || first_line_indent || term {
            push(start, i, items);
            start = i;
        }
    }
    push(start, block.len(), items);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::essay::parse::{parse_str, Format};

    /// The headings a text gives, with their levels, and its title.
    fn outline(text: &str) -> (Option<String>, Vec<(String, u8)>) {
        let e = parse_str(text, Format::Text);
        (
            e.title.map(|t| t.text),
            e.sections
                .iter()
                .filter_map(|s| s.heading.as_ref())
                .map(|h| (h.text.clone(), h.level))
                .collect(),
        )
    }

    fn paragraphs(text: &str) -> Vec<String> {
        parse_str(text, Format::Text)
            .sections
            .iter()
            .flat_map(|s| s.paragraphs.iter().map(|p| p.text.clone()))
            .collect()
    }

    const BODY: &str = "Some body text that runs on for a while, as prose does.";

    /// Each heading rule, with the cases it must not fire on: (text after a title and before body, expected
    /// heading or None).
    #[test]
    fn heading_rules_fire_and_do_not() {
        let table: &[(&str, Option<&str>)] = &[
            ("1. Introduction", Some("1. Introduction")),
            ("0. Definitions.", Some("0. Definitions.")),
            ("A. Scope", Some("A. Scope")),
            ("IV. The Law", Some("IV. The Law")),
            ("Section 3", Some("Section 3")),
            ("Article 12", Some("Article 12")),
            ("Chapter IV", Some("Chapter IV")),
            ("PART TWO", Some("PART TWO")),
            ("TERMS AND CONDITIONS", Some("TERMS AND CONDITIONS")),
            ("A Plain Heading", Some("A Plain Heading")),
            ("                      Preamble", Some("Preamble")),
            // Must not fire: a short sentence, a lead-in, a long line, a numbered sentence that runs on.
            ("It was late.", None),
            ("Do the following:", None),
            ("1. you must not lower-case", None),
            ("Why would anyone do this?", None),
            (
                "This line is far too long to be a heading in any document that a person would write by hand",
                None,
            ),
            (
                "1. This License applies to any program or other work which contains\na notice placed by the copyright holder.",
                None,
            ),
            ("The list:\n1. Install it.\n2. Run it.", None),
        ];
        for (case, want) in table {
            let text = format!("Title\n\n{BODY}\n\n{case}\n\n{BODY}\n");
            let (_, headings) = outline(&text);
            let got = headings.first().map(|(h, _)| h.as_str());
            assert_eq!(got, *want, "{case:?}");
        }
    }

    #[test]
    fn a_list_of_steps_is_not_a_run_of_headings() {
        let text =
            format!("Title\n\n{BODY}\n\n1. Install it.\n\n2. Run it.\n\n3. Check it.\n\n{BODY}\n");
        let (_, headings) = outline(&text);
        assert!(headings.is_empty(), "{headings:?}");
        let e = parse_str(&text, Format::Text);
        let items: Vec<bool> = e.sections[0]
            .paragraphs
            .iter()
            .map(|p| p.list_item)
            .collect();
        assert_eq!(items, vec![false, true, true, true, false]);
    }

    #[test]
    fn underlines_give_headings_and_levels_follow_their_order() {
        let text = format!(
            "My Title\n========\n\n{BODY}\n\nFirst Part\n==========\n\n{BODY}\n\nA Section\n---------\n{BODY}\n\nSecond Part\n===========\n\n{BODY}\n"
        );
        let (title, headings) = outline(&text);
        assert_eq!(title.as_deref(), Some("My Title"));
        assert_eq!(
            headings,
            vec![
                ("First Part".into(), 2),
                ("A Section".into(), 3),
                ("Second Part".into(), 2)
            ]
        );
        // A line of dashes alone is a scene break, not an underline.
        assert_eq!(paragraphs(&format!("{BODY}\n\n----\n\n{BODY}")).len(), 2);
    }

    #[test]
    fn parts_chapters_and_numbered_sections_nest() {
        let text = format!(
            "The Book\n\nPART ONE\n\nCHAPTER I.\nThe Start\n\n{BODY}\n\n1. Early Days\n\n{BODY}\n\n2. Later\n\n{BODY}\n\nChapter II\n\n{BODY}\n\nPART TWO\n\nChapter III\n\n{BODY}\n"
        );
        let (_, headings) = outline(&text);
        assert_eq!(
            headings,
            vec![
                ("PART ONE".into(), 2),
                ("CHAPTER I: The Start".into(), 3),
                ("1. Early Days".into(), 4),
                ("2. Later".into(), 4),
                ("Chapter II".into(), 3),
                ("PART TWO".into(), 2),
                ("Chapter III".into(), 3),
            ]
        );
    }

    #[test]
    fn a_heading_that_heads_nothing_is_text() {
        let text = format!(
            "  Title\n\n  TERMS\n\n  1. One.\n\n{BODY}\n\n  END OF TERMS\n\n  How to Apply\n\n{BODY}\n"
        );
        let (_, headings) = outline(&text);
        assert_eq!(
            headings,
            vec![
                ("TERMS".into(), 2),
                ("1. One.".into(), 3),
                ("How to Apply".into(), 2)
            ]
        );
        assert!(paragraphs(&text).contains(&"END OF TERMS".to_string()));
    }

    #[test]
    fn run_in_numbered_headings_are_split_from_their_text() {
        let text = "Title\n\n   2. Grant of Copyright License. Subject to the terms and conditions of\n      this License, each Contributor hereby grants.\n\n   3. You may copy and distribute verbatim copies of the Program's source\n      code as you receive it.\n";
        let (_, headings) = outline(text);
        assert_eq!(headings, vec![("2. Grant of Copyright License.".into(), 2)]);
        let paras = paragraphs(text);
        assert_eq!(
            paras[0],
            "Subject to the terms and conditions of this License, each Contributor hereby grants."
        );
    }

    #[test]
    fn scene_breaks_are_pauses() {
        for mark in [
            "* * *",
            "***",
            "#",
            "~~~",
            "⁂",
            "*       *       *       *       *",
        ] {
            let e = parse_str(&format!("{BODY}\n\n{mark}\n\n{BODY}\n"), Format::Text);
            let pauses: Vec<_> = e.sections[0]
                .paragraphs
                .iter()
                .map(|p| p.pause_before)
                .collect();
            assert_eq!(pauses, vec![None, Some(Pause::Section)], "{mark:?}");
        }
    }

    #[test]
    fn gutenberg_books_wrapped_paragraphs_italics_and_page_numbers() {
        let text = "The Project Gutenberg eBook of A Tale\n\nTitle: A Tale\n\nAuthor: Some Writer\n\nLanguage: English\n\n*** START OF THE PROJECT GUTENBERG EBOOK A TALE ***\n\n\n\nCHAPTER I.\n\nIt was a _very_ long day, and the\nwind blew hard across the moor.\n\n12\n\nShe said _nothing_ at all.\n\n*** END OF THE PROJECT GUTENBERG EBOOK A TALE ***\n\nSection 1. General Terms of Use\n\nLicence text.\n";
        let e = parse_str(text, Format::Text);
        assert_eq!(e.title.as_ref().unwrap().text, "A Tale");
        assert_eq!(e.byline_author().as_deref(), Some("Some Writer"));
        assert_eq!(e.language.as_deref(), Some("en"));
        let (_, headings) = outline(text);
        assert_eq!(headings, vec![("CHAPTER I.".into(), 2)]);
        assert_eq!(
            paragraphs(text),
            vec![
                "It was a very long day, and the wind blew hard across the moor.",
                "She said nothing at all."
            ]
        );
        let warnings: Vec<String> = e.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("Project Gutenberg header and licence skipped"));
        assert!(warnings[1].contains("1 page number skipped"));
        // Not emphasis: snake_case words and a lone underscore.
        assert_eq!(
            plain_emphasis("call my_func_name with _x_ and _ alone"),
            "call my_func_name with x and _ alone"
        );
    }

    #[test]
    fn indentation_splits_paragraphs_lists_and_terms() {
        // Books without blank lines between paragraphs: a first-line indent starts one.
        let text = "  The first paragraph is here and it goes on for a line or\nso, until it stops.\n  The second starts indented, like the first, and\nruns on.\n\nTitle Here\n\n    1. Debian will remain 100% free\n       We provide the guidelines that we use to determine if a work is\n       free in the document entitled.\n";
        assert_eq!(
            paragraphs(text),
            vec![
                "The first paragraph is here and it goes on for a line or so, until it stops.",
                "The second starts indented, like the first, and runs on.",
                "1. Debian will remain 100% free",
                "We provide the guidelines that we use to determine if a work is free in the document entitled.",
            ]
        );
        // A list inside a paragraph: items of their own, no headings.
        let list = "Title\n\nEach decision is made by one of the following:\n    1. The Developers, by way of General Resolution;\n    2. The Project Leader;\n    3. The Technical Committee.\n";
        assert_eq!(paragraphs(list).len(), 4);
        assert!(outline(list).1.is_empty());
    }

    #[test]
    fn a_printed_table_of_contents_is_skipped() {
        let text = format!("Manual\n\n1 About\n2 Keeping Free\n  2.1 Referring\n3 Design\n\n1 About\n*******\n\n{BODY}\n");
        let e = parse_str(&text, Format::Text);
        assert_eq!(paragraphs(&text), vec![BODY.to_string()]);
        assert!(e.warnings[0]
            .to_string()
            .contains("table of contents skipped"));
    }
}
