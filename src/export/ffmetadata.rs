//! FFmpeg's metadata file (`;FFMETADATA1`): title, artist and a `[CHAPTER]` per chapter, exact in samples.

use super::ChapterExporter;
use crate::edition::Edition;

pub(super) struct FfMetadata;

/// Escapes `=`, `;`, `#`, `\` and newlines as ffmpeg's metadata format requires.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '=' | ';' | '#' | '\\' | '\n') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl ChapterExporter for FfMetadata {
    fn name(&self) -> &'static str {
        "ffmetadata"
    }
    fn suffix(&self) -> &'static str {
        ".ffmetadata"
    }
    fn render(&self, m: &Edition) -> String {
        let mut out = format!(";FFMETADATA1\ntitle={}\n", escape(&m.title));
        if let Some(a) = &m.author {
            out.push_str(&format!("artist={}\n", escape(a)));
        }
        out.push_str("genre=Speech\n");
        // A book's own tags: the album is the book, and what its OPF says of itself.
        if let Some(book) = &m.book {
            out.push_str(&format!("album={}\n", escape(&m.title)));
            if let Some(a) = &m.author {
                out.push_str(&format!("album_artist={}\n", escape(a)));
            }
            let tags = [
                ("date", &book.date),
                ("publisher", &book.publisher),
                ("language", &book.language),
                ("comment", &book.identifier),
            ];
            for (key, value) in tags {
                if let Some(v) = value {
                    out.push_str(&format!("{key}={}\n", escape(v)));
                }
            }
        }
        // Chapter lists in players are flat: a sub-chapter says which chapter it belongs to.
        for (c, title) in m.chapters.iter().zip(super::nested_titles(m)) {
            out.push_str(&format!(
                "\n[CHAPTER]\nTIMEBASE=1/{}\nSTART={}\nEND={}\ntitle={}\n",
                m.sample_rate,
                c.start_sample,
                c.end_sample,
                escape(&title)
            ));
        }
        out
    }
}
