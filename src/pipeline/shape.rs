//! What shapes an edition, declared once: [`Shape::of`] takes every field of [`Settings`] by name (an exhaustive
//! destructure), so a new setting does not compile until someone decides whether it shapes the edition. The
//! manifest's recorded settings, the plan key and the inputs key all derive from it.

use crate::settings::Settings;

/// The part of the settings that decides what an edition is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Shape {
    /// The settings an edition records in its manifest, as `narrate.toml` keys: `regen` and the studio redo the
    /// edition with them (under any flags given then).
    pub(crate) recorded: serde_json::Value,
    /// What else changes the plan or the audio but is not recorded, because it is read again from narrate.toml
    /// by every command (the lexicon, acronyms, initialisms) or belongs to the backend's fingerprint (its
    /// settings): hashed into the inputs key.
    pub(crate) read_again: String,
}

impl Shape {
    /// The shape of an edition made with `settings` by the backend `backend` in the voice `voice` (both
    /// resolved: a default voice and the same voice named are one edition).
    pub(crate) fn of(settings: &Settings, backend: &str, voice: &str) -> Shape {
        let Settings {
            // Recorded: they shape the plan, the audio or the files.
            backend: _,
            voice: _,
            rate,
            chapters,
            max_chars,
            pauses,
            author,
            language,
            footnotes,
            book,
            normalize,
            master,
            sample_rate,
            formats,
            exports,
            caption_words,
            sync,
            // Read again from narrate.toml by every command, and part of every segment's spoken text.
            lexicon,
            acronyms,
            initialisms,
            // The backend's own settings (`[http]`): its fingerprint names what changes the audio.
            backends,
            // How the work is done, not what it makes.
            jobs: _,
            retries: _,
            cache_dir: _,
            max_essay_bytes: _,
            // The closing check reads the edition; it is not part of it.
            check: _,
            // `narrate serve`'s voice names.
            voices: _,
        } = settings;
        let recorded = serde_json::json!({
            "backend": backend,
            "voice": voice,
            "rate": rate,
            "chapters": chapters.to_string(),
            "max_chars": max_chars,
            "pause": format!(
                "sentence={}ms,paragraph={}ms,section={}ms",
                pauses.sentence_ms, pauses.paragraph_ms, pauses.section_ms
            ),
            "normalize": normalize,
            "format": formats.iter().map(|f| f.name()).collect::<Vec<_>>(),
            "sample_rate": sample_rate,
            "master": master.name(),
            "export": exports.iter().map(|e| e.name()).collect::<Vec<_>>(),
            "caption_words": caption_words,
            "sync": sync.name(),
            "author": author,
            "language": language,
            "footnotes": footnotes.name(),
            "include_matter": book.include_matter,
            "alt_text": book.alt_text,
        });
        let read_again = format!("{lexicon:?} {acronyms:?} {initialisms:?} {backends:?}");
        Shape {
            recorded,
            read_again,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Layer, Settings};

    /// Every recorded key is a narrate.toml key that reads back as the same setting (what `regen` relies on).
    #[test]
    fn every_recorded_key_round_trips_through_the_manifest() {
        let text = "rate = 170\nchapters = \"heading:3\"\nmax_chars = 200\n\
                    pause = \"sentence=300ms,paragraph=800ms,section=2s\"\nnormalize = \"off\"\n\
                    format = [\"m4b\", \"mp3\"]\nsample_rate = 44100\nmaster = \"podcast\"\n\
                    export = \"srt,vtt\"\ncaption_words = 3\nsync = \"word\"\nauthor = \"A. Writer\"\nlanguage = \"en-GB\"\nfootnotes = \"skip\"\n\
                    include_matter = true\nalt_text = true\n\
                    backend = \"tone\"\nvoice = \"sine\"\n";
        let layer = crate::settings::parse(std::path::Path::new("narrate.toml"), text).unwrap();
        let settings = Settings::from_layer(layer).unwrap();
        let shape = Shape::of(&settings, "tone", "sine");
        let keys = shape.recorded.as_object().unwrap().len();
        assert_eq!(keys, 18, "a key was added or lost: {}", shape.recorded);
        let back: Layer = serde_json::from_value(shape.recorded.clone()).unwrap();
        let again = Settings::from_layer(back).unwrap();
        assert_eq!(Shape::of(&again, "tone", "sine"), shape);
        // And a setting that is not recorded changes nothing recorded.
        let other = Settings {
            jobs: 7,
            ..settings
        };
        assert_eq!(Shape::of(&other, "tone", "sine").recorded, shape.recorded);
    }
}
