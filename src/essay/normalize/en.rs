//! English rules: each pass is a regex and a small function from the match to words, run in a fixed order
//! (links before abbreviations, currency before plain numbers, and so on).

use std::sync::OnceLock;

use num2words::Num2Words;
use regex::{Captures, Regex};

use super::Normalizer;

// ---------------------------------------------------------------------------------------------------------
// Numbers in words

/// "42" → "forty-two", "1234" → "one thousand two hundred thirty-four" (no "and", consistently). Falls back
/// to digits for numbers num2words cannot say.
fn cardinal(n: i64) -> String {
    Num2Words::new(n)
        .to_words()
        .map_or_else(|_| n.to_string(), |w| w.replace(" and ", " "))
}

fn ordinal(n: i64) -> String {
    Num2Words::new(n)
        .ordinal()
        .to_words()
        .unwrap_or_else(|_| n.to_string())
}

/// A year as people say it: 1984 "nineteen eighty-four", 1066 "ten sixty-six", 1905 "nineteen oh five",
/// 1900 "nineteen hundred", 2005 "two thousand five", 2019 "twenty nineteen".
fn year(n: i64) -> String {
    match n {
        // 1000 and 2000-2009 are said as cardinals: "one thousand", "two thousand five".
        1000 | 2000..=2009 => cardinal(n),
        1000..=9999 if n % 100 == 0 => format!("{} hundred", cardinal(n / 100)),
        1000..=9999 if n % 100 < 10 => format!("{} oh {}", cardinal(n / 100), cardinal(n % 100)),
        1000..=9999 => format!("{} {}", cardinal(n / 100), cardinal(n % 100)),
        _ => cardinal(n),
    }
}

/// Each digit as a word: "0199" → "zero one nine nine".
fn digits(s: &str) -> String {
    const NAMES: [&str; 10] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    s.chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| NAMES[d as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// A written number ("1,250,000", "3.5", "007") in words.
fn number(s: &str) -> String {
    let plain = s.replace(',', "");
    let (int, frac) = match plain.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (plain.as_str(), None),
    };
    let int_words = if int.len() > 1 && int.starts_with('0') || int.len() > 15 {
        digits(int)
    } else {
        cardinal(int.parse().unwrap_or(0))
    };
    match frac {
        Some(f) if !f.is_empty() => format!("{int_words} point {}", digits(f)),
        _ => int_words,
    }
}

fn parse(s: &str) -> i64 {
    s.replace(',', "").parse().unwrap_or(0)
}

/// "ninety" → "nineties", "hundred" → "hundreds".
fn plural_word(words: &str) -> String {
    match words.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None => format!("{words}s"),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Word lists

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn month_index(name: &str) -> Option<usize> {
    let n = name.trim_end_matches('.').to_lowercase();
    if n.len() < 3 {
        return None;
    }
    MONTHS.iter().position(|m| {
        m.to_lowercase() == n || (m.to_lowercase().starts_with(&n) && (n.len() == 3 || n == "sept"))
    })
}

/// Upper-case words read as words, not spelled out.
const ACRONYMS: &[&str] = &[
    "NATO", "UNESCO", "UNICEF", "NASA", "OPEC", "AIDS", "FIFA", "NAFTA", "ASEAN", "LASER", "RADAR",
    "SCUBA", "ASAP", "FAQ", "GIF", "JPEG", "PIN", "SIM", "COVID", "OFSTED", "OXFAM", "INTERPOL",
    "EUROPOL", "UEFA", "NIMBY", "ZIP",
];

/// Four- and five-letter upper-case words spelled out even though they have vowels.
const INITIALISMS: &[&str] = &[
    "USSR", "USAF", "NAACP", "UNHCR", "OECD", "IUCN", "USDA", "NYPD", "LAPD",
];

/// Words that end with a full stop when abbreviated, and what they stand for. Titles come before a name.
const TITLES: &[(&str, &str)] = &[
    ("Mr", "Mister"),
    ("Mrs", "Missus"),
    ("Ms", "Miz"),
    ("Dr", "Doctor"),
    ("Prof", "Professor"),
    ("Gen", "General"),
    ("Col", "Colonel"),
    ("Capt", "Captain"),
    ("Lt", "Lieutenant"),
    ("Sgt", "Sergeant"),
    ("Rev", "Reverend"),
    ("Hon", "Honourable"),
    ("Mt", "Mount"),
    ("Ft", "Fort"),
    ("St", "Saint"),
];

const ABBREVIATIONS: &[(&str, &str)] = &[
    ("e.g.", "for example"),
    ("i.e.", "that is"),
    ("etc.", "et cetera"),
    ("vs.", "versus"),
    ("vs", "versus"),
    ("approx.", "approximately"),
    ("cf.", "compare"),
    ("ca.", "circa"),
    ("Jr.", "Junior"),
    ("Sr.", "Senior"),
    ("Inc.", "Incorporated"),
    ("Ltd.", "Limited"),
    ("Co.", "Company"),
    ("Fig.", "figure"),
    ("fig.", "figure"),
    ("Vol.", "volume"),
    ("vol.", "volume"),
    ("Ch.", "chapter"),
    ("ch.", "chapter"),
    ("No.", "number"),
    ("Nos.", "numbers"),
    ("pp.", "pages"),
    ("p.", "page"),
];

/// Units after a number: (written, singular, plural).
const UNITS: &[(&str, &str, &str)] = &[
    ("km/h", "kilometre per hour", "kilometres per hour"),
    ("kph", "kilometre per hour", "kilometres per hour"),
    ("mph", "mile per hour", "miles per hour"),
    ("m/s", "metre per second", "metres per second"),
    ("°C", "degree Celsius", "degrees Celsius"),
    ("°F", "degree Fahrenheit", "degrees Fahrenheit"),
    ("°", "degree", "degrees"),
    ("km", "kilometre", "kilometres"),
    ("cm", "centimetre", "centimetres"),
    ("mm", "millimetre", "millimetres"),
    ("m", "metre", "metres"),
    ("kg", "kilogram", "kilograms"),
    ("mg", "milligram", "milligrams"),
    ("g", "gram", "grams"),
    ("lb", "pound", "pounds"),
    ("lbs", "pound", "pounds"),
    ("oz", "ounce", "ounces"),
    ("mi", "mile", "miles"),
    ("ft", "foot", "feet"),
    ("ml", "millilitre", "millilitres"),
    ("l", "litre", "litres"),
    ("ha", "hectare", "hectares"),
    ("kWh", "kilowatt hour", "kilowatt hours"),
    ("kW", "kilowatt", "kilowatts"),
    ("MW", "megawatt", "megawatts"),
    ("GB", "gigabyte", "gigabytes"),
    ("MB", "megabyte", "megabytes"),
    ("TB", "terabyte", "terabytes"),
    ("GHz", "gigahertz", "gigahertz"),
    ("Hz", "hertz", "hertz"),
    ("min", "minute", "minutes"),
    ("hrs", "hour", "hours"),
    ("hr", "hour", "hours"),
];

/// Words after which a Roman numeral is a plain number: "Chapter IV", "World War II".
const NUMBERED: &[&str] = &[
    "Chapter", "Part", "Book", "Volume", "Act", "Scene", "Section", "Article", "War", "Phase",
    "Level", "Stage", "Appendix", "Title", "Apollo", "Bowl", "Round", "Series", "Vatican", "Psalm",
    "Canto", "Type", "Grade", "Class", "Category", "Mark", "Mk", "Schedule", "Tier", "Model",
    "Star", "Rocky", "Episode", "Season", "Vol", "Volume",
];

/// Names that take a regnal number even for "I": "Elizabeth I".
const REGNAL: &[&str] = &[
    "Elizabeth",
    "James",
    "Charles",
    "Mary",
    "Edward",
    "Henry",
    "George",
    "William",
    "Richard",
    "Peter",
    "Catherine",
    "Alexander",
    "Nicholas",
    "Napoleon",
    "Louis",
    "Philip",
    "Frederick",
    "John",
    "Paul",
    "Pius",
    "Leo",
    "Gregory",
    "Benedict",
    "Francis",
    "Victoria",
    "Anne",
    "Ferdinand",
    "Isabella",
    "Wilhelm",
    "Ramesses",
    "Constantine",
];

// ---------------------------------------------------------------------------------------------------------
// Passes

type Rule = fn(&Captures, &Normalizer) -> String;

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("valid pattern")
}

fn unit_pattern() -> String {
    let mut units: Vec<&str> = UNITS.iter().map(|u| u.0).collect();
    units.sort_by_key(|u| std::cmp::Reverse(u.len()));
    units
        .iter()
        .map(|u| regex::escape(u))
        .collect::<Vec<_>>()
        .join("|")
}

/// A written number: thousands separated by commas, or plain digits, with an optional decimal part.
const NUM: &str = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?";

fn month_pattern() -> &'static str {
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
}

fn passes() -> &'static Vec<(Regex, Rule)> {
    static PASSES: OnceLock<Vec<(Regex, Rule)>> = OnceLock::new();
    PASSES.get_or_init(|| {
        let month = month_pattern();
        let units = unit_pattern();
        let rules: Vec<(String, Rule)> = vec![
            // Links and addresses.
            (r"\bhttps?://(?:www\.)?([^\s/]+?)(/[^\s]*?)?([.,;:!?)]*(?:\s|$))".into(), url),
            (r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b".into(), email),
            (r"\bwww\.([\w-]+(?:\.[\w-]+)+)\b".into(), |c, _| say_domain(&c[1])),
            // Times with am/pm, before abbreviations eat the dots.
            (r"\b(\d{1,2})(?::(\d{2}))?\s?([apAP])\.?[mM]\.?(\s|$|[,;!?)])".into(), clock_ampm),
            // Dotted initialisms (U.S., U.K., U.S.A.) and listed abbreviations.
            (r"\b((?:[A-Z]\.){2,})(\s+[A-Z]|\s*$)?".into(), dotted_initialism),
            (r"(?:^|\s)(e\.g\.|i\.e\.|etc\.|vs\.?|approx\.|cf\.|ca\.|Jr\.|Sr\.|Inc\.|Ltd\.|Co\.|[Ff]ig\.|[Vv]ol\.|[Cc]h\.)(\s|,|$)".into(), abbreviation),
            (r"\b(No|Nos|pp|p)\.\s?(\d)".into(), |c, _| {
                let word = match &c[1] { "No" => "number", "Nos" => "numbers", "pp" => "pages", _ => "page" };
                format!("{word} {}", &c[2])
            }),
            (r"\b(Mrs|Mr|Ms|Prof|Gen|Col|Capt|Lt|Sgt|Rev|Hon|Mt|Ft)\.(\s+)(\S)".into(), title),
            (r"\b(Mrs|Mr|Ms)(\s+)(and\s)".into(), title),
            (r"\b(Mrs|Mr|Ms|Dr|Prof|Gen|Col|Capt|Lt|Sgt|Rev|Hon|Mt|Ft|St)\.?(\s+)(\p{Lu})".into(), title),
            (r"(\p{Lu}[\w']*)\s+(St|Dr|Ave|Rd)\.(\s|$|[,;])".into(), street),
            // Currency, with magnitudes.
            (format!(r"([$£€¥])\s?({NUM})(?:\s?(bn|m|k|million|billion|trillion|thousand)\b)?"), currency),
            (format!(r"\b({NUM})p\b"), |c, _| format!("{} pence", number(&c[1]))),
            // Phone numbers and versions, before dates and decimals take them apart.
            (r"\b(\d{3})[-. ](\d{3})[-. ](\d{4})\b".into(), |c, _| {
                format!("{}, {}, {}", digits(&c[1]), digits(&c[2]), digits(&c[3]))
            }),
            (r"\b(\d{3})[- ](0\d{3}|\d{4})\b".into(), phone_or_number_pair),
            (r"\b(\d+)\.(\d+)\.(\d+)(?:\.(\d+))?\b".into(), version),
            // Dates: abbreviated month and day names first.
            (r"\b(Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?(\s+\d)".into(), |c, _| {
                let m = month_index(&c[1]).expect("pattern lists months");
                format!("{}{}", MONTHS[m], &c[2])
            }),
            (r"\b(Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|Sat|Sun)\.(\s)".into(), |c, _| {
                let day = match &c[1] {
                    "Mon" => "Monday",
                    "Tue" | "Tues" => "Tuesday",
                    "Wed" => "Wednesday",
                    "Thu" | "Thur" | "Thurs" => "Thursday",
                    "Fri" => "Friday",
                    "Sat" => "Saturday",
                    _ => "Sunday",
                };
                format!("{day}{}", &c[2])
            }),
            (r"\b(\d{4})-(\d{2})-(\d{2})\b".into(), iso_date),
            (format!(r"\b(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({month})(?:,?\s+(\d{{4}}))?\b"), day_month),
            (format!(r"\b({month})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?"), month_day),
            // Times, and spans of them ("9:00–17:00").
            (r"\b(\d{1,2}:\d{2})\s?[–-]\s?(\d{1,2}:\d{2})\b".into(), |c, _| format!("{} to {}", &c[1], &c[2])),
            (r"\b(\d{1,2}):(\d{2})\b".into(), clock),
            // Percentages and units, with an optional range in front ("5–10 km").
            (format!(r"(?:({NUM})\s?[–-]\s?)?(-?{NUM})\s?%"), |c, _| format!("{} percent", range_prefix(c, 2))),
            (format!(r"(?:({NUM})\s?[–-]\s?)?(-?{NUM})\s?({units})(?:\b|$|\s)"), unit),
            // Ranges.
            (r"\b(\d{4})\s?[–-]\s?(\d{2,4})\b".into(), year_range),
            (r"(?i)\b(pages|chapters|verses|ages|aged|between|from|items|rooms|rows|sections|numbers)\s+(\d+)\s?[–-]\s?(\d+)\b".into(), keyword_range),
            (r"\b(\d+)\s?–\s?(\d+)\b".into(), |c, _| format!("{} to {}", number(&c[1]), number(&c[2]))),
            // Slashes.
            (r"\b(\d{1,2})/(\d{1,2})/(\d{2,4})\b".into(), |c, _| {
                format!("{} {}, {}", number(&c[1]), number(&c[2]), year(parse(&c[3])))
            }),
            (r"\b(\d+(?:\.\d+)?)/(\d+)\b".into(), slash_numbers),
            (r"\b([A-Za-z]+)/([A-Za-z]+)\b".into(), slash_words),
            // Fractions written as one character.
            (r"(?:(\d+)\s?)?([½⅓⅔¼¾⅕⅛])".into(), vulgar_fraction),
            // Decades, ordinals, years, numbers.
            (r"(?:\b|')(1[0-9]|20)?(\d)0s\b".into(), decade),
            (r"\b(\d{1,3}(?:,\d{3})+|\d+)(st|nd|rd|th)\b".into(), |c, _| ordinal(parse(&c[1]))),
            (r"(^|[^\d,.])(1\d\d\d|20\d\d)\b([^,.\d%]|$|[.,]\D|[.,]$)".into(), year_in_text),
            (format!(r"(^|[\s(\[])-({NUM})\b"), |c, _| format!("{}minus {}", &c[1], number(&c[2]))),
            (NUM.into(), |c, _| number(&c[0])),
            // Roman numerals, initialisms, symbols.
            (r"\b(\p{Lu}[\p{Ll}']+(?:\s+War)?)\s+([IVXLC]+)\b".into(), roman_after_word),
            (r"\b(\p{Lu}{2,8})(?:-(\p{Lu}{1,3}))?\b".into(), capitals),
            (r"\s*&\s*".into(), |_, _| " and ".into()),
            (r"(\w)\s?\+\s?(\w)".into(), |c, _| format!("{} plus {}", &c[1], &c[2])),
            (r"\s=\s".into(), |_, _| " equals ".into()),
            (r"#(\w)".into(), |c, _| format!("number {}", &c[1])),
            (r"(^|\s)#(\s|$)".into(), |c, _| format!("{}hash{}", &c[1], &c[2])),
            (r"\s@\s".into(), |_, _| " at ".into()),
            (r"\s?–\s?".into(), |_, _| " - ".into()),
        ];
        rules.into_iter().map(|(p, f)| (re(&p), f)).collect()
    })
}

/// Runs every pass over the text.
pub fn normalize(text: &str, heading: bool, n: &Normalizer) -> String {
    let mut text = super::typography_keeping_ranges(text);
    // A line in capitals is emphasis, not a string of initialisms: "THE END" is read "the end".
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.len() > 5
        && letters.iter().all(|c| c.is_uppercase())
        && text.split_whitespace().count() > 1
    {
        text = text.to_lowercase();
    }
    if heading {
        static NUMERAL: OnceLock<Regex> = OnceLock::new();
        let numeral = NUMERAL.get_or_init(|| re(r"^([IVXLC]+)(\.?\s|:\s|$)"));
        text = numeral
            .replace(&text, |c: &Captures| match roman(&c[1]) {
                Some(v) => format!("{}{}", cardinal(v), &c[2]),
                None => c[0].to_string(),
            })
            .into_owned();
    }
    for (regex, rule) in passes() {
        if regex.is_match(&text) {
            text = regex
                .replace_all(&text, |c: &Captures| rule(c, n))
                .into_owned();
        }
    }
    text
}

// ---------------------------------------------------------------------------------------------------------
// Rules

fn say_domain(domain: &str) -> String {
    domain.split('.').collect::<Vec<_>>().join(" dot ")
}

fn url(c: &Captures, _: &Normalizer) -> String {
    let mut out = say_domain(&c[1]);
    if let Some(path) = c.get(2) {
        for part in path.as_str().split('/').filter(|p| !p.is_empty()) {
            out.push_str(" slash ");
            out.push_str(&part.replace(['-', '_'], " "));
        }
    }
    format!("{out}{}", &c[3])
}

fn email(c: &Captures, _: &Normalizer) -> String {
    let (user, domain) = c[0].split_once('@').expect("pattern has @");
    format!("{} at {}", user.replace('.', " dot "), say_domain(domain))
}

fn clock_ampm(c: &Captures, _: &Normalizer) -> String {
    let hour = parse(&c[1]);
    let minutes = c.get(2).map(|m| parse(m.as_str()));
    let time = match minutes {
        None | Some(0) => cardinal(hour),
        Some(m) if m < 10 => format!("{} oh {}", cardinal(hour), cardinal(m)),
        Some(m) => format!("{} {}", cardinal(hour), cardinal(m)),
    };
    let half = if c[3].eq_ignore_ascii_case("a") {
        "A M"
    } else {
        "P M"
    };
    // "at 5 p.m." ending the sentence: the abbreviation's dot was also the full stop.
    let stop = if c[0].trim_end().ends_with('.') && c[4].is_empty() {
        "."
    } else {
        ""
    };
    format!("{time} {half}{stop}{}", &c[4])
}

fn dotted_initialism(c: &Captures, _: &Normalizer) -> String {
    let letters: Vec<&str> = c[1].split('.').filter(|s| !s.is_empty()).collect();
    let spelled = letters.join(" ");
    match c.get(2) {
        // The last dot also ended the sentence.
        Some(next) if next.as_str().trim().is_empty() => format!("{spelled}."),
        Some(next) => format!("{spelled}.{}", next.as_str()),
        None => spelled,
    }
}

fn abbreviation(c: &Captures, _: &Normalizer) -> String {
    let lead = if c[0].starts_with(char::is_whitespace) {
        " "
    } else {
        ""
    };
    let word = ABBREVIATIONS
        .iter()
        .find(|(a, _)| *a == &c[1])
        .map_or(&c[1], |(_, full)| *full);
    let end = &c[2];
    // "etc." at the end of a sentence keeps its full stop.
    if end.is_empty() && c[1].ends_with('.') {
        format!("{lead}{word}.")
    } else {
        format!("{lead}{word}{end}")
    }
}

fn title(c: &Captures, _: &Normalizer) -> String {
    let full = TITLES
        .iter()
        .find(|(a, _)| *a == &c[1])
        .map_or(&c[1], |(_, f)| *f);
    format!("{full}{}{}", &c[2], &c[3])
}

fn street(c: &Captures, _: &Normalizer) -> String {
    let word = match &c[2] {
        "St" => "Street",
        "Dr" => "Drive",
        "Ave" => "Avenue",
        _ => "Road",
    };
    let end = &c[3];
    if end.trim().is_empty() && end.is_empty() {
        format!("{} {word}.", &c[1])
    } else {
        format!("{} {word}{end}", &c[1])
    }
}

fn currency(c: &Captures, _: &Normalizer) -> String {
    let (one, many, cent, cents) = match &c[1] {
        "$" => ("dollar", "dollars", "cent", "cents"),
        "£" => ("pound", "pounds", "penny", "pence"),
        "€" => ("euro", "euros", "cent", "cents"),
        _ => ("yen", "yen", "sen", "sen"),
    };
    let amount = &c[2];
    if let Some(scale) = c.get(3) {
        let scale = match scale.as_str() {
            "bn" | "billion" => "billion",
            "m" | "million" => "million",
            "k" | "thousand" => "thousand",
            other => other,
        };
        return format!("{} {scale} {many}", number(amount));
    }
    let plain = amount.replace(',', "");
    let (whole, frac) = plain.split_once('.').unwrap_or((&plain, ""));
    let whole_n = whole.parse::<i64>().unwrap_or(0);
    let unit = if whole_n == 1 { one } else { many };
    let mut out = format!("{} {unit}", cardinal(whole_n));
    if frac.len() == 2 {
        let c_n: i64 = frac.parse().unwrap_or(0);
        if c_n > 0 {
            out = format!(
                "{out} and {} {}",
                cardinal(c_n),
                if c_n == 1 { cent } else { cents }
            );
        }
    } else if !frac.is_empty() {
        out = format!("{} {many}", number(&plain));
    }
    out
}

fn phone_or_number_pair(c: &Captures, _: &Normalizer) -> String {
    format!("{}, {}", digits(&c[1]), digits(&c[2]))
}

fn version(c: &Captures, _: &Normalizer) -> String {
    let parts: Vec<String> = (1..=4)
        .filter_map(|i| c.get(i))
        .map(|m| number(m.as_str()))
        .collect();
    parts.join(" point ")
}

fn iso_date(c: &Captures, _: &Normalizer) -> String {
    let (y, m, d) = (parse(&c[1]), parse(&c[2]), parse(&c[3]));
    if (1..=12).contains(&m) && (1..=31).contains(&d) {
        format!("{} {}, {}", MONTHS[m as usize - 1], ordinal(d), year(y))
    } else {
        c[0].to_string()
    }
}

fn day_month(c: &Captures, _: &Normalizer) -> String {
    let (Some(m), d) = (month_index(&c[2]), parse(&c[1])) else {
        return c[0].to_string();
    };
    if !(1..=31).contains(&d) {
        return c[0].to_string();
    }
    let mut out = format!("the {} of {}", ordinal(d), MONTHS[m]);
    if let Some(y) = c.get(3) {
        out = format!("{out}, {}", year(parse(y.as_str())));
    }
    out
}

fn month_day(c: &Captures, _: &Normalizer) -> String {
    let (Some(m), d) = (month_index(&c[1]), parse(&c[2])) else {
        return c[0].to_string();
    };
    if !(1..=31).contains(&d) {
        return c[0].to_string();
    }
    let mut out = format!("{} {}", MONTHS[m], ordinal(d));
    if let Some(y) = c.get(3) {
        out = format!("{out}, {}", year(parse(y.as_str())));
    }
    out
}

fn clock(c: &Captures, _: &Normalizer) -> String {
    let (h, m) = (parse(&c[1]), parse(&c[2]));
    if h > 24 || m > 59 {
        return format!("{} {}", number(&c[1]), number(&c[2]));
    }
    match m {
        0 => format!("{} o'clock", cardinal(h)),
        1..=9 => format!("{} oh {}", cardinal(h), cardinal(m)),
        _ => format!("{} {}", cardinal(h), cardinal(m)),
    }
}

fn signed(s: &str) -> String {
    match s.strip_prefix('-') {
        Some(rest) => format!("minus {}", number(rest)),
        None => number(s),
    }
}

/// The amount in group `i`, with "A to " in front when group 1 holds the start of a range.
fn range_prefix(c: &Captures, i: usize) -> String {
    match c.get(1) {
        Some(from) => format!("{} to {}", number(from.as_str()), signed(&c[i])),
        None => signed(&c[i]),
    }
}

fn unit(c: &Captures, _: &Normalizer) -> String {
    let amount = &c[2];
    let (_, one, many) = UNITS
        .iter()
        .find(|u| u.0 == &c[3])
        .expect("pattern is built from UNITS");
    let word = if (amount == "1" || amount == "-1") && c.get(1).is_none() {
        one
    } else {
        many
    };
    let tail = if c[0].ends_with(char::is_whitespace) {
        " "
    } else {
        ""
    };
    format!("{} {word}{tail}", range_prefix(c, 2))
}

fn year_range(c: &Captures, _: &Normalizer) -> String {
    let from = parse(&c[1]);
    let to_text = &c[2];
    let to = if to_text.len() == 2 {
        from / 100 * 100 + parse(to_text)
    } else {
        parse(to_text)
    };
    if (1000..=2099).contains(&from) && to > from && to <= 2099 {
        format!("{} to {}", year(from), year(to))
    } else {
        c[0].to_string()
    }
}

fn keyword_range(c: &Captures, _: &Normalizer) -> String {
    let word = match c[1].to_lowercase().as_str() {
        "pp" | "pp." => "pages".to_string(),
        "no" | "no." | "nos" | "nos." => "numbers".to_string(),
        _ => c[1].to_string(),
    };
    format!("{word} {} to {}", number(&c[2]), number(&c[3]))
}

fn fraction_words(num: i64, den: i64) -> Option<String> {
    let name = match den {
        2 => "half",
        3 => "third",
        4 => "quarter",
        5 => "fifth",
        6 => "sixth",
        8 => "eighth",
        16 => "sixteenth",
        _ => return None,
    };
    if num >= den || num < 1 {
        return None;
    }
    let name = if num == 1 {
        name.to_string()
    } else if name == "half" {
        "halves".into()
    } else {
        format!("{name}s")
    };
    Some(format!("{} {name}", cardinal(num)))
}

/// 3/4 "three quarters", 9/10 "nine out of ten", 9/11 and 24/7 "nine eleven", "twenty-four seven".
fn slash_numbers(c: &Captures, _: &Normalizer) -> String {
    let (a, b) = (&c[1], parse(&c[2]));
    if a.contains('.') || b == 10 || b == 100 {
        return format!("{} out of {}", number(a), number(&c[2]));
    }
    fraction_words(parse(a), b).unwrap_or_else(|| format!("{} {}", number(a), number(&c[2])))
}

fn slash_words(c: &Captures, _: &Normalizer) -> String {
    if let Some((_, _, many)) = UNITS.iter().find(|u| u.0 == c[0].to_string()) {
        return many.to_string();
    }
    if c[1].eq_ignore_ascii_case("and") && c[2].eq_ignore_ascii_case("or") {
        return format!("{} or", &c[1]);
    }
    format!("{} or {}", &c[1], &c[2])
}

fn vulgar_fraction(c: &Captures, _: &Normalizer) -> String {
    let frac = match &c[2] {
        "½" => "a half",
        "⅓" => "a third",
        "⅔" => "two thirds",
        "¼" => "a quarter",
        "¾" => "three quarters",
        "⅕" => "a fifth",
        _ => "an eighth",
    };
    match c.get(1) {
        Some(whole) => format!("{} and {frac}", number(whole.as_str())),
        None if frac == "a half" => "half".into(),
        None => frac.into(),
    }
}

fn decade(c: &Captures, _: &Normalizer) -> String {
    let tens: i64 = parse(&c[2]) * 10;
    match c.get(1) {
        Some(century) => {
            let y = parse(century.as_str()) * 100 + tens;
            plural_word(&year(y))
        }
        None if tens >= 20 => plural_word(&cardinal(tens)),
        None => c[0].to_string(),
    }
}

fn year_in_text(c: &Captures, _: &Normalizer) -> String {
    format!("{}{}{}", &c[1], year(parse(&c[2])), &c[3])
}

/// The value of a Roman numeral, if it is a well-formed one.
fn roman(s: &str) -> Option<i64> {
    static VALID: OnceLock<Regex> = OnceLock::new();
    let valid = VALID.get_or_init(|| re(r"^(?:C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})$"));
    if s.is_empty() || !valid.is_match(s) {
        return None;
    }
    let value = |ch| match ch {
        'I' => 1,
        'V' => 5,
        'X' => 10,
        'L' => 50,
        _ => 100,
    };
    let vals: Vec<i64> = s.chars().map(value).collect();
    Some(
        vals.iter()
            .enumerate()
            .map(|(i, &v)| {
                if vals.get(i + 1).is_some_and(|&n| n > v) {
                    -v
                } else {
                    v
                }
            })
            .sum(),
    )
}

fn roman_after_word(c: &Captures, _: &Normalizer) -> String {
    let word = &c[1];
    let numeral = &c[2];
    let Some(n) = roman(numeral) else {
        return c[0].to_string();
    };
    let last = word.rsplit(' ').next().unwrap_or(word);
    if NUMBERED.contains(&last) {
        return format!("{word} {}", cardinal(n));
    }
    let regnal = REGNAL.contains(&last) || (numeral.len() >= 2 && n <= 40);
    if regnal && n <= 40 {
        format!("{word} the {}", ordinal(n))
    } else {
        c[0].to_string()
    }
}

fn capitals(c: &Captures, n: &Normalizer) -> String {
    let word = &c[1];
    let suffix = c.get(2).map(|m| m.as_str());
    if word == "OK" && suffix.is_none() {
        return "okay".into();
    }
    let is_acronym = |w: &str| ACRONYMS.contains(&w) || n.acronyms.contains(w);
    if suffix.is_none() && is_acronym(word) {
        // Read as a word: "Nato".
        let mut chars = word.chars();
        return chars.next().map_or(String::new(), |f| {
            f.to_string() + &chars.as_str().to_lowercase()
        });
    }
    let has_vowel = word.chars().any(|ch| "AEIOUY".contains(ch));
    let spell = word.len() <= 3
        || !has_vowel
        || INITIALISMS.contains(&word)
        || n.initialisms.contains(word)
        || suffix.is_some();
    if !spell {
        return c[0].to_string();
    }
    let mut letters: Vec<String> = word.chars().map(|ch| ch.to_string()).collect();
    if let Some(s) = suffix {
        letters.extend(s.chars().map(|ch| ch.to_string()));
    }
    letters.join(" ")
}
