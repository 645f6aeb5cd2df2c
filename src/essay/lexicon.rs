//! The pronunciation lexicon: words or phrases the user wants said another way, from `[lexicon]` in
//! `narrate.toml` (beside the essay, over the one in the user's config directory).
//!
//! An entry maps a word or phrase to a respelling (`"Okafor" = "oh KAH for"`) or to phonemes in espeak-ng's
//! notation (`"Nguyen" = "[[N'wIn]]"`), which both the espeak and piper backends read (piper phonemizes through
//! espeak-ng). Matching is whole-word; an entry with a capital letter matches case-sensitively, an all-lower-case
//! entry matches any case.

use std::collections::BTreeMap;

use regex::Regex;

#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    entries: Vec<(Regex, String)>,
}

/// Stands in for the `i`-th replacement while the normalizer runs: one private-use character, which no rule
/// matches or changes.
fn marker(i: usize) -> char {
    char::from_u32(0xF0000 + i as u32).expect("a supplementary private-use code point")
}

impl Lexicon {
    /// Builds a lexicon; longer entries are tried first, so a phrase wins over a word inside it.
    pub fn new(table: &BTreeMap<String, String>) -> Result<Lexicon, String> {
        let mut keys: Vec<&String> = table.keys().filter(|k| !k.trim().is_empty()).collect();
        keys.sort_by_key(|k| std::cmp::Reverse(k.chars().count()));
        let entries = keys
            .into_iter()
            .map(|key| {
                let case = if key.chars().any(char::is_uppercase) {
                    ""
                } else {
                    "(?i)"
                };
                let pattern = format!(r"{case}(^|[^\w]){}([^\w]|$)", regex::escape(key.trim()));
                Regex::new(&pattern)
                    .map(|re| (re, table[key].clone()))
                    .map_err(|e| format!("lexicon entry `{key}`: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Lexicon { entries })
    }

    /// Replaces every entry in `text`. Replacements come back protected (the user's spelling is final, and
    /// phoneme input must reach the engine as written), to be put back by `restore` after normalization.
    pub fn apply(&self, text: &str) -> (String, Vec<String>) {
        let mut protected = Vec::new();
        let mut text = text.to_string();
        for (re, replacement) in &self.entries {
            if !re.is_match(&text) {
                continue;
            }
            protected.push(replacement.clone());
            let value = marker(protected.len() - 1).to_string();
            // Two passes: the boundaries are part of each match, so touching matches alternate.
            for _ in 0..2 {
                text = re
                    .replace_all(&text, |c: &regex::Captures| {
                        format!("{}{value}{}", &c[1], &c[2])
                    })
                    .into_owned();
            }
        }
        (text, protected)
    }

    /// Puts protected phoneme input back.
    pub fn restore(text: &str, protected: &[String]) -> String {
        let mut out = text.to_string();
        for (i, p) in protected.iter().enumerate() {
            out = out.replace(marker(i), p);
        }
        out
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
    fn phonemes_are_protected() {
        let l = lex(&[("Nguyen", "[[N'wIn]]")]);
        let (text, protected) = l.apply("Nguyen and Nguyen");
        assert!(!text.contains("[["));
        assert_eq!(
            Lexicon::restore(&text, &protected),
            "[[N'wIn]] and [[N'wIn]]"
        );
    }
}
