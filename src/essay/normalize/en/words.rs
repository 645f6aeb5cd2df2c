//! Numbers in English words, British or American: cardinals ("and" after hundreds only in British English),
//! ordinals, years, digit strings, numbers used as names ("Flight 370", "Resolution 2334") and decimals.

use num2words::Num2Words;

/// How numbers are said in one variety of English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Words {
    /// British English: "one hundred and five", "two thousand and five".
    pub(crate) british: bool,
}

const SCALES: &[&str] = &["thousand", "million", "billion", "trillion", "quadrillion"];

const DIGITS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

/// The words num2words gives for `n` without its "and"s, worked out in integers for 0 ≤ n < 10^18: num2words
/// goes through arbitrary-precision floating point, which made a book of numbers slow to plan. `None` for the
/// rest (num2words says those).
fn plain_cardinal(n: i64) -> Option<String> {
    if !(0..1_000_000_000_000_000_000).contains(&n) {
        return None;
    }
    if n == 0 {
        return Some("zero".into());
    }
    let mut groups = Vec::with_capacity(6);
    let mut rest = n;
    while rest > 0 {
        groups.push((rest % 1000) as usize);
        rest /= 1000;
    }
    let mut words: Vec<String> = Vec::new();
    for (scale, &group) in groups.iter().enumerate().rev() {
        if group == 0 {
            continue;
        }
        if group >= 100 {
            words.push(format!("{} hundred", ONES[group / 100]));
        }
        match group % 100 {
            0 => {}
            small @ 1..=19 => words.push(ONES[small].to_string()),
            tens if tens % 10 == 0 => words.push(TENS[tens / 10].to_string()),
            tens => words.push(format!("{}-{}", TENS[tens / 10], ONES[tens % 10])),
        }
        if scale > 0 {
            words.push(SCALES[scale - 1].to_string());
        }
    }
    Some(words.join(" "))
}

impl Words {
    /// "42" → "forty-two"; 1250 → "one thousand two hundred fifty" (American) or "one thousand two hundred and
    /// fifty" (British). num2words gives the words; the "and"s are placed here, because its own rule puts one
    /// only in the last group of three ("one hundred one thousand", "one hundred fifty" are wrong in British
    /// English). Falls back to digit names for numbers num2words cannot say.
    pub(crate) fn cardinal(&self, n: i64) -> String {
        let words = match plain_cardinal(n) {
            Some(words) => words,
            None => match Num2Words::new(n).to_words() {
                Ok(words) => words,
                Err(_) => return self.digits(&n.to_string()),
            },
        };
        let plain: Vec<&str> = words.split(' ').filter(|w| *w != "and").collect();
        if !self.british {
            return plain.join(" ");
        }
        let is_scale = |w: &str| SCALES.contains(&w) || w == "hundred";
        let mut out: Vec<&str> = Vec::with_capacity(plain.len() + 2);
        for (i, w) in plain.iter().enumerate() {
            let prev = i.checked_sub(1).map(|p| plain[p]);
            let small_after_scale = prev.is_some_and(|p| SCALES.contains(&p))
                && !is_scale(w)
                // Only the last group under a hundred takes "and": "one million and five", but
                // "one million five hundred thousand".
                && plain[i + 1..].iter().all(|x| !is_scale(x));
            if prev == Some("hundred") && !is_scale(w) || small_after_scale {
                out.push("and");
            }
            out.push(w);
        }
        out.join(" ")
    }

    /// "first", "twenty-second", "one hundred and first" (British).
    pub(crate) fn ordinal(&self, n: i64) -> String {
        ordinalize(&self.cardinal(n))
    }

    /// A year as people say it: 1984 "nineteen eighty-four", 1066 "ten sixty-six", 1905 "nineteen oh five",
    /// 1900 "nineteen hundred", 2005 "two thousand five" ("two thousand and five" in British English),
    /// 2019 "twenty nineteen".
    pub(crate) fn year(&self, n: i64) -> String {
        match n {
            1000 | 2000..=2009 => self.cardinal(n),
            1000..=9999 if n % 100 == 0 => format!("{} hundred", self.cardinal(n / 100)),
            1000..=9999 if n % 100 < 10 => {
                format!("{} oh {}", self.cardinal(n / 100), self.cardinal(n % 100))
            }
            1000..=9999 => format!("{} {}", self.cardinal(n / 100), self.cardinal(n % 100)),
            _ => self.cardinal(n),
        }
    }

    /// Each digit as a word: "0199" → "zero one nine nine".
    pub(crate) fn digits(&self, s: &str) -> String {
        s.chars()
            .filter_map(|c| c.to_digit(10))
            .map(|d| DIGITS[d as usize])
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A number used as a name, read the way people read flight, room and model numbers: in pairs.
    /// 101 "one oh one", 370 "three seventy", 747 "seven forty-seven", 2334 "twenty-three thirty-four",
    /// 3310 "thirty-three ten"; round hundreds and short numbers as cardinals; a leading zero or more than four
    /// digits digit by digit.
    pub(crate) fn name(&self, s: &str) -> String {
        if s.len() > 1 && s.starts_with('0') || s.len() > 4 {
            return self.digits(s);
        }
        let n: i64 = s.parse().unwrap_or(0);
        match s.len() {
            3 if n % 100 == 0 => self.cardinal(n),
            3 if n % 100 < 10 => {
                format!("{} oh {}", self.cardinal(n / 100), self.cardinal(n % 100))
            }
            3 => format!("{} {}", self.cardinal(n / 100), self.cardinal(n % 100)),
            4 if n % 1000 == 0 => self.cardinal(n),
            4 => self.year(n),
            _ => self.cardinal(n),
        }
    }

    /// A written number ("1,250,000", "3.5", "007") in words.
    pub(crate) fn number(&self, s: &str) -> String {
        let plain = s.replace(',', "");
        let (int, frac) = match plain.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (plain.as_str(), None),
        };
        let int_words = if int.is_empty() {
            "zero".to_string()
        } else if int.len() > 1 && int.starts_with('0') || int.len() > 15 {
            self.digits(int)
        } else {
            self.cardinal(int.parse().unwrap_or(0))
        };
        match frac {
            Some(f) if !f.is_empty() => format!("{int_words} point {}", self.digits(f)),
            _ => int_words,
        }
    }
}

/// The ordinal of a number in words: the last word changes ("twenty-two" → "twenty-second").
pub(crate) fn ordinalize(words: &str) -> String {
    let (head, last) = match words.rfind([' ', '-']) {
        Some(i) => words.split_at(i + 1),
        None => ("", words),
    };
    let last = match last {
        "one" => "first".to_string(),
        "two" => "second".to_string(),
        "three" => "third".to_string(),
        "five" => "fifth".to_string(),
        "eight" => "eighth".to_string(),
        "nine" => "ninth".to_string(),
        "twelve" => "twelfth".to_string(),
        w if w.ends_with('y') => format!("{}ieth", &w[..w.len() - 1]),
        w => format!("{w}th"),
    };
    format!("{head}{last}")
}

/// A written integer ("1,250") as a number; 0 when it is not one.
pub(crate) fn parse(s: &str) -> i64 {
    s.replace(',', "").parse().unwrap_or(0)
}

/// "ninety" → "nineties", "hundred" → "hundreds".
pub(crate) fn plural_word(words: &str) -> String {
    match words.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None => format!("{words}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_words_are_num2words_own_without_its_ands() {
        let reference = |n: i64| -> String {
            let words = Num2Words::new(n).to_words().unwrap();
            words
                .split(' ')
                .filter(|w| *w != "and")
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut random = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut cases: Vec<i64> = (0..=120_000).collect();
        for digits in 6..=18 {
            let top = 10i64.pow(digits);
            cases.extend((0..300).map(|_| (random() % top as u64) as i64));
            cases.extend([top - 1, top / 10, top / 10 + 1, top / 10 * 7 + 15]);
        }
        for n in cases.into_iter().filter(|&n| n < 1_000_000_000_000_000_000) {
            assert_eq!(
                plain_cardinal(n).as_deref(),
                Some(reference(n).as_str()),
                "{n}"
            );
        }
        assert_eq!(plain_cardinal(-5), None);
        assert_eq!(plain_cardinal(1_000_000_000_000_000_000), None);
    }

    const GB: Words = Words { british: true };
    const US: Words = Words { british: false };

    #[test]
    fn british_and_american_cardinals() {
        let cases: &[(i64, &str, &str)] = &[
            (5, "five", "five"),
            (100, "one hundred", "one hundred"),
            (101, "one hundred and one", "one hundred one"),
            (150, "one hundred and fifty", "one hundred fifty"),
            (
                1250,
                "one thousand two hundred and fifty",
                "one thousand two hundred fifty",
            ),
            (2005, "two thousand and five", "two thousand five"),
            (2100, "two thousand one hundred", "two thousand one hundred"),
            (1_000_005, "one million and five", "one million five"),
            (
                1_101_000,
                "one million one hundred and one thousand",
                "one million one hundred one thousand",
            ),
            (
                1_500_000,
                "one million five hundred thousand",
                "one million five hundred thousand",
            ),
            (-42, "minus forty-two", "minus forty-two"),
        ];
        for &(n, gb, us) in cases {
            assert_eq!(GB.cardinal(n), gb, "{n}");
            assert_eq!(US.cardinal(n), us, "{n}");
        }
    }

    #[test]
    fn ordinals_years_and_names() {
        assert_eq!(US.ordinal(22), "twenty-second");
        assert_eq!(GB.ordinal(101), "one hundred and first");
        assert_eq!(US.ordinal(40), "fortieth");
        assert_eq!(US.ordinal(12), "twelfth");
        assert_eq!(GB.year(2005), "two thousand and five");
        assert_eq!(US.year(1905), "nineteen oh five");
        assert_eq!(US.name("101"), "one oh one");
        assert_eq!(US.name("747"), "seven forty-seven");
        assert_eq!(GB.name("2334"), "twenty-three thirty-four");
        assert_eq!(GB.name("300"), "three hundred");
        assert_eq!(US.name("007"), "zero zero seven");
        assert_eq!(US.number("3.05"), "three point zero five");
        assert_eq!(US.number(".5"), "zero point five");
    }
}
