//! Audacity label track: `start<TAB>end<TAB>title` in seconds, one region per chapter.

use super::ChapterExporter;
use crate::edition::Edition;

pub(super) struct Audacity;

impl ChapterExporter for Audacity {
    fn name(&self) -> &'static str {
        "audacity"
    }
    fn suffix(&self) -> &'static str {
        ".labels.txt"
    }
    fn render(&self, m: &Edition) -> String {
        let rate = f64::from(m.sample_rate);
        m.chapters
            .iter()
            .map(|c| {
                format!(
                    "{:.6}\t{:.6}\t{}\n",
                    c.start_sample as f64 / rate,
                    c.end_sample as f64 / rate,
                    c.title.replace(['\t', '\n'], " ")
                )
            })
            .collect()
    }
}
