//! `timeChart(unit=…)` / `bucket(unit=…)`: LogScale's rate unit conversion, e.g.
//! `"bytes/span to Mibytes/day"` (a per-bucket sum shown as a daily rate: × day / span, ÷ 2^20)
//! or `"bytes/sec to KiB/hour"` (already a rate). `/span` and `/bucket` mean per bucket; the
//! prefixes are SI (k, M, G, T, P) and binary (Ki, Mi, Gi, Ti, Pi).

use crate::query::unit_ms;

/// A parsed conversion; [`Unit::factor`] gives the multiplier for a bucket width.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    scale: f64,
    from_time: Per,
    to_time: Per,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Per {
    None,
    Bucket,
    Ms(i64),
}

const PREFIXES: &[(&str, f64)] = &[
    ("Ki", 1024.0),
    ("Mi", 1_048_576.0),
    ("Gi", 1_073_741_824.0),
    ("Ti", 1_099_511_627_776.0),
    ("Pi", 1_125_899_906_842_624.0),
    ("k", 1e3),
    ("K", 1e3),
    ("M", 1e6),
    ("G", 1e9),
    ("T", 1e12),
    ("P", 1e15),
];

/// Splits `"Mibytes/day"` into ("Mibytes", per day).
fn side(s: &str, from: bool) -> Result<(String, Per), String> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let (quantity, per) = match s.split_once('/') {
        Some((q, p)) => (q.to_string(), Some(p.to_ascii_lowercase())),
        None => (s.clone(), None),
    };
    let per = match per.as_deref() {
        None => Per::None,
        Some("span" | "bucket") if from => Per::Bucket,
        Some("span" | "bucket") => {
            return Err("unit: /span is only allowed on the left of \"to\"".into())
        }
        Some(p) => {
            // "sec", "1h", "day": a duration unit, optionally with a count.
            let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
            let n: i64 = if digits.is_empty() {
                1
            } else {
                digits
                    .parse()
                    .map_err(|_| format!("unit: bad time {p:?}"))?
            };
            let ms = unit_ms(&p[digits.len()..]).ok_or_else(|| {
                format!("unit: {p:?} is not a time unit like sec, min, hour or day")
            })?;
            Per::Ms(n.saturating_mul(ms).max(1))
        }
    };
    Ok((quantity, per))
}

/// The prefix scales of `a` relative to `b` when they name the same base unit.
fn relative_scale(a: &str, b: &str) -> Option<f64> {
    let splits = |q: &str| -> Vec<(f64, String)> {
        let mut v = vec![(1.0, q.to_string())];
        for (p, f) in PREFIXES {
            if let Some(rest) = q.strip_prefix(p) {
                v.push((*f, rest.to_string()));
            }
        }
        v
    };
    for (fa, ua) in splits(a) {
        for (fb, ub) in splits(b) {
            if ua == ub {
                return Some(fa / fb);
            }
        }
    }
    None
}

impl Unit {
    pub fn parse(s: &str) -> Result<Unit, String> {
        let (from, to) = s.split_once(" to ").ok_or_else(|| {
            format!("unit: {s:?} is not a conversion like \"bytes/span to KiB/sec\"")
        })?;
        let (qa, from_time) = side(from, true)?;
        let (qb, to_time) = side(to, false)?;
        let scale = relative_scale(&qa, &qb)
            .ok_or_else(|| format!("unit: cannot convert {qa:?} to {qb:?} (different units)"))?;
        if from_time != Per::None && to_time == Per::None {
            return Err(format!(
                "unit: {s:?} converts a rate to a quantity; give a time on the right, like /sec"
            ));
        }
        Ok(Unit {
            scale,
            from_time,
            to_time,
        })
    }

    /// The multiplier for values of buckets `bucket_ms` wide.
    pub fn factor(&self, bucket_ms: i64) -> f64 {
        let from = match self.from_time {
            Per::None => return self.scale,
            Per::Bucket => bucket_ms,
            Per::Ms(ms) => ms,
        };
        match self.to_time {
            Per::Ms(to) => self.scale * to as f64 / from as f64,
            _ => self.scale,
        }
    }
}
