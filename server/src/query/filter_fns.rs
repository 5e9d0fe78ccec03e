//! Filter functions with their own matching rules, compiled into [`CFilter::Func`]:
//! `wildcard()`, `cidr()` and `array:contains()`. They read fields through [`Source`], so
//! they run on segment columns and on rows alike.
//!
//! [`CFilter::Func`]: super::filter::CFilter::Func

use std::net::IpAddr;

use super::row::Source;
use super::{glob_match, ops::array};

pub enum FnFilter {
    /// `wildcard(pattern, field, ignoreCase)`: a `*` glob over whole field values; with no
    /// field, anywhere in `@rawstring` (as free text is).
    /// <https://library.humio.com/data-analysis/functions-wildcard.html>
    Wildcard {
        fields: Vec<String>,
        pattern: String,
        ignore_case: bool,
    },
    /// `cidr(field, subnet=[...], negate)`: the IP in `field` is in one of the subnets.
    /// <https://library.humio.com/data-analysis/functions-cidr.html>
    Cidr {
        field: String,
        nets: Vec<Net>,
        negate: bool,
    },
    /// `array:contains(array, value)`.
    ArrayContains { array: String, value: String },
}

/// An IP network: address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    bits: u8,
}

impl Net {
    /// `10.0.0.0/8`, `2001:db8::/32`, or a bare address (all bits).
    pub fn parse(s: &str) -> Option<Net> {
        let (a, b) = match s.trim().split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match b {
            Some(b) => b.parse::<u8>().ok().filter(|n| *n <= max)?,
            None => max,
        };
        Some(Net { addr, bits })
    }

    /// The prefix length.
    pub fn bits(&self) -> u8 {
        self.bits
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(x)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(n) & mask == u32::from(x) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(x)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(x) & mask
            }
            _ => false,
        }
    }
}

impl FnFilter {
    pub fn matches(&self, src: &dyn Source) -> bool {
        match self {
            FnFilter::Wildcard {
                fields,
                pattern,
                ignore_case,
            } => fields.iter().any(|f| {
                src.get(f).is_some_and(|v| {
                    if *ignore_case {
                        glob_match(pattern, &v.to_lowercase())
                    } else {
                        glob_match(pattern, &v)
                    }
                })
            }),
            FnFilter::Cidr {
                field,
                nets,
                negate,
            } => {
                let hit = src
                    .get(field)
                    .and_then(|v| v.trim().parse::<IpAddr>().ok())
                    .is_some_and(|ip| nets.iter().any(|n| n.contains(ip)));
                hit != *negate
            }
            FnFilter::ArrayContains { array, value } => {
                array::elements(src, array).iter().any(|v| v == value)
            }
        }
    }

    /// Field names the filter reads. An array's element names are not known up front, so
    /// `array:contains` is not [`column_safe`](Self::column_safe) and runs on rows only.
    pub fn fields(&self, out: &mut Vec<String>) {
        match self {
            FnFilter::Wildcard { fields, .. } => out.extend(fields.iter().cloned()),
            FnFilter::Cidr { field, .. } => out.push(field.clone()),
            FnFilter::ArrayContains { array, .. } => out.push(format!("{array}[0]")),
        }
    }

    pub fn column_safe(&self) -> bool {
        !matches!(self, FnFilter::ArrayContains { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr() {
        let n = Net::parse("10.1.0.0/16").unwrap();
        assert!(n.contains("10.1.200.3".parse().unwrap()));
        assert!(!n.contains("10.2.0.1".parse().unwrap()));
        assert!(Net::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        let v6 = Net::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8::1".parse().unwrap()));
        assert!(!v6.contains("10.1.0.1".parse().unwrap()));
        assert!(Net::parse("10.0.0.0/33").is_none());
        assert!(Net::parse("nope").is_none());
    }
}
