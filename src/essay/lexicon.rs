//! The pronunciation lexicon: words or phrases the user wants said another way, from `[lexicon]` in
//! `narrate.toml` (beside the essay, over the one in the user's config directory).
//!
//! An entry maps a word or phrase to a respelling (`"Okafor" = "oh KAH for"`) or to phonemes in espeak-ng's
//! notation (`"Nguyen" = "[[N'wIn]]"`), which both the espeak and piper backends read (piper phonemizes through
//! espeak-ng). Matching is whole-word; an entry with a capital letter matches case-sensitively, an all-lower-case
//! entry matches any case.

use std::collections::BTreeMap;

use aho_corasick::{AhoCorasick, MatchKind};

/// The user's pronunciations, compiled once into two automata over all entries (one for entries with a capital
/// letter, matched as written; one for all-lower-case entries, matched in any case): a lexicon of thousands of
/// entries costs a few megabytes and one pass over each sentence, not a regular expression per entry.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lexicon {
    /// Entries with a capital letter, matched case-sensitively.
    exact: Option<AhoCorasick>,
    exact_entries: Vec<usize>,
    /// All-lower-case entries, matched against the text with its letters lowered.
    folded: Option<AhoCorasick>,
    folded_entries: Vec<usize>,
    /// Each entry's replacement, by entry number.
    replacements: Vec<String>,
}

/// ASCII control characters that stand in for the first replacements of a sentence. The parser turns control
/// characters in an essay into spaces, so none is ever in the text; and the normalizer's patterns treat them as
/// they treat punctuation (neither word nor space). Being ASCII matters for speed: a sentence with any non-ASCII
/// character makes every pattern with a Unicode word boundary leave the regex crate's fast engine (the lazy DFA)
/// for a slow one, which made a lexicon triple the time to plan.
const ASCII_MARKERS: &[u8] =
    b"\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b";

/// Stands in for the `i`-th replacement while the normalizer runs: one character which no rule matches or
/// changes; an ASCII control character for the first few, a private-use character after them.
fn marker(i: usize) -> char {
    match ASCII_MARKERS.get(i) {
        Some(&b) => char::from(b),
        None => char::from_u32(0xF0000 + i as u32).unwrap_or('\u{10FFFD}'),
    }
}

/// The replacement number a marker stands for.
fn slot(c: char) -> Option<usize> {
    if c.is_ascii() {
        ASCII_MARKERS.iter().position(|&b| char::from(b) == c)
    } else {
        (c as usize).checked_sub(0xF0000)
    }
}

/// A character that makes a match part of a longer word (regex's `\w`: letters, digits, marks, connectors).
fn wordish(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '\u{200C}' || c == '\u{200D}'
}

/// The text with each character lowered where that keeps its length in bytes, so byte offsets into it are
/// offsets into the text (a character whose lower case is longer stays as written and matches only itself).
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let mut lower = c.to_lowercase();
        match (lower.next(), lower.next()) {
            (Some(l), None) if l.len_utf8() == c.len_utf8() => out.push(l),
            _ => out.push(c),
        }
    }
    out
}

impl Lexicon {
    /// Builds a lexicon; where entries overlap in a text, the longer wins (a phrase over a word inside it).
    pub(crate) fn new(table: &BTreeMap<String, String>) -> Result<Lexicon, String> {
        let mut lexicon = Lexicon::default();
        let (mut exact, mut folded) = (Vec::new(), Vec::new());
        for (key, replacement) in table {
            let key = key.trim();
            if key.is_empty() {
                continue;
            }
            let i = lexicon.replacements.len();
            lexicon.replacements.push(replacement.clone());
            if key.chars().any(char::is_uppercase) {
                exact.push(key.to_string());
                lexicon.exact_entries.push(i);
            } else {
                folded.push(fold(key));
                lexicon.folded_entries.push(i);
            }
        }
        let build = |patterns: &[String]| -> Result<Option<AhoCorasick>, String> {
            if patterns.is_empty() {
                return Ok(None);
            }
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(patterns)
                .map(Some)
                .map_err(|e| format!("lexicon: {e}"))
        };
        lexicon.exact = build(&exact)?;
        lexicon.folded = build(&folded)?;
        Ok(lexicon)
    }

    /// Every whole-word match in `text`, as (start, end, entry), chosen so that none overlap: longer matches
    /// first, then earlier ones.
    fn matches(&self, text: &str) -> Vec<(usize, usize, usize)> {
        let mut found: Vec<(usize, usize, usize)> = Vec::new();
        let whole = |s: usize, e: usize| {
            !text[..s].chars().next_back().is_some_and(wordish)
                && !text[e..].chars().next().is_some_and(wordish)
        };
        let mut collect = |ac: &Option<AhoCorasick>, entries: &[usize], hay: &str| {
            if let Some(ac) = ac {
                for m in ac.find_overlapping_iter(hay) {
                    if whole(m.start(), m.end()) {
                        found.push((m.start(), m.end(), entries[m.pattern().as_usize()]));
                    }
                }
            }
        };
        collect(&self.exact, &self.exact_entries, text);
        if self.folded.is_some() {
            collect(&self.folded, &self.folded_entries, &fold(text));
        }
        found.sort_by_key(|&(s, e, _)| (std::cmp::Reverse(e - s), s));
        // Taken spans, by start: a candidate is kept when it overlaps none of them.
        let mut taken: BTreeMap<usize, usize> = BTreeMap::new();
        let mut kept = Vec::new();
        for (s, e, entry) in found {
            let before = taken.range(..e).next_back();
            if before.is_some_and(|(_, &end)| end > s) {
                continue;
            }
            taken.insert(s, e);
            kept.push((s, e, entry));
        }
        kept.sort_unstable();
        kept
    }

    /// Replaces every entry in `text`. Replacements come back protected (the user's spelling is final, and
    /// phoneme input must reach the engine as written), to be put back by `restore` after normalization.
    pub(crate) fn apply(&self, text: &str) -> (String, Vec<String>) {
        let mut protected: Vec<String> = Vec::new();
        let mut slots: BTreeMap<usize, usize> = BTreeMap::new();
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (s, e, entry) in self.matches(text) {
            let slot = *slots.entry(entry).or_insert_with(|| {
                protected.push(self.replacements[entry].clone());
                protected.len() - 1
            });
            out.push_str(&text[at..s]);
            out.push(marker(slot));
            at = e;
        }
        out.push_str(&text[at..]);
        (out, protected)
    }

    /// Puts protected phoneme input back.
    pub(crate) fn restore(text: &str, protected: &[String]) -> String {
        if protected.is_empty() {
            return text.to_string();
        }
        text.chars()
            .map(|c| match slot(c) {
                Some(i) if i < protected.len() => protected[i].clone(),
                _ => c.to_string(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(pairs: &[(&str, &str)]) -> Lexicon {
        Lexicon::new(
            &pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn whole_words_and_case() {
        let l = lex(&[
            ("Okafor", "oh KAH for"),
            ("gif", "jiff"),
            ("New York", "noo york"),
        ]);
        let said = |t: &str| {
            let (text, p) = l.apply(t);
            Lexicon::restore(&text, &p)
        };
        assert_eq!(said("Okafor met okafor."), "oh KAH for met okafor.");
        assert_eq!(
            said("A GIF, a gif, a gifted child."),
            "A jiff, a jiff, a gifted child."
        );
        assert_eq!(said("New York, New Yorker"), "noo york, New Yorker");
    }

    #[test]
    fn many_entries_in_one_sentence_each_come_back() {
        let pairs: Vec<(String, String)> = (0..40)
            .map(|i| (format!("Name{i}x"), format!("say {i}")))
            .collect();
        let l = Lexicon::new(&pairs.iter().cloned().collect()).unwrap();
        let text: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
        let (marked, protected) = l.apply(&text.join(", "));
        // The first replacements stand in as ASCII (the normalizer's fast path), the rest as private-use marks.
        assert!(marked.starts_with('\x01'), "{marked:?}");
        let want: Vec<String> = pairs.iter().map(|(_, v)| v.clone()).collect();
        assert_eq!(Lexicon::restore(&marked, &protected), want.join(", "));
    }

    #[test]
    fn phonemes_are_protected() {
        let l = lex(&[("Nguyen", "[[N'wIn]]")]);
        let (text, protected) = l.apply("Nguyen and Nguyen");
        assert!(!text.contains("[["));
        assert_eq!(
            Lexicon::restore(&text, &protected),
            "[[N'wIn]] and [[N'wIn]]"
        );
    }

    #[test]
    fn the_longer_entry_wins_where_entries_overlap_and_letters_fold_in_any_script() {
        let l = lex(&[
            ("New", "noo"),
            ("New York", "noo york"),
            ("élan", "ay LAHN"),
            ("straße", "shtrahsseh"),
        ]);
        let said = |t: &str| {
            let (text, p) = l.apply(t);
            Lexicon::restore(&text, &p)
        };
        assert_eq!(said("New York and New"), "noo york and noo");
        assert_eq!(said("Élan, ÉLAN; élan."), "ay LAHN, ay LAHN; ay LAHN.");
        assert_eq!(said("Straße, straßen"), "shtrahsseh, straßen");
        assert_eq!(said("Newer news_New"), "Newer news_New");
    }

    #[test]
    fn a_large_lexicon_is_one_matcher_and_still_matches_every_entry() {
        let table: BTreeMap<String, String> = (0..20_000)
            .map(|i| (format!("Name{i}"), format!("say {i}")))
            .collect();
        let l = Lexicon::new(&table).unwrap();
        let (text, p) = l.apply("Name7 met Name19999, not Name200000.");
        assert_eq!(
            Lexicon::restore(&text, &p),
            "say 7 met say 19999, not Name200000."
        );
    }
}
