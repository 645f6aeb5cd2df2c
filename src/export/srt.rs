//! SubRip captions: one caption per segment, timed from where its speech really is in the edition.

use super::{clock, ChapterExporter};
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
            .enumerate()
            .map(|(i, s)| {
                format!(
                    "{}\n{} --> {}\n{}\n\n",
                    i + 1,
                    clock(s.start_sample as f64 / rate, ','),
                    clock(s.end_sample as f64 / rate, ','),
                    s.text
                )
            })
            .collect()
    }
}
