//! Silences inside a segment's speech, and how much of its span is speech: measured on 10 ms frames, one
//! segment at a time (only that segment's frame levels are held).

/// A frame is silent when it is this far under the segment's loud frames (their 90th percentile)…
const BELOW_SPEECH_DB: f32 = 35.0;
/// …or under this level (dBFS), whichever is higher.
const SILENT_FRAME_DBFS: f32 = -55.0;
/// Silences kept per segment (the longest), enough for every pause its punctuation explains and then some.
const KEPT: usize = 12;

/// A run of silent frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Silence {
    /// First sample, in the edition.
    pub start: u64,
    pub samples: u64,
}

/// What the frames of one segment show.
#[derive(Debug, Clone, Default)]
pub(crate) struct Shape {
    /// The longest silences, longest first.
    pub silences: Vec<Silence>,
    /// The fraction of frames that are speech.
    pub coverage: f64,
}

/// Frame levels of the segment being read.
pub(crate) struct Frames {
    len: u32,
    /// The sum of the squares of the frame's samples so far, in 16-bit units (exact).
    squares: u64,
    count: u32,
    levels: Vec<f32>,
    start: u64,
}

impl Frames {
    pub(crate) fn new(rate: u32) -> Frames {
        Frames {
            len: (rate / 100).max(1),
            squares: 0,
            count: 0,
            levels: Vec::new(),
            start: 0,
        }
    }

    /// Starts a segment at sample `start`.
    pub(crate) fn begin(&mut self, start: u64) {
        self.levels.clear();
        self.squares = 0;
        self.count = 0;
        self.start = start;
    }

    /// Takes the segment's next samples.
    pub(crate) fn push_all(&mut self, mut samples: &[i16]) {
        while !samples.is_empty() {
            let take = ((self.len - self.count) as usize).min(samples.len());
            let (now, rest) = samples.split_at(take);
            self.squares += crate::audio::sum_squares(now);
            self.count += take as u32;
            if self.count == self.len {
                self.close_frame();
            }
            samples = rest;
        }
    }

    fn close_frame(&mut self) {
        // The mean square in full-scale units; the sum is exact, as a sum of each sample's square in those
        // units would be (a frame is under 2^23 samples).
        let ms = self.squares as f64 / (32768.0 * 32768.0) / f64::from(self.count.max(1));
        self.levels.push((10.0 * (ms + 1e-12).log10()) as f32);
        self.squares = 0;
        self.count = 0;
    }

    /// The segment's shape (a last partial frame of at least half a frame counts).
    pub(crate) fn finish(&mut self) -> Shape {
        if self.count >= self.len / 2 && self.count > 0 {
            self.close_frame();
        }
        shape(&self.levels, u64::from(self.len), self.start)
    }
}

/// The longest silence inside a segment's speech (after its first sound and before its last), in seconds;
/// `None` when there is none. Measured as the check measures gaps, so a pause inside a word counts as much as
/// one between words.
pub(crate) fn longest_inside(samples: &[i16], rate: u32) -> Option<f64> {
    let mut frames = Frames::new(rate);
    frames.begin(0);
    frames.push_all(samples);
    let shape = frames.finish();
    let end = frames.levels.len() as u64 * u64::from(frames.len);
    shape
        .silences
        .iter()
        .filter(|s| s.start > 0 && s.start + s.samples < end)
        .map(|s| s.samples)
        .max()
        .map(|n| n as f64 / f64::from(rate.max(1)))
}

fn shape(levels: &[f32], frame: u64, start: u64) -> Shape {
    if levels.is_empty() {
        return Shape::default();
    }
    let mut sorted = levels.to_vec();
    sorted.sort_by(f32::total_cmp);
    let loud = sorted[(sorted.len() * 9 / 10).min(sorted.len() - 1)];
    let floor = (loud - BELOW_SPEECH_DB).max(SILENT_FRAME_DBFS);
    let mut silences = Vec::new();
    let mut run: Option<usize> = None;
    let mut silent = 0usize;
    for (i, &l) in levels
        .iter()
        .chain(std::iter::once(&f32::INFINITY))
        .enumerate()
    {
        if l < floor {
            silent += 1;
            run.get_or_insert(i);
        } else if let Some(first) = run.take() {
            silences.push(Silence {
                start: start + first as u64 * frame,
                samples: (i - first) as u64 * frame,
            });
        }
    }
    silences.sort_by(|a, b| b.samples.cmp(&a.samples).then(a.start.cmp(&b.start)));
    silences.truncate(KEPT);
    Shape {
        silences,
        coverage: 1.0 - silent as f64 / levels.len() as f64,
    }
}

/// How many pauses a segment's own punctuation asks for: clause marks and sentence ends inside it (a sentence
/// end closed by a bracket or quotation mark too: "what it does.> Copyright").
pub(crate) fn punctuated_pauses(spoken: &str) -> usize {
    let inner = spoken.trim_end_matches(|c: char| !c.is_alphanumeric());
    let chars: Vec<char> = inner.chars().collect();
    let sentence_end = |i: usize| {
        chars[i + 1..]
            .iter()
            .find(|c| !matches!(c, ')' | ']' | '}' | '>' | '"' | '\'' | '”' | '’' | '»'))
            .is_some_and(|n| n.is_whitespace())
    };
    chars
        .iter()
        .enumerate()
        .filter(|&(i, &c)| {
            matches!(c, ',' | ';' | ':' | '—' | '–' | '(' | ')' | '…')
                || (matches!(c, '.' | '!' | '?') && sentence_end(i))
                || (c == '-' && i > 0 && chars[i - 1] == ' ')
        })
        .count()
}

/// The middle value (the upper one of an even count); `None` for no values.
pub(crate) fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silences_are_found_longest_first_with_their_place_and_coverage() {
        // 10 loud frames, 3 silent, 5 loud, 6 silent, 6 loud (frames of 100 samples).
        let mut levels = vec![-20.0f32; 10];
        levels.extend([-90.0; 3]);
        levels.extend([-20.0; 5]);
        levels.extend([-90.0; 6]);
        levels.extend([-20.0; 6]);
        let s = shape(&levels, 100, 1_000);
        assert_eq!(
            s.silences,
            vec![
                Silence {
                    start: 2_800,
                    samples: 600
                },
                Silence {
                    start: 2_000,
                    samples: 300
                },
            ]
        );
        assert!((s.coverage - 21.0 / 30.0).abs() < 1e-9);
    }

    #[test]
    fn the_longest_silence_inside_the_speech_leaves_out_the_edges() {
        let rate = 8_000;
        let tone = |secs: f64| -> Vec<i16> {
            (0..(secs * 8_000.0) as usize)
                .map(|i| ((i as f64 * 0.3).sin() * 8_000.0) as i16)
                .collect()
        };
        let quiet = |secs: f64| vec![0i16; (secs * 8_000.0) as usize];
        let mut samples = quiet(0.6);
        for part in [
            tone(0.3),
            quiet(0.2),
            tone(0.3),
            quiet(0.45),
            tone(0.2),
            quiet(0.8),
        ] {
            samples.extend(part);
        }
        let got = longest_inside(&samples, rate).unwrap();
        assert!((got - 0.45).abs() < 0.011, "{got}");
        assert_eq!(longest_inside(&tone(1.0), rate), None);
        assert_eq!(longest_inside(&[], rate), None);
    }

    #[test]
    fn pauses_asked_for_by_punctuation() {
        for (text, n) in [
            ("Nobody knows who started it.", 0),
            ("On the far bank, somebody always waves.", 1),
            ("It rained; we stayed. Then, at noon, we left!", 4),
            ("A well-known fact - or so they say.", 1),
            ("<one line to say what it does.> Copyright <year>", 1),
            ("He said \u{201c}Stop.\u{201d} Then he left.", 1),
            ("Version 3.0 is out.", 0),
        ] {
            assert_eq!(punctuated_pauses(text), n, "{text}");
        }
    }
}
