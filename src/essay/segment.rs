//! Splitting paragraphs into narration segments (sentences, abbreviation-aware) and giving each a stable ID.

use std::collections::HashMap;

/// Abbreviations that come before a name or number, so a capital letter after them does not start a sentence.
const TITLES: &[&str] = &[
    "mr", "mrs", "ms", "mx", "dr", "prof", "st", "sr", "jr", "rev", "hon", "rt", "gen", "col",
    "capt", "lt", "sgt", "cpl", "pte", "pvt", "maj", "adm", "brig", "cmdr", "supt", "insp", "det",
    "sen", "rep", "gov", "pres", "fr", "mt", "ft", "no", "nos", "vol", "vols", "p", "pp", "fig",
    "figs", "ch", "art", "sec", "vs", "v", "cf", "approx", "ca",
];

/// Abbreviations written before a number or date ("c. 1900", "Mon. 3 Feb.", "est. 1890"): no sentence ends
/// between them and a number; before a capitalised word they end one only if it usually opens a sentence.
const BEFORE_NUMBERS: &[&str] = &[
    "c", "b", "d", "fl", "est", "max", "min", "op", "jan", "feb", "mar", "apr", "jun", "jul",
    "aug", "sep", "sept", "oct", "nov", "dec", "mon", "tue", "tues", "wed", "thu", "thur", "thurs",
    "fri", "sat", "sun",
];

/// Abbreviations that usually sit inside a sentence; they end one only when a capitalised word follows.
const INNER: &[&str] = &[
    "etc", "e.g", "i.e", "inc", "ltd", "co", "corp", "al", "viz", "eg", "ie", "esq", "bros",
];

/// Splits a paragraph into sentences. Every sentence is trimmed and non-empty; their concatenation (with
/// spaces) is the paragraph.
pub(crate) fn sentences(paragraph: &str) -> Vec<String> {
    let chars: Vec<(usize, char)> = paragraph.char_indices().collect();
    let mut out = Vec::new();
    let mut start = 0usize; // byte offset
    let mut i = 0usize;
    while i < chars.len() {
        let (_, c) = chars[i];
        if !matches!(c, '.' | '!' | '?' | '…') {
            i += 1;
            continue;
        }
        // Take the whole run of terminators and closing marks: `?!`, `...`, `."`, `.)”`.
        let mut j = i;
        while j + 1 < chars.len()
            && matches!(
                chars[j + 1].1,
                '.' | '!' | '?' | '…' | '"' | '\'' | '”' | '’' | ')' | ']' | '»'
            )
        {
            j += 1;
        }
        let end = chars.get(j + 1).map_or(paragraph.len(), |&(b, _)| b);
        let next_word = paragraph[end..].trim_start();
        let at_space = chars.get(j + 1).is_none_or(|&(_, c)| c.is_whitespace());
        if at_space
            && (next_word.is_empty()
                || is_sentence_boundary(&paragraph[start..end], c, j > i, next_word))
        {
            push_trimmed(&mut out, &paragraph[start..end]);
            start = end;
        }
        i = j + 1;
    }
    push_trimmed(&mut out, &paragraph[start..]);
    out
}

fn push_trimmed(out: &mut Vec<String>, s: &str) {
    let s = s.trim();
    if !s.is_empty() {
        out.push(s.to_string());
    }
}

/// Decides whether text ending in a terminator `term` ends a sentence, given the text that follows it.
fn is_sentence_boundary(sentence: &str, term: char, run: bool, next: &str) -> bool {
    let first = next.chars().next().unwrap_or(' ');
    let starts_new = first.is_uppercase()
        || first.is_ascii_digit()
        || matches!(
            first,
            '"' | '“' | '‘' | '\'' | '(' | '[' | '¿' | '¡' | '—' | '-'
        );
    if !starts_new {
        return false;
    }
    if term != '.' || run {
        return true;
    }
    // A single full stop: look at the word before it.
    let word = sentence[..sentence.len() - 1]
        .rsplit(|c: char| c.is_whitespace() || matches!(c, '(' | '"' | '“' | '‘' | '['))
        .next()
        .unwrap_or("");
    let lower = word.to_lowercase();
    if TITLES.contains(&lower.as_str()) {
        return false;
    }
    if BEFORE_NUMBERS.contains(&lower.as_str()) {
        if first.is_ascii_digit() {
            return false;
        }
        let next_word: String = next.chars().take_while(|c| c.is_alphabetic()).collect();
        return SENTENCE_OPENERS.contains(&next_word.as_str());
    }
    // A single capital initial ("J. R. Tolkien") is part of a name.
    let mut letters = word.chars();
    if let (Some(c), None) = (letters.next(), letters.next()) {
        if c.is_uppercase() {
            return false;
        }
    }
    // Inner abbreviations and initialisms (U.K., etc.) end a sentence only before a word that usually opens
    // one: "in the U.K. Then it rained" splits, "the U.K. Hydrographic Office" does not.
    let initialism = word.contains('.') && word.split('.').all(|p| p.chars().count() <= 1);
    if INNER.contains(&lower.as_str()) || initialism {
        let next_word: String = next.chars().take_while(|c| c.is_alphabetic()).collect();
        return SENTENCE_OPENERS.contains(&next_word.as_str());
    }
    true
}

/// Words that often open a sentence, used to tell whether "U.K." or "etc." before a capital ends one.
const SENTENCE_OPENERS: &[&str] = &[
    "The", "A", "An", "It", "He", "She", "They", "We", "I", "You", "This", "That", "These",
    "Those", "There", "Then", "But", "And", "So", "Or", "In", "On", "At", "As", "If", "When",
    "While", "After", "Before", "Since", "Yet", "Our", "My", "His", "Her", "Their", "Its", "Some",
    "Many", "Most", "No", "Not", "What", "Why", "How", "Who", "Where", "Now", "Still", "Even",
    "All", "Each", "Every", "For", "With", "From", "Today", "Later",
];

/// Splits a sentence longer than `max` characters: at clause punctuation (`;`, `:`, `,`, dashes) where it can,
/// at a word boundary where it cannot, and mid-word only for a single word longer than `max`.
pub(crate) fn split_long(sentence: &str, max: usize) -> Vec<String> {
    let max = max.max(20);
    let mut out = Vec::new();
    let mut rest = sentence.trim();
    while rest.chars().count() > max {
        let limit = rest.char_indices().nth(max).map_or(rest.len(), |(b, _)| b);
        let window = &rest[..limit];
        let min = limit / 3; // avoid tiny first pieces
        let at_clause = window
            .char_indices()
            .filter(|&(b, c)| b >= min && matches!(c, ';' | ':' | ',' | '—' | '–'))
            .map(|(b, c)| b + c.len_utf8())
            .next_back();
        let at_space = || window.rfind(char::is_whitespace).filter(|&b| b > 0);
        let cut = at_clause.or_else(at_space).unwrap_or(limit);
        push_trimmed(&mut out, &rest[..cut]);
        rest = rest[cut..].trim_start();
    }
    push_trimmed(&mut out, rest);
    out
}

/// Gives IDs to segment texts in document order: 8 hex digits of the BLAKE3 hash of the text, plus `-N` for the
/// N-th repeat of the same text. An ID depends only on its own text (and how often that text came before), so
/// editing other sentences never changes it.
#[derive(Default)]
pub(crate) struct IdMaker {
    seen: HashMap<String, u32>,
}

impl IdMaker {
    pub(crate) fn next(&mut self, text: &str) -> String {
        let hash = blake3::hash(super::tidy(text).as_bytes()).to_hex();
        let base = &hash.as_str()[..8];
        let n = self.seen.entry(base.to_string()).or_insert(0);
        *n += 1;
        if *n == 1 {
            base.to_string()
        } else {
            format!("{base}-{n}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn abbreviation_aware_sentences() {
        let table: &[(&str, &[&str])] = &[
            (
                "Dr. Smith met Mr. Jones. They talked.",
                &["Dr. Smith met Mr. Jones.", "They talked."],
            ),
            (
                "It costs 3.5 dollars. Cheap!",
                &["It costs 3.5 dollars.", "Cheap!"],
            ),
            (
                "Bring fruit, e.g. apples, etc. and more.",
                &["Bring fruit, e.g. apples, etc. and more."],
            ),
            (
                "We moved to the U.K. Then it rained.",
                &["We moved to the U.K.", "Then it rained."],
            ),
            (
                "He said, “Stop.” Then he left.",
                &["He said, “Stop.”", "Then he left."],
            ),
            (
                "Wait... what? Yes... Really.",
                &["Wait... what?", "Yes...", "Really."],
            ),
            (
                "“Why?” she asked. No reply.",
                &["“Why?” she asked.", "No reply."],
            ),
            (
                "J. R. Tolkien wrote. St. Paul is a city.",
                &["J. R. Tolkien wrote.", "St. Paul is a city."],
            ),
            (
                "See i.e. the rule (it holds.) Next one.",
                &["See i.e. the rule (it holds.)", "Next one."],
            ),
            (
                "The house was built c. 1900 by a miller. It still stands.",
                &[
                    "The house was built c. 1900 by a miller.",
                    "It still stands.",
                ],
            ),
            (
                "The fair opens Mon. 3 Feb. at noon. Bring a coat.",
                &["The fair opens Mon. 3 Feb. at noon.", "Bring a coat."],
            ),
            (
                "The mill (est. 1890) grinds flour. Roe v. Wade was argued twice.",
                &[
                    "The mill (est. 1890) grinds flour.",
                    "Roe v. Wade was argued twice.",
                ],
            ),
            (
                "The Rt. Hon. member rose. We closed in Jan. The next year was calm.",
                &[
                    "The Rt. Hon. member rose.",
                    "We closed in Jan.",
                    "The next year was calm.",
                ],
            ),
            (
                "The U.S. GDP grew. She has a Ph.D. in physics.",
                &["The U.S. GDP grew.", "She has a Ph.D. in physics."],
            ),
            ("No terminal punctuation", &["No terminal punctuation"]),
            ("Version 2.0 is out.Next", &["Version 2.0 is out.Next"]),
        ];
        for (input, want) in table {
            assert_eq!(sentences(input), *want, "input: {input}");
        }
    }

    #[test]
    fn long_sentences_split_at_clauses_then_words() {
        let s = "This sentence has a clause, and then another clause that keeps going for a while; it ends here.";
        let parts = split_long(s, 60);
        assert!(parts.iter().all(|p| p.chars().count() <= 60), "{parts:?}");
        assert_eq!(parts[0], "This sentence has a clause,");
        let words = "word ".repeat(40);
        let parts = split_long(&words, 50);
        assert!(parts
            .iter()
            .all(|p| p.chars().count() <= 50 && !p.ends_with(' ')));
        assert_eq!(parts.join(" "), words.trim());
        let giant = "x".repeat(130);
        assert_eq!(split_long(&giant, 50).concat(), giant);
    }

    #[test]
    fn ids_are_content_derived_with_occurrence() {
        let mut m = IdMaker::default();
        let a = m.next("Hello there.");
        let b = m.next("Something else.");
        let a2 = m.next("Hello there.");
        assert_eq!(a.len(), 8);
        assert_ne!(a, b);
        assert_eq!(a2, format!("{a}-2"));
        let mut m2 = IdMaker::default();
        m2.next("An edited first sentence.");
        assert_eq!(m2.next("Something else."), b);
    }

    proptest! {
        #[test]
        fn sentences_cover_the_text_in_order(words in proptest::collection::vec("[A-Za-z]{1,8}[.!?,]?", 1..60)) {
            let text = words.join(" ");
            let parts = sentences(&text);
            prop_assert!(parts.iter().all(|p| !p.trim().is_empty()));
            prop_assert_eq!(parts.join(" "), text);
        }

        #[test]
        fn long_splits_are_bounded_and_lossless(text in "[a-z ,;]{0,400}", max in 20usize..120) {
            let parts = split_long(&text, max);
            prop_assert!(parts.iter().all(|p| !p.is_empty() && p.chars().count() <= max));
            let squash = |s: &str| s.split_whitespace().collect::<String>();
            prop_assert_eq!(squash(&parts.join(" ")), squash(&text));
        }
    }
}
