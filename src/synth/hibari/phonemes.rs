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
use crate::synth::piper::words::{self, Group};

#[cfg(test)]
pub(super) use crate::synth::piper::words::edit_distance;

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

/// One spoken word of a sentence: where its phonemes are in the sentence's string (punctuation after it not
/// included) and the text it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    pub range: std::ops::Range<usize>,
    pub text: String,
    /// The text has punctuation (a clause boundary) right after this word.
    pub pause_after: bool,
}

/// A sentence's misaki phonemes and the words they say, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sentence {
    pub phonemes: String,
    pub words: Vec<Word>,
}

/// The misaki phonemes of `text`, one string per sentence, each clause's punctuation kept (`,`, `;` and `:`
/// followed by a space, as misaki writes them).
#[cfg(test)]
pub(crate) fn sentences(text: &str) -> Result<Vec<String>, String> {
    Ok(read(text)?.into_iter().map(|s| s.phonemes).collect())
}

/// A phoneme word as it is pushed: the sentence it is in, its range there, espeak's IPA for it (stress and
/// separators removed) and whether a clause ended after it.
struct Pushed {
    sentence: usize,
    range: std::ops::Range<usize>,
    ipa: String,
    pause_after: bool,
}

/// The sentences read so far, the open one and its words.
#[derive(Default)]
struct Builder {
    sentences: Vec<Sentence>,
    current: String,
    words: Vec<Word>,
}

impl Builder {
    fn space(&mut self) {
        if !self.current.is_empty() && !self.current.ends_with(' ') {
            self.current.push(' ');
        }
    }

    fn finish(&mut self) {
        let trimmed = self.current.trim_end().len();
        self.current.truncate(trimmed);
        self.sentences.push(Sentence {
            phonemes: std::mem::take(&mut self.current),
            words: std::mem::take(&mut self.words),
        });
    }

    /// The words of sentence `sentence` (the open one if it is not finished yet).
    fn words_of(&mut self, sentence: usize) -> &mut Vec<Word> {
        match self.sentences.get_mut(sentence) {
            Some(s) => &mut s.words,
            None => &mut self.words,
        }
    }

    fn phonemes(&self, sentence: usize) -> &str {
        self.sentences
            .get(sentence)
            .map_or(&self.current, |s| &s.phonemes)
    }

    /// Reads a part of the text (no lexicon IPA in it) through libespeak-ng.
    fn say(&mut self, part: &str) -> Result<(), String> {
        let mut pushed: Vec<Pushed> = Vec::new();
        for (clause, terminator) in phonemize::clauses_with(ESPEAK_VOICE, part, Some(SEPARATOR))? {
            let clause = phonemize::strip_language_flags(&clause);
            for w in clause.split_whitespace() {
                self.space();
                let at = self.current.len();
                self.current.push_str(&word(w));
                pushed.push(Pushed {
                    sentence: self.sentences.len(),
                    range: at..self.current.len(),
                    ipa: plain(w),
                    pause_after: false,
                });
            }
            if let Some(last) = pushed.last_mut() {
                last.pause_after = true;
            }
            if let Some(t) = terminator {
                let trimmed = self.current.trim_end().len();
                self.current.truncate(trimmed);
                self.current.push(t);
                if matches!(t, ',' | ':' | ';') {
                    self.current.push(' ');
                }
            }
            if matches!(terminator, Some('.' | '?' | '!')) {
                self.finish();
            }
        }
        let spoken = text_words(part)?;
        for group in align(&spoken, &pushed) {
            let first = &pushed[group.phonemes.start];
            let last = &pushed[group.phonemes.end - 1];
            let sentence = first.sentence;
            // A group that crosses a sentence end stays in its first sentence.
            let end = if last.sentence == sentence {
                last.range.end
            } else {
                first.range.end
            };
            let pause_after = last.pause_after;
            let span = first.range.start..end;
            if group.words.is_empty() {
                // Phonemes no word of the text accounts for: part of the word before them in the sentence (if
                // there is none, they are spoken but in no word's span).
                if let Some(prev) = self.words_of(sentence).last_mut() {
                    prev.range.end = prev.range.end.max(span.end);
                    prev.pause_after = pause_after;
                }
                continue;
            }
            let weights: Vec<usize> = group
                .words
                .iter()
                .map(|&i| spoken[i].1.chars().count().max(1))
                .collect();
            let pieces = split(&self.phonemes(sentence)[span.clone()], &weights);
            let n = pieces.len();
            for (k, (piece, &i)) in pieces.into_iter().zip(&group.words).enumerate() {
                let word = Word {
                    range: span.start + piece.start..span.start + piece.end,
                    text: spoken[i].0.clone(),
                    pause_after: pause_after && k + 1 == n,
                };
                self.words_of(sentence).push(word);
            }
        }
        Ok(())
    }
}

/// Like [`sentences`], with the words: each phoneme word espeak wrote is matched to the words of the text (see
/// [`align`]), so a word espeak ran into its neighbour ("in the" is one word, `ɪnðə`) still gets its own span.
pub(crate) fn read(text: &str) -> Result<Vec<Sentence>, String> {
    static IPA: OnceLock<regex::Regex> = OnceLock::new();
    let ipa = IPA.get_or_init(|| regex::Regex::new(r"(^|\s)/([^/\s]+)/").expect("valid pattern"));
    let mut b = Builder::default();
    let mut last = 0;
    for m in ipa.captures_iter(text) {
        let whole = m.get(0).expect("match");
        if whole.start() > last {
            b.say(&text[last..whole.start()])?;
        }
        b.space();
        let at = b.current.len();
        b.current.push_str(&ipa_word(&m[2]));
        let word = Word {
            range: at..b.current.len(),
            text: format!("/{}/", &m[2]),
            pause_after: false,
        };
        b.words.push(word);
        b.current.push(' ');
        last = whole.end();
    }
    if last < text.len() {
        b.say(&text[last..])?;
    }
    b.finish();
    let mut sentences = b.sentences;
    sentences.retain(|s| s.phonemes.chars().any(char::is_alphabetic));
    Ok(sentences)
}

/// espeak's IPA of a word without stress marks and separators (what [`align`] compares).
fn plain(w: &str) -> String {
    w.chars()
        .filter(|&c| !is_stress(c) && c != SEPARATOR && !DROPPED.contains(&c))
        .collect()
}

/// Punctuation trimmed from around a written word.
pub(crate) fn is_trimmed(c: char) -> bool {
    (c.is_ascii_punctuation() && !matches!(c, '&' | '%' | '$' | '#' | '@' | '+'))
        || "“”‘’—–…«»".contains(c)
}

/// A word of the text as written (punctuation around it trimmed), espeak's IPA for the word read alone, and
/// whether punctuation follows it (espeak never runs such a word into the next).
type TextWord = (String, String, bool);

fn text_words(part: &str) -> Result<Vec<TextWord>, String> {
    let mut out = Vec::new();
    for raw in part.split_whitespace() {
        let w = raw.trim_matches(is_trimmed);
        if w.is_empty() {
            continue;
        }
        let punct_after = raw
            .trim_end_matches(['"', '\'', '”', '’', ')', ']', '»'])
            .ends_with(['.', ',', ';', ':', '?', '!', '—', '–']);
        let alone: String = phonemize::clauses_with(ESPEAK_VOICE, w, Some(SEPARATOR))?
            .iter()
            .map(|(ipa, _)| plain(&phonemize::strip_language_flags(ipa)).replace(' ', ""))
            .collect();
        out.push((w.to_string(), alone, punct_after));
    }
    Ok(out)
}

/// Matches the phoneme words espeak wrote for a part of the text to the part's words (each with its IPA read
/// alone), in order: `synth::piper::words::align`.
fn align(words: &[TextWord], pushed: &[Pushed]) -> Vec<Group> {
    let w: Vec<(Vec<char>, bool)> = words
        .iter()
        .map(|(_, ipa, punct)| (ipa.chars().collect(), *punct))
        .collect();
    let p: Vec<Vec<char>> = pushed.iter().map(|x| x.ipa.chars().collect()).collect();
    words::align(&w, &p)
}

/// Splits one phoneme word among words in proportion to `weights` (the lengths of their IPA read alone), at
/// phoneme boundaries, a stress mark staying with the phoneme after it. Returns byte ranges in `phonemes`.
fn split(phonemes: &str, weights: &[usize]) -> Vec<std::ops::Range<usize>> {
    if weights.len() <= 1 {
        return std::iter::once(0..phonemes.len()).collect();
    }
    // Where a cut may go: before a symbol that does not follow a stress mark.
    let chars: Vec<(usize, char)> = phonemes.char_indices().collect();
    let cuts: Vec<usize> = (1..chars.len())
        .filter(|&k| !is_stress(chars[k - 1].1))
        .map(|k| chars[k].0)
        .collect();
    let units = cuts.len() + 1;
    let total: usize = weights.iter().sum();
    let mut out = Vec::with_capacity(weights.len());
    let mut start = 0;
    let mut acc = 0;
    let mut used = 0; // cuts taken so far
    for (k, &w) in weights.iter().enumerate() {
        acc += w;
        let end = if k + 1 == weights.len() {
            phonemes.len()
        } else {
            // The cut nearest the proportional share, leaving a unit for each word after this one where the word
            // has units enough.
            let want = (units * acc + total / 2) / total;
            let left = weights.len() - k - 1;
            let at = want.max(used + 1).min(units.saturating_sub(left)).max(used);
            used = at;
            match at {
                0 => 0,
                a => cuts.get(a - 1).copied().unwrap_or(phonemes.len()),
            }
        };
        let end = end.max(start);
        out.push(start..end);
        start = end;
    }
    out
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

/// A sentence cut into chunks as [`chunks`] cuts it, each with its words (ranges within the chunk).
pub(crate) fn chunk_words(sentence: &Sentence) -> Vec<(String, Vec<Word>)> {
    let mut out = Vec::new();
    let mut pos = 0;
    for chunk in chunks(&sentence.phonemes) {
        let at = sentence.phonemes[pos..].find(&chunk).map(|i| pos + i);
        let mut words = Vec::new();
        if let Some(at) = at {
            pos = at + chunk.len();
            for w in &sentence.words {
                if w.range.start >= at && w.range.end <= pos {
                    words.push(Word {
                        range: w.range.start - at..w.range.end - at,
                        ..w.clone()
                    });
                }
            }
        }
        out.push((chunk, words));
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
