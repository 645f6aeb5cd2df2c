//! The English rules: each turns one regex match into words. They read the words around the match through
//! [`Ctx`] ("between 1914–18", "a 2.5 kg box", "won 3-2") and say numbers through [`Words`].

use std::sync::OnceLock;

use regex::{Captures, Regex};

use super::tables::{self, Currency, CURRENCIES, MONTHS, UNITS};
use super::words::{parse, plural_word, Words};
use super::Ctx;

// ---------------------------------------------------------------------------------------------------------
// Addresses

/// A host name by its labels: "fsf.org" "F S F dot org" (a short label with no vowel is spelled out).
fn say_domain(domain: &str) -> String {
    domain
        .split('.')
        .map(|label| {
            let letters = label.chars().all(|c| c.is_ascii_alphabetic());
            let vowel = label.chars().any(|c| "aeiouyAEIOUY".contains(c));
            if letters && !vowel && (2..=4).contains(&label.len()) {
                label
                    .chars()
                    .map(|c| c.to_ascii_uppercase().to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                label.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" dot ")
}

/// One part of a path, as words: "getting-started" "getting started", "index.html" "index dot html",
/// "%20" a space.
fn path_part(part: &str) -> String {
    let mut out = String::new();
    let mut chars = part.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '-' | '_' | '+' => out.push(' '),
            '.' => out.push_str(" dot "),
            '~' => out.push_str(" tilde "),
            '%' => {
                // A percent-encoded byte: a space for %20, nothing for the rest.
                let code: String = chars.by_ref().take(2).collect();
                if code == "20" {
                    out.push(' ');
                }
            }
            ch => out.push(ch),
        }
    }
    out
}

/// A web address read as a person reads it: the host and the path; the query and fragment are dropped.
pub(super) fn url(c: &Captures, _: &Ctx) -> String {
    let mut out = say_domain(&c[1]);
    for part in c[2].split('/').filter(|p| !p.is_empty()) {
        out.push_str(" slash ");
        out.push_str(&path_part(part));
    }
    format!("{out}{}", &c[3])
}

pub(super) fn email(c: &Captures, _: &Ctx) -> String {
    let address = c[0].trim_start_matches("mailto:");
    let (user, domain) = address.split_once('@').expect("pattern has @");
    format!("{} at {}", user.replace('.', " dot "), say_domain(domain))
}

/// "+44 20 7946 0958": "plus four four, two zero, seven nine four six, zero nine five eight".
pub(super) fn phone_international(c: &Captures, x: &Ctx) -> String {
    let groups: Vec<&str> = c[2]
        .split(|ch: char| !ch.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect();
    let total: usize = c[1].len() + groups.iter().map(|g| g.len()).sum::<usize>();
    if total < 7 {
        return c[0].to_string();
    }
    let mut out = format!("plus {}", x.w.digits(&c[1]));
    for g in groups {
        out.push_str(", ");
        out.push_str(&x.w.digits(g));
    }
    out
}

/// Digit groups read one digit at a time, a pause between groups: "415-555-0132".
pub(super) fn phone_groups(c: &Captures, x: &Ctx) -> String {
    c.iter()
        .skip(1)
        .flatten()
        .map(|m| x.w.digits(m.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "192.168.0.1" digit by digit with "dot"; "1.2.0.4" (a version) with "point".
pub(super) fn ip_or_version(c: &Captures, x: &Ctx) -> String {
    let parts: Vec<&str> = (1..=4)
        .map(|i| c.get(i).map_or("", |m| m.as_str()))
        .collect();
    let context = x
        .words_before(c, 3)
        .iter()
        .any(|w| matches!(*w, "IP" | "address" | "server" | "host" | "gateway" | "DNS"));
    if context || parts.iter().any(|p| parse(p) > 99) {
        return parts
            .iter()
            .map(|p| {
                if p.len() <= 2 {
                    x.w.number(p)
                } else {
                    x.w.digits(p)
                }
            })
            .collect::<Vec<_>>()
            .join(" dot ");
    }
    version(c, x)
}

pub(super) fn version(c: &Captures, x: &Ctx) -> String {
    let parts: Vec<String> = (1..=4)
        .filter_map(|i| c.get(i))
        .map(|m| x.w.number(m.as_str()))
        .collect();
    parts.join(" point ")
}

// ---------------------------------------------------------------------------------------------------------
// Abbreviations, titles, initialisms

pub(super) fn clock_ampm(c: &Captures, x: &Ctx) -> String {
    let hour = parse(&c[1]);
    let minutes = c.get(2).map(|m| parse(m.as_str()));
    let time = match minutes {
        None | Some(0) => x.w.cardinal(hour),
        Some(m) if m < 10 => format!("{} oh {}", x.w.cardinal(hour), x.w.cardinal(m)),
        Some(m) => format!("{} {}", x.w.cardinal(hour), x.w.cardinal(m)),
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

/// "Ph.D." "P H D", "MSc" "M S C"; at the end of the text the dot also ended the sentence.
pub(super) fn degree(c: &Captures, _: &Ctx) -> String {
    let said = tables::DEGREES
        .iter()
        .find(|(d, _)| *d == &c[2])
        .map_or(&c[2], |(_, s)| *s);
    let stop = if c[3].is_empty() && c[2].ends_with('.') {
        "."
    } else {
        ""
    };
    format!("{}{said}{stop}{}", &c[1], &c[3])
}

/// "U.S." "U S": the dots go (a dot left mid-sentence would be read as a full stop), except the last at the
/// end of the text, which also ended the sentence.
pub(super) fn dotted_initialism(c: &Captures, _: &Ctx) -> String {
    let spelled = c[1]
        .split('.')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if c[2].is_empty() {
        format!("{spelled}.")
    } else {
        format!("{spelled}{}", &c[2])
    }
}

pub(super) fn abbreviation(c: &Captures, _: &Ctx) -> String {
    let word = tables::ABBREVIATIONS
        .iter()
        .find(|(a, _)| *a == &c[2])
        .map_or(&c[2], |(_, full)| *full);
    let end = &c[3];
    // "etc." at the end of a sentence keeps its full stop.
    if end.is_empty() && c[2].ends_with('.') {
        format!("{}{word}.", &c[1])
    } else {
        format!("{}{word}{end}", &c[1])
    }
}

/// A title before a name ("Dr. Okafor", "Mr and Mrs Brown", "Rt. Hon."), not one that ends the text.
pub(super) fn title(c: &Captures, x: &Ctx) -> String {
    let next = x.after(c).chars().next();
    let dotted = c[0].contains('.');
    let before_name = match next {
        Some(ch) if dotted => ch.is_alphanumeric(),
        Some(ch) => ch.is_uppercase() || x.after(c).starts_with("and "),
        None => false,
    };
    if !before_name {
        return c[0].to_string();
    }
    let full = tables::TITLES
        .iter()
        .find(|(a, _)| *a == &c[1])
        .map_or(&c[1], |(_, f)| *f);
    format!("{full}{}", &c[2])
}

pub(super) fn street(c: &Captures, _: &Ctx) -> String {
    let word = match &c[2] {
        "St" => "Street",
        "Dr" => "Drive",
        "Ave" => "Avenue",
        "Rd" => "Road",
        "Blvd" => "Boulevard",
        "Ln" => "Lane",
        "Sq" => "Square",
        "Pl" => "Place",
        "Ct" => "Court",
        _ => "Highway",
    };
    let end = &c[3];
    if end.is_empty() {
        format!("{} {word}.", &c[1])
    } else {
        format!("{} {word}{end}", &c[1])
    }
}

// ---------------------------------------------------------------------------------------------------------
// Money

fn currency_for(symbol: Option<&str>) -> &'static Currency {
    let symbol = symbol.unwrap_or("$");
    CURRENCIES
        .iter()
        .find(|c| c.symbol == symbol)
        .unwrap_or(&CURRENCIES[0])
}

fn sign_word(sign: Option<regex::Match>) -> &'static str {
    match sign.map(|m| m.as_str()) {
        Some("-") => "minus ",
        Some("+") => "plus ",
        _ => "",
    }
}

/// An amount of money in words: "five dollars and fifty cents", "ninety-nine cents", "four lira fifty".
fn money(amount: &str, cur: &Currency, w: Words) -> String {
    let plain = amount.replace(',', "");
    let (whole, frac) = plain.split_once('.').unwrap_or((&plain, ""));
    let whole_n = whole.parse::<i64>().unwrap_or(0);
    let minor: i64 = if frac.len() == 2 {
        frac.parse().unwrap_or(0)
    } else {
        0
    };
    if !frac.is_empty() && frac.len() != 2 {
        return format!("{} {}", w.number(&plain), cur.many);
    }
    let unit = if whole_n == 1 { cur.one } else { cur.many };
    let main = format!("{} {unit}", w.cardinal(whole_n));
    match (minor, cur.minor_one.is_empty()) {
        (0, _) => main,
        (m, false) => {
            let minor_unit = if m == 1 {
                cur.minor_one
            } else {
                cur.minor_many
            };
            let minor_words = format!("{} {minor_unit}", w.cardinal(m));
            if whole_n == 0 {
                minor_words
            } else {
                format!("{main} and {minor_words}")
            }
        }
        (m, true) if whole_n > 0 => format!("{main} {}", w.cardinal(m)),
        (_, true) => format!("{} {}", w.number(&plain), cur.many),
    }
}

/// "$5", "-€4,200", "+£3.50", "$5–10", "€3.2bn", "USD 40": captures sign, symbol, amount, range end, scale.
pub(super) fn currency(c: &Captures, x: &Ctx) -> String {
    let cur = currency_for(c.get(2).map(|m| m.as_str()));
    say_money(c.get(1), &c[3], c.get(4), c.get(5), cur, x.w)
}

/// "40 USD", "5 €", "50 zł": captures sign, amount, range end, code or symbol.
pub(super) fn currency_after(c: &Captures, x: &Ctx) -> String {
    let cur = currency_for(c.get(4).or(c.get(5)).map(|m| m.as_str()));
    say_money(c.get(1), &c[2], c.get(3), None, cur, x.w)
}

fn say_money(
    sign: Option<regex::Match>,
    amount: &str,
    to: Option<regex::Match>,
    scale: Option<regex::Match>,
    cur: &Currency,
    w: Words,
) -> String {
    let sign = sign_word(sign);
    let range = to.map(|t| format!(" to {}", w.number(t.as_str())));
    if let Some(scale) = scale {
        let scale = match scale.as_str() {
            "bn" | "bln" | "billion" => "billion",
            "m" | "mn" | "million" => "million",
            "k" | "K" | "thousand" => "thousand",
            other => other,
        };
        return format!(
            "{sign}{}{} {scale} {}",
            w.number(amount),
            range.unwrap_or_default(),
            cur.many
        );
    }
    match range {
        Some(range) => format!("{sign}{}{range} {}", w.number(amount), cur.many),
        None => format!("{sign}{}", money(amount, cur, w)),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Dates and times

/// A date as the essay's English says it: "the third of April, twenty twenty-two" (British) or "April third,
/// twenty twenty-two" (American).
fn say_date(day: i64, month: usize, year: Option<i64>, x: &Ctx) -> String {
    let mut out = if x.w.british {
        format!("the {} of {}", x.w.ordinal(day), MONTHS[month])
    } else {
        format!("{} {}", MONTHS[month], x.w.ordinal(day))
    };
    if let Some(y) = year {
        out = format!("{out}, {}", x.w.year(y));
    }
    out
}

pub(super) fn iso_date(c: &Captures, x: &Ctx) -> String {
    let (y, m, d) = (parse(&c[1]), parse(&c[2]), parse(&c[3]));
    if (1..=12).contains(&m) && (1..=31).contains(&d) {
        say_date(d, m as usize - 1, Some(y), x)
    } else {
        c[0].to_string()
    }
}

/// "03/04/2022": the third of April in British English, March fourth in American; "31/12/1999" and
/// "12/31/1999" can only be one date; "03.04.2022" (dots) is always day first.
pub(super) fn numeric_date(c: &Captures, x: &Ctx) -> String {
    let (a, b) = (parse(&c[1]), parse(&c[3]));
    let y = parse(&c[4]);
    let year = match c[4].len() {
        2 if y < 50 => 2000 + y,
        2 => 1900 + y,
        _ => y,
    };
    let day_first = match (a, b) {
        _ if &c[2] == "." => true,
        (a, b) if a > 12 && b <= 12 => true,
        (a, b) if b > 12 && a <= 12 => false,
        _ => x.w.british,
    };
    let (d, m) = if day_first { (a, b) } else { (b, a) };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return format!(
            "{} slash {} slash {}",
            x.w.number(&c[1]),
            x.w.number(&c[3]),
            x.w.number(&c[4])
        );
    }
    say_date(d, m as usize - 1, Some(year), x)
}

pub(super) fn month_range(c: &Captures, _: &Ctx) -> String {
    let (Some(a), Some(b)) = (tables::month_index(&c[1]), tables::month_index(&c[2])) else {
        return c[0].to_string();
    };
    // "Jan–Mar." ending the text: the abbreviation's dot was also the full stop.
    let stop = if c[3].is_empty() && c[2].ends_with('.') {
        "."
    } else {
        ""
    };
    format!("{} to {}{stop}{}", MONTHS[a], MONTHS[b], &c[3])
}

fn valid_day(d: i64) -> bool {
    (1..=31).contains(&d)
}

/// "12–14 June": "the twelfth to the fourteenth of June".
pub(super) fn day_range_month(c: &Captures, x: &Ctx) -> String {
    let (d1, d2) = (parse(&c[1]), parse(&c[2]));
    let Some(m) = tables::month_index(&c[3]) else {
        return c[0].to_string();
    };
    if !valid_day(d1) || !valid_day(d2) || d1 >= d2 {
        return c[0].to_string();
    }
    let mut out = format!(
        "the {} to the {} of {}",
        x.w.ordinal(d1),
        x.w.ordinal(d2),
        MONTHS[m]
    );
    if let Some(y) = c.get(4) {
        out = format!("{out}, {}", x.w.year(parse(y.as_str())));
    }
    out
}

/// "June 12–14": "June twelfth to fourteenth".
pub(super) fn month_day_range(c: &Captures, x: &Ctx) -> String {
    let (d1, d2) = (parse(&c[2]), parse(&c[3]));
    let Some(m) = tables::month_index(&c[1]) else {
        return c[0].to_string();
    };
    if !valid_day(d1) || !valid_day(d2) || d1 >= d2 {
        return c[0].to_string();
    }
    let mut out = format!("{} {} to {}", MONTHS[m], x.w.ordinal(d1), x.w.ordinal(d2));
    if let Some(y) = c.get(4) {
        out = format!("{out}, {}", x.w.year(parse(y.as_str())));
    }
    out
}

/// "7 July 2005" is read as written: "the seventh of July, two thousand five".
pub(super) fn day_month(c: &Captures, x: &Ctx) -> String {
    let (Some(m), d) = (tables::month_index(&c[2]), parse(&c[1])) else {
        return c[0].to_string();
    };
    if !valid_day(d) {
        return c[0].to_string();
    }
    let mut out = format!("the {} of {}", x.w.ordinal(d), MONTHS[m]);
    if let Some(y) = c.get(3) {
        out = format!("{out}, {}", x.w.year(parse(y.as_str())));
    }
    out
}

/// "July 7, 2005": "July seventh, two thousand five".
pub(super) fn month_day(c: &Captures, x: &Ctx) -> String {
    let (Some(m), d) = (tables::month_index(&c[1]), parse(&c[2])) else {
        return c[0].to_string();
    };
    if !valid_day(d) {
        return c[0].to_string();
    }
    let mut out = format!("{} {}", MONTHS[m], x.w.ordinal(d));
    if let Some(y) = c.get(3) {
        out = format!("{out}, {}", x.w.year(parse(y.as_str())));
    }
    out
}

fn plural(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        one.to_string()
    } else {
        many.to_string()
    }
}

fn clock_words(h: i64, m: i64, w: Words) -> String {
    match m {
        0 => format!("{} o'clock", w.cardinal(h)),
        1..=9 => format!("{} oh {}", w.cardinal(h), w.cardinal(m)),
        _ => format!("{} {}", w.cardinal(h), w.cardinal(m)),
    }
}

/// "00:04:17" "four minutes seventeen seconds"; "at 14:30:15" "fourteen thirty and fifteen seconds".
pub(super) fn hms(c: &Captures, x: &Ctx) -> String {
    let (h, m, s) = (parse(&c[1]), parse(&c[2]), parse(&c[3]));
    if m > 59 || s > 59 {
        return c[0].replace(':', " ");
    }
    let seconds = match c.get(4) {
        Some(f) => format!(
            "{} point {} seconds",
            x.w.cardinal(s),
            x.w.digits(f.as_str())
        ),
        None => format!("{} {}", x.w.cardinal(s), plural(s, "second", "seconds")),
    };
    if matches!(x.prev_word(c), "at" | "At" | "until" | "by" | "from") && (1..=24).contains(&h) {
        return format!("{} and {seconds}", clock_words(h, m, x.w));
    }
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!(
            "{} {}",
            x.w.cardinal(h),
            plural(h, "hour", "hours")
        ));
    }
    if m > 0 {
        parts.push(format!(
            "{} {}",
            x.w.cardinal(m),
            plural(m, "minute", "minutes")
        ));
    }
    if s > 0 || c.get(4).is_some() || parts.is_empty() {
        parts.push(seconds);
    }
    parts.join(" ")
}

/// "10:30" a time; "2:1", "16:9", "1:50000" and "a ratio of 10:30" ratios ("two to one").
pub(super) fn clock_or_ratio(c: &Captures, x: &Ctx) -> String {
    let (h, m) = (parse(&c[1]), parse(&c[2]));
    let ratio_words = x
        .words_before(c, 3)
        .iter()
        .any(|w| matches!(*w, "ratio" | "odds" | "scale" | "ratios" | "aspect"));
    if c[2].len() == 2 && h <= 24 && m <= 59 && !ratio_words {
        return clock_words(h, m, x.w);
    }
    format!("{} to {}", x.w.number(&c[1]), x.w.number(&c[2]))
}

// ---------------------------------------------------------------------------------------------------------
// Measures, ranges, scores

fn signed(s: &str, w: Words) -> String {
    if let Some(rest) = s.strip_prefix('-') {
        format!("minus {}", w.number(rest))
    } else if let Some(rest) = s.strip_prefix('+') {
        format!("plus {}", w.number(rest))
    } else {
        w.number(s)
    }
}

/// The amount in group `i`, with "A to " in front when group 1 holds the start of a range.
pub(super) fn range_prefix(c: &Captures, i: usize, x: &Ctx) -> String {
    match c.get(1) {
        Some(from) => format!("{} to {}", x.w.number(from.as_str()), signed(&c[i], x.w)),
        None => signed(&c[i], x.w),
    }
}

/// "5 km" "five kilometres"; "1 kg" "one kilogram"; "a 2.5 kg box" and "a 5-km run" use the unit as an
/// adjective: "a two point five kilogram box", "a five-kilometre run".
pub(super) fn unit(c: &Captures, x: &Ctx) -> String {
    let amount = &c[2];
    let (_, one, many) = UNITS
        .iter()
        .find(|u| u.0 == &c[4])
        .expect("pattern is built from UNITS");
    let hyphen = &c[3] == "-";
    let next = x.next_word(c);
    let adjective = hyphen
        || (tables::DETERMINERS.contains(&x.prev_word(c))
            && next.chars().next().is_some_and(|ch| ch.is_lowercase())
            && !tables::NOT_NOUNS.contains(&next));
    let single = matches!(amount, "1" | "-1" | "+1") && c.get(1).is_none();
    let word = if single || adjective { one } else { many };
    let joint = if hyphen { "-" } else { " " };
    format!("{}{joint}{word}{}", range_prefix(c, 2, x), &c[5])
}

/// "2x4" "two by four", "3 × 4 m" "three by four metres", "1920x1080" "nineteen twenty by ten eighty".
pub(super) fn dimensions(c: &Captures, x: &Ctx) -> String {
    let say = |s: &str| {
        if s.len() == 4 && s.chars().all(|ch| ch.is_ascii_digit()) {
            x.w.name(s)
        } else {
            x.w.number(s)
        }
    };
    let unit = c
        .get(3)
        .and_then(|u| UNITS.iter().find(|x| x.0 == u.as_str()));
    let unit = match unit {
        Some((_, one, _)) if &c[2] == "1" => format!(" {one}"),
        Some((_, _, many)) => format!(" {many}"),
        None => String::new(),
    };
    format!("{} by {}{unit}{}", say(&c[1]), say(&c[2]), &c[4])
}

pub(super) fn keyword_range(c: &Captures, x: &Ctx) -> String {
    let word = &c[1];
    let joint = if word.eq_ignore_ascii_case("between") {
        "and"
    } else {
        "to"
    };
    format!("{word} {} {joint} {}", x.w.number(&c[2]), x.w.number(&c[3]))
}

/// "won 3-2", "a 2–0 win": British "three two", "two nil", "one all"; American "three to two", "two to
/// nothing", "one all". Without a word that makes it a score, "3-5" is a range: "three to five".
pub(super) fn score(c: &Captures, x: &Ctx) -> String {
    let (a, b) = (parse(&c[1]), parse(&c[2]));
    let before = x
        .words_before(c, 3)
        .iter()
        .any(|w| tables::SCORE_BEFORE.contains(&w.to_lowercase().as_str()));
    let after = tables::SCORE_AFTER.contains(&x.next_word(c));
    if !(before || after) {
        return format!("{} to {}", x.w.cardinal(a), x.w.cardinal(b));
    }
    let zero = if x.w.british { "nil" } else { "nothing" };
    let say = |n: i64| {
        if n == 0 {
            zero.to_string()
        } else {
            x.w.cardinal(n)
        }
    };
    match (a == b, x.w.british) {
        (true, true) if a == 0 => "nil nil".into(),
        (true, false) if a == 0 => "nothing to nothing".into(),
        (true, _) => format!("{} all", x.w.cardinal(a)),
        (false, true) => format!("{} {}", say(a), say(b)),
        (false, false) => format!("{} to {}", say(a), say(b)),
    }
}

/// "1990–1995" "nineteen ninety to nineteen ninety-five"; "between 1914–18" "between nineteen fourteen and
/// nineteen eighteen".
pub(super) fn year_range(c: &Captures, x: &Ctx) -> String {
    let from = parse(&c[1]);
    let to_text = &c[2];
    let to = if to_text.len() == 2 {
        from / 100 * 100 + parse(to_text)
    } else {
        parse(to_text)
    };
    let joint = if x.prev_word(c).eq_ignore_ascii_case("between") {
        "and"
    } else {
        "to"
    };
    if (1000..=2099).contains(&from) && to > from && to <= 2099 {
        format!("{} {joint} {}", x.w.year(from), x.w.year(to))
    } else {
        c[0].to_string()
    }
}

fn fraction_words(num: i64, den: i64, w: Words) -> Option<String> {
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
    Some(format!("{} {name}", w.cardinal(num)))
}

/// 3/4 "three quarters", 9/10 "nine out of ten", 9/11 and 24/7 "nine eleven", "twenty-four seven".
pub(super) fn slash_numbers(c: &Captures, x: &Ctx) -> String {
    let (a, b) = (&c[1], parse(&c[2]));
    if a.contains('.') || b == 10 || b == 100 {
        return format!("{} out of {}", x.w.number(a), x.w.number(&c[2]));
    }
    fraction_words(parse(a), b, x.w)
        .unwrap_or_else(|| format!("{} {}", x.w.number(a), x.w.number(&c[2])))
}

pub(super) fn slash_words(c: &Captures, _: &Ctx) -> String {
    if let Some((_, _, many)) = UNITS.iter().find(|u| u.0 == &c[0]) {
        return many.to_string();
    }
    if c[1].eq_ignore_ascii_case("and") && c[2].eq_ignore_ascii_case("or") {
        return format!("{} or", &c[1]);
    }
    format!("{} or {}", &c[1], &c[2])
}

pub(super) fn vulgar_fraction(c: &Captures, x: &Ctx) -> String {
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
        Some(whole) => format!("{} and {frac}", x.w.number(whole.as_str())),
        None if frac == "a half" => "half".into(),
        None => frac.into(),
    }
}

pub(super) fn decade(c: &Captures, x: &Ctx) -> String {
    let tens: i64 = parse(&c[2]) * 10;
    match c.get(1) {
        Some(century) => {
            let y = parse(century.as_str()) * 100 + tens;
            plural_word(&x.w.year(y))
        }
        None if tens >= 20 => plural_word(&x.w.cardinal(tens)),
        None => c[0].to_string(),
    }
}

/// Whether a number between 1000 and 2099 is a year ("in 1887", "the 2019 election") or a count ("2019
/// people", "over 1500").
pub(super) fn year_or_count(c: &Captures, x: &Ctx) -> String {
    let n = parse(&c[2]);
    let prev = x.prev_word(c);
    let next = x.next_word(c);
    let count = if tables::YEAR_BEFORE.contains(&prev) || tables::DETERMINERS.contains(&prev) {
        false
    } else if tables::COUNT_BEFORE.contains(&prev) {
        true
    } else {
        let plural = next.len() > 3
            && next.ends_with('s')
            && !next.ends_with("'s")
            && !next.ends_with("ss")
            && next.chars().next().is_some_and(|ch| ch.is_lowercase())
            && !tables::NOT_COUNT_PLURAL.contains(&next);
        plural
            || matches!(
                next,
                "people"
                    | "men"
                    | "women"
                    | "children"
                    | "staff"
                    | "feet"
                    | "sheep"
                    | "fish"
                    | "deer"
                    | "personnel"
            )
    };
    let said = if count { x.w.cardinal(n) } else { x.w.year(n) };
    format!("{}{said}{}", &c[1], &c[3])
}

// ---------------------------------------------------------------------------------------------------------
// Codes, letters, numerals

/// Letters of a code: a listed acronym as a word ("Covid"), the rest spelled ("A K").
pub(super) fn letters(run: &str, x: &Ctx) -> String {
    let upper = run.to_uppercase();
    if tables::ACRONYMS.contains(&upper.as_str()) || x.n.acronyms.contains(&upper) {
        let mut chars = upper.chars();
        return chars.next().map_or(String::new(), |f| {
            f.to_string() + &chars.as_str().to_lowercase()
        });
    }
    let vowel = run.chars().any(|ch| "aeiouyAEIOUY".contains(ch));
    let word = run.chars().count() > 1 && vowel && !run.chars().all(char::is_uppercase);
    if word {
        // "Win10", "iPhone15": a word with a number after it.
        return run.to_string();
    }
    spell(run)
}

/// Each letter on its own, in capitals: "mRNA" "M R N A".
fn spell(word: &str) -> String {
    word.chars()
        .filter(|ch| ch.is_alphabetic())
        .flat_map(char::to_uppercase)
        .map(String::from)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The number in a code: up to two digits as a number ("Q3", "M25"), three or four in pairs ("A320" "A
/// three twenty", "FY2023" "twenty twenty-three"), longer ones and leading zeros digit by digit.
pub(super) fn code_number(digits: &str, x: &Ctx) -> String {
    if digits.len() <= 2 && !(digits.len() == 2 && digits.starts_with('0')) {
        x.w.cardinal(parse(digits))
    } else {
        x.w.name(digits)
    }
}

/// Letters and digits written together: "Q3", "FY2023", "221B", "CO2", "H2O", "4K", "mp3".
pub(super) fn code(c: &Captures, x: &Ctx) -> String {
    let token = &c[0];
    let mut runs: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut digit_run = false;
    for ch in token.chars() {
        let is_digit = ch.is_ascii_digit();
        if !current.is_empty() && is_digit != digit_run {
            runs.push(say_run(&current, digit_run, x));
            current.clear();
        }
        digit_run = is_digit;
        current.push(ch);
    }
    if !current.is_empty() {
        runs.push(say_run(&current, digit_run, x));
    }
    runs.join(" ")
}

fn say_run(run: &str, digits: bool, x: &Ctx) -> String {
    if digits {
        code_number(run, x)
    } else {
        letters(run, x)
    }
}

/// A British postcode: "NW1 6XE" "N W one, six X E".
pub(super) fn postcode(c: &Captures, x: &Ctx) -> String {
    let inward = &c[2];
    let (digit, rest) = inward.split_at(1);
    format!(
        "{}, {} {}",
        code(&captures_of(&c[1]), x),
        x.w.cardinal(parse(digit)),
        spell(rest)
    )
}

/// The captures of a whole string, to reuse a rule on a part of a match.
fn captures_of(s: &str) -> Captures<'_> {
    static ALL: OnceLock<Regex> = OnceLock::new();
    ALL.get_or_init(|| Regex::new(r"(?s)^.*$").expect("valid pattern"))
        .captures(s)
        .expect("matches anything")
}

/// The value of a Roman numeral, if it is a well-formed one.
pub(super) fn roman(s: &str) -> Option<i64> {
    static VALID: OnceLock<Regex> = OnceLock::new();
    let valid = VALID.get_or_init(|| {
        Regex::new(r"^(?:C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})$").expect("valid pattern")
    });
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

pub(super) fn roman_after_word(c: &Captures, x: &Ctx) -> String {
    let word = &c[1];
    let numeral = &c[2];
    let Some(n) = roman(numeral) else {
        return c[0].to_string();
    };
    let last = word.rsplit(' ').next().unwrap_or(word);
    if tables::NUMBERED.contains(&last) {
        return format!("{word} {}", x.w.cardinal(n));
    }
    let regnal = tables::REGNAL.contains(&last) || (numeral.len() >= 2 && n <= 40);
    if regnal && n <= 40 {
        format!("{word} the {}", x.w.ordinal(n))
    } else {
        c[0].to_string()
    }
}

/// Whether a word ends in a run of three or more consonants no English word ends in ("Iskp", "ISKP").
fn unsayable_ending(word: &str) -> bool {
    let lower = word.to_lowercase();
    let vowel = |ch: char| "aeiouy".contains(ch);
    let Some(last_vowel) = lower.rfind(vowel) else {
        return true;
    };
    let coda = &lower[last_vowel + 1..];
    let coda = coda
        .strip_suffix('s')
        .filter(|c| c.len() >= 2)
        .unwrap_or(coda);
    coda.chars().count() >= 3 && !tables::CODAS.contains(&coda)
}

pub(super) fn capitals(c: &Captures, x: &Ctx) -> String {
    let word = &c[1];
    let suffix = c.get(2).map(|m| m.as_str());
    if word == "OK" && suffix.is_none() {
        return "okay".into();
    }
    let is_acronym = |w: &str| tables::ACRONYMS.contains(&w) || x.n.acronyms.contains(w);
    if suffix.is_none() && is_acronym(word) {
        // Read as a word: "Nato".
        let mut chars = word.chars();
        return chars.next().map_or(String::new(), |f| {
            f.to_string() + &chars.as_str().to_lowercase()
        });
    }
    let spell_it = word.len() <= 3
        || unsayable_ending(word)
        || tables::INITIALISMS.contains(&word)
        || x.n.initialisms.contains(word)
        || suffix.is_some();
    if !spell_it {
        return c[0].to_string();
    }
    let mut out = spell(word);
    if let Some(s) = suffix {
        out = format!("{out} {}", spell(s));
    }
    out
}

/// Mixed-case initialisms: "IoT" "I O T", "mRNA" "M R N A", "GmbH" "G M B H"; brand names with one
/// capital inside ("iPhone", "eBay", "McDonald") and camel case ("YouTube", "WiFi") stay.
pub(super) fn mixed_case(c: &Captures, _: &Ctx) -> String {
    let word = &c[1];
    let inner_capitals = word.chars().skip(1).filter(|ch| ch.is_uppercase()).count();
    if inner_capitals == 0 {
        return word.to_string();
    }
    let capitals = word.chars().filter(|ch| ch.is_uppercase()).count();
    let vowel = word.chars().any(|ch| "aeiouyAEIOUY".contains(ch));
    // "IoT" ends in a capital and "mRNA" starts with a small letter before one; "WiFi" is neither.
    let initials = word.chars().last().is_some_and(char::is_uppercase)
        || word.chars().next().is_some_and(char::is_lowercase);
    let short = capitals >= 2 && word.chars().count() <= 5 && !has_lower_pair(word);
    if !vowel || (short && initials) {
        spell(word)
    } else {
        word.to_string()
    }
}

/// Two lower-case letters in a row: "YouTube" has them, "IoT" and "mRNA" do not.
fn has_lower_pair(word: &str) -> bool {
    let chars: Vec<char> = word.chars().collect();
    chars
        .windows(2)
        .any(|w| w[0].is_lowercase() && w[1].is_lowercase())
}

/// A short capitalised word no one could say ("Iskp", "Bbc"): spelled.
pub(super) fn unpronounceable(c: &Captures, _: &Ctx) -> String {
    let word = &c[1];
    if tables::VOWELLESS_WORDS.contains(&word) || !unsayable_ending(word) {
        return word.to_string();
    }
    spell(word)
}
