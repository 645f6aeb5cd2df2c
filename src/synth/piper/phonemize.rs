//! Text to phonemes the way Piper does it: libespeak-ng's IPA, clause by clause, with each clause's punctuation
//! kept, decomposed into Unicode code points (NFD) and grouped by sentence.
//!
//! libespeak-ng is loaded at run time (`synth::libespeak`), so narrate builds without its headers. It keeps
//! global state and is not thread-safe, so every call goes through one lock; a sentence takes well under a
//! millisecond, so the lock is never where time goes.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::{Mutex, OnceLock};

use unicode_normalization::UnicodeNormalization;

type SetVoiceByName = unsafe extern "C" fn(*const c_char) -> c_int;
type TextToPhonemes = unsafe extern "C" fn(*mut *const c_void, c_int, c_int) -> *const c_char;

const CHARS_UTF8: c_int = 1;
const PHONEMES_IPA: c_int = 0x02;

struct Espeak {
    _lib: crate::synth::libespeak::Library,
    set_voice: SetVoiceByName,
    text_to_phonemes: TextToPhonemes,
    voice: Option<String>,
    version: String,
}

// The raw function pointers are only used under the mutex.
unsafe impl Send for Espeak {}

static ESPEAK: OnceLock<Result<Mutex<Espeak>, String>> = OnceLock::new();

fn espeak() -> Result<&'static Mutex<Espeak>, String> {
    ESPEAK.get_or_init(load).as_ref().map_err(Clone::clone)
}

fn load() -> Result<Mutex<Espeak>, String> {
    let lib = crate::synth::libespeak::Library::load()?;
    // SAFETY: the symbol types match espeak-ng's speak_lib.h (stable since 1.49).
    let (set_voice, text_to_phonemes) = unsafe {
        (
            lib.get::<SetVoiceByName>(b"espeak_SetVoiceByName\0")?,
            lib.get::<TextToPhonemes>(b"espeak_TextToPhonemes\0")?,
        )
    };
    Ok(Mutex::new(Espeak {
        version: lib.version.clone(),
        _lib: lib,
        set_voice,
        text_to_phonemes,
        voice: None,
    }))
}

/// libespeak-ng's version, e.g. `1.51`.
pub fn version() -> Result<String, String> {
    Ok(espeak()?
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .version
        .clone())
}

/// Phonemes of `text` in the espeak voice `voice`, one list per sentence, as Piper builds them. IPA written
/// between slashes (`/ŋwˈɪn/`, from a lexicon entry) is used as it stands.
pub fn phonemize(voice: &str, text: &str) -> Result<Vec<Vec<char>>, String> {
    static IPA: OnceLock<regex::Regex> = OnceLock::new();
    let ipa_word =
        IPA.get_or_init(|| regex::Regex::new(r"(^|\s)/([^/\s]+)/").expect("valid pattern"));
    let mut sentences = Vec::new();
    let mut current = String::new();
    let mut say = |part: &str, current: &mut String| -> Result<(), String> {
        for (ipa, terminator) in clauses(voice, part)? {
            let mut ipa = linking_yod(&strip_language_flags(&ipa));
            if voice == "en-us" {
                // espeak-ng 1.52's en-us data merged FORCE into NORTH: "four" is fˈɔːɹ, where 1.51 has fˈoːɹ.
                ipa = ipa.replace("oːɹ", "ɔːɹ");
            }
            current.push_str(&ipa);
            if let Some(t) = terminator {
                current.push(t);
                if matches!(t, ',' | ':' | ';') {
                    current.push(' ');
                }
            }
            if matches!(terminator, Some('.' | '?' | '!')) {
                sentences.push(std::mem::take(current).nfd().collect());
            }
        }
        Ok(())
    };
    let mut last = 0;
    for m in ipa_word.captures_iter(text) {
        let whole = m.get(0).expect("match");
        if whole.start() > last {
            say(&text[last..whole.start()], &mut current)?;
        }
        // IPA from the lexicon: a word of its own, used as written.
        if !current.is_empty() && !current.ends_with(' ') {
            current.push(' ');
        }
        current.push_str(&m[2]);
        current.push(' ');
        last = whole.end();
    }
    if last < text.len() {
        say(&text[last..], &mut current)?;
    }
    let rest = current.trim_end();
    if !rest.is_empty() {
        sentences.push(rest.nfd().collect());
    }
    Ok(sentences)
}

/// Each clause's IPA and the punctuation that ended it, as libespeak-ng splits the text.
fn clauses(voice: &str, text: &str) -> Result<Vec<(String, Option<char>)>, String> {
    clauses_with(voice, text, None)
}

/// Like `clauses`, with `separator` (if any) written between the phonemes of a word, so that diphthongs and
/// affricates arrive as single units (the hibari backend maps units to its own symbols).
pub(crate) fn clauses_with(
    voice: &str,
    text: &str,
    separator: Option<char>,
) -> Result<Vec<(String, Option<char>)>, String> {
    // libespeak-ng's phonememode: bits 8-23 hold the separator character.
    let mode = PHONEMES_IPA | separator.map_or(0, |c| (c as c_int & 0xFFFF) << 8);
    let c_text = CString::new(text.replace('\0', " ")).expect("NULs removed");
    let bytes = c_text.as_bytes();
    let mut engine = espeak()?.lock().unwrap_or_else(|e| e.into_inner());
    if engine.voice.as_deref() != Some(voice) {
        let c_voice = CString::new(voice).map_err(|_| "bad voice name".to_string())?;
        // SAFETY: a valid C string; the engine is initialized and we hold its lock.
        if unsafe { (engine.set_voice)(c_voice.as_ptr()) } != 0 {
            return Err(format!(
                "espeak-ng has no voice `{voice}` (the voice config's espeak.voice)"
            ));
        }
        engine.voice = Some(voice.to_string());
    }
    let start = c_text.as_ptr() as usize;
    let mut ptr = c_text.as_ptr() as *const c_void;
    let mut out = Vec::new();
    while !ptr.is_null() {
        let before = ptr as usize - start;
        // SAFETY: `ptr` points into `c_text`, which outlives the loop; espeak advances it to the next clause or
        // sets it to NULL at the end. The returned string is espeak's own buffer, copied at once.
        let ipa = unsafe {
            let p = (engine.text_to_phonemes)(&mut ptr, CHARS_UTF8, mode);
            if p.is_null() {
                String::new()
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        let after = if ptr.is_null() {
            bytes.len()
        } else {
            (ptr as usize - start).min(bytes.len())
        };
        let consumed = String::from_utf8_lossy(&bytes[before.min(after)..after]);
        // espeak reads one character past a clause (the first of the next one) before it returns; that
        // character is not part of this clause's punctuation.
        let clause = if ptr.is_null() {
            &consumed[..]
        } else {
            consumed
                .char_indices()
                .last()
                .map_or("", |(i, _)| &consumed[..i])
        };
        out.push((ipa, terminator(clause)));
        if after <= before && !ptr.is_null() {
            break; // no progress: never loop forever on odd input
        }
    }
    Ok(out)
}

/// The punctuation that ends a clause of source text (closing quotes and brackets after it are skipped), as
/// espeak-ng 1.52's `espeak_TextToPhonemesWithTerminator` reports it to Piper: an ellipsis ends no clause and
/// adds nothing; a dash reads as a semicolon.
fn terminator(clause: &str) -> Option<char> {
    let t = clause
        .trim_end()
        .trim_end_matches(['"', '\'', '”', '’', ')', ']', '»']);
    if t.ends_with("..") || t.ends_with('…') {
        return None;
    }
    match t.chars().last()? {
        c @ ('.' | ',' | '?' | '!' | ':' | ';') => Some(c),
        '—' | '–' => Some(';'),
        _ => None,
    }
}

/// espeak-ng 1.52 (the version inside piper-tts, whose phonemes Piper voices are trained on) writes a linking
/// `ʲ` after an /i/ or /ɪ/ that runs into a vowel: "three apples" is `θɹˈiːʲ ˈæpəlz`, "busiest" `bˈɪziʲɪst`.
/// Debian's 1.51 does not, so it is added here: after `i`, `iː` or a lone `ɪ` (not the end of `aɪ`, `eɪ`, `ɔɪ`),
/// before a vowel in the same word (except `ə`, which makes the diphthong `iə`) or at the start of the next.
pub fn linking_yod(ipa: &str) -> String {
    const VOWELS: &[char] = &[
        'a', 'æ', 'ɑ', 'ɐ', 'ɒ', 'ɔ', 'o', 'ɛ', 'e', 'ɪ', 'i', 'ʊ', 'u', 'ʌ', 'ə', 'ɜ', 'ɚ',
    ];
    let chars: Vec<char> = ipa.chars().collect();
    let mut out = String::with_capacity(ipa.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        out.push(c);
        let high_front = match c {
            'i' => true,
            'ɪ' => !matches!(chars.get(i.wrapping_sub(1)), Some('a' | 'e' | 'ɔ' | 'o')) || i == 0,
            'ː' => i > 0 && chars[i - 1] == 'i',
            _ => false,
        };
        if !high_front || chars.get(i + 1) == Some(&'ː') {
            continue;
        }
        let mut j = i + 1;
        let crosses_word = chars.get(j) == Some(&' ');
        if crosses_word {
            j += 1;
        }
        while matches!(chars.get(j), Some('ˈ' | 'ˌ')) {
            j += 1;
        }
        match chars.get(j) {
            Some('ə') if !crosses_word => {}
            Some(v) if VOWELS.contains(v) => out.push('ʲ'),
            _ => {}
        }
    }
    out
}

/// Removes espeak's language-switch flags such as `(fr)` and `(en)`.
pub(crate) fn strip_language_flags(ipa: &str) -> String {
    let mut out = String::with_capacity(ipa.len());
    let mut depth = 0;
    for c in ipa.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminators_and_flags() {
        assert_eq!(terminator("Hello, "), Some(','));
        assert_eq!(terminator("he said.” "), Some('.'));
        assert_eq!(terminator("no end"), None);
        assert_eq!(
            strip_language_flags("(fr)bɔ̃ʒˈuːɹ(en) wˈɜːld"),
            "bɔ̃ʒˈuːɹ wˈɜːld"
        );
        assert_eq!(terminator("Wait... "), None);
        assert_eq!(terminator("short — "), Some(';'));
    }

    #[test]
    fn linking_yod_as_espeak_1_52_writes_it() {
        let table = [
            ("θɹˈiː ˈæpəlz", "θɹˈiːʲ ˈæpəlz"),
            ("bˈɪziɪst", "bˈɪziʲɪst"),
            ("ɹˈeɪʃɪˌoʊ", "ɹˈeɪʃɪʲˌoʊ"),
            ("ðɪ ɐɡɹˈiːmənt", "ðɪʲ ɐɡɹˈiːmənt"),
            ("kjˈʊɹɹiəs", "kjˈʊɹɹiəs"),
            ("ˌaɪˌiːˈeɪ", "ˌaɪˌiːʲˈeɪ"),
            ("ˈɛvɹi twˈɛlv", "ˈɛvɹi twˈɛlv"),
            ("mˈiːɾɪŋ", "mˈiːɾɪŋ"),
        ];
        for (input, want) in table {
            assert_eq!(linking_yod(input), want, "{input}");
        }
    }
}
