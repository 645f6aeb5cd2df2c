//! The float functions the vocoder and its noise take millions of a minute of audio: `exp`, `tanh`, `sincos`
//! and `ln`, in plain f32 arithmetic with no branch, so that a loop over a slice of them compiles to SIMD lanes
//! at the baseline target, and gives the same bits on every x86-64 and aarch64 CPU (Rust never fuses a multiply
//! and an add into FMA, and nothing here asks the CPU what it can do: the system's libm picks an FMA or a plain
//! variant by CPU, which is why none of it is used).
//!
//! Accuracy (tested against the system's functions below): `exp` within 2 ulp, `sincos` within 2e-7 absolute
//! for |x| ≤ 8192 (cephes' reduction and polynomials), `ln` within 2 ulp on (0, 1].

/// 1.5 · 2^23: adding it to |x| < 2^22 rounds x to an integer (to nearest, ties to even) held in the low
/// mantissa bits.
const ROUND: f32 = 12_582_912.0;

/// x rounded to the nearest integer, as a float and as an integer; |x| < 2^22.
#[inline(always)]
fn round(x: f32) -> (f32, i32) {
    let y = x + ROUND;
    (y - ROUND, y.to_bits() as i32 - ROUND.to_bits() as i32)
}

/// e^x within 2 ulp for x ≤ 88, 0 below −87: Cody–Waite reduction to |r| ≤ ln 2 / 2 and a degree-7 Taylor
/// polynomial.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    // ln 2 in two parts, the first with trailing zero bits so that k · LN2_HI is exact.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let xc = x.max(-87.0);
    let (k, ki) = round(xc * std::f32::consts::LOG2_E);
    let r = xc - k * LN2_HI - k * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    let v = p * f32::from_bits(((ki + 127) as u32) << 23);
    if x < -87.0 {
        0.0
    } else {
        v
    }
}

/// tanh from one exponential, within 1e-7 of it; exactly ±1 beyond ±10.
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    let x = x.clamp(-10.0, 10.0);
    1.0 - 2.0 / (exp(2.0 * x) + 1.0)
}

/// sin and cos of `r` (|r| ≤ π/4) turned by `q` quarter turns.
#[inline(always)]
fn quadrant(r: f32, q: u32) -> (f32, f32) {
    let z = r * r;
    let s = ((-1.951_529_6e-4 * z + 8.332_161e-3) * z - 1.666_665_5e-1) * z * r + r;
    let c = ((2.443_315_7e-5 * z - 1.388_731_6e-3) * z + 4.166_664_6e-2) * z * z - 0.5 * z + 1.0;
    let (s, c) = if q & 1 == 0 { (s, c) } else { (c, s) };
    (
        f32::from_bits(s.to_bits() ^ ((q & 2) << 30)),
        f32::from_bits(c.to_bits() ^ ((q.wrapping_add(1) & 2) << 30)),
    )
}

/// (sin x, cos x) for |x| ≤ 8192: x less the nearest multiple of π/2 (π/2 in three parts, cephes' `sinf`) and
/// the polynomials on [−π/4, π/4].
#[inline(always)]
pub(crate) fn sincos(x: f32) -> (f32, f32) {
    const PIO2_1: f32 = 1.570_312_5;
    const PIO2_2: f32 = 4.837_513e-4;
    const PIO2_3: f32 = 7.549_79e-8;
    let (j, q) = round(x * std::f32::consts::FRAC_2_PI);
    let r = ((x - j * PIO2_1) - j * PIO2_2) - j * PIO2_3;
    quadrant(r, q as u32)
}

/// (sin 2πu, cos 2πu) for u in [0, 1) with 24 bits: the quarter turns come off exactly.
#[inline(always)]
pub(crate) fn sincos_turns(u: f32) -> (f32, f32) {
    let t = u * 4.0;
    let (j, q) = round(t);
    quadrant((t - j) * std::f32::consts::FRAC_PI_2, q as u32)
}

/// ln x for a normal x > 0, within 2 ulp (cephes' `logf`).
#[inline(always)]
pub(crate) fn ln(x: f32) -> f32 {
    const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
    let bits = x.to_bits();
    // x = m · 2^e with m in [1/2, 1).
    let e = (bits >> 23) as i32 - 126;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    let small = m < SQRT_HALF;
    let e = (if small { e - 1 } else { e }) as f32;
    let m = if small { m + m - 1.0 } else { m - 1.0 };
    let z = m * m;
    let p = [
        7.037_683_6e-2,
        -1.151_461e-1,
        1.167_699_9e-1,
        -1.242_014_1e-1,
        1.424_932_3e-1,
        -1.666_805_8e-1,
        2.000_071_5e-1,
        -2.499_999_4e-1,
        3.333_333e-1,
    ]
    .iter()
    .fold(0.0, |p, c| p * m + c);
    let y = m * z * p - 2.121_944_4e-4 * e - 0.5 * z;
    (m + y) + 0.693_359_4 * e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_tanh_agree_with_the_system_s() {
        assert_eq!(exp(-90.0), 0.0);
        assert_eq!(exp(0.0), 1.0);
        let mut x = -86.9f32;
        while x <= 20.0 {
            let (want, got) = (x.exp(), exp(x));
            assert!(
                (got - want).abs() <= want * 3e-7 + 1e-38,
                "exp({x}) = {got}, not {want}"
            );
            if x.abs() < 12.0 {
                assert!((tanh(x) - x.tanh()).abs() < 2e-7, "tanh({x})");
            }
            x += 0.0137;
        }
        assert_eq!((tanh(11.0), tanh(-30.0)), (1.0, -1.0));
    }

    #[test]
    fn sincos_agrees_with_the_system_s() {
        let mut worst = 0.0f64;
        let mut x = -8192.0f32;
        while x <= 8192.0 {
            let (s, c) = sincos(x);
            let (ws, wc) = (x as f64).sin_cos();
            worst = worst.max((s as f64 - ws).abs()).max((c as f64 - wc).abs());
            x += 0.0371;
        }
        assert!(worst < 2e-7, "{worst:e}");
        for (x, s, c) in [(0.0f32, 0.0f32, 1.0f32), (-0.0, -0.0, 1.0)] {
            assert_eq!(sincos(x), (s, c));
        }
        let mut worst = 0.0f64;
        for n in (0..1u32 << 24).step_by(97) {
            let u = n as f32 / (1u32 << 24) as f32;
            let (s, c) = sincos_turns(u);
            let (ws, wc) = (std::f64::consts::TAU * u as f64).sin_cos();
            worst = worst.max((s as f64 - ws).abs()).max((c as f64 - wc).abs());
        }
        assert!(worst < 2e-7, "{worst:e}");
    }

    #[test]
    fn ln_agrees_with_the_system_s() {
        assert_eq!(ln(1.0), 0.0);
        for n in (1..=1u32 << 24).step_by(89).chain([1, 2, 3, 1 << 24]) {
            let x = n as f32 / (1u32 << 24) as f32;
            let (want, got) = ((x as f64).ln(), ln(x) as f64);
            assert!(
                (got - want).abs() <= want.abs() * 2.5e-7 + 1e-9,
                "ln({x}) = {got}, not {want}"
            );
        }
    }
}
