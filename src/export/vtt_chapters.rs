//! WebVTT chapters: one cue per chapter, for HTML5 players' chapter tracks.

use super::{clock, nested_titles, vtt_text, ChapterExporter};
use crate::edition::Edition;

pub(super) struct VttChapters;

impl ChapterExporter for VttChapters {
    fn name(&self) -> &'static str {
        "vtt-chapters"
    }
    fn suffix(&self) -> &'static str {
        ".chapters.vtt"
    }
    fn render(&self, m: &Edition) -> String {
        let rate = f64::from(m.sample_rate);
        let mut out = String::from("WEBVTT\n");
        let titles = nested_titles(m);
        for (i, (c, title)) in m.chapters.iter().zip(&titles).enumerate() {
            out.push_str(&format!(
                "\n{}\n{} --> {}\n{}\n",
                i + 1,
                clock(c.start_sample as f64 / rate, '.'),
                clock(c.end_sample as f64 / rate, '.'),
                vtt_text(title)
            ));
        }
        out
    }
}
