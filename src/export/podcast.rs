//! Podcasting 2.0 chapters JSON (`application/json+chapters`, version 1.2.0).

use super::{nested_titles, ChapterExporter};
use crate::edition::Edition;

pub(super) struct PodcastChapters;

impl ChapterExporter for PodcastChapters {
    fn name(&self) -> &'static str {
        "podcast"
    }
    fn suffix(&self) -> &'static str {
        ".chapters.json"
    }
    fn render(&self, m: &Edition) -> String {
        let rate = f64::from(m.sample_rate);
        let titles = nested_titles(m);
        let chapters: Vec<serde_json::Value> = m
            .chapters
            .iter()
            .zip(&titles)
            .map(|(c, title)| {
                let start = (c.start_sample as f64 / rate * 1000.0).round() / 1000.0;
                let end = (c.end_sample as f64 / rate * 1000.0).round() / 1000.0;
                serde_json::json!({"startTime": start, "endTime": end, "title": title})
            })
            .collect();
        let mut doc =
            serde_json::json!({"version": "1.2.0", "title": m.title, "chapters": chapters});
        if let Some(a) = &m.author {
            doc["author"] = a.clone().into();
        }
        serde_json::to_string_pretty(&doc).expect("json") + "\n"
    }
}
