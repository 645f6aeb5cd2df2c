//! Spoken words matched to the phoneme words espeak-ng wrote for them, for the voices that read espeak-ng's
//! phonemes (Piper, hibari): espeak runs some words together ("in the" is one phoneme word) and spells some out
//! in several, so the words of the text and the phoneme words are aligned by their IPA.

/// Some phoneme words and the text words they say (indices into the part's words, in order).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Group {
    pub phonemes: std::ops::Range<usize>,
    pub words: Vec<usize>,
}

/// The Levenshtein distance between two sequences.
pub(crate) fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(x != y)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Matches the phoneme words espeak wrote for a part of the text to the part's words (each with its IPA read
/// alone), in order, by the least total edit distance between their IPA: one word to one phoneme word, one word
/// to up to three (a word espeak spells out), up to three words to one (words espeak runs together: "in the",
/// "out of", never across punctuation); a word with no phonemes is skipped, phonemes with no word join the word
/// before them.
pub(crate) fn align(words: &[(Vec<char>, bool)], phonemes: &[Vec<char>]) -> Vec<Group> {
    const MAX: usize = 3;
    let (n, m) = (words.len(), phonemes.len());
    let w: Vec<Vec<char>> = words.iter().map(|(ipa, _)| ipa.clone()).collect();
    let p = phonemes;
    let cost = |a: &[Vec<char>], b: &[Vec<char>]| -> f64 {
        let a: Vec<char> = a.concat();
        let b: Vec<char> = b.concat();
        edit_distance(&a, &b) as f64 / a.len().max(b.len()).max(1) as f64
    };
    // best[i][j]: the least cost of matching the first i words to the first j phoneme words; from: its step.
    let mut best = vec![vec![f64::INFINITY; m + 1]; n + 1];
    let mut from = vec![vec![(0usize, 0usize); m + 1]; n + 1];
    best[0][0] = 0.0;
    for i in 0..=n {
        for j in 0..=m {
            let here = best[i][j];
            if !here.is_finite() {
                continue;
            }
            let mut relax = |di: usize, dj: usize, c: f64| {
                if i + di <= n && j + dj <= m && here + c < best[i + di][j + dj] {
                    best[i + di][j + dj] = here + c;
                    from[i + di][j + dj] = (di, dj);
                }
            };
            for k in 1..=MAX {
                // Words are run together only where no punctuation is between them.
                if i + k <= n && j < m && words[i..i + k - 1].iter().all(|x| !x.1) {
                    // k words to one phoneme word (k = 1: one to one); a merge costs a little more.
                    relax(
                        k,
                        1,
                        cost(&w[i..i + k], &p[j..j + 1]) + 0.05 * (k - 1) as f64,
                    );
                }
                if k > 1 && i < n && j + k <= m {
                    relax(
                        1,
                        k,
                        cost(&w[i..i + 1], &p[j..j + k]) + 0.05 * (k - 1) as f64,
                    );
                }
            }
            relax(1, 0, 1.0);
            relax(0, 1, 1.0);
        }
    }
    let mut groups = Vec::new();
    let (mut i, mut j) = (n, m);
    while i > 0 || j > 0 {
        let (di, dj) = from[i][j];
        if dj > 0 {
            groups.push(Group {
                phonemes: j - dj..j,
                words: (i - di..i).collect(),
            });
        }
        i -= di;
        j -= dj;
    }
    groups.reverse();
    groups
}

/// espeak's stress marks, left out where IPA is compared.
fn is_stress(c: char) -> bool {
    matches!(c, 'ˈ' | 'ˌ')
}

/// Punctuation Piper's phoneme strings carry (each clause's), which is no part of a word.
fn is_mark(c: char) -> bool {
    c.is_ascii_punctuation() || "—–…«»“”‘’".contains(c)
}

/// One phoneme word of a sentence as the voice said it: espeak's IPA for it (stress marks left out) and where
/// its sound is in the segment's samples.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Said {
    pub ipa: Vec<char>,
    pub span: std::ops::Range<u64>,
}

/// The phoneme words of one sentence (`phonemes`, words between spaces, as `super::phoneme_ids` reads them with
/// `map`) and where each is in the sentence's audio, `audio` in the segment's samples: a word runs from its first
/// phoneme's ID to the padding after its last, and ID i starts after the frames (`durations`, `hop` samples
/// each) of the IDs before it.
pub(crate) fn said(
    phonemes: &[char],
    map: &std::collections::HashMap<String, Vec<i64>>,
    durations: &[f32],
    hop: u64,
    audio: std::ops::Range<u64>,
) -> Vec<Said> {
    let len = |k: &str| map.get(k).map_or(0, Vec::len);
    let pad = len("_");
    // The index of the first ID of each phoneme (or of the next one, for a phoneme the map lacks), and the end.
    let mut first = Vec::with_capacity(phonemes.len() + 1);
    let mut at = len("^") + pad;
    let mut buf = [0u8; 4];
    for p in phonemes {
        first.push(at);
        if let Some(ids) = map.get(p.encode_utf8(&mut buf) as &str) {
            at += ids.len() + pad;
        }
    }
    first.push(at);
    let mut frames = Vec::with_capacity(durations.len() + 1);
    let mut sum = 0u64;
    frames.push(0);
    for d in durations {
        sum += d.max(0.0) as u64;
        frames.push(sum);
    }
    let sample = |id: usize| (audio.start + frames[id.min(durations.len())] * hop).min(audio.end);
    let mut out = Vec::new();
    let mut k = 0;
    while k < phonemes.len() {
        let end = phonemes[k..]
            .iter()
            .position(|&c| c == ' ')
            .map_or(phonemes.len(), |n| k + n);
        let word = &phonemes[k..end];
        let (Some(a), Some(b)) = (
            word.iter().position(|&c| !is_mark(c)),
            word.iter().rposition(|&c| !is_mark(c)),
        ) else {
            k = end + 1;
            continue;
        };
        let ipa: Vec<char> = word[a..=b]
            .iter()
            .copied()
            .filter(|&c| !is_stress(c))
            .collect();
        if !ipa.is_empty() {
            out.push(Said {
                ipa,
                span: sample(first[k + a])..sample(first[k + b + 1]),
            });
        }
        k = end + 1;
    }
    out
}

/// The spans of the words of `text` (split at white space, punctuation around them trimmed) from what the voice
/// `voice` said: each word's IPA read alone is aligned with the phoneme words ([`align`]); words espeak ran
/// together share their phoneme word's span by their IPA's length, and phonemes no word accounts for join the
/// word before them.
pub(crate) fn spans(
    voice: &str,
    text: &str,
    said: &[Said],
) -> Result<Vec<crate::audio::WordSpan>, String> {
    let mut words: Vec<(String, Vec<char>, bool)> = Vec::new();
    for raw in text.split_whitespace() {
        let w = raw.trim_matches(|c: char| !c.is_alphanumeric());
        if w.is_empty() {
            continue;
        }
        let punct_after = raw
            .trim_end_matches(['"', '\'', '”', '’', ')', ']', '»'])
            .ends_with(['.', ',', ';', ':', '?', '!', '—', '–']);
        let ipa: Vec<char> = super::phonemize::phonemize(voice, w)?
            .concat()
            .into_iter()
            .filter(|&c| !is_stress(c) && !is_mark(c) && !c.is_whitespace())
            .collect();
        words.push((w.to_string(), ipa, punct_after));
    }
    let keyed: Vec<(Vec<char>, bool)> = words.iter().map(|(_, i, p)| (i.clone(), *p)).collect();
    let phonemes: Vec<Vec<char>> = said.iter().map(|s| s.ipa.clone()).collect();
    let mut out: Vec<crate::audio::WordSpan> = Vec::new();
    for group in align(&keyed, &phonemes) {
        let (a, b) = (
            said[group.phonemes.start].span.start,
            said[group.phonemes.end - 1].span.end,
        );
        if group.words.is_empty() {
            if let Some(prev) = out.last_mut() {
                prev.end_sample = prev.end_sample.max(b);
            }
            continue;
        }
        let weights: Vec<u64> = group
            .words
            .iter()
            .map(|&i| words[i].1.len().max(1) as u64)
            .collect();
        let total: u64 = weights.iter().sum();
        let mut acc = 0;
        for (&i, w) in group.words.iter().zip(&weights) {
            let start = a + (b - a) * acc / total;
            acc += w;
            out.push(crate::audio::WordSpan {
                text: words[i].0.clone(),
                start_sample: start,
                end_sample: a + (b - a) * acc / total,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phoneme_word_runs_from_its_first_id_to_the_padding_after_its_last() {
        // IDs: ^ _ a _ b _ (space) _ c _ , _ $ ; `x` is not in the map.
        let map: std::collections::HashMap<String, Vec<i64>> = [
            ("^", 1),
            ("_", 0),
            ("$", 2),
            ("a", 10),
            ("b", 11),
            ("c", 12),
            (" ", 3),
            (",", 4),
            ("ˈ", 5),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), vec![v]))
        .collect();
        let phonemes: Vec<char> = "ˈab xc,".chars().collect();
        // Frames per ID: ^ 2, _ 1, ˈ 0, _ 0, a 3, _ 1, b 2, _ 0, space 4, _ 1, c 2, _ 1, `,` 5, _ 1, $ 1.
        let durations = [
            2.0, 1.0, 0.0, 0.0, 3.0, 1.0, 2.0, 0.0, 4.0, 1.0, 2.0, 1.0, 5.0, 1.0, 1.0,
        ];
        let words = said(&phonemes, &map, &durations, 10, 100..1000);
        assert_eq!(
            words,
            [
                Said {
                    ipa: vec!['a', 'b'],
                    span: 130..190,
                },
                Said {
                    ipa: vec!['x', 'c'],
                    span: 240..270,
                },
            ]
        );
    }
}
