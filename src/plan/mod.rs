//! The plan: every segment of an essay, in order, with its ID, chapter, spoken text, pause, take and cache key.
//! Pure data: `narrate plan` prints it, `build` executes it, `regen` changes takes in it.

use serde::Serialize;

pub(crate) mod takes;

use crate::cache::KeyInput;
use crate::essay::lexicon::Lexicon;
use crate::essay::normalize::{self, Normalizer};
use crate::essay::{segment, Aside, Book, Essay, Pause, Section};
use crate::values::{ChapterMode, Pauses};
use takes::Takes;

#[derive(Debug, Clone, Serialize)]
pub struct PlanChapter {
    pub title: String,
    /// Source line where the chapter begins.
    pub line: usize,
    /// 1 for the title, 2 for a chapter (an H2, a paragraph chapter, or an introduction), 3 and more for a
    /// sub-chapter (its heading's level).
    pub level: u8,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanSegment {
    pub id: String,
    pub chapter: usize,
    pub line: usize,
    /// The text as written in the essay.
    pub text: String,
    /// The text the backend is given.
    pub spoken: String,
    pub take: u32,
    pub pause_after_ms: u32,
    pub cache_key: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub title: String,
    pub author: Option<String>,
    pub backend: String,
    pub voice: String,
    pub rate: Option<u32>,
    pub chapters: Vec<PlanChapter>,
    pub segments: Vec<PlanSegment>,
    /// A book's metadata (EPUB), for the edition's tags and cover.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub book: Option<Book>,
}

/// What a build needs to know besides the essay.
pub(crate) struct PlanInputs<'a> {
    pub title: String,
    pub author: Option<String>,
    pub chapters: ChapterMode,
    pub max_chars: usize,
    pub pauses: Pauses,
    pub backend: &'a str,
    pub fingerprint: &'a str,
    pub voice: &'a str,
    pub rate: Option<u32>,
    pub takes: &'a Takes,
    /// `None` when normalization is off (only typography is cleaned).
    pub normalizer: Option<&'a Normalizer>,
    pub lexicon: &'a Lexicon,
}

/// Which block of the essay a segment belongs to; pauses come from how blocks change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Title,
    Byline,
    Heading(usize),
    Paragraph(usize, usize),
}

struct Draft {
    text: String,
    line: usize,
    chapter: usize,
    block: Block,
    /// Index of the sentence within its block; pieces of one long sentence share it.
    sentence: usize,
    /// A break written before its block (on the block's first segment only).
    pause_before: Option<Pause>,
    /// The level of the heading this segment reads, if it reads one.
    heading_level: Option<u8>,
    /// Inside a block quote.
    quote: bool,
}

/// Added to the paragraph pause on either side of a block quote, so the listener hears the quotation set off
/// from the text around it (about the length of a breath: longer than a comma, shorter than a section).
pub(crate) const QUOTE_PAUSE_EXTRA_MS: u32 = 300;

/// Words in a chapter title made from a paragraph.
const TITLE_WORDS: usize = 6;

/// The first words of a paragraph, as a chapter title: "It was a bright cold day…". The title stops at the end
/// of the first sentence, and ends with an ellipsis whenever the paragraph goes on.
pub(crate) fn paragraph_title(text: &str) -> String {
    let first = segment::sentences(text)
        .into_iter()
        .next()
        .unwrap_or_default();
    let words: Vec<&str> = first.split_whitespace().collect();
    let head = words[..words.len().min(TITLE_WORDS)].join(" ");
    let head = head.trim_end_matches(|c: char| c.is_ascii_punctuation() && c != '?' && c != '!');
    let whole = words.len() <= TITLE_WORDS && first.len() == text.trim().len();
    if whole {
        head.to_string()
    } else {
        format!("{head}…")
    }
}

/// Builds the plan for an essay.
pub(crate) fn build(essay: &Essay, inputs: &PlanInputs) -> Plan {
    let mut drafter = Drafter {
        mode: chapter_mode(essay, inputs.chapters),
        max_chars: inputs.max_chars,
        chapters: Vec::new(),
        drafts: Vec::new(),
    };
    drafter.title(essay);
    for (si, section) in essay.sections.iter().enumerate() {
        drafter.section(si, section);
    }
    let Drafter {
        chapters, drafts, ..
    } = drafter;
    Plan {
        title: inputs.title.clone(),
        author: inputs.author.clone(),
        backend: inputs.backend.to_string(),
        voice: inputs.voice.to_string(),
        rate: inputs.rate,
        chapters,
        segments: segments(&drafts, inputs),
        book: essay.book.clone(),
    }
}

/// The chapter mode `auto` resolved for this essay: a chapter per heading if it has headings, else per
/// paragraph.
fn chapter_mode(essay: &Essay, mode: ChapterMode) -> ChapterMode {
    match mode {
        ChapterMode::Auto if essay.has_headings() => ChapterMode::Heading(None),
        ChapterMode::Auto => ChapterMode::Paragraph,
        m => m,
    }
}

/// Lays the essay out as chapters and drafts of segments (sentences, and pieces of long ones), in order.
struct Drafter {
    mode: ChapterMode,
    max_chars: usize,
    chapters: Vec<PlanChapter>,
    drafts: Vec<Draft>,
}

impl Drafter {
    /// The title, as the first chapter, and the byline under it.
    fn title(&mut self, essay: &Essay) {
        let Some(title) = &essay.title else {
            return;
        };
        self.chapters.push(PlanChapter {
            title: title.text.clone(),
            line: title.line,
            level: 1,
        });
        self.add(&title.text, title.line, Block::Title, None, Some(1), false);
        if let Some(by) = &essay.byline {
            self.add(&by.text, by.line, Block::Byline, None, None, false);
        }
    }

    /// A section: the chapter its heading (or its first paragraph) opens, if it opens one, then its heading and
    /// paragraphs.
    fn section(&mut self, si: usize, section: &Section) {
        let first_para = section.paragraphs.first();
        let opens = match &section.heading {
            Some(h) => self.mode.starts_chapter(h.level),
            None => matches!(self.mode, ChapterMode::Heading(_)),
        };
        // A heading deeper than the chapter depth stays inside the chapter open before it, if there is one.
        if opens || (self.chapters.is_empty() && section.heading.is_some()) {
            let title = match (&section.heading, first_para) {
                (Some(h), _) => h.text.clone(),
                (None, Some(p)) => paragraph_title(&p.text),
                (None, None) => return,
            };
            let line = section
                .heading
                .as_ref()
                .map_or_else(|| first_para.map_or(0, |p| p.line), |h| h.line);
            let level = section.heading.as_ref().map_or(2, |h| h.level.max(2));
            self.chapters.push(PlanChapter { title, line, level });
        }
        if let Some(h) = &section.heading {
            self.add(
                &h.text,
                h.line,
                Block::Heading(si),
                h.pause_before,
                Some(h.level),
                false,
            );
        }
        for (pi, p) in section.paragraphs.iter().enumerate() {
            // A heading's first paragraph, and a list under a paragraph, belong to the chapter already open.
            let continues = (pi == 0 && section.heading.is_some()) || (pi > 0 && p.list_item);
            if (self.mode == ChapterMode::Paragraph && !continues) || self.chapters.is_empty() {
                self.chapters.push(PlanChapter {
                    title: paragraph_title(&p.text),
                    line: p.line,
                    level: 2,
                });
            }
            self.add(
                &p.text,
                p.line,
                Block::Paragraph(si, pi),
                p.pause_before,
                None,
                p.aside == Some(Aside::Quote),
            );
        }
    }

    /// A block's text, as drafts in the chapter open last; the break written before it goes on its first.
    fn add(
        &mut self,
        text: &str,
        line: usize,
        block: Block,
        pause: Option<Pause>,
        heading_level: Option<u8>,
        quote: bool,
    ) {
        let chapter = self.chapters.len() - 1;
        let first = self.drafts.len();
        for (sentence, s) in segment::sentences(text).iter().enumerate() {
            for piece in segment::split_long(s, self.max_chars) {
                self.drafts.push(Draft {
                    text: piece,
                    line,
                    chapter,
                    block,
                    sentence,
                    pause_before: None,
                    heading_level,
                    quote,
                });
            }
        }
        if let Some(d) = self.drafts.get_mut(first) {
            d.pause_before = pause;
        }
    }
}

/// The drafts as segments: each with its ID, spoken text, take, cache key and the pause after it.
fn segments(drafts: &[Draft], inputs: &PlanInputs) -> Vec<PlanSegment> {
    let mut ids = segment::IdMaker::default();
    drafts
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let id = ids.next(&d.text);
            let spoken = spoken_text(
                &d.text,
                matches!(d.block, Block::Title | Block::Heading(_)),
                inputs,
            );
            let take = inputs.takes.take(&id);
            let cache_key = KeyInput {
                backend: inputs.backend,
                fingerprint: inputs.fingerprint,
                voice: inputs.voice,
                rate: inputs.rate,
                spoken: &spoken,
                take,
            }
            .key();
            PlanSegment {
                id,
                chapter: d.chapter,
                line: d.line,
                text: d.text.clone(),
                spoken,
                take,
                pause_after_ms: drafts
                    .get(i + 1)
                    .map_or(0, |next| pause_between(d, next, inputs.pauses)),
                cache_key,
            }
        })
        .collect()
}

/// The text a backend is given: lexicon entries first (so they can override any rule), then normalization.
fn spoken_text(text: &str, heading: bool, inputs: &PlanInputs) -> String {
    let (text, protected) = inputs.lexicon.apply(text);
    let spoken = match inputs.normalizer {
        Some(n) => n.spoken(&text, heading),
        None => normalize::typography(&text),
    };
    Lexicon::restore(&spoken, &protected)
}

fn pause_between(a: &Draft, b: &Draft, p: Pauses) -> u32 {
    match b.pause_before {
        Some(Pause::Millis(ms)) => return ms,
        Some(Pause::Section) => return p.section_ms,
        None => {}
    }
    let section = |block: Block| match block {
        Block::Heading(s) | Block::Paragraph(s, _) => Some(s),
        Block::Title | Block::Byline => None,
    };
    if a.block == b.block {
        return if a.sentence == b.sentence {
            p.sentence_ms / 2 // a long sentence split at a clause
        } else {
            p.sentence_ms
        };
    }
    let pause = if b.block == Block::Byline || section(a.block) == section(b.block) {
        p.paragraph_ms
    } else if b.heading_level.is_some_and(|level| level >= 3) {
        // A sub-section: more than a paragraph, less than a section.
        (p.paragraph_ms + p.section_ms) / 2
    } else {
        p.section_ms
    };
    if a.quote != b.quote {
        pause.max(p.paragraph_ms + QUOTE_PAUSE_EXTRA_MS)
    } else {
        pause
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::essay::parse::{parse_str, Format};

    const PAUSES: Pauses = Pauses {
        sentence_ms: 250,
        paragraph_ms: 700,
        section_ms: 1500,
    };

    fn plan(text: &str, format: Format, mode: ChapterMode) -> Plan {
        let essay = parse_str(text, format);
        let takes = Takes::default();
        build(
            &essay,
            &PlanInputs {
                title: "T".into(),
                author: None,
                chapters: mode,
                max_chars: 300,
                pauses: PAUSES,
                backend: "tone",
                fingerprint: "f",
                voice: "sine",
                rate: None,
                takes: &takes,
                normalizer: Some(&Normalizer::default()),
                lexicon: &Lexicon::default(),
            },
        )
    }

    #[test]
    fn headings_make_chapters_and_title_is_first() {
        let p = plan(
            "# Title\n\nIntro one. Intro two.\n\n## Part A\n\nA text.\n\n## Part B\n\nB text.\n",
            Format::Markdown,
            ChapterMode::Auto,
        );
        let titles: Vec<&str> = p.chapters.iter().map(|c| c.title.as_str()).collect();
        assert_eq!(titles, vec!["Title", "Intro one…", "Part A", "Part B"]);
        let texts: Vec<&str> = p.segments.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "Title",
                "Intro one.",
                "Intro two.",
                "Part A",
                "A text.",
                "Part B",
                "B text."
            ]
        );
        let pauses: Vec<u32> = p.segments.iter().map(|s| s.pause_after_ms).collect();
        assert_eq!(pauses, vec![1500, 250, 1500, 700, 1500, 700, 0]);
        let chapters: Vec<usize> = p.segments.iter().map(|s| s.chapter).collect();
        assert_eq!(chapters, vec![0, 1, 1, 2, 2, 3, 3]);
    }

    #[test]
    fn no_headings_means_a_chapter_per_paragraph() {
        let p = plan(
            "A Title\n\nThe first paragraph has quite a few words in it. Two.\n\nShort one.\n",
            Format::Text,
            ChapterMode::Auto,
        );
        let titles: Vec<&str> = p.chapters.iter().map(|c| c.title.as_str()).collect();
        assert_eq!(
            titles,
            vec!["A Title", "The first paragraph has quite a…", "Short one"]
        );
        let pauses: Vec<u32> = p.segments.iter().map(|s| s.pause_after_ms).collect();
        assert_eq!(pauses, vec![1500, 250, 700, 0]);
        let heading = plan(
            "A Title\n\nOne para.\n\nTwo para.\n",
            Format::Text,
            ChapterMode::Heading(None),
        );
        assert_eq!(heading.chapters.len(), 2);
    }

    #[test]
    fn a_list_stays_in_the_chapter_of_the_paragraph_before_it() {
        let p = plan(
            "# T\n\nThree reasons:\n\n- one\n- two\n\nA new thought.\n",
            Format::Markdown,
            ChapterMode::Auto,
        );
        let titles: Vec<&str> = p.chapters.iter().map(|c| c.title.as_str()).collect();
        assert_eq!(titles, vec!["T", "Three reasons", "A new thought"]);
    }

    #[test]
    fn long_sentences_become_several_segments_with_short_pauses() {
        let long = format!(
            "{}, {}.",
            "word ".repeat(50).trim(),
            "more ".repeat(30).trim()
        );
        let p = plan(
            &format!("Title\n\n{long}\n"),
            Format::Text,
            ChapterMode::Auto,
        );
        assert!(p.segments.len() >= 3, "{:?}", p.segments);
        assert!(p.segments.iter().all(|s| s.text.chars().count() <= 300));
        assert_eq!(p.segments[1].pause_after_ms, 125);
    }

    #[test]
    fn written_breaks_set_the_pause_before_their_block() {
        let p = plan(
            "# T\n\nOne. Two.\n\n<!-- pause 3s -->\n\nThree.\n\n---\n\nFour.\n",
            Format::Markdown,
            ChapterMode::Heading(None),
        );
        let pauses: Vec<u32> = p.segments.iter().map(|s| s.pause_after_ms).collect();
        assert_eq!(pauses, vec![1500, 250, 3000, 1500, 0]);
    }

    #[test]
    fn spoken_text_is_normalized() {
        let p = plan(
            "# Chapter IV\n\nDr. Okafor paid $5 on 7 July 2005.\n",
            Format::Markdown,
            ChapterMode::Auto,
        );
        assert_eq!(p.segments[0].spoken, "Chapter four");
        assert_eq!(
            p.segments[1].spoken,
            "Doctor Okafor paid five dollars on the seventh of July, two thousand five."
        );
    }

    const LEVELS: &str =
        "# Rivers\n\nA start.\n\n## Sources\n\nSprings rise.\n\n### Seeps\n\nWet ground.\n\n\
        #### Moss\n\nGreen.\n\n## Mouths\n\nThey widen.\n";

    fn chapters(p: &Plan) -> Vec<(&str, u8)> {
        p.chapters
            .iter()
            .map(|c| (c.title.as_str(), c.level))
            .collect()
    }

    #[test]
    fn chapters_carry_their_heading_level() {
        let p = plan(LEVELS, Format::Markdown, ChapterMode::Heading(None));
        assert_eq!(
            chapters(&p),
            vec![
                ("Rivers", 1),
                ("A start", 2),
                ("Sources", 2),
                ("Seeps", 3),
                ("Moss", 4),
                ("Mouths", 2)
            ]
        );
        let para = plan(
            "A Title\n\nOne para.\n\nTwo para.\n",
            Format::Text,
            ChapterMode::Auto,
        );
        assert_eq!(
            chapters(&para),
            vec![("A Title", 1), ("One para", 2), ("Two para", 2)]
        );
    }

    #[test]
    fn a_chapter_depth_keeps_deeper_headings_inside_their_chapter() {
        let two = plan(LEVELS, Format::Markdown, ChapterMode::Heading(Some(2)));
        assert_eq!(
            chapters(&two),
            vec![("Rivers", 1), ("A start", 2), ("Sources", 2), ("Mouths", 2)]
        );
        // The deeper headings are still read, in the chapter of "Sources".
        let seeps = two.segments.iter().find(|s| s.text == "Seeps").unwrap();
        let moss = two.segments.iter().find(|s| s.text == "Moss").unwrap();
        assert_eq!((seeps.chapter, moss.chapter), (2, 2));
        let three = plan(LEVELS, Format::Markdown, ChapterMode::Heading(Some(3)));
        assert_eq!(
            chapters(&three),
            vec![
                ("Rivers", 1),
                ("A start", 2),
                ("Sources", 2),
                ("Seeps", 3),
                ("Mouths", 2)
            ]
        );
        // An essay that opens with a deep heading still has a chapter for it.
        let deep = plan(
            "### Odd start\n\nText.\n\n## Main\n\nMore.\n",
            Format::Markdown,
            ChapterMode::Heading(Some(2)),
        );
        assert_eq!(chapters(&deep), vec![("Odd start", 3), ("Main", 2)]);
    }

    #[test]
    fn pauses_before_sub_sections_are_shorter_than_before_sections() {
        for mode in [ChapterMode::Heading(None), ChapterMode::Heading(Some(2))] {
            let p = plan(LEVELS, Format::Markdown, mode);
            let before = |text: &str| {
                let i = p.segments.iter().position(|s| s.text == text).unwrap();
                p.segments[i - 1].pause_after_ms
            };
            assert_eq!(before("Sources"), 1500, "{mode}");
            assert_eq!(before("Seeps"), 1100, "{mode}");
            assert_eq!(before("Moss"), 1100, "{mode}");
            assert_eq!(before("Mouths"), 1500, "{mode}");
            assert_eq!(before("Wet ground."), 700, "{mode}");
        }
    }

    #[test]
    fn a_block_quote_is_set_off_by_a_longer_pause() {
        let p = plan(
            "# T\n\nShe wrote this. Then stopped.\n\n> Water finds a way. It always does.\n>\n\
             > Even uphill.\n\nAfter the quote.\n",
            Format::Markdown,
            ChapterMode::Auto,
        );
        let texts: Vec<&str> = p.segments.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "T",
                "She wrote this.",
                "Then stopped.",
                "Water finds a way.",
                "It always does.",
                "Even uphill.",
                "After the quote."
            ]
        );
        let pauses: Vec<u32> = p.segments.iter().map(|s| s.pause_after_ms).collect();
        let quote = 700 + QUOTE_PAUSE_EXTRA_MS;
        assert_eq!(pauses, vec![1500, 250, quote, 250, 700, quote, 0]);
    }

    #[test]
    fn paragraph_titles() {
        assert_eq!(
            paragraph_title("One two three four five six seven."),
            "One two three four five six…"
        );
        assert_eq!(
            paragraph_title("One two, three four five six, seven."),
            "One two, three four five six…"
        );
        assert_eq!(paragraph_title("Short."), "Short");
        assert_eq!(
            paragraph_title("The answer is thrift. Cooking at home is cheap."),
            "The answer is thrift…"
        );
        assert_eq!(paragraph_title("Why not? Because."), "Why not?…");
    }
}
