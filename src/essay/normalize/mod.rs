//! Written text to spoken text: numbers, dates, times, currency, units, abbreviations, initialisms, symbols and
//! typography turned into words before any backend sees them, the same for every backend.
//!
//! Rules are per language (`en.rs`); each is a small pure function over regex matches, tested by the tables in
//! `tests/data/normalize*.tsv`.

mod en;

use std::collections::HashSet;

/// The variety of English an essay is read in. It changes how things are said, never how words are spelled:
/// "and" in numbers ("one hundred and five" in British English) and the order of numeric dates (03/04/2022 is
/// the third of April in British English, March fourth in American).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum English {
    British,
    #[default]
    American,
}

/// The language an essay is read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Language {
    English(English),
    /// A language narrate has no rules for (its BCP 47 tag): only the language-neutral rules apply
    /// (typography), and [`Language::warning`] says so once.
    Other(String),
}

impl Default for Language {
    fn default() -> Self {
        Language::English(English::default())
    }
}

/// What a language tag ("en-GB", "en_US", "en", "fr-CA") says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tag {
    /// English, with the variety when the tag names one (a region such as GB, US, AU or IN).
    English(Option<English>),
    Other(String),
}

impl Tag {
    /// Reads a BCP 47 language tag, or the underscore form voices use (`en_GB`), case-insensitively. Regions
    /// that write and say numbers and dates the British way (GB, UK, IE, AU, NZ, IN, ZA, …) are British;
    /// US, CA, PH and PR are American; an unknown region, or none, leaves the variety open. `None` for text
    /// that is not a tag.
    pub(crate) fn parse(tag: &str) -> Option<Tag> {
        let tag = tag.trim().replace('_', "-").to_ascii_lowercase();
        let mut parts = tag.split('-');
        let lang = parts.next()?;
        let valid =
            |s: &str| !s.is_empty() && s.len() <= 8 && s.chars().all(|c| c.is_ascii_alphanumeric());
        if !(2..=3).contains(&lang.len()) || !lang.chars().all(|c| c.is_ascii_alphabetic()) {
            return None;
        }
        let rest: Vec<&str> = parts.collect();
        if !rest.iter().all(|p| valid(p)) {
            return None;
        }
        if lang != "en" && lang != "eng" {
            return Some(Tag::Other(tag));
        }
        // The region is the first two-letter or three-digit subtag (after an optional script).
        let region = rest
            .iter()
            .find(|p| p.len() == 2 || (p.len() == 3 && p.chars().all(|c| c.is_ascii_digit())));
        let variety = match region.copied() {
            Some(
                "gb" | "uk" | "ie" | "au" | "nz" | "in" | "za" | "sg" | "hk" | "pk" | "ng" | "ke"
                | "mt" | "jm" | "gh" | "lk" | "my" | "bd" | "150",
            ) => Some(English::British),
            Some("us" | "ca" | "ph" | "pr" | "lr" | "um" | "vi") => Some(English::American),
            _ => None,
        };
        Some(Tag::English(variety))
    }
}

/// The `language` setting: a language tag (`en-GB`, `en_US`, `fr`), checked when parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanguageTag(pub String);

impl std::str::FromStr for LanguageTag {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Tag::parse(s)
            .map(|_| LanguageTag(s.trim().to_string()))
            .ok_or_else(|| {
                format!("`{s}` is not a language tag (use en-GB, en-US, or another BCP 47 tag)")
            })
    }
}

impl<'de> serde::Deserialize<'de> for LanguageTag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Language {
    /// The language to read an essay in, from the most to the least specific source: the `language` setting
    /// (narrate.toml or `--language`), the essay's own (front matter `lang:`, HTML `<html lang>`), the voice's
    /// language. English without a region takes its variety from the next source that names one, and is
    /// American when none does. A setting that is not a language tag is an error naming it.
    pub(crate) fn resolve(
        setting: Option<&str>,
        essay: Option<&str>,
        voice: Option<&str>,
    ) -> Result<Language, String> {
        let setting = match setting {
            Some(s) => Some(Tag::parse(s).ok_or_else(|| {
                format!("language `{s}` is not a language tag (use en-GB, en-US, or another BCP 47 tag)")
            })?),
            None => None,
        };
        let sources = [
            setting,
            essay.and_then(Tag::parse),
            voice.and_then(Tag::parse),
        ];
        let mut english = false;
        for tag in sources.into_iter().flatten() {
            match tag {
                Tag::English(Some(variety)) => return Ok(Language::English(variety)),
                Tag::English(None) => english = true,
                // A more specific source already said English: the voice's other language does not undo it.
                Tag::Other(_) if english => {}
                Tag::Other(other) => return Ok(Language::Other(other)),
            }
        }
        Ok(Language::English(English::default()))
    }

    /// The tag narrate writes for the language: `en-GB`, `en-US`, or the other language's own.
    pub(crate) fn tag(&self) -> String {
        match self {
            Language::English(English::British) => "en-GB".into(),
            Language::English(English::American) => "en-US".into(),
            Language::Other(tag) => tag.clone(),
        }
    }

    /// The one warning to print for a language without rules, naming what is still done.
    pub(crate) fn warning(&self) -> Option<String> {
        match self {
            Language::English(_) => None,
            Language::Other(tag) => Some(format!(
                "narrate has text rules for English only: `{tag}` text gets typography only (quotes, dashes, \
                 ellipses); numbers, dates and abbreviations go to the voice as written"
            )),
        }
    }
}

/// Turns written text into spoken text.
#[derive(Debug, Clone, Default)]
pub(crate) struct Normalizer {
    pub language: Language,
    /// Extra words to read as words, not letter by letter (added to the built-in list, e.g. NATO).
    pub acronyms: HashSet<String>,
    /// Extra upper-case words to spell out letter by letter (e.g. a 4-letter one with vowels, like USAF).
    pub initialisms: HashSet<String>,
}

impl Normalizer {
    /// The spoken form of one segment. `heading` is true for titles and headings (a leading Roman numeral there
    /// is a number: "IV. The Storm").
    pub(crate) fn spoken(&self, text: &str, heading: bool) -> String {
        let out = match &self.language {
            Language::English(variety) => {
                en::normalize(text, heading, self, *variety == English::British)
            }
            Language::Other(_) => typography(text),
        };
        super::tidy(&out)
    }
}

/// Only the typographic part: curly quotes, dashes and ellipses into the plain forms every engine reads as
/// punctuation (used when normalization is off).
pub(crate) fn typography(text: &str) -> String {
    clean(text, false)
}

/// Whether a segment is read other than as written, beyond typography (what `plan --spoken --diff` shows):
/// "$5" read "five dollars" does, "“Yes”" read "\"Yes\"" does not.
pub(crate) fn reads_differently(written: &str, spoken: &str) -> bool {
    super::tidy(&typography(written)) != super::tidy(spoken)
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
    use proptest::prelude::*;

    /// One case of a table: written text, and what British and American English say.
    struct Case {
        line: usize,
        written: String,
        british: String,
        american: String,
    }

    /// Reads a table: `written<TAB>spoken` (the same in both varieties), `written<TAB>British<TAB>American`,
    /// or a line alone (it must come out as it went in). A line starting with '#' and holding no tab is a
    /// comment; "# Chapter IV<TAB>…" is a heading case.
    fn table(name: &str) -> Vec<Case> {
        let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && (!l.starts_with('#') || l.contains('\t')))
            .map(|(i, l)| {
                let cols: Vec<&str> = l.split('\t').collect();
                let (british, american) = match cols.as_slice() {
                    [w] => (*w, *w),
                    [_, both] => (*both, *both),
                    [_, gb, us, ..] => (*gb, *us),
                    [] => unreachable!("split gives at least one part"),
                };
                Case {
                    line: i + 1,
                    written: cols[0].to_string(),
                    british: british.to_string(),
                    american: american.to_string(),
                }
            })
            .collect()
    }

    fn normalizer(variety: English) -> Normalizer {
        Normalizer {
            language: Language::English(variety),
            ..Normalizer::default()
        }
    }

    fn check(name: &str, min: usize) {
        let cases = table(name);
        assert!(cases.len() >= min, "{name} has {} cases", cases.len());
        let mut failures = Vec::new();
        for (variety, label) in [(English::British, "en-GB"), (English::American, "en-US")] {
            let n = normalizer(variety);
            for case in &cases {
                let heading = case.written.starts_with("# ");
                let written = case.written.trim_start_matches("# ");
                let want = match variety {
                    English::British => &case.british,
                    English::American => &case.american,
                };
                let got = n.spoken(written, heading);
                if got != *want {
                    failures.push(format!(
                        "{name}:{} ({label}): {written:?}\n    want {want:?}\n    got  {got:?}",
                        case.line
                    ));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} checks fail:\n{}",
            failures.len(),
            cases.len() * 2,
            failures.join("\n")
        );
    }

    #[test]
    fn written_to_spoken_table() {
        check("normalize.tsv", 380);
    }

    #[test]
    fn text_that_must_stay_as_it_is() {
        check("normalize-unchanged.txt", 85);
    }

    #[test]
    fn typography() {
        assert_eq!(
            super::typography("“Yes”—she said… ‘no’"),
            "\"Yes\", she said... 'no'"
        );
    }

    #[test]
    fn only_real_readings_count_as_differences() {
        let n = Normalizer::default();
        for (written, differs) in [
            ("“Yes,” she said—twice…", false),
            ("The harbour was quiet.", false),
            ("It cost $5.", true),
            ("The U.S. GDP grew.", true),
        ] {
            let spoken = n.spoken(written, false);
            assert_eq!(reads_differently(written, &spoken), differs, "{written}");
        }
    }

    #[test]
    fn language_tags_and_their_resolution() {
        use English::*;
        assert_eq!(Tag::parse("en-GB"), Some(Tag::English(Some(British))));
        assert_eq!(Tag::parse("en_us"), Some(Tag::English(Some(American))));
        assert_eq!(Tag::parse("en-AU"), Some(Tag::English(Some(British))));
        assert_eq!(Tag::parse("en-Latn-IN"), Some(Tag::English(Some(British))));
        assert_eq!(Tag::parse("en"), Some(Tag::English(None)));
        assert_eq!(Tag::parse("fr-CA"), Some(Tag::Other("fr-ca".into())));
        assert_eq!(Tag::parse("British please"), None);
        assert_eq!(Tag::parse(""), None);
        let gb = Language::English(British);
        let us = Language::English(American);
        // The setting wins; then the essay; then the voice; American when nothing names a variety.
        assert_eq!(
            Language::resolve(Some("en-GB"), Some("en-US"), None),
            Ok(gb.clone())
        );
        assert_eq!(
            Language::resolve(None, Some("en-GB"), Some("en-us")),
            Ok(gb.clone())
        );
        assert_eq!(
            Language::resolve(None, Some("en"), Some("en-gb")),
            Ok(gb.clone())
        );
        assert_eq!(Language::resolve(None, None, Some("en_US")), Ok(us.clone()));
        assert_eq!(Language::resolve(None, None, None), Ok(us.clone()));
        assert_eq!(Language::resolve(Some("en"), None, Some("de")), Ok(us));
        let de = Language::resolve(None, None, Some("de")).unwrap();
        assert_eq!(de, Language::Other("de".into()));
        assert!(de.warning().unwrap().contains("`de`"));
        assert!(gb.warning().is_none());
        assert_eq!(gb.tag(), "en-GB");
        let err = Language::resolve(Some("Klingon!"), None, None).unwrap_err();
        assert!(err.contains("`Klingon!`"), "{err}");
    }

    #[test]
    fn other_languages_get_typography_only() {
        let n = Normalizer {
            language: Language::Other("fr".into()),
            ..Normalizer::default()
        };
        assert_eq!(
            n.spoken("Le 3 mai — à 10:30 — «bonjour» coûte 5 €.", false),
            "Le 3 mai, à 10:30, \"bonjour\" coûte 5 €."
        );
    }

    /// Words from the sample essays: ordinary prose no rule may change.
    const PROSE: &[&str] = &[
        "the",
        "harbour",
        "was",
        "quiet",
        "at",
        "dawn",
        "and",
        "ferry",
        "ran",
        "late",
        "she",
        "read",
        "letter",
        "twice",
        "then",
        "folded",
        "it",
        "carefully",
        "a",
        "loan",
        "begins",
        "as",
        "simple",
        "exchange",
        "of",
        "trust",
        "nobody",
        "signs",
        "contract",
        "to",
        "borrow",
        "ladder",
        "rain",
        "fell",
        "all",
        "night",
        "by",
        "morning",
        "fields",
        "were",
        "lakes",
        "tide",
        "clocks",
        "keep",
        "odd",
        "hours",
        "in",
        "small",
        "towns",
        "where",
        "sea",
        "sets",
        "rhythm",
        "kettle",
        "boiled",
        "before",
        "anyone",
        "noticed",
        "mill",
        "sits",
        "river",
        "who",
        "said",
        "that",
        "neighbours",
        "lend",
        "tools",
        "without",
        "asking",
        "questions",
        "until",
        "one",
        "day",
        "they",
        "do",
        "not",
    ];

    fn sentence(words: Vec<&str>, stop: &str) -> String {
        let mut s = words.join(" ");
        if let Some(first) = s.get(..1) {
            s = first.to_uppercase() + &s[1..];
        }
        s + stop
    }

    /// 300 cases, or `PROPTEST_CASES` when set (to search longer by hand).
    fn cases() -> u32 {
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        /// Ordinary prose goes through untouched: no word is dropped or changed.
        #[test]
        fn ordinary_prose_is_left_alone(
            words in proptest::collection::vec(proptest::sample::select(PROSE), 1..25),
            stop in proptest::sample::select(&[".", "!", "?", ";", ","][..]),
            british in any::<bool>(),
        ) {
            let text = sentence(words, stop);
            let n = normalizer(if british { English::British } else { English::American });
            prop_assert_eq!(n.spoken(&text, false), text);
        }

        /// Whatever the input, the output has no digits, and normalizing it again changes nothing.
        #[test]
        fn no_digits_and_idempotent_on_any_text(
            text in prop_oneof![
                "\\PC{0,80}",
                // Mostly the characters the rules read, in any order.
                "[ 0-9a-zA-Z.,:;/+$£€¥₹%~()'\"#@&x×–—½IVXL²-]{0,60}",
            ],
            british in any::<bool>(),
        ) {
            let n = normalizer(if british { English::British } else { English::American });
            let once = n.spoken(&text, false);
            prop_assert!(!once.chars().any(|c| c.is_ascii_digit()), "{:?} gave {:?}", text, once);
            let twice = n.spoken(&once, false);
            prop_assert_eq!(&twice, &once, "not idempotent on {:?}", text);
        }

        /// Text made of the things the rules read (numbers, money, dates, codes, units) loses no digit silently:
        /// each number becomes words, and the words around it stay.
        #[test]
        fn numbers_in_constructs_become_words(
            n in 0u64..100_000_000,
            form in proptest::sample::select(&[
                "{}", "${}", "£{}", "{} km", "{}%", "Q{}", "{}th", "Room {}", "{}:30", "{}x", "~{}",
                "+{}", "-{}", "{}/7", "{}–9", "A{}", "{},000", "{}.5", "(b. {})",
            ][..]),
            british in any::<bool>(),
        ) {
            let written = format!("Before {} after.", form.replace("{}", &n.to_string()));
            let nz = normalizer(if british { English::British } else { English::American });
            let said = nz.spoken(&written, false);
            prop_assert!(!said.chars().any(|c| c.is_ascii_digit()), "{:?} gave {:?}", written, said);
            prop_assert!(said.starts_with("Before "), "{:?} gave {:?}", written, said);
            prop_assert!(said.ends_with(" after."), "{:?} gave {:?}", written, said);
            let middle = &said["Before ".len()..said.len() - " after.".len()];
            prop_assert!(middle.split_whitespace().count() >= 1, "{:?} gave {:?}", written, said);
        }
    }
}
