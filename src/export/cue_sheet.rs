//! CUE sheet: one TRACK per chapter over the WAV, for CD-style players and editors.

use super::ChapterExporter;
use crate::edition::Edition;

pub(super) struct CueSheet;

fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "'"))
}

/// `mm:ss:ff` with 75 frames a second.
fn index(samples: u64, rate: u32) -> String {
    let frames = samples * 75 / u64::from(rate);
    format!(
        "{:02}:{:02}:{:02}",
        frames / 75 / 60,
        frames / 75 % 60,
        frames % 75
    )
}

impl ChapterExporter for CueSheet {
    fn name(&self) -> &'static str {
        "cue"
    }
    fn suffix(&self) -> &'static str {
        ".cue"
    }
    fn render(&self, m: &Edition) -> String {
        let mut out = String::new();
        if let Some(a) = &m.author {
            out.push_str(&format!("PERFORMER {}\n", quoted(a)));
        }
        out.push_str(&format!(
            "TITLE {}\nFILE {} WAVE\n",
            quoted(&m.title),
            quoted(&m.audio)
        ));
        for (i, c) in m.chapters.iter().enumerate() {
            out.push_str(&format!(
                "  TRACK {:02} AUDIO\n    TITLE {}\n    INDEX 01 {}\n",
                i + 1,
                quoted(&c.title),
                index(c.start_sample, m.sample_rate)
            ));
        }
        out
    }
}
