//! Written text to spoken text: numbers, dates, times, currency, units, abbreviations, initialisms, symbols and
//! typography turned into words before any backend sees them, the same for every backend.
//!
//! Rules are per language (`en.rs`); each is a small pure function over regex matches, tested by the tables in
//! `tests/data/normalize*.tsv`.

mod en;

use std::collections::HashSet;

/// Languages with normalization rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    English,
}

/// Turns written text into spoken text.
#[derive(Debug, Clone, Default)]
pub struct Normalizer {
    pub language: Language,
    /// Extra words to read as words, not letter by letter (added to the built-in list, e.g. NATO).
    pub acronyms: HashSet<String>,
    /// Extra upper-case words to spell out letter by letter (e.g. a 4-letter one with vowels, like USAF).
    pub initialisms: HashSet<String>,
}

impl Normalizer {
    /// The spoken form of one segment. `heading` is true for titles and headings (a leading Roman numeral there
    /// is a number: "IV. The Storm").
    pub fn spoken(&self, text: &str, heading: bool) -> String {
        let out = match self.language {
            Language::English => en::normalize(text, heading, self),
        };
        super::tidy(&out)
    }
}

/// Only the typographic part: curly quotes, dashes and ellipses into the plain forms every engine reads as
/// punctuation (used when normalization is off).
pub fn typography(text: &str) -> String {
    clean(text, false)
}

/// Typography for the rules: as `typography`, but an en dash between numbers stays, for the range rules.
fn typography_keeping_ranges(text: &str) -> String {
    clean(text, true)
}

fn clean(text: &str, keep_ranges: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    let digit_near = |from: usize, step: isize| {
        let mut i = from as isize + step;
        while i >= 0 && (i as usize) < chars.len() && chars[i as usize] == ' ' {
            i += step;
        }
        i >= 0 && (i as usize) < chars.len() && chars[i as usize].is_ascii_digit()
    };
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '–' if keep_ranges && digit_near(i, -1) && digit_near(i, 1) => out.push('–'),
            '−' => out.push('-'),
            '“' | '”' | '„' | '«' | '»' | '″' => out.push('"'),
            '‘' | '’' | '‚' | '′' => out.push('\''),
            '—' | '―' => out.push_str(", "),
            '–' => out.push_str(" - "),
            '…' => out.push_str("..."),
            '\u{00A0}' | '\u{202F}' => out.push(' '),
            c => out.push(c),
        }
    }
    let out = super::tidy(&out.replace(" ,", ","));
    out.trim_start_matches([',', ' ']).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str) -> Vec<(usize, String, String)> {
        let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .enumerate()
            // A line starting with '#' and holding no tab is a comment; "# Chapter IV<TAB>…" is a heading case.
            .filter(|(_, l)| !l.trim().is_empty() && (!l.starts_with('#') || l.contains('\t')))
            .map(|(i, l)| {
                let (a, b) = l.split_once('\t').unwrap_or((l, l));
                (i + 1, a.to_string(), b.to_string())
            })
            .collect()
    }

    fn check(name: &str, min: usize) {
        let n = Normalizer::default();
        let cases = table(name);
        assert!(cases.len() >= min, "{name} has {} cases", cases.len());
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|(line, written, want)| {
                let heading = written.starts_with("# ");
                let written = written.trim_start_matches("# ");
                let got = n.spoken(written, heading);
                (got != *want).then(|| {
                    format!("{name}:{line}: {written:?}\n    want {want:?}\n    got  {got:?}")
                })
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} of {} cases fail:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn written_to_spoken_table() {
        check("normalize.tsv", 200);
    }

    #[test]
    fn text_that_must_stay_as_it_is() {
        check("normalize-unchanged.txt", 30);
    }

    #[test]
    fn typography() {
        assert_eq!(
            super::typography("“Yes”—she said… ‘no’"),
            "\"Yes\", she said... 'no'"
        );
    }
}
