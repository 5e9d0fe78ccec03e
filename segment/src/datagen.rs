//! Deterministic generators of realistic log data for benchmarks, tests and the load
//! generator: JSON application logs and Apache/nginx combined access logs. The same seed
//! always yields the same events, so figures are comparable between runs.

use std::collections::BTreeMap;
use std::fmt::Write;

/// A generated event: what a shipper would send, plus the fields a parser would extract.
#[derive(Clone, Debug)]
pub struct GenEvent {
    pub timestamp: i64,
    pub raw: String,
    pub fields: BTreeMap<String, String>,
}

impl GenEvent {
    /// The event as digest would store it, read from `partition` at `offset`.
    pub fn into_event(self, partition: u32, offset: u64) -> crate::Event {
        crate::Event {
            timestamp: self.timestamp,
            timestamp_nanos: 0,
            ingest_timestamp: self.timestamp,
            id: crate::EventId {
                partition,
                offset,
                index: 0,
            },
            raw: self.raw,
            fields: self.fields,
        }
    }
}

/// xorshift64*: tiny, fast, and stable across platforms and crate versions.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() >> 32) * n) >> 32
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
    /// Skewed pick: earlier entries are much more likely (roughly Zipf-like).
    fn pick_skewed<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        let a = self.below(xs.len() as u64);
        let b = self.below(a + 1);
        xs[b as usize]
    }
}

const SERVICES: &[&str] = &[
    "checkout",
    "payments",
    "auth",
    "search",
    "catalog",
    "inventory",
    "shipping",
    "users",
    "notifications",
    "gateway",
    "recommendations",
    "cart",
    "pricing",
    "reviews",
    "orders",
    "billing",
    "fraud",
    "email",
    "media",
    "analytics",
];
const LEVELS: &[(&str, u64)] = &[("INFO", 80), ("WARN", 12), ("ERROR", 5), ("DEBUG", 3)];
const PATHS: &[&str] = &[
    "/api/v1/cart",
    "/api/v1/checkout",
    "/api/v1/products",
    "/api/v1/users/me",
    "/api/v1/search",
    "/api/v1/orders",
    "/api/v2/payments",
    "/health",
    "/api/v1/login",
    "/api/v1/recommendations",
    "/static/app.js",
    "/static/app.css",
    "/api/v1/inventory",
    "/api/v1/reviews",
    "/favicon.ico",
];
const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "GET", "PUT", "DELETE", "GET"];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "curl/8.5.0",
    "Go-http-client/1.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "kube-probe/1.30",
];

/// Appends epoch milliseconds as ISO-8601 UTC with milliseconds (`2023-11-14T22:13:20.123Z`).
pub fn iso8601(ms: i64, out: &mut String) {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    );
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// JSON application logs: one object per line with timestamp, level, service, host, trace
/// id shared by the few lines of one request, and a templated message.
pub struct AppLogs {
    rng: Rng,
    now: i64,
    trace: u64,
    trace_left: u32,
    service: &'static str,
    host: String,
}

impl AppLogs {
    pub fn new(seed: u64, start_ms: i64) -> Self {
        AppLogs {
            rng: Rng::new(seed),
            now: start_ms,
            trace: 0,
            trace_left: 0,
            service: SERVICES[0],
            host: String::new(),
        }
    }
}

impl Iterator for AppLogs {
    type Item = GenEvent;
    fn next(&mut self) -> Option<GenEvent> {
        let r = &mut self.rng;
        self.now += r.below(4) as i64;
        if self.trace_left == 0 {
            self.trace = r.next_u64();
            self.trace_left = 2 + r.below(5) as u32;
            self.service = r.pick_skewed(SERVICES);
            self.host = format!("{}-{}", self.service, r.below(8));
        }
        self.trace_left -= 1;
        let mut roll = r.below(100);
        let mut level = "INFO";
        for (l, p) in LEVELS {
            if roll < *p {
                level = l;
                break;
            }
            roll -= p;
        }
        let latency = match level {
            "ERROR" => 500 + r.below(4500),
            _ => 1 + r.below(40) * r.below(12),
        };
        let user = 1000 + r.below(5000);
        let path = r.pick_skewed(PATHS);
        let status = match level {
            "ERROR" => *["500", "502", "503", "504"]
                .get(r.below(4) as usize)
                .unwrap_or(&"500"),
            "WARN" => *["404", "429", "401", "409"]
                .get(r.below(4) as usize)
                .unwrap_or(&"404"),
            _ => "200",
        };
        let message = match (level, r.below(6)) {
            ("ERROR", 0) => format!("timeout calling {} after {latency}ms", r.pick(SERVICES)),
            ("ERROR", 1) => format!(
                "database query failed: connection reset by peer (pool={})",
                r.below(16)
            ),
            ("ERROR", _) => format!("upstream {} returned {status} for {path}", r.pick(SERVICES)),
            ("WARN", 0) => format!("slow request {path} took {latency}ms"),
            ("WARN", 1) => format!(
                "retrying request to {} (attempt {})",
                r.pick(SERVICES),
                1 + r.below(3)
            ),
            ("WARN", _) => format!("rate limit close for user {user}"),
            ("DEBUG", _) => format!(
                "cache {} for key user:{user}:{}",
                if r.below(2) == 0 { "hit" } else { "miss" },
                r.pick(&["profile", "cart", "prefs"])
            ),
            (_, 0) => format!("handled {} {path} in {latency}ms", r.pick(METHODS)),
            (_, 1) => format!(
                "user {user} logged in from 10.{}.{}.{}",
                r.below(4),
                r.below(256),
                r.below(256)
            ),
            (_, 2) => format!(
                "order {} created for user {user} total={}.{:02}",
                100_000 + r.below(900_000),
                r.below(500),
                r.below(100)
            ),
            (_, 3) => format!(
                "cache refresh completed entries={} duration={latency}ms",
                r.below(10_000)
            ),
            _ => format!(
                "request completed status={status} bytes={}",
                r.below(20_000)
            ),
        };
        let mut ts = String::with_capacity(24);
        iso8601(self.now, &mut ts);
        let trace = format!("{:016x}", self.trace);
        let mut raw = String::with_capacity(256);
        let _ = write!(
            raw,
            r#"{{"@timestamp":"{ts}","level":"{level}","service":"{}","host":"{}","trace_id":"{trace}","user_id":{user},"path":"{path}","status":{status},"latency_ms":{latency},"message":"{message}"}}"#,
            self.service, self.host
        );
        let mut fields = BTreeMap::new();
        fields.insert("level".into(), level.into());
        fields.insert("service".into(), self.service.into());
        fields.insert("host".into(), self.host.clone());
        fields.insert("trace_id".into(), trace);
        fields.insert("user_id".into(), user.to_string());
        fields.insert("path".into(), path.into());
        fields.insert("status".into(), status.into());
        fields.insert("latency_ms".into(), latency.to_string());
        fields.insert("message".into(), message);
        Some(GenEvent {
            timestamp: self.now,
            raw,
            fields,
        })
    }
}

/// Apache/nginx combined-format access logs.
pub struct AccessLogs {
    rng: Rng,
    now: i64,
}

impl AccessLogs {
    pub fn new(seed: u64, start_ms: i64) -> Self {
        AccessLogs {
            rng: Rng::new(seed),
            now: start_ms,
        }
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl Iterator for AccessLogs {
    type Item = GenEvent;
    fn next(&mut self) -> Option<GenEvent> {
        let r = &mut self.rng;
        self.now += r.below(3) as i64 * 1000 / 2;
        let ip = format!(
            "{}.{}.{}.{}",
            10 + r.below(3),
            r.below(256),
            r.below(256),
            1 + r.below(254)
        );
        let method = r.pick(METHODS);
        let path = r.pick_skewed(PATHS);
        let status = *["200", "200", "200", "200", "304", "404", "500", "301"]
            .get(r.below(8) as usize)
            .unwrap_or(&"200");
        let size = r.below(50_000);
        let agent = r.pick_skewed(AGENTS);
        let secs = self.now.div_euclid(1000);
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        let raw = format!(
            "{ip} - - [{d:02}/{}/{y}:{:02}:{:02}:{:02} +0000] \"{method} {path} HTTP/1.1\" {status} {size} \"-\" \"{agent}\"",
            MONTHS[(m - 1) as usize],
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        );
        let mut fields = BTreeMap::new();
        fields.insert("client".into(), ip);
        fields.insert("method".into(), method.into());
        fields.insert("url".into(), path.into());
        fields.insert("statuscode".into(), status.into());
        fields.insert("responsesize".into(), size.to_string());
        fields.insert("useragent".into(), agent.into());
        Some(GenEvent {
            timestamp: self.now,
            raw,
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_dated_correctly() {
        let a: Vec<_> = AppLogs::new(7, 1_700_000_000_000)
            .take(50)
            .map(|e| e.raw)
            .collect();
        let b: Vec<_> = AppLogs::new(7, 1_700_000_000_000)
            .take(50)
            .map(|e| e.raw)
            .collect();
        assert_eq!(a, b);
        assert!(
            a[0].starts_with(r#"{"@timestamp":"2023-11-14T22:13:20"#),
            "{}",
            a[0]
        );
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        let acc = AccessLogs::new(1, 1_700_000_000_000).next().unwrap();
        assert!(
            acc.raw.contains("[14/Nov/2023:22:13:20 +0000]"),
            "{}",
            acc.raw
        );
    }
}
