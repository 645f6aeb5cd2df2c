//! Text to hibari's phonemes: libespeak-ng's en-us IPA, one unit per phoneme (a separator keeps diphthongs and
//! affricates whole), mapped to the misaki symbols the model reads, with each clause's punctuation kept.
//! IPA written between slashes (from a lexicon entry) goes through the same mapping as one word, so IPA in
//! espeak's style or already in misaki's reaches the model as misaki; espeak-notation entries (`[[N'wIn]]`)
//! are read by libespeak-ng like any text.
//!
//! The mapping is misaki's own espeak fallback (docs/VOICES.md): measured on a ~900-word essay it gives the same
//! word error rate and quality as hibari's own G2P.

use std::sync::OnceLock;

use crate::synth::piper::phonemize;

/// The espeak-ng voice whose phonemes the mapping expects.
const ESPEAK_VOICE: &str = "en-us";
/// Written by libespeak-ng between the phonemes of a word.
const SEPARATOR: char = '_';
/// The longest phoneme string the model is given at once (hibari-tts's own limit; the model takes ~510).
pub(crate) const MAX_PHONEMES: usize = 400;

/// What the fingerprint says about this mapping; change it with the mapping.
pub(crate) const RULE: &str = "espeak-misaki-v1";

/// espeak IPA → misaki, tried longest first at each position of a unit.
const REPLACEMENTS: &[(&str, &str)] = &[
    ("ɜːɹ", "ɜɹ"),
    ("aɪ", "I"),
    ("aʊ", "W"),
    ("eɪ", "A"),
    ("oʊ", "O"),
    ("ɔɪ", "Y"),
    ("dʒ", "ʤ"),
    ("tʃ", "ʧ"),
    ("əl", "ᵊl"),
    ("ɜː", "ɜɹ"),
    ("ɪə", "iə"),
    ("n\u{329}", "ᵊn"),
    ("l\u{329}", "ᵊl"),
    ("e", "A"),
    ("r", "ɹ"),
    ("x", "k"),
    ("ç", "k"),
    ("ɐ", "ə"),
    ("ɚ", "əɹ"),
    ("ɬ", "l"),
    ("ʔ", "t"),
    ("o", "ɔ"),
    ("ᵻ", "ɪ"),
    ("ɾ", "T"),
];

/// Dropped after the replacements: length, the syllabic mark, palatalization.
const DROPPED: &[char] = &['ː', '\u{329}', 'ʲ'];

fn is_stress(c: char) -> bool {
    matches!(c, 'ˈ' | 'ˌ')
}

/// Applies the replacements to `s`, longest first at each position; other characters (stress marks too) stay.
fn replace(s: &str, out: &mut String) {
    let mut rest = s;
    'outer: while let Some(c) = rest.chars().next() {
        // REPLACEMENTS is ordered so that no entry is a prefix of a later, longer one.
        for (from, to) in REPLACEMENTS {
            if let Some(after) = rest.strip_prefix(from) {
                out.push_str(to);
                rest = after;
                continue 'outer;
            }
        }
        if !DROPPED.contains(&c) {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
}

/// One phoneme of espeak's (its stress marks moved in front) in misaki's symbols.
pub(crate) fn unit(u: &str) -> String {
    let stress: String = u.chars().filter(|&c| is_stress(c)).collect();
    let body: String = u.chars().filter(|&c| !is_stress(c)).collect();
    let mut out = stress;
    replace(&body, &mut out);
    out
}

/// A word of espeak's IPA written with `SEPARATOR` between its phonemes, in misaki's symbols. A stress mark
/// alone between separators goes to the next phoneme; an `ɹ` that ends one phoneme and starts the next is said
/// once (`ɚ` + `ɹ`).
pub(crate) fn word(w: &str) -> String {
    let mut out = String::new();
    let mut pending = String::new();
    for u in w.split(SEPARATOR).filter(|u| !u.is_empty()) {
        if u.chars().all(is_stress) {
            pending.push_str(u);
            continue;
        }
        let mut mapped = unit(&format!("{pending}{u}"));
        pending.clear();
        let body = mapped.trim_start_matches(is_stress);
        if out.ends_with('ɹ') && body.starts_with('ɹ') {
            let at = mapped.len() - body.len();
            mapped.replace_range(at..at + 'ɹ'.len_utf8(), "");
        }
        out.push_str(&mapped);
    }
    out.push_str(&pending);
    out
}

/// IPA from the lexicon (one word, no separators), in misaki's symbols.
pub(crate) fn ipa_word(w: &str) -> String {
    let mut out = String::new();
    replace(w, &mut out);
    out
}

/// The misaki phonemes of `text`, one string per sentence, each clause's punctuation kept (`,`, `;` and `:`
/// followed by a space, as misaki writes them).
pub(crate) fn sentences(text: &str) -> Result<Vec<String>, String> {
    static IPA: OnceLock<regex::Regex> = OnceLock::new();
    let ipa = IPA.get_or_init(|| regex::Regex::new(r"(^|\s)/([^/\s]+)/").expect("valid pattern"));
    let mut sentences = Vec::new();
    let mut current = String::new();
    let say = |part: &str,
               current: &mut String,
               sentences: &mut Vec<String>|
     -> Result<(), String> {
        for (clause, terminator) in phonemize::clauses_with(ESPEAK_VOICE, part, Some(SEPARATOR))? {
            let clause = phonemize::strip_language_flags(&clause);
            for w in clause.split_whitespace() {
                if !current.is_empty() && !current.ends_with(' ') {
                    current.push(' ');
                }
                current.push_str(&word(w));
            }
            if let Some(t) = terminator {
                let trimmed = current.trim_end().len();
                current.truncate(trimmed);
                current.push(t);
                if matches!(t, ',' | ':' | ';') {
                    current.push(' ');
                }
            }
            if matches!(terminator, Some('.' | '?' | '!')) {
                let s = std::mem::take(current);
                if s.chars().any(char::is_alphabetic) {
                    sentences.push(s);
                }
            }
        }
        Ok(())
    };
    let mut last = 0;
    for m in ipa.captures_iter(text) {
        let whole = m.get(0).expect("match");
        if whole.start() > last {
            say(&text[last..whole.start()], &mut current, &mut sentences)?;
        }
        if !current.is_empty() && !current.ends_with(' ') {
            current.push(' ');
        }
        current.push_str(&ipa_word(&m[2]));
        current.push(' ');
        last = whole.end();
    }
    if last < text.len() {
        say(&text[last..], &mut current, &mut sentences)?;
    }
    let rest = current.trim_end();
    if rest.chars().any(char::is_alphabetic) {
        sentences.push(rest.to_string());
    }
    Ok(sentences)
}

/// Splits a sentence longer than [`MAX_PHONEMES`] at clause punctuation (then, for a clause that is still too
/// long, between words), joining clauses while they fit, as hibari-tts does.
pub(crate) fn chunks(sentence: &str) -> Vec<String> {
    let len = |s: &str| s.chars().count();
    if len(sentence) <= MAX_PHONEMES {
        return vec![sentence.to_string()];
    }
    let mut parts: Vec<&str> = Vec::new();
    let mut start = 0;
    for (i, c) in sentence.char_indices() {
        if matches!(c, ',' | ';' | ':' | '—') {
            let end = i + c.len_utf8();
            parts.push(&sentence[start..end]);
            start = end;
        }
    }
    parts.push(&sentence[start..]);
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let push = |piece: &str, cur: &mut String, out: &mut Vec<String>| {
        if !cur.is_empty() && len(cur) + len(piece) + 1 > MAX_PHONEMES {
            out.push(std::mem::take(cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(piece);
    };
    for part in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        if len(part) <= MAX_PHONEMES {
            push(part, &mut cur, &mut out);
        } else {
            for w in part.split(' ') {
                // A single "word" longer than the limit does not occur in espeak's output; cut it anyway.
                let chars: Vec<char> = w.chars().collect();
                for piece in chars.chunks(MAX_PHONEMES) {
                    push(&piece.iter().collect::<String>(), &mut cur, &mut out);
                }
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn espeak_units_map_to_misaki_symbols() {
        let table = [
            ("h_ə_l_ˈoʊ", "həlˈO"),
            ("ð_ˈɛɹ", "ðˈɛɹ"),
            ("l_ˈɪ_ɾ_əl", "lˈɪTᵊl"),
            ("b_ˈɜː_d_z", "bˈɜɹdz"),
            ("w_ˈɔː_ɾ_ɚ", "wˈɔTəɹ"),
            ("t_ˈaʊ_ɚ", "tˈWəɹ"),
            ("dʒ_ˈɔːɹ_dʒ_ᵻ_z", "ʤˈɔɹʤɪz"),
            ("tʃ_ˈɜː_tʃ", "ʧˈɜɹʧ"),
            ("n_ˈeɪ_ʃ_ə_n", "nˈAʃən"),
            ("b_ˈʌ_ʔ_n̩", "bˈʌtᵊn"),
            ("aɪ_d_ˈiə", "Idˈiə"),
            ("f_ˈoːɹ", "fˈɔɹ"),
            ("ɔɪ_l", "Yl"),
            ("v_ˈɛ_ɹ_i", "vˈɛɹi"),
            ("h_ˈɚ_ɹ_i", "hˈəɹi"),
            ("ˈ_æ_p_əl", "ˈæpᵊl"),
            ("θ_ɹ_ˈiː", "θɹˈi"),
        ];
        for (espeak, misaki) in table {
            assert_eq!(word(espeak), misaki, "{espeak}");
        }
        assert_eq!(ipa_word("ŋwˈɪn"), "ŋwˈɪn");
        assert_eq!(ipa_word("ɡˈeɪtʃaʊs"), "ɡˈAʧWs");
    }

    #[test]
    fn long_sentences_are_cut_at_clauses_under_the_limit() {
        let clause = "ðə lˈɔŋ ɹˈOd wˈɛnt ˈɔn fɔɹ mˈIlz ənd mˈIlz";
        let sentence = vec![clause; 20].join(", ") + ".";
        let chunks = chunks(&sentence);
        assert!(chunks.len() >= 2);
        assert!(chunks.iter().all(|c| c.chars().count() <= MAX_PHONEMES));
        assert!(chunks[..chunks.len() - 1].iter().all(|c| c.ends_with(',')));
        assert_eq!(chunks.join(" "), sentence);
        let no_commas = vec![clause; 20].join(" ");
        let chunks2 = super::chunks(&no_commas);
        assert!(chunks2.iter().all(|c| c.chars().count() <= MAX_PHONEMES));
        assert_eq!(chunks2.join(" "), no_commas);
        assert_eq!(super::chunks("hˈI."), vec!["hˈI.".to_string()]);
    }
}
