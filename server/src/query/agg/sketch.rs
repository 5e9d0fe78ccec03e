//! Fixed-size estimates for the states that would otherwise grow with the data:
//! [`Hll`] (HyperLogLog, precision 14) for `count(distinct=true)` and [`Sketch`] (a relative-error
//! log histogram in the style of DDSketch) for `percentile()`. Both merge exactly — registers take
//! the max, histogram buckets add — so a result does not depend on how events were split across
//! blocks, threads and nodes. They are hand-written rather than taken from a crate because the
//! state must be serde-serialisable (it crosses the cluster) and hash the same on every node.

use std::collections::BTreeMap;

use rustc_hash::FxHashSet as HashSet;

/// Register index bits: 2^14 registers, 16 KiB per estimate.
const P: u32 = 14;
const M: usize = 1 << P;
/// HyperLogLog's standard error at precision 14: 1.04 / sqrt(2^14).
pub const HLL_STD_ERROR: f64 = 0.008125;

/// A HyperLogLog distinct-count estimate.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Hll {
    regs: Vec<u8>,
}

impl Default for Hll {
    fn default() -> Self {
        Hll { regs: vec![0; M] }
    }
}

/// FNV-1a with a murmur3 finaliser: stable across builds and nodes (std's hasher is not
/// promised to be), well mixed in the high bits the registers are chosen by.
fn hash64(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

impl Hll {
    pub fn from_set(set: HashSet<String>) -> Hll {
        let mut h = Hll::default();
        for v in &set {
            h.insert(v);
        }
        h
    }

    pub fn insert(&mut self, v: &str) {
        let x = hash64(v);
        let idx = (x >> (64 - P)) as usize;
        // The remaining bits, with a guard bit so the rank is at most 64 - P + 1.
        let w = (x << P) | (1 << (P - 1));
        let rank = w.leading_zeros() as u8 + 1;
        if let Some(r) = self.regs.get_mut(idx) {
            *r = (*r).max(rank);
        }
    }

    pub fn merge(&mut self, other: &Hll) {
        for (a, b) in self.regs.iter_mut().zip(&other.regs) {
            *a = (*a).max(*b);
        }
    }

    pub fn estimate(&self) -> u64 {
        let m = M as f64;
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let sum: f64 = self.regs.iter().map(|r| 2f64.powi(-i32::from(*r))).sum();
        let raw = alpha * m * m / sum;
        let zeros = self.regs.iter().filter(|r| **r == 0).count();
        let e = if raw <= 2.5 * m && zeros > 0 {
            // Small range: linear counting is more accurate.
            m * (m / zeros as f64).ln()
        } else {
            raw
        };
        e.round() as u64
    }
}

/// Magnitudes below this count as zero (the histogram needs a smallest bucket).
const MIN_MAGNITUDE: f64 = 1e-9;

/// A mergeable percentile estimate: values in logarithmic buckets of ratio
/// gamma = (1 + a) / (1 - a); every bucket's representative is within relative error `a` of
/// every value in it, so a percentile's answer is within `a` of a true value at its rank.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sketch {
    n: u64,
    zero: u64,
    pos: BTreeMap<i32, u64>,
    neg: BTreeMap<i32, u64>,
    min: f64,
    max: f64,
}

fn gamma(accuracy: f64) -> f64 {
    (1.0 + accuracy) / (1.0 - accuracy)
}

impl Sketch {
    pub fn from_values(values: &[f64], accuracy: f64) -> Sketch {
        let mut s = Sketch::default();
        for x in values {
            s.add(*x, accuracy);
        }
        s
    }

    pub fn add(&mut self, x: f64, accuracy: f64) {
        if self.n == 0 {
            (self.min, self.max) = (x, x);
        } else {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        self.n += 1;
        let mag = x.abs();
        if mag < MIN_MAGNITUDE {
            self.zero += 1;
            return;
        }
        let i = (mag.ln() / gamma(accuracy).ln()).ceil() as i32;
        let side = if x > 0.0 {
            &mut self.pos
        } else {
            &mut self.neg
        };
        *side.entry(i).or_insert(0) += 1;
    }

    pub fn merge(&mut self, other: Sketch) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = other;
            return;
        }
        self.n += other.n;
        self.zero += other.zero;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        for (k, c) in other.pos {
            *self.pos.entry(k).or_insert(0) += c;
        }
        for (k, c) in other.neg {
            *self.neg.entry(k).or_insert(0) += c;
        }
    }

    pub fn len(&self) -> u64 {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The value at percentile `p` (0..=100), or None when empty.
    pub fn quantile(&self, p: f64, accuracy: f64) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        let g = gamma(accuracy);
        let rep = |i: i32| 2.0 * g.powi(i) / (g + 1.0);
        let rank = ((p / 100.0).clamp(0.0, 1.0) * (self.n - 1) as f64).floor() as u64;
        let mut seen = 0u64;
        // Ascending values: negatives from the largest magnitude down, zero, then positives.
        for (i, c) in self.neg.iter().rev() {
            seen += c;
            if seen > rank {
                return Some((-rep(*i)).clamp(self.min, self.max));
            }
        }
        seen += self.zero;
        if seen > rank {
            return Some(0.0f64.clamp(self.min, self.max));
        }
        for (i, c) in &self.pos {
            seen += c;
            if seen > rank {
                return Some(rep(*i).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }
}
