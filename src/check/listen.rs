//! Intelligibility: an offline recognizer (CMU PocketSphinx, loaded at run time from Debian's
//! `libpocketsphinx3` with the `pocketsphinx-en-us` model) transcribes each segment, and the word error rate
//! against the segment's spoken text says whether the audio says its words. The recognizer's language model is
//! made from the edition's own text (a bigram model of its sentences), so clean speech is heard almost exactly
//! and a segment carrying another sentence's audio, or garbled audio, stands out. One decoder per core (rayon);
//! each reads its segments from the WAV one at a time, so memory does not grow with the edition.

use std::collections::{HashMap, HashSet};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::manifest::Manifest;

/// The recognizer's rate.
const RATE: u32 = 16_000;
/// The forced alignment's search.
const ALIGN: &str = "align";
/// PocketSphinx's default search (the `-lm` one).
const DEFAULT_SEARCH: &str = "_default";

/// What the recognizer heard in one segment.
#[derive(Debug, Clone)]
pub(crate) struct Heard {
    pub index: usize,
    /// Word error rate against the words of its text the recognizer knows.
    pub wer: f64,
    pub expected: String,
    pub heard: String,
    /// How well the audio fits its own words: the acoustic score per 10 ms frame of the forced alignment
    /// (a grammar that accepts only the text's words, with optional silences and fillers), in the
    /// recognizer's log units; None when no path through the words reaches the end of the audio.
    pub fit: Option<f64>,
}

type ArgsFn = unsafe extern "C" fn() -> *const c_void;
type ParseFn =
    unsafe extern "C" fn(*mut c_void, *const c_void, i32, *mut *mut c_char, i32) -> *mut c_void;
type InitFn = unsafe extern "C" fn(*mut c_void) -> *mut c_void;
type UttFn = unsafe extern "C" fn(*mut c_void) -> c_int;
type ProcessFn = unsafe extern "C" fn(*mut c_void, *const i16, usize, c_int, c_int) -> c_int;
type HypFn = unsafe extern "C" fn(*mut c_void, *mut i32) -> *const c_char;
type ReadJsgfFn = unsafe extern "C" fn(*const c_char, *mut c_void, f32) -> *mut c_void;
type LogmathFn = unsafe extern "C" fn(*mut c_void) -> *mut c_void;
type GetFloatFn = unsafe extern "C" fn(*mut c_void, *const c_char) -> f64;
type SetFsgFn = unsafe extern "C" fn(*mut c_void, *const c_char, *mut c_void) -> c_int;
type SetSearchFn = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;
type SegIterFn = unsafe extern "C" fn(*mut c_void) -> *mut c_void;
type SegProbFn = unsafe extern "C" fn(*mut c_void, *mut i32, *mut i32, *mut i32) -> i32;
type FramesFn = unsafe extern "C" fn(*mut c_void) -> c_int;
type SetFloatFn = unsafe extern "C" fn(*mut c_void, *const c_char, f64);
type SetIntFn = unsafe extern "C" fn(*mut c_void, *const c_char, std::ffi::c_long);

/// The library's entry points (the library stays loaded for the process).
struct Sphinx {
    _lib: libloading::Library,
    args: ArgsFn,
    parse: ParseFn,
    init: InitFn,
    start: UttFn,
    process: ProcessFn,
    end: UttFn,
    hyp: HypFn,
    free: UttFn,
    free_config: UttFn,
    read_jsgf: ReadJsgfFn,
    logmath: LogmathFn,
    get_float: GetFloatFn,
    set_fsg: SetFsgFn,
    free_fsg: UttFn,
    set_search: SetSearchFn,
    seg_iter: SegIterFn,
    seg_next: SegIterFn,
    seg_prob: SegProbFn,
    frames: FramesFn,
    set_float: SetFloatFn,
    set_int: SetIntFn,
}

static SPHINX: OnceLock<std::result::Result<Sphinx, String>> = OnceLock::new();

/// LIFECYCLE: sphinxbase keeps one global log file, which `ps_init` closes and reopens (`-logfn`), so a
/// decoder made while another thread makes one or decodes (and logs) could close a FILE in use; a `narrate
/// build --check listen` once hung for good in glibc's stdio locks that way. So all decoders are made before
/// any decodes, and making or freeing one holds this lock.
static LIFECYCLE: Mutex<()> = Mutex::new(());

fn sphinx() -> Result<&'static Sphinx> {
    SPHINX
        .get_or_init(|| {
            // SAFETY: loading a shared library runs its initializers; libpocketsphinx's are plain C.
            let lib = unsafe { libloading::Library::new("libpocketsphinx.so.3") }
                .map_err(|e| format!("cannot load libpocketsphinx.so.3: {e}"))?;
            // SAFETY: the types are those of pocketsphinx.h / ps_search.h / cmd_ln.h / jsgf.h / fsg_model.h
            // (0.8+5prealpha, the Debian 12 libraries; dlsym on libpocketsphinx also finds the symbols of its
            // dependency libsphinxbase). float32 is C float (f32), int32 is c_int.
            unsafe {
                let missing = |e: libloading::Error| format!("libpocketsphinx.so.3: {e}");
                Ok(Sphinx {
                    args: *lib.get(b"ps_args\0").map_err(missing)?,
                    parse: *lib.get(b"cmd_ln_parse_r\0").map_err(missing)?,
                    init: *lib.get(b"ps_init\0").map_err(missing)?,
                    start: *lib.get(b"ps_start_utt\0").map_err(missing)?,
                    process: *lib.get(b"ps_process_raw\0").map_err(missing)?,
                    end: *lib.get(b"ps_end_utt\0").map_err(missing)?,
                    hyp: *lib.get(b"ps_get_hyp\0").map_err(missing)?,
                    free: *lib.get(b"ps_free\0").map_err(missing)?,
                    free_config: *lib.get(b"cmd_ln_free_r\0").map_err(missing)?,
                    read_jsgf: *lib.get(b"jsgf_read_string\0").map_err(missing)?,
                    logmath: *lib.get(b"ps_get_logmath\0").map_err(missing)?,
                    get_float: *lib.get(b"cmd_ln_float_r\0").map_err(missing)?,
                    set_fsg: *lib.get(b"ps_set_fsg\0").map_err(missing)?,
                    free_fsg: *lib.get(b"fsg_model_free\0").map_err(missing)?,
                    set_search: *lib.get(b"ps_set_search\0").map_err(missing)?,
                    seg_iter: *lib.get(b"ps_seg_iter\0").map_err(missing)?,
                    seg_next: *lib.get(b"ps_seg_next\0").map_err(missing)?,
                    seg_prob: *lib.get(b"ps_seg_prob\0").map_err(missing)?,
                    frames: *lib.get(b"ps_get_n_frames\0").map_err(missing)?,
                    set_float: *lib.get(b"cmd_ln_set_float_r\0").map_err(missing)?,
                    set_int: *lib.get(b"cmd_ln_set_int_r\0").map_err(missing)?,
                    _lib: lib,
                })
            }
        })
        .as_ref()
        .map_err(|reason| Error::Listen {
            reason: reason.clone(),
        })
}

/// The acoustic model and dictionary (NARRATE_SPHINX_MODEL, else Debian's `pocketsphinx-en-us`).
fn model_dir() -> Result<PathBuf> {
    let dir = std::env::var_os("NARRATE_SPHINX_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/pocketsphinx/model/en-us"));
    if dir.join("en-us/mdef").exists() && dir.join("cmudict-en-us.dict").exists() {
        Ok(dir)
    } else {
        Err(Error::Listen {
            reason: format!("no en-us model in {}", dir.display()),
        })
    }
}

/// The words of a text as the recognizer writes them.
pub(crate) fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Word error rate: edit distance in words over the reference's length.
pub(crate) fn wer(reference: &[String], heard: &[String]) -> f64 {
    let mut row: Vec<usize> = (0..=heard.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut next = vec![i + 1];
        for (j, h) in heard.iter().enumerate() {
            next.push(
                (row[j + 1] + 1)
                    .min(next[j] + 1)
                    .min(row[j] + usize::from(r != h)),
            );
        }
        row = next;
    }
    row[heard.len()] as f64 / reference.len().max(1) as f64
}

/// A decoder for this edition's words.
struct Decoder {
    ps: *mut c_void,
    config: *mut c_void,
}

impl Decoder {
    fn new(model: &Path, lm: &Path, dict: &Path) -> Result<Decoder> {
        let s = sphinx()?;
        let _one_at_a_time = LIFECYCLE.lock().unwrap_or_else(|e| e.into_inner());
        let args: Vec<CString> = [
            "-hmm".to_string(),
            model.join("en-us").display().to_string(),
            "-lm".into(),
            lm.display().to_string(),
            "-dict".into(),
            dict.display().to_string(),
            "-logfn".into(),
            "/dev/null".into(),
        ]
        .into_iter()
        .map(|a| {
            CString::new(a).map_err(|e| Error::Listen {
                reason: e.to_string(),
            })
        })
        .collect::<Result<_>>()?;
        let mut argv: Vec<*mut c_char> = args.iter().map(|a| a.as_ptr() as *mut c_char).collect();
        // SAFETY: argv holds NUL-terminated strings that outlive the call (cmd_ln copies them).
        let config = unsafe {
            (s.parse)(
                std::ptr::null_mut(),
                (s.args)(),
                argv.len() as i32,
                argv.as_mut_ptr(),
                1,
            )
        };
        if config.is_null() {
            return Err(Error::Listen {
                reason: "the recognizer refused its settings".into(),
            });
        }
        // SAFETY: config is a valid cmd_ln_t; ps_init retains it.
        let ps = unsafe { (s.init)(config) };
        if ps.is_null() {
            // SAFETY: config came from cmd_ln_parse_r and is freed once.
            unsafe { (s.free_config)(config) };
            return Err(Error::Listen {
                reason: format!(
                    "cannot start the recognizer with the model in {}",
                    model.display()
                ),
            });
        }
        // The language-model search is made (with its default beams); the forced alignments made later read
        // these: no pruning and no per-frame caps. A long sentence's path through its own words can fall
        // hundreds of nats behind a path of fillers before it wins at the end; with narrower beams (even
        // 1e-120) 2 of 57 clean espeak-ng segments of the op-ed found no path at all.
        for name in [c"-beam", c"-pbeam", c"-wbeam"] {
            // SAFETY: config is the decoder's live cmd_ln_t; the names are its own float options.
            unsafe { (s.set_float)(config, name.as_ptr(), 1e-300) };
        }
        for name in [c"-maxhmmpf", c"-maxwpf"] {
            // SAFETY: as above, integer options.
            unsafe { (s.set_int)(config, name.as_ptr(), -1) };
        }
        Ok(Decoder { ps, config })
    }

    /// Decodes `audio` with the search `name`: the words heard, their total acoustic score and the frames.
    fn decode(&mut self, name: &CStr, audio: &[i16]) -> Option<(String, i64, i32)> {
        let s = sphinx().ok()?;
        // SAFETY: ps is a live decoder owned by self; audio outlives the calls; segment iterators are
        // walked to their end (ps_seg_next frees the iterator when it returns null).
        unsafe {
            if (s.set_search)(self.ps, name.as_ptr()) < 0 || (s.start)(self.ps) < 0 {
                return None;
            }
            (s.process)(self.ps, audio.as_ptr(), audio.len(), 0, 1);
            (s.end)(self.ps);
            let mut score = 0i32;
            let h = (s.hyp)(self.ps, &mut score);
            let text = if h.is_null() {
                String::new()
            } else {
                CStr::from_ptr(h).to_string_lossy().into_owned()
            };
            let mut ascr_total = 0i64;
            let mut seg = (s.seg_iter)(self.ps);
            while !seg.is_null() {
                let (mut ascr, mut lscr, mut lback) = (0i32, 0i32, 0i32);
                (s.seg_prob)(seg, &mut ascr, &mut lscr, &mut lback);
                ascr_total += i64::from(ascr);
                seg = (s.seg_next)(seg);
            }
            Some((text, ascr_total, (s.frames)(self.ps)))
        }
    }

    /// Decodes `audio` with a grammar that accepts only `words` (with optional silences and fillers):
    /// the words the aligned path says and its acoustic score.
    ///
    /// The grammar is what `ps_set_jsgf_string` would make of the same JSGF text, step by step:
    /// `jsgf_read_string` parses it, builds the FSG of its public rule with the decoder's log base and `-lw`,
    /// and frees the parsed grammar; `ps_set_fsg` replaces the previous `align` search (freeing it) with one
    /// holding its own reference to the FSG. `ps_set_jsgf_string` itself (5prealpha) never frees the parsed
    /// grammar: about 8 KB lost per call, which made `--listen`'s memory grow with the number of segments
    /// (valgrind: 126 KB definitely lost from `jsgf_parse_string` for 16 segments).
    fn force(&mut self, words: &[String], audio: &[i16]) -> Option<(String, i64, i32)> {
        let s = sphinx().ok()?;
        let grammar = format!(
            "#JSGF V1.0;\ngrammar align;\npublic <sentence> = {};\n",
            words.join(" ")
        );
        let grammar = CString::new(grammar).ok()?;
        let name = CString::new(ALIGN).expect("no NUL");
        // SAFETY: ps and config are the live decoder and its cmd_ln_t (owned by self); "-lw" is one of its
        // float options; the log-math object belongs to the decoder and outlives the call; the grammar string
        // outlives the call (it is parsed, and the FSG copies the words it keeps).
        let fsg = unsafe {
            let lw = (s.get_float)(self.config, c"-lw".as_ptr()) as f32;
            (s.read_jsgf)(grammar.as_ptr(), (s.logmath)(self.ps), lw)
        };
        if fsg.is_null() {
            return None;
        }
        // SAFETY: fsg is the FSG just made, which this function owns one reference to; ps_set_fsg takes its
        // own reference (or, if it fails, the search it was building releases it), so ours is released once
        // here whatever the outcome, as ps_set_jsgf_string does; name outlives the call (it is copied).
        let set = unsafe {
            let set = (s.set_fsg)(self.ps, name.as_ptr(), fsg);
            (s.free_fsg)(fsg);
            set
        };
        if set < 0 {
            return None;
        }
        self.decode(&name, audio)
    }
}

// SAFETY: a decoder is used by one thread at a time (it moves into the worker that owns it); PocketSphinx
// keeps no thread-local state in it.
unsafe impl Send for Decoder {}

impl Drop for Decoder {
    fn drop(&mut self) {
        if let Ok(s) = sphinx() {
            let _one_at_a_time = LIFECYCLE.lock().unwrap_or_else(|e| e.into_inner());
            // SAFETY: both were made in Decoder::new and are freed once, the decoder first.
            unsafe {
                (s.free)(self.ps);
                (s.free_config)(self.config);
            }
        }
    }
}

/// Writes the edition's dictionary (its words found in the model's) and a bigram language model of its
/// sentences into `dir`; returns the set of words the recognizer can say.
fn language(manifest: &Manifest, model: &Path, dir: &Path) -> Result<HashSet<String>> {
    let io = |e: std::io::Error| Error::Listen {
        reason: format!("{}: {e}", dir.display()),
    };
    let vocabulary: HashSet<String> = manifest
        .segments
        .iter()
        .flat_map(|s| words(&s.spoken))
        .collect();
    let full = std::fs::read_to_string(model.join("cmudict-en-us.dict")).map_err(io)?;
    let mut dict = String::new();
    let mut known = HashSet::new();
    for line in full.lines() {
        let head = line.split(' ').next().unwrap_or("");
        let base = head.split('(').next().unwrap_or("");
        if vocabulary.contains(base) {
            dict.push_str(line);
            dict.push('\n');
            known.insert(base.to_string());
        }
    }
    std::fs::write(dir.join("edition.dict"), dict).map_err(io)?;
    let mut unigrams: HashMap<&str, u32> = HashMap::new();
    let mut bigrams: HashMap<(&str, &str), u32> = HashMap::new();
    let spoken: Vec<Vec<String>> = manifest.segments.iter().map(|s| words(&s.spoken)).collect();
    for ws in &spoken {
        let mut line: Vec<&str> = vec!["<s>"];
        line.extend(ws.iter().map(String::as_str).filter(|w| known.contains(*w)));
        line.push("</s>");
        for w in &line {
            *unigrams.entry(w).or_default() += 1;
        }
        for p in line.windows(2) {
            *bigrams.entry((p[0], p[1])).or_default() += 1;
        }
    }
    let total: u32 = unigrams.values().sum();
    let mut arpa = format!(
        "\\data\\\nngram 1={}\nngram 2={}\n\n\\1-grams:\n",
        unigrams.len(),
        bigrams.len()
    );
    let mut uni: Vec<_> = unigrams.iter().collect();
    uni.sort();
    for (w, &c) in uni {
        arpa.push_str(&format!(
            "{:.4} {w} -0.5\n",
            (f64::from(c) / f64::from(total)).log10()
        ));
    }
    arpa.push_str("\n\\2-grams:\n");
    let mut bi: Vec<_> = bigrams.iter().collect();
    bi.sort();
    for ((a, b), &c) in bi {
        let p = 0.7 * f64::from(c) / f64::from(unigrams[a]);
        arpa.push_str(&format!("{:.4} {a} {b}\n", p.log10()));
    }
    arpa.push_str("\n\\end\\\n");
    std::fs::File::create(dir.join("edition.arpa"))
        .and_then(|mut f| f.write_all(arpa.as_bytes()))
        .map_err(io)?;
    Ok(known)
}

/// Transcribes the first `count` segments of the edition (those read whole), on every core.
pub(crate) fn listen(manifest: &Manifest, wav: &Path, count: usize) -> Result<Vec<Heard>> {
    sphinx()?;
    let model = model_dir()?;
    let dir = tempfile::tempdir().map_err(|e| Error::Listen {
        reason: format!("cannot make a temporary folder: {e}"),
    })?;
    let known = language(manifest, &model, dir.path())?;
    let (lm, dict) = (
        dir.path().join("edition.arpa"),
        dir.path().join("edition.dict"),
    );
    let workers = rayon::current_num_threads().max(1);
    let groups: Vec<Vec<usize>> = (0..workers)
        .map(|w| (w..count).step_by(workers).collect())
        .collect();
    // The decoders are made one after another before any decoding starts (see LIFECYCLE).
    let groups: Vec<Vec<usize>> = groups.into_iter().filter(|g| !g.is_empty()).collect();
    let decoders = groups
        .iter()
        .map(|_| Decoder::new(&model, &lm, &dict))
        .collect::<Result<Vec<_>>>()?;
    let heard: Vec<Vec<Heard>> = groups
        .into_iter()
        .zip(decoders)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|(group, mut decoder)| -> Result<Vec<Heard>> {
            let default_search = CString::new(DEFAULT_SEARCH).expect("no NUL");
            let mut reader = hound::WavReader::open(wav).map_err(|e| Error::ReadAudio {
                path: wav.to_owned(),
                reason: e.to_string(),
            })?;
            let rate = reader.spec().sample_rate;
            let mut out = Vec::with_capacity(group.len());
            for i in group {
                let s = &manifest.segments[i];
                reader
                    .seek(s.start_sample as u32)
                    .map_err(|e| Error::ReadAudio {
                        path: wav.to_owned(),
                        reason: e.to_string(),
                    })?;
                let audio: Vec<i16> = reader
                    .samples::<i16>()
                    .take((s.end_sample - s.start_sample) as usize)
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|e| Error::ReadAudio {
                        path: wav.to_owned(),
                        reason: e.to_string(),
                    })?;
                let audio = crate::audio::resample::resample(&audio, rate, RATE)
                    .map_err(|reason| Error::Listen { reason })?;
                let expected: Vec<String> = words(&s.spoken)
                    .into_iter()
                    .filter(|w| known.contains(w))
                    .collect();
                let free = decoder.decode(&default_search, &audio);
                let fit = if expected.is_empty() {
                    None
                } else {
                    decoder
                        .force(&expected, &audio)
                        .filter(|(said, _, frames)| *frames > 0 && words(said) == expected)
                        .map(|(_, score, frames)| score as f64 / f64::from(frames))
                };
                let text = free.map(|f| f.0).unwrap_or_default();
                let got = words(&text);
                out.push(Heard {
                    index: i,
                    wer: wer(&expected, &got),
                    expected: expected.join(" "),
                    heard: got.join(" "),
                    fit,
                });
            }
            Ok(out)
        })
        .collect::<Result<_>>()?;
    let mut all: Vec<Heard> = heard.into_iter().flatten().collect();
    all.sort_by_key(|h| h.index);
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_error_rate_counts_substitutions_insertions_and_deletions() {
        let w = |s: &str| words(s);
        assert_eq!(wer(&w("the cat sat"), &w("The cat sat.")), 0.0);
        assert_eq!(wer(&w("the cat sat"), &w("the hat sat")), 1.0 / 3.0);
        assert_eq!(wer(&w("the cat sat"), &w("the cat")), 1.0 / 3.0);
        assert_eq!(wer(&w("the cat sat"), &w("the cat sat down")), 1.0 / 3.0);
        assert_eq!(wer(&w("the cat sat"), &[]), 1.0);
        assert_eq!(
            words("It's one-third, isn't it?"),
            vec!["it's", "one", "third", "isn't", "it"]
        );
    }
}
