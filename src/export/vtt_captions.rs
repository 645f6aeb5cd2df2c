//! WebVTT captions: one cue per segment (its written text), timed from the real audio, with a cue timestamp
//! (`<00:00:01.250>`) before each word after the first, where the word starts; or, with `caption_words`, cues
//! of a few words each.

use super::{clock, cues, vtt_text, ChapterExporter};
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
        let ms = |sample: u64| (sample as f64 / rate * 1000.0).round() as u64;
        let mut out = String::from("WEBVTT\n");
        for s in &m.segments {
            let cues = cues(s, m.caption_words);
            let many = cues.len() > 1;
            for (k, cue) in cues.into_iter().enumerate() {
                // A timestamp inside a cue comes after the cue's start and every earlier one, before its end.
                let mut last = ms(cue.start);
                let mut text = String::new();
                for (i, w) in cue.words.iter().enumerate() {
                    if i > 0 {
                        text.push(' ');
                        match w.at {
                            Some((at, _)) if ms(at) > last && ms(at) < ms(cue.end) => {
                                last = ms(at);
                                text.push_str(&format!("<{}>", clock(at as f64 / rate, '.')));
                            }
                            _ => {}
                        }
                    }
                    text.push_str(&vtt_text(w.text));
                }
                let id = if many {
                    format!("{}-{}", s.id, k + 1)
                } else {
                    s.id.clone()
                };
                out.push_str(&format!(
                    "\n{id}\n{} --> {}\n{text}\n",
                    clock(cue.start as f64 / rate, '.'),
                    clock(cue.end as f64 / rate, '.'),
                ));
            }
        }
        out
    }
}
