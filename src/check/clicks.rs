//! Clicks anywhere in the file: a sample where the signal's first, second or sixth difference (what a smooth
//! waveform does not predict) stands far above that of the samples around it. The first difference finds
//! steps (a jump in the waveform, as at a bad splice); the second, single-sample spikes; the sixth, which passes
//! little but the top of the spectrum where speech is weakest, spikes inside loud vowels. One streaming pass,
//! block by block: each block's differences, their squares and the windows' sums (2W+1 residuals, W = 5 ms)
//! are worked out array by array (loops the compiler vectorizes), then each sample is judged; memory does not
//! grow with the edition.

/// The differences used, and the most a difference may be, in times its local RMS (plus the floor), before it
/// is a click in any edition. Measured on 36 clean editions (espeak-ng, Piper joe and hibari heart; six
/// essays; mastered and not; docs/CHECK.md), the highest each reaches is 8.9, 9.7 and 11.3 (Piper's mastered
/// onsets, espeak-ng's own plosive bursts, mastered); each ceiling is at least 15 % above that.
const ORDERS: [(usize, f64); 3] = [(1, 10.5), (2, 11.5), (6, 13.0)];
/// The highest difference taken.
const MOST: usize = 6;
/// A voice whose own sharpest sounds are gentler gets a lower threshold: this many times the median over
/// segments of each segment's highest ratio (on the 36 editions the highest segment is at most 1.8 times that
/// median), but never under [`LOWEST`].
const OWN_FACTOR: f64 = 2.1;
/// The lowest threshold (a tone or a near-silent edition has no sharp sounds of its own to measure).
const LOWEST: f64 = 6.0;
/// A ratio of at most this changes nothing: it is no candidate (at most [`LOWEST`]), and as a segment's
/// highest it changes no threshold (were it the median, [`OWN_FACTOR`] times it is at most [`LOWEST`], which
/// the threshold is held at; and it is below every highest that could be the median otherwise). It is kept as 0.
const MATTERS: f64 = LOWEST / OWN_FACTOR;
/// Fewer segments than this say too little about the voice (a click would be its own measure): the ceilings
/// hold.
const MIN_SEGMENTS: usize = 8;
/// Added to the local RMS of the second difference (16-bit units) so that near-silence does not make dither
/// a click; a k-th difference gets 300 × 2^k / 4 (a difference of order k amplifies the top of the
/// spectrum 2^k times).
const FLOOR_SECOND: f64 = 300.0;
/// Kept per edition at most: 10 ms stretches that could hold a click (above [`LOWEST`]); clean editions have
/// tens a minute, so this bound (56 bytes each, 15 MB) is met only by 40 minutes of clicks without a break.
const MAX_CANDIDATES: usize = 1 << 18;

/// Samples taken in one block at most (a longer slice is taken in blocks of this many).
const BLOCK: usize = 8192;
/// Silent samples needed before a sample where a detector may start afresh ([`Clicks::starting_at`]) and after
/// the last sample another detector took, so that neither one's window reaches a sound the other heard (half a
/// window, the differences' reach, and a guard): twice this is the pause a pass can be split in.
pub(crate) fn silence_before_split(rate: u32) -> u64 {
    ((rate as usize / 200).max(MOST + 6) + MOST + 2) as u64
}

/// One difference's residuals and the sums of their squares around each sample of a block.
struct Order {
    /// Which difference.
    k: usize,
    /// The residuals of the samples before the block (up to 2W of them: what the next windows reach back
    /// to), then the block's.
    res: Vec<i64>,
    /// Their squares.
    sq: Vec<i64>,
    /// Per sample judged in the block, the sum of squares of its window without the guard around it (exact:
    /// a residual is under 2^22 and the window under 2^10 residuals).
    level: Vec<i64>,
    floor: f64,
    /// Residuals either side of the one judged that are left out of its local level (a click spreads
    /// over k+1 of them).
    guard: usize,
    /// The residuals the local level is the mean square of.
    count: f64,
    /// Per sample judged in the block, how many times its local level its residual is (0 under the floor).
    ratio: Vec<f64>,
}

impl Order {
    fn new(k: usize, half: usize) -> Order {
        let window = 2 * half + 1;
        let guard = k + 1;
        Order {
            k,
            // The file is taken as preceded by silence, so its first samples are judged too.
            res: vec![0; half],
            sq: vec![0; half],
            level: Vec::new(),
            floor: FLOOR_SECOND * f64::from(1u32 << k) / 4.0,
            guard,
            count: (window - 2 * guard - 1) as f64,
            ratio: Vec::new(),
        }
    }

    /// Takes a block's residuals and works out the local level of every residual whose whole window is
    /// there now (the `res[half..res.len() - half]`), into `level`.
    #[inline(always)]
    fn take(&mut self, block: &[i64], half: usize) {
        self.res.extend_from_slice(block);
        let from = self.sq.len();
        self.sq.extend(self.res[from..].iter().map(|e| e * e));
        self.level.clear();
        let n = self.res.len();
        if n < 2 * half + 1 {
            return;
        }
        let (sq, g, h) = (&self.sq, self.guard, half);
        let squares: i64 = sq[..=2 * h].iter().sum();
        let guarded: i64 = sq[h - g..=h + g].iter().sum();
        // The sums move on by one sample at a time: what enters each window and what leaves it, and what
        // enters and leaves the guard, worked out for every sample at once; then added up in order.
        let out = n - 2 * h;
        self.level.resize(out, 0);
        self.level[0] = squares - guarded;
        let window = sq[2 * h + 1..n].iter().zip(&sq[..out - 1]);
        let guard = sq[h + g + 1..n - h + g]
            .iter()
            .zip(&sq[h - g..n - h - g - 1]);
        for (level, ((enter, leave), (g_enter, g_leave))) in
            self.level[1..].iter_mut().zip(window.zip(guard))
        {
            *level = (enter - leave) - (g_enter - g_leave);
        }
        let mut sum = 0;
        for level in &mut self.level {
            sum += *level;
            *level = sum;
        }
    }

    /// Keeps what the next block's windows reach back to: the last 2W residuals.
    fn keep_tail(&mut self, half: usize) {
        let n = self.res.len();
        if n > 2 * half {
            self.res.drain(..n - 2 * half);
            self.sq.drain(..n - 2 * half);
        }
    }

    /// Works out the ratio of every residual whose level was worked out: how many times its local level
    /// (the root mean square plus the floor) it is; 0 under the floor, and 0 for a ratio of at most
    /// [`MATTERS`], which a bound that needs no square root and no division finds (most of them).
    #[inline(always)]
    fn ratios(&mut self, half: usize) {
        let (floor, count) = (self.floor, self.count);
        // ratio ≤ L ⟸ centre ≤ L·(√mean + floor) ⟸ centre − L·floor ≤ 0 or (centre − L·floor)² ≤ L²·mean
        // (the mean taken by a multiplication, whose rounding the margin covers).
        let l = MATTERS * (1.0 - 1e-6);
        let l2_per_count = l * l / count;
        let res = &self.res[half..half + self.level.len()];
        self.ratio.clear();
        // Without a branch (whether a sample passes is as good as random): NaN (not a number) stands for
        // "work it out" until the few are worked out below.
        self.ratio
            .extend(res.iter().zip(&self.level).map(|(&e, &level)| {
                let centre = e.unsigned_abs() as f64;
                let over = centre - l * floor;
                let may =
                    (centre >= floor) & (over > 0.0) & (over * over > l2_per_count * level as f64);
                f64::from_bits(0u64.wrapping_sub(u64::from(may)) & f64::NAN.to_bits())
            }));
        // Eight at a time, found without a branch per sample (a NaN is the only value not equal to itself).
        for (c, chunk) in self.ratio.chunks_mut(8).enumerate() {
            if chunk.iter().fold(false, |any, r| any | r.is_nan()) {
                for (i, r) in (c * 8..).zip(chunk) {
                    if r.is_nan() {
                        let centre = res[i].unsigned_abs() as f64;
                        *r = centre / ((self.level[i] as f64 / count).sqrt() + floor);
                    }
                }
            }
        }
    }

    /// How far the k-th difference's peak for a spike lies after the spike.
    fn delay(&self) -> u64 {
        self.k as u64 / 2
    }
}

/// A click: where, how many times the local level its difference is, and the threshold it passed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Click {
    pub at: u64,
    pub ratio: f64,
    pub threshold: f64,
}

impl Click {
    /// How far over its threshold it is (to compare clicks found by different differences).
    fn excess(&self) -> f64 {
        self.ratio / self.threshold
    }
}

/// The clicks in one segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SegmentClicks {
    pub count: u32,
    pub first: Click,
    /// The one furthest over its threshold.
    pub worst: Click,
}

/// What the detector found in the whole file.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    /// Per segment of the manifest, in order.
    pub segments: Vec<Option<SegmentClicks>>,
    /// Clicks outside every segment (in the join's pauses), the first few, and how many there are.
    pub stray: Vec<Click>,
    pub stray_count: u32,
}

/// A stretch of up to 10 ms where some difference stood above [`LOWEST`]: per order, its highest ratio there
/// and where that was (one click is counted per 10 ms).
struct Candidate {
    start: u64,
    at: [u64; ORDERS.len()],
    ratios: [f64; ORDERS.len()],
}

/// The streaming detector. Each sample's ratios are measured in one pass; which of them are clicks is decided
/// at the end, against thresholds set by the edition's own sharpest sounds.
pub(crate) struct Clicks {
    half: usize,
    /// The last sample and its differences up to the sixth: `last[j]` is the j-th difference at the last
    /// sample, so the next sample's are `d[j] = d[j−1] − last[j−1]` (binomial weights, newest first:
    /// 1 −1; 1 −2 1; …; 1 −6 15 −20 15 −6 1).
    last: [i64; MOST + 1],
    orders: Vec<Order>,
    /// The block being taken, and room to work out its differences.
    block: Vec<i64>,
    scratch: Vec<i64>,
    /// The sample the next full window is centred on.
    centre: u64,
    gap: u64,
    /// The segments' sample spans, in order, and the one the centre is in or before.
    spans: Vec<(u64, u64)>,
    segment: usize,
    /// Per segment, the highest ratio of each order.
    highest: Vec<[f64; ORDERS.len()]>,
    candidates: Vec<Candidate>,
}

impl Clicks {
    pub(crate) fn new(rate: u32, spans: Vec<(u64, u64)>) -> Clicks {
        let half = (rate as usize / 200).max(MOST + 6);
        Clicks {
            half,
            last: [0; MOST + 1],
            orders: ORDERS.iter().map(|&(k, _)| Order::new(k, half)).collect(),
            block: Vec::with_capacity(BLOCK),
            scratch: Vec::with_capacity(BLOCK),
            centre: 0,
            gap: u64::from(rate / 100),
            highest: vec![[0.0; ORDERS.len()]; spans.len()],
            spans,
            segment: 0,
            candidates: Vec::new(),
        }
    }

    /// A detector for a file's samples from `at` on, where the samples before are silent (at least
    /// [`silence_before_split`] of them): the same state a detector fed from sample 0 has there.
    pub(crate) fn starting_at(rate: u32, spans: Vec<(u64, u64)>, at: u64) -> Clicks {
        Clicks {
            centre: at,
            ..Clicks::new(rate, spans)
        }
    }

    /// The segments' sample spans it was made with.
    pub(crate) fn spans(&self) -> &[(u64, u64)] {
        &self.spans
    }

    /// This detector, which measured a file up to a silence (and was finished there), followed by `later`,
    /// which measured the rest from inside that silence ([`Clicks::starting_at`]): what one detector fed the
    /// whole file holds. Silence on both sides keeps their candidates more than 10 ms apart.
    pub(crate) fn then(self, later: Clicks) -> Clicks {
        let mut highest = later.highest;
        for (h, mine) in highest.iter_mut().zip(self.highest) {
            for (h, mine) in h.iter_mut().zip(mine) {
                *h = h.max(mine);
            }
        }
        let mut candidates = self.candidates;
        candidates.extend(later.candidates);
        candidates.truncate(MAX_CANDIDATES);
        Clicks {
            highest,
            candidates,
            ..later
        }
    }

    /// Takes the next samples (and measures each one `W` samples back).
    pub(crate) fn push_all(&mut self, samples: &[i16]) {
        for block in samples.chunks(BLOCK) {
            self.block.clear();
            self.block.extend(block.iter().map(|&s| i64::from(s)));
            self.take_block();
        }
    }

    /// Measures the last samples (the file is taken as followed by silence); not called for a file cut short,
    /// whose last sample is not the edition's.
    pub(crate) fn finish(&mut self) {
        self.block.clear();
        self.block.resize(self.half, 0);
        self.take_block();
    }

    /// Takes the samples in `self.block`: their differences, each difference's windows, then each sample
    /// whose window is complete is judged. On an x86-64 CPU with AVX2 the same code is compiled for it (the
    /// sums are of integers, and no FMA is enabled, so the bits are the same).
    fn take_block(&mut self) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            return unsafe { self.take_block_avx2() };
        }
        self.take_block_here();
    }

    /// [`Clicks::take_block`] compiled with AVX2 enabled.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn take_block_avx2(&mut self) {
        self.take_block_here();
    }

    /// [`Clicks::take_block`] for whatever the code around it is compiled for.
    #[inline(always)]
    fn take_block_here(&mut self) {
        let n = self.block.len();
        if n == 0 {
            return;
        }
        let half = self.half;
        // d_0 = x; d_j = d_j−1 minus d_j−1 one sample before (`last[j−1]` before the block's first sample).
        let mut d = std::mem::take(&mut self.block);
        let mut next = std::mem::take(&mut self.scratch);
        for j in 1..=MOST {
            next.clear();
            next.push(d[0] - self.last[j - 1]);
            next.extend(d.windows(2).map(|w| w[1] - w[0]));
            self.last[j - 1] = d[n - 1];
            std::mem::swap(&mut d, &mut next);
            for order in self.orders.iter_mut().filter(|o| o.k == j) {
                order.take(&d, half);
            }
        }
        self.last[MOST] = d[n - 1];
        (self.block, self.scratch) = (d, next);
        for order in &mut self.orders {
            order.ratios(half);
        }
        // Every order has as many residuals, so as many judged.
        self.judge();
        for order in &mut self.orders {
            order.keep_tail(half);
        }
    }

    /// Judges the block's samples whose window is complete (from the one at `centre` on), run by run of
    /// samples in one segment or between two: a segment's highest ratios, then the candidates.
    #[inline(always)]
    fn judge(&mut self) {
        let n = self.orders[0].ratio.len();
        let mut i = 0;
        while i < n {
            let at = self.centre + i as u64;
            while self.segment < self.spans.len() && self.spans[self.segment].1 <= at {
                self.segment += 1;
            }
            let (inside, until) = match self.spans.get(self.segment) {
                Some(&(start, end)) if start <= at => (true, end),
                Some(&(start, _)) => (false, start),
                None => (false, u64::MAX),
            };
            let end = i + usize::try_from(until - at).unwrap_or(usize::MAX).min(n - i);
            // Stretches of 64 samples at a time: their highest ratios (a segment's highest is the highest of
            // its stretches), and only a stretch with one over LOWEST is looked at sample by sample.
            for from in (i..end).step_by(64) {
                let to = (from + 64).min(end);
                let most: [f64; ORDERS.len()] = std::array::from_fn(|o| {
                    let r = &self.orders[o].ratio[from..to];
                    r.iter().fold(0.0, |m, &r| if r > m { r } else { m })
                });
                if inside {
                    for (h, most) in self.highest[self.segment].iter_mut().zip(most) {
                        *h = h.max(most);
                    }
                }
                if most.iter().any(|&r| r > LOWEST) {
                    for j in from..to {
                        let ratios = std::array::from_fn(|o| self.orders[o].ratio[j]);
                        if ratios.iter().any(|&r| r > LOWEST) {
                            self.candidate(self.centre + j as u64, ratios);
                        }
                    }
                }
            }
            i = end;
        }
        self.centre += n as u64;
    }

    /// A sample where some ratio passed [`LOWEST`]: a new candidate, or the one 10 ms or less before it
    /// raised.
    fn candidate(&mut self, at: u64, ratios: [f64; ORDERS.len()]) {
        let full = self.candidates.len() >= MAX_CANDIDATES;
        match self.candidates.last_mut() {
            Some(c) if at <= c.start + self.gap => {
                for ((best, place), r) in c.ratios.iter_mut().zip(&mut c.at).zip(ratios) {
                    if r > *best {
                        (*best, *place) = (r, at);
                    }
                }
            }
            _ if !full => self.candidates.push(Candidate {
                start: at,
                at: [at; ORDERS.len()],
                ratios,
            }),
            _ => {}
        }
    }

    /// Each order's threshold for this edition: [`OWN_FACTOR`] × the median over the segments measured of
    /// their highest ratio, between [`LOWEST`] and the order's ceiling (the ceiling when fewer than
    /// [`MIN_SEGMENTS`] were measured).
    fn thresholds(&self) -> [f64; ORDERS.len()] {
        let started = self
            .spans
            .get(self.segment)
            .is_some_and(|s| s.0 < self.centre);
        let measured = (self.segment + usize::from(started)).min(self.highest.len());
        let mut out = [0.0; ORDERS.len()];
        for (i, (t, &(_, ceiling))) in out.iter_mut().zip(&ORDERS).enumerate() {
            let mut highest: Vec<f64> = self.highest[..measured].iter().map(|h| h[i]).collect();
            *t = if highest.len() < MIN_SEGMENTS {
                ceiling
            } else {
                highest.sort_by(f64::total_cmp);
                (OWN_FACTOR * highest[highest.len() / 2]).clamp(LOWEST, ceiling)
            };
        }
        out
    }

    /// The clicks: every place where a difference passes its threshold, one per 10 ms, by segment.
    pub(crate) fn verdict(self) -> Verdict {
        let thresholds = self.thresholds();
        let mut v = Verdict {
            segments: vec![None; self.spans.len()],
            ..Verdict::default()
        };
        let mut last: Option<u64> = None;
        for c in &self.candidates {
            let best = c
                .ratios
                .iter()
                .zip(&thresholds)
                .zip(self.orders.iter().zip(c.at))
                .filter(|((r, t), _)| *r > *t)
                .map(|((&ratio, &threshold), (o, at))| Click {
                    at: at.saturating_sub(o.delay()),
                    ratio,
                    threshold,
                })
                .max_by(|a, b| a.excess().total_cmp(&b.excess()));
            let Some(click) = best else {
                continue;
            };
            if last.is_some_and(|l| click.at <= l + self.gap) {
                continue;
            }
            last = Some(click.at);
            let i = self.spans.partition_point(|s| s.1 <= click.at);
            match v
                .segments
                .get_mut(i)
                .filter(|_| self.spans[i].0 <= click.at)
            {
                Some(Some(seg)) => {
                    seg.count += 1;
                    if click.excess() > seg.worst.excess() {
                        seg.worst = click;
                    }
                }
                Some(slot) => {
                    *slot = Some(SegmentClicks {
                        count: 1,
                        first: click,
                        worst: click,
                    })
                }
                None => {
                    v.stray_count += 1;
                    if v.stray.len() < 8 {
                        v.stray.push(click);
                    }
                }
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The clicks found in `signal`, taken as one segment.
    fn clicks(signal: &[i16]) -> Vec<u64> {
        let mut d = Clicks::new(22_050, vec![(0, signal.len() as u64)]);
        d.push_all(signal);
        d.finish();
        let v = d.verdict();
        assert!(v.stray.is_empty());
        v.segments[0]
            .map(|s| vec![s.first.at; s.count as usize])
            .unwrap_or_default()
    }

    fn tone(n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                ((i as f64 * 2.0 * std::f64::consts::PI * 220.0 / 22_050.0).sin() * 8000.0) as i16
            })
            .collect()
    }

    #[test]
    fn a_smooth_tone_has_no_click_and_one_spike_of_a_fifth_of_full_scale_is_found_where_it_is() {
        let clean = tone(22_050);
        assert!(clicks(&clean).is_empty());
        for at in [30usize, 5_000, 11_025, 22_000] {
            let mut s = clean.clone();
            s[at] = s[at].saturating_add(6_554);
            let found = clicks(&s);
            assert_eq!(found.len(), 1, "{at}: {found:?}");
            assert!(found[0].abs_diff(at as u64) <= 2, "{at}: {found:?}");
        }
    }

    #[test]
    fn a_step_of_a_fifth_of_full_scale_is_found_where_it_is() {
        let clean = tone(22_050);
        // The file ends 1 000 samples after the last step: its end (taken as a fall to silence) is a step too.
        for at in [30usize, 5_000, 11_025, 21_000] {
            let mut s = clean.clone();
            for v in &mut s[at..] {
                *v = v.saturating_add(6_554);
            }
            let found = clicks(&s);
            assert_eq!(found.len(), 1, "{at}: {found:?}");
            assert!(found[0].abs_diff(at as u64) <= 2, "{at}: {found:?}");
        }
    }

    /// The clicks found in `signal` cut into `segments` equal segments, by segment.
    fn by_segment(signal: &[i16], segments: u64) -> Vec<u32> {
        let len = signal.len() as u64 / segments;
        let spans = (0..segments).map(|i| (i * len, (i + 1) * len)).collect();
        let mut d = Clicks::new(22_050, spans);
        d.push_all(signal);
        d.finish();
        d.verdict()
            .segments
            .iter()
            .map(|s| s.map_or(0, |s| s.count))
            .collect()
    }

    #[test]
    fn a_voice_without_sharp_sounds_of_its_own_gets_a_lower_threshold() {
        // A spike 8 times the local level of the second difference: under its ceiling (11.5), over 6.
        let mut s = tone(22_050);
        s[11_000] += 1_324;
        // One segment says nothing of the voice: the ceilings hold and the spike passes.
        assert_eq!(by_segment(&s, 1), [0]);
        // Ten segments of a smooth tone: the threshold is the lowest, and the spike is found in its segment.
        let mut found = vec![0; 10];
        found[4] = 1;
        assert_eq!(by_segment(&s, 10), found);
    }

    /// The detector's verdict and per-segment highest ratios worked out the slow way: every centre's window
    /// summed afresh and every ratio taken exactly, then the same bookkeeping as [`Clicks::take`].
    fn slow(rate: u32, spans: &[(u64, u64)], signal: &[i16]) -> (String, Vec<[f64; ORDERS.len()]>) {
        let half = (rate as usize / 200).max(MOST + 6);
        let n = signal.len();
        // Residuals of each order at samples 0..n+half (silence before and after).
        let x = |j: isize| -> i64 {
            usize::try_from(j)
                .ok()
                .and_then(|j| signal.get(j))
                .map_or(0, |&s| i64::from(s))
        };
        let binomial = |k: usize, i: usize| -> i64 {
            let mut c = 1i64;
            for m in 0..i {
                c = c * (k - m) as i64 / (m + 1) as i64;
            }
            if i % 2 == 1 {
                -c
            } else {
                c
            }
        };
        // Each order's residuals at samples −pad..n+pad, worked out once.
        let pad = half as isize + 1;
        let residuals: Vec<Vec<i64>> = ORDERS
            .iter()
            .map(|&(k, _)| {
                (-pad..n as isize + pad)
                    .map(|j| (0..=k).map(|i| binomial(k, i) * x(j - i as isize)).sum())
                    .collect()
            })
            .collect();
        let mut d = Clicks::new(rate, spans.to_vec());
        for t in 0..n {
            let mut ratios = [0.0; ORDERS.len()];
            for ((r, (o, _)), res) in ratios.iter_mut().zip(ORDERS).zip(&residuals) {
                let floor = FLOOR_SECOND * f64::from(1u32 << o) / 4.0;
                let e = |j: isize| res[(j + pad) as usize];
                let t = t as isize;
                let centre = e(t).unsigned_abs() as f64;
                if centre < floor {
                    continue;
                }
                let (h, g) = (half as isize, o as isize + 1);
                let squares: i64 = (t - h..=t + h).map(|j| e(j) * e(j)).sum();
                let guarded: i64 = (t - g..=t + g).map(|j| e(j) * e(j)).sum();
                let count = (2 * half + 1 - 2 * (o + 1) - 1) as f64;
                *r = centre / (((squares - guarded) as f64 / count).sqrt() + floor);
            }
            let at = t as u64;
            d.centre = at + 1;
            while d.segment < d.spans.len() && d.spans[d.segment].1 <= at {
                d.segment += 1;
            }
            if d.segment < d.spans.len() && d.spans[d.segment].0 <= at {
                for (h, r) in d.highest[d.segment].iter_mut().zip(ratios) {
                    *h = h.max(r);
                }
            }
            if ratios.iter().all(|&r| r <= LOWEST) {
                continue;
            }
            match d.candidates.last_mut() {
                Some(c) if at <= c.start + d.gap => {
                    for ((best, place), r) in c.ratios.iter_mut().zip(&mut c.at).zip(ratios) {
                        if r > *best {
                            (*best, *place) = (r, at);
                        }
                    }
                }
                _ => d.candidates.push(Candidate {
                    start: at,
                    at: [at; ORDERS.len()],
                    ratios,
                }),
            }
        }
        let highest = d.highest.clone();
        (format!("{:?}", d.verdict()), highest)
    }

    #[test]
    fn the_streaming_detector_finds_what_the_slow_definition_does() {
        // Speech-like segments (a gliding tone under a changing level, with noise), silent pauses, spikes and
        // steps here and there; the window buffer wraps many times.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut noise = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % 2001) as f64 - 1000.0
        };
        for rate in [22_050u32, 24_000] {
            let mut signal = Vec::new();
            let mut spans = Vec::new();
            for seg in 0..12u64 {
                let len = 1_500 + 700 * (seg as usize % 5);
                let start = signal.len() as u64;
                for i in 0..len {
                    let f = 150.0 + 90.0 * (i as f64 / len as f64) + 13.0 * seg as f64;
                    let level = 9_000.0 * (std::f64::consts::PI * i as f64 / len as f64).sin();
                    let v = (i as f64 * 2.0 * std::f64::consts::PI * f / f64::from(rate)).sin()
                        * level
                        + noise() * (0.3 + seg as f64 * 0.2);
                    signal.push(v as i16);
                }
                if seg % 3 == 1 {
                    signal[start as usize + len / 2] =
                        signal[start as usize + len / 2].saturating_add(7_000);
                }
                if seg % 4 == 2 {
                    for v in &mut signal[start as usize + len / 3..] {
                        *v = v.saturating_add(3_000);
                    }
                }
                spans.push((start, signal.len() as u64));
                let pause = if seg % 2 == 0 { 400 } else { 3 };
                signal.extend(std::iter::repeat_n(0, pause));
            }
            let (slow_verdict, slow_highest) = slow(rate, &spans, &signal);
            // Taken whole, sample by sample, and in blocks that end anywhere (shorter and longer than a window).
            for chunk in [usize::MAX, 1, 13, 300, 4_097] {
                let mut d = Clicks::new(rate, spans.clone());
                for part in signal.chunks(chunk.min(signal.len())) {
                    d.push_all(part);
                }
                d.finish();
                let highest = d.highest.clone();
                let fast = format!("{:?}", d.verdict());
                assert!(
                    fast.contains("count"),
                    "{rate} Hz: the signal has clicks to find"
                );
                assert_eq!(fast, slow_verdict, "{rate} Hz, blocks of {chunk}");
                // A segment's highest is exact where it matters (above MATTERS), 0 where not.
                let matters = |h: &[[f64; ORDERS.len()]]| -> Vec<[f64; ORDERS.len()]> {
                    h.iter()
                        .map(|h| h.map(|r| if r > MATTERS { r } else { 0.0 }))
                        .collect()
                };
                assert_eq!(
                    highest,
                    matters(&slow_highest),
                    "{rate} Hz, blocks of {chunk}"
                );
                assert!(highest.iter().flatten().any(|&r| r > 0.0));
            }
        }
    }

    #[test]
    fn the_differences_are_the_binomial_ones() {
        // A unit impulse's k-th difference is the k-th difference's weights.
        let mut d = Clicks::new(22_050, Vec::new());
        let mut seen = vec![[0i64; MOST + 1]; 8];
        for (i, seen) in seen.iter_mut().enumerate() {
            d.push_all(&[i16::from(i == 0)]);
            *seen = d.last;
        }
        let order = |k: usize| seen.iter().take(k + 1).map(|s| s[k]).collect::<Vec<_>>();
        assert_eq!(order(1), [1, -1]);
        assert_eq!(order(2), [1, -2, 1]);
        assert_eq!(order(6), [1, -6, 15, -20, 15, -6, 1]);
    }
}
