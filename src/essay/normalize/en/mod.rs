//! English rules: each pass is a regex and a small function from the match to words, run in a fixed order
//! (links before abbreviations, currency before plain numbers, codes before numbers, and so on). British and
//! American English differ only where people say things differently: "and" in numbers, numeric dates.

mod rules;
mod tables;
mod words;

use std::sync::OnceLock;

use regex::{Captures, Regex};

use super::Normalizer;
use rules::*;
use tables::{CURRENCIES, MONTH, UNITS};
pub(crate) use words::Words;

/// What a rule sees: the match, the whole text of this pass (to look at the words around the match), and how
/// numbers are said.
pub(crate) struct Ctx<'a> {
    pub(crate) n: &'a Normalizer,
    pub(crate) w: Words,
    pub(crate) text: &'a str,
}

impl Ctx<'_> {
    /// The text before the match.
    pub(crate) fn before(&self, c: &Captures) -> &str {
        &self.text[..c.get(0).map_or(0, |m| m.start())]
    }

    /// The text after the match.
    pub(crate) fn after(&self, c: &Captures) -> &str {
        &self.text[c.get(0).map_or(0, |m| m.end())..]
    }

    /// The last `n` words before the match, nearest last, without surrounding punctuation.
    pub(crate) fn words_before(&self, c: &Captures, n: usize) -> Vec<&str> {
        let mut words: Vec<&str> = self
            .before(c)
            .split_whitespace()
            .rev()
            .take(n)
            .map(|w| w.trim_matches(|ch: char| !ch.is_alphanumeric() && ch != '.'))
            .collect();
        words.reverse();
        words
    }

    /// The word just before the match ("" at the start).
    pub(crate) fn prev_word(&self, c: &Captures) -> &str {
        self.words_before(c, 1).first().copied().unwrap_or("")
    }

    /// The word just after the match: its letters only ("" when none follows).
    pub(crate) fn next_word(&self, c: &Captures) -> &str {
        let rest = self.after(c).trim_start();
        let end = rest
            .find(|ch: char| !ch.is_alphabetic() && ch != '\'')
            .unwrap_or(rest.len());
        &rest[..end]
    }
}

type Rule = fn(&Captures, &Ctx) -> String;

/// Compiles a pattern, its word boundaries (`\b`) ASCII ones. A Unicode `\b` sends the regex crate to its slow
/// engines for any text with a character outside ASCII (a curly quote, an accent, an em dash): planning such a
/// book took 2.7 times as long. The patterns' `\b`s sit beside ASCII letters, digits or signs (numbers, units,
/// codes, day and month names), where both kinds agree; the one exception is an e-mail host with a letter outside
/// ASCII, whose match then ends at its last ASCII letter. The tables (tests/data/normalize.tsv, with accented
/// words beside the rules) and 3,000 sentences of real books read the same either way.
fn re(pattern: &str) -> Regex {
    Regex::new(&pattern.replace(r"\b", r"(?-u:\b)")).expect("valid pattern")
}

/// An alternation of literal strings, longest first (so "km²" wins over "km", "US$" over "$").
fn alternation<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut items: Vec<&str> = items.collect();
    items.sort_by_key(|u| std::cmp::Reverse(u.chars().count()));
    items.dedup();
    items
        .iter()
        .map(|u| regex::escape(u))
        .collect::<Vec<_>>()
        .join("|")
}

/// A written number: thousands separated by commas, or plain digits, with an optional decimal part.
pub(crate) const NUM: &str = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?";

/// Scale words after an amount of money: "$5m", "€3.2bn", "$10k".
const SCALE: &str = r"(?:\s?(bn|bln|mn|m|k|K|million|billion|trillion|thousand)\b)?";

/// The alternations the patterns are made of, from the tables.
struct Pieces {
    units: String,
    symbols: String,
    suffixes: String,
    codes: String,
    tlds: String,
    degrees: String,
    abbreviations: String,
    titles: String,
    days: String,
    named: String,
}

impl Pieces {
    fn new() -> Pieces {
        let is_code = |s: &str| s.chars().all(|c| c.is_ascii_uppercase());
        Pieces {
            units: alternation(UNITS.iter().map(|u| u.0)),
            // Symbols made of letters ("zł", "Kč") are read only after an amount.
            symbols: alternation(
                CURRENCIES
                    .iter()
                    .map(|c| c.symbol)
                    .filter(|s| !is_code(s) && !s.chars().all(char::is_alphabetic)),
            ),
            suffixes: alternation(tables::SUFFIX_SYMBOLS.iter().copied()),
            codes: alternation(CURRENCIES.iter().map(|c| c.symbol).filter(|s| is_code(s))),
            tlds: tables::TLDS.join("|"),
            degrees: alternation(tables::DEGREES.iter().map(|d| d.0)),
            abbreviations: alternation(tables::ABBREVIATIONS.iter().map(|a| a.0)),
            titles: alternation(tables::TITLES.iter().map(|t| t.0)),
            days: alternation(tables::DAYS.iter().map(|d| d.0)),
            named: tables::NAMED_NUMBER.join("|"),
        }
    }
}

/// Every pass, in order, each a pattern and its rule.
fn passes() -> &'static Vec<(Regex, Rule)> {
    static PASSES: OnceLock<Vec<(Regex, Rule)>> = OnceLock::new();
    PASSES.get_or_init(|| {
        let p = Pieces::new();
        [
            addresses(&p),
            abbreviations(&p),
            amounts(&p),
            dates(&p),
            measures(&p),
            numbers(&p),
            symbols(),
        ]
        .into_iter()
        .flatten()
        .map(|(pattern, f)| (re(&pattern), f))
        .collect()
    })
}

/// Links, e-mail and web addresses, and phone numbers.
fn addresses(p: &Pieces) -> Vec<(String, Rule)> {
    let Pieces { tlds, .. } = p;
    vec![
        // A link in angle brackets (plain text's way of marking one): the brackets are not read.
        (r"<((?:https?|ftp)://[^\s<>]+|mailto:[^\s<>]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)>".into(), |c, _| {
            c[1].to_string()
        }),
        // Links and addresses: host and path; the query and fragment are dropped.
        (r"\b(?:https?|ftp)://(?:www\.)?([^\s/?#]+?)((?:/[^\s?#]*?)?)(?:[?#][^\s]*?)?([.,;:!?)]*(?:\s|$))".into(), url),
        (r"\b(?:mailto:)?[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b".into(), email),
        (r"\bwww\.([\w-]+(?:\.[\w-]+)+)\b((?:/[^\s?#]*?)?)(?:[?#][^\s]*?)?([.,;:!?)]*(?:\s|$))".into(), url),
        (format!(r"\b((?:[a-z0-9-]+\.)+(?:{tlds}))((?:/[^\s?#]*?)?)(?:[?#][^\s]*?)?([.,;:!?)]*(?:\s|$))"), url),
        // Phone numbers, before signs, currency and dates take them apart.
        (r"\+(\d{1,3})((?:[ .-]?\(\d{1,5}\)|[ .-]\d{1,5}){2,6})\b".into(), phone_international),
        (r"\((\d{3})\)\s?(\d{3})[-. ](\d{4})\b".into(), phone_groups),
        (r"\b(\d{3})[-. ](\d{3})[-. ](\d{4})\b".into(), phone_groups),
        (r"\b(0\d{2,4})[ -](\d{3,4})[ -](\d{3,4})\b".into(), phone_groups),
        (r"\b(0\d{3,4})[ -](\d{6})\b".into(), phone_groups),
        (r"\b(\d{3})[- ](0\d{3}|\d{4})\b".into(), phone_groups),
    ]
}

/// Times with am/pm, degrees, initialisms and the abbreviations that do not end a sentence.
fn abbreviations(p: &Pieces) -> Vec<(String, Rule)> {
    let Pieces {
        degrees,
        abbreviations,
        titles,
        ..
    } = p;
    vec![
        // Times with am/pm, before abbreviations eat the dots.
        (
            r"\b(\d{1,2})(?::(\d{2}))?\s?([apAP])\.?[mM]\.?(\s|$|[,;!?)–-])".into(),
            clock_ampm,
        ),
        (r"\b([AP] M)\s?[–-]\s?(\w)".into(), |c, _| {
            format!("{} to {}", &c[1], &c[2])
        }),
        // Degrees, dotted initialisms (U.S., U.K.), the world wars.
        (format!(r"(^|[\s(])({degrees})(\s|$|[,;:)])"), degree),
        (
            r"\b((?:[A-Z]\.){2,})(\s|$|[,;:)])".into(),
            dotted_initialism,
        ),
        (r"\bWW ?(II|I|2|1)\b".into(), |c, _| {
            let n = if matches!(&c[1], "II" | "2") {
                "Two"
            } else {
                "One"
            };
            format!("World War {n}")
        }),
        // Abbreviations that do not end a sentence.
        (r"(^|[\s(\[])(?:c|ca|circa)\.?\s?(\d)".into(), |c, _| {
            format!("{}circa {}", &c[1], &c[2])
        }),
        (r"\((b|d|fl)\.\s?(\d)".into(), |c, _| {
            let w = match &c[1] {
                "b" => "born",
                "d" => "died",
                _ => "flourished",
            };
            format!("({w} {}", &c[2])
        }),
        (r"(^|\s)(max|min|Max|Min)\.\s?(\d)".into(), |c, _| {
            let w = if c[2].eq_ignore_ascii_case("max") {
                "maximum"
            } else {
                "minimum"
            };
            format!("{}{w} {}", &c[1], &c[3])
        }),
        (r"\b(\p{Lu}[\w']+) v\.? (\p{Lu})".into(), |c, _| {
            format!("{} versus {}", &c[1], &c[2])
        }),
        (
            format!(r"(^|[\s(])({abbreviations})(\s|,|;|:|\)|$)"),
            abbreviation,
        ),
        (r"\b(No|Nos|no|pp|p)\.\s?(\d)".into(), |c, _| {
            let word = match &c[1] {
                "No" | "no" => "number",
                "Nos" => "numbers",
                "pp" => "pages",
                _ => "page",
            };
            format!("{word} {}", &c[2])
        }),
        (
            r"(\p{Lu}[\w']*)\s+(St|Dr|Ave|Rd|Blvd|Ln|Sq|Pl|Ct|Hwy)\.(\s+\p{Ll}|$|[,;:)])".into(),
            street,
        ),
        (format!(r"\b({titles})\.(\s+)"), title),
        (r"\b(Mrs|Mr|Ms|Mx|Dr|Prof|St)(\s+)".into(), title),
    ]
}

/// Comparisons in front of a number, and money.
fn amounts(p: &Pieces) -> Vec<(String, Rule)> {
    let Pieces {
        symbols,
        codes,
        suffixes,
        ..
    } = p;
    vec![
        // The copyright sign: said once after "Copyright", as the word before a year or a name. "(c)" is the
        // sign only there (elsewhere it is a list's third item).
        (
            r"\b(Copyright|COPYRIGHT|copyright)\s*(?:\([cC]\)|©)".into(),
            |c, _| c[1].to_string(),
        ),
        (r"(^|[\s(\[])\([cC]\)\s?(\d)".into(), |c, _| {
            format!("{}copyright {}", &c[1], &c[2])
        }),
        (r"©\s?".into(), |_, _| "copyright ".into()),
        // Approximations and comparisons in front of a number.
        (r"(^|[\s(])~\s?([\d$£€¥₹])".into(), |c, _| {
            format!("{}about {}", &c[1], &c[2])
        }),
        (r"\s?≈\s?".into(), |_, _| " approximately ".into()),
        (r"±\s?".into(), |_, _| "plus or minus ".into()),
        (r"(^|[\s(])<\s?(\d)".into(), |c, _| {
            format!("{}less than {}", &c[1], &c[2])
        }),
        (r"(^|[\s(])>\s?(\d)".into(), |c, _| {
            format!("{}more than {}", &c[1], &c[2])
        }),
        (r"\s?≤\s?".into(), |_, _| " at most ".into()),
        (r"\s?≥\s?".into(), |_, _| " at least ".into()),
        // Money: a sign, a currency symbol or code, an amount, a range, a scale.
        (
            format!(r"([-+])?({symbols})\s?({NUM})(?:\s?[–-]\s?(?:{symbols})?({NUM}))?{SCALE}"),
            currency,
        ),
        (
            format!(r"([-+])?\b({codes})\s?({NUM})(?:\s?[–-]\s?({NUM}))?{SCALE}"),
            currency,
        ),
        (
            format!(r"([-+])?\b({NUM})(?:\s?[–-]\s?({NUM}))?\s?(?:({codes})\b|({suffixes}))"),
            currency_after,
        ),
        (format!(r"\b({NUM})\s?¢"), |c, x| {
            format!("{} cents", x.w.number(&c[1]))
        }),
        (
            r"\b(240|360|480|576|720|1080|1440|2160|4320)p\b".into(),
            |c, x| format!("{} P", x.w.name(&c[1])),
        ),
        (r"\b(\d{1,3}(?:\.\d+)?)p\b".into(), |c, x| {
            format!("{} pence", x.w.number(&c[1]))
        }),
    ]
}

/// Dates, internet addresses and versions, month and day names.
fn dates(p: &Pieces) -> Vec<(String, Rule)> {
    let Pieces { days, .. } = p;
    let month = MONTH;
    vec![
        // Dates written in numbers, before versions and fractions take them apart.
        (r"\b(\d{4})-(\d{2})-(\d{2})\b".into(), iso_date),
        (r"\b(\d{1,2})([/.])(\d{1,2})[/.](\d{4})\b".into(), numeric_date),
        (r"\b(\d{1,2})(/)(\d{1,2})/(\d{2})\b".into(), numeric_date),
        (r"\b(0?[1-9]|1[0-2])/((?:19|20)\d{2})\b".into(), |c, x| {
            format!("{} {}", tables::MONTHS[words::parse(&c[1]) as usize - 1], x.w.year(words::parse(&c[2])))
        }),
        // Internet addresses and versions.
        (r"\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\b".into(), ip_or_version),
        (r"\b(\d+)\.(\d+)\.(\d+)\b".into(), version),
        // Month and day names.
        (format!(r"\b({days})\.?\s?-\s?({days})\b"), |c, _| {
            format!("{} to {}", tables::day_name(&c[1]).unwrap_or(""), tables::day_name(&c[2]).unwrap_or(""))
        }),
        (format!(r"\b({month})\s?-\s?({month})(\s|$|[,;:)])"), month_range),
        (r"\b(Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?(\s+\d)".into(), |c, _| {
            let m = tables::month_index(&c[1]).expect("pattern lists months");
            format!("{}{}", tables::MONTHS[m], &c[2])
        }),
        (r"\b(Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.(\s|,|;|$)".into(), |c, _| {
            let m = tables::month_index(&c[1]).expect("pattern lists months");
            let end = if c[2].is_empty() { "." } else { &c[2] };
            format!("{}{end}", tables::MONTHS[m])
        }),
        (format!(r"\b({days})\.(\s)"), |c, _| format!("{}{}", tables::day_name(&c[1]).unwrap_or(""), &c[2])),
        // Dates with month names, and ranges of days.
        (format!(r"\b(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\s?[–-]\s?(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({month})(?:,?\s+(\d{{4}}))?\b"), day_range_month),
        (format!(r"\b({month})\s+(\d{{1,2}})(?:st|nd|rd|th)?\s?[–-]\s?(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?"), month_day_range),
        (format!(r"\b(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({month})(?:,?\s+(\d{{4}}))?\b"), day_month),
        (format!(r"\b({month})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?"), month_day),
        (r"\b(January|February|March|April|May|June|July|August|September|October|November|December|(?:\w+ty|teen|hundred|thousand)(?:-\w+)?) - (the \w+ of|January|February|March|April|May|June|July|August|September|October|November|December)\b".into(), |c, _| format!("{} to {}", &c[1], &c[2])),
    ]
}

/// Durations, times and ratios, feet and inches, dimensions, percentages and units.
fn measures(p: &Pieces) -> Vec<(String, Rule)> {
    let Pieces { units, .. } = p;
    vec![
        // Durations, times, ratios.
        (r"\b(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?\b".into(), hms),
        (r"\b(\d{1,2}:\d{2})\s?[–-]\s?(\d{1,2}:\d{2})\b".into(), |c, _| format!("{} to {}", &c[1], &c[2])),
        (r"\b(\d+):(\d+)\b".into(), clock_or_ratio),
        // Feet and inches.
        (r#"\b(\d{1,2})'\s?(\d{1,2}(?:\.\d+)?)(?:"|''|\b)"#.into(), |c, x| {
            format!("{} feet {} inches", x.w.number(&c[1]), x.w.number(&c[2]))
        }),
        (r"\b(\d+)'\s?(tall|high|long|wide|deep)\b".into(), |c, x| format!("{} feet {}", x.w.number(&c[1]), &c[2])),
        (r#"\b(\d+(?:\.\d+)?)"\s?([Ss]creens?|monitors?|displays?|TVs?|televisions?|tablets?|laptops?|wheels?|rims?|pipes?|blades?|rulers?|records?|vinyl|singles?|discs?|pizzas?|tyres?|tires?|subwoofers?|speakers?|woofers?)\b"#.into(), |c, x| {
            format!("{} inch {}", x.w.number(&c[1]), &c[2])
        }),
        (r"\b(\d+)\s?ft\.?\s?(\d+)\s?in\b\.?".into(), |c, x| {
            format!("{} feet {} inches", x.w.number(&c[1]), x.w.number(&c[2]))
        }),
        // Multipliers and dimensions.
        (format!(r"\b({NUM})\s?[x×]\s?({NUM})(?:\s?({units}))?($|[^\p{{L}}\p{{N}}])"), dimensions),
        (format!(r"\b({NUM})\s?[x×](\s|$|[,.;:!?)])"), |c, x| format!("{} times{}", x.w.number(&c[1]), &c[2])),
        (format!(r"×\s?({NUM})\b"), |c, x| format!("times {}", x.w.number(&c[1]))),
        // Percentages and units, with a sign or a range in front ("5–10 km", "+3%").
        (format!(r"(?:({NUM})\s?[–-]\s?)?([-+]?{NUM})\s?%"), |c, x| format!("{} percent", range_prefix(c, 2, x))),
        (format!(r"(?:({NUM})\s?[–-]\s?)?([-+]?{NUM})\s?‰"), |c, x| format!("{} per mille", range_prefix(c, 2, x))),
        (format!(r"(?:({NUM})\s?[–-]\s?)?([-+]?{NUM})(\s?|-)({units})($|[^\p{{L}}\p{{N}}])"), unit),
        (format!(r"\b({NUM})\+(\s|$|[,.;:!?)])"), |c, x| format!("{} plus{}", x.w.number(&c[1]), &c[2])),
    ]
}

/// Ranges, slashes, fractions, decades, ordinals, codes, years and plain numbers.
fn numbers(p: &Pieces) -> Vec<(String, Rule)> {
    let Pieces { named, .. } = p;
    vec![
        // Ranges, scores, years.
        (r"\b(\d{4})\s?[–-]\s?(\d{2,4})\b".into(), year_range),
        (r"(?i)\b(pages|chapters|verses|ages|aged|between|from|items|rooms|rows|sections|numbers|lines|steps|weeks|days|years|months|hours)\s+(\d+)\s?[–-]\s?(\d+)\b".into(), keyword_range),
        (r"\b(\d{1,2})\s?[–-]\s?(\d{1,2})\b".into(), score),
        (r"\b(\d+)\s?–\s?(\d+)\b".into(), |c, x| format!("{} to {}", x.w.number(&c[1]), x.w.number(&c[2]))),
        // Slashes.
        (r"\b(\d+(?:\.\d+)?)/(\d+)\b".into(), slash_numbers),
        (r"\b([A-Za-z]+)/([A-Za-z]+)\b".into(), slash_words),
        // Fractions written as one character.
        (r"(?:(\d+)\s?)?([½⅓⅔¼¾⅕⅛])".into(), vulgar_fraction),
        // Decades and ordinals, before codes take "1990s" and "3rd" apart.
        (r"(?:\b|')(1[0-9]|20)?(\d)0s\b".into(), decade),
        (r"\b(\d{1,3}(?:,\d{3})+|\d+)(st|nd|rd|th)\b".into(), |c, x| x.w.ordinal(words::parse(&c[1]))),
        // Numbers used as names, and letters and digits written together.
        (format!(r"\b({named})\.?\s+(?:No\.?\s?|number\s)?(\d{{3,4}})\b"), |c, x| format!("{} {}", &c[1], x.w.name(&c[2]))),
        (r"\b([A-Z]{1,2}\d[A-Z\d]?) (\d[A-Z]{2})\b".into(), postcode),
        (r"\b(\p{Lu}{1,5})-(\d{1,4})\b".into(), |c, x| format!("{} {}", letters(&c[1], x), code_number(&c[2], x))),
        (r"\b[A-Za-z\d]*(?:[A-Za-z]\d|\d[A-Za-z])[A-Za-z\d]*\b".into(), code),
        // Years and plain numbers.
        (r"(^|[^\d,.])(1\d\d\d|20\d\d)\b([^,.\d%]|$|[.,]\D|[.,]$)".into(), year_or_count),
        (format!(r"(^|[\s(\[])([-+])({NUM})\b"), |c, x| {
            let sign = if &c[2] == "-" { "minus" } else { "plus" };
            format!("{}{sign} {}", &c[1], x.w.number(&c[3]))
        }),
        (NUM.into(), |c, x| x.w.number(&c[0])),
    ]
}

/// Roman numerals, initialisms, symbols, and the digits left over.
fn symbols() -> Vec<(String, Rule)> {
    vec![
        // Roman numerals, initialisms, symbols.
        (
            r"\b(\p{Lu}[\p{Ll}']+(?:\s+War)?)\s+([IVXLC]+)\b".into(),
            roman_after_word,
        ),
        (r"\b(\p{Lu}{2,8})(?:-(\p{Lu}{1,3}))?\b".into(), capitals),
        (r"\b(\p{L}*\p{Ll}\p{L}*)\b".into(), mixed_case),
        (r"\b(\p{Lu}\p{Ll}{1,4})\b".into(), unpronounceable),
        (r"\s*&\s*".into(), |_, _| " and ".into()),
        (r"\b([A-Z])\+\+".into(), |c, _| {
            format!("{} plus plus", &c[1])
        }),
        (r"(\w)\+(\s|$|[,.;:!?)])".into(), |c, _| {
            format!("{} plus{}", &c[1], &c[2])
        }),
        (r"(\w)\s?\+\s?(\w)".into(), |c, _| {
            format!("{} plus {}", &c[1], &c[2])
        }),
        (r"\s=\s".into(), |_, _| " equals ".into()),
        (r"#(\w)".into(), |c, _| format!("number {}", &c[1])),
        (r"(^|\s)#(\s|$)".into(), |c, _| {
            format!("{}hash{}", &c[1], &c[2])
        }),
        (r"\s@\s".into(), |_, _| " at ".into()),
        (r"\s?–\s?".into(), |_, _| " - ".into()),
        // Whatever digits are left (a digit the rules above do not place) are said one by one.
        (r"\d+".into(), |c, x| format!(" {} ", x.w.digits(&c[0]))),
    ]
}

/// Runs every pass over the text, and again over the result until nothing changes (a rule late in the order
/// can leave text an earlier one reads, as codes do for slashes: "a/0i"), so that normalizing spoken text
/// never changes it. Three rounds are the most any text has needed; more would mean two rules undo each
/// other.
pub(crate) fn normalize(text: &str, heading: bool, n: &Normalizer, british: bool) -> String {
    let mut text = round(text, heading, n, british);
    for _ in 0..2 {
        let again = round(&text, heading, n, british);
        if again == text {
            break;
        }
        text = again;
    }
    text
}

/// One run of every pass.
fn round(text: &str, heading: bool, n: &Normalizer, british: bool) -> String {
    let w = Words { british };
    let mut text = ascii_digits(&super::typography_keeping_ranges(text));
    // A line in capitals is emphasis, not a string of initialisms: "THE END" is read "the end".
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    let long_words = text
        .split_whitespace()
        .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() > 1)
        .count();
    if letters.len() > 5 && letters.iter().all(|c| c.is_uppercase()) && long_words > 1 {
        text = text.to_lowercase();
    }
    if heading {
        static NUMERAL: OnceLock<Regex> = OnceLock::new();
        let numeral = NUMERAL.get_or_init(|| re(r"^([IVXLC]+)(\.?\s|:\s|$)"));
        text = numeral
            .replace(&text, |c: &Captures| match roman(&c[1]) {
                Some(v) => format!("{}{}", w.cardinal(v), &c[2]),
                None => c[0].to_string(),
            })
            .into_owned();
    }
    for (regex, rule) in passes() {
        if regex.is_match(&text) {
            let ctx = Ctx { n, w, text: &text };
            let replaced = regex
                .replace_all(&text, |c: &Captures| rule(c, &ctx))
                .into_owned();
            text = replaced;
        }
    }
    text
}

/// Digits of other scripts ("٣", "３") as ASCII digits, so every rule reads them and none mistakes them.
fn ascii_digits(text: &str) -> String {
    static DIGIT: OnceLock<Regex> = OnceLock::new();
    let digit = DIGIT.get_or_init(|| re(r"\d"));
    text.chars()
        .map(|c| {
            if c.is_ascii() || !digit.is_match(c.encode_utf8(&mut [0; 4])) {
                return c;
            }
            // Unicode decimal digits come in runs of ten from zero: count back to the run's start.
            let mut zero = c as u32;
            let mut buf = [0; 4];
            while let Some(prev) = char::from_u32(zero.wrapping_sub(1)) {
                if !digit.is_match(prev.encode_utf8(&mut buf)) {
                    break;
                }
                zero -= 1;
            }
            char::from_digit((c as u32 - zero) % 10, 10).unwrap_or(c)
        })
        .collect()
}
