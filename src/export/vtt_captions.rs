//! WebVTT captions: one cue per segment (its written text), timed from the real audio.

use super::{clock, vtt_text, ChapterExporter};
use crate::edition::Edition;

pub(super) struct VttCaptions;

impl ChapterExporter for VttCaptions {
    fn name(&self) -> &'static str {
        "vtt"
    }
    fn suffix(&self) -> &'static str {
        ".vtt"
    }
    fn render(&self, m: &Edition) -> String {
        let rate = f64::from(m.sample_rate);
        let mut out = String::from("WEBVTT\n");
        for s in &m.segments {
            out.push_str(&format!(
                "\n{}\n{} --> {}\n{}\n",
                s.id,
                clock(s.start_sample as f64 / rate, '.'),
                clock(s.end_sample as f64 / rate, '.'),
                vtt_text(&s.text)
            ));
        }
        out
    }
}
