//! SubRip captions: one caption per segment, timed from where its speech really is in the edition; or, with
//! `caption_words`, captions of a few words each, timed from where those words are.

use super::{clock, cues, ChapterExporter};
use crate::edition::Edition;

pub(super) struct Srt;

impl ChapterExporter for Srt {
    fn name(&self) -> &'static str {
        "srt"
    }
    fn suffix(&self) -> &'static str {
        ".srt"
    }
    fn render(&self, m: &Edition) -> String {
        let rate = f64::from(m.sample_rate);
        m.segments
            .iter()
            .flat_map(|s| cues(s, m.caption_words))
            .enumerate()
            .map(|(i, cue)| {
                let words: Vec<&str> = cue.words.iter().map(|w| w.text).collect();
                format!(
                    "{}\n{} --> {}\n{}\n\n",
                    i + 1,
                    clock(cue.start as f64 / rate, ','),
                    clock(cue.end as f64 / rate, ','),
                    words.join(" ")
                )
            })
            .collect()
    }
}
