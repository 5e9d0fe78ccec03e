//! Fuzzing the query language: arbitrary text and grammar-shaped token soup must always give
//! a plan or an error with a position inside the query, never a panic; every plan that
//! compiles must also run over a few events without panicking.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use strata::query::{compile, parse, PlanOptions};
use strata::search::{execute, Progress, SearchRange, WipSnapshot};
use strata_segment::{Event, EventId};

const TOKENS: &[&str] = &[
    "a",
    "b",
    "level",
    "host",
    "x",
    "@rawstring",
    "#type",
    "@timestamp",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    ":=",
    "=>",
    "*",
    "web-*",
    "\"q s\"",
    "\"",
    "/re/",
    "/(?<g>\\w+)/i",
    "/",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    "|",
    "and",
    "or",
    "not",
    "!",
    "case",
    "match",
    "count(",
    "groupBy(",
    "timeChart(",
    "head(",
    "tail(",
    "sort(",
    "table(",
    "eval(",
    "test(",
    "in(",
    "regex(",
    "format(",
    "percentile(",
    "stats(",
    "top(",
    "bucket(",
    "collect(",
    "rename(",
    "if(",
    "splitString(",
    "formatTime(",
    "parseTimestamp(",
    "function=",
    "field=",
    "limit=",
    "span=",
    "as=",
    "values=",
    "1",
    "0",
    "-3.5",
    "1e3",
    "?p",
    "//c\n",
    "/*c*/",
    "+",
    "-",
    "%",
    "==",
    "ü",
    "\\",
    "max",
    "200",
    "1h",
    "true",
    "=~",
    "<=>",
    "?{p=1}",
    "?{p}",
    "?{",
    "split(",
    "math:abs(",
    "math:pow(",
    "exponent=",
    "time:hour(",
    "time:dayOfWeekName(",
    "timezone=",
    "\"Europe/Berlin\"",
    "\"+02:00\"",
    "array:contains(",
    "array:filter(",
    "array:length(",
    "\"r[]\"",
    "text:contains(",
    "wildcard(",
    "cidr(",
    "subnet=",
    "\"10.0.0.0/8\"",
    "coalesce(",
    "crypto:md5(",
    "hash(",
    "parseCsv(",
    "parseUrl(",
    "parseInt(",
    "formatDuration(",
    "duration(",
    "kvParse(",
    "parseJson(",
    "repeat=true",
    "/d/dgimF",
    "/\\d\\w[\\s\\D]/",
];

fn events() -> Vec<WipSnapshot> {
    let mut evs = Vec::new();
    for i in 0..20u64 {
        let mut fields = BTreeMap::new();
        fields.insert(
            "level".to_string(),
            ["INFO", "ERROR"][i as usize % 2].to_string(),
        );
        fields.insert(
            "x".to_string(),
            if i % 5 == 0 {
                "n/a".into()
            } else {
                i.to_string()
            },
        );
        if i % 3 == 0 {
            fields.insert("host".to_string(), format!("web-{i}"));
        }
        if i % 4 == 0 {
            // An array, for split() and array:* functions.
            fields.insert("r[0]".to_string(), format!("10.0.0.{i}"));
            fields.insert("r[1]".to_string(), "x".to_string());
        }
        evs.push(Event {
            timestamp: 1_000_000 + i as i64 * 60_000,
            timestamp_nanos: 0,
            ingest_timestamp: 1_000_000,
            id: EventId {
                partition: 0,
                offset: i,
                index: 0,
            },
            raw: format!("event {i} level={} ü", fields["level"]),
            fields,
        });
    }
    let tags: BTreeMap<String, String> = [("type".to_string(), "t".to_string())].into();
    vec![(Arc::new(tags), vec![Arc::new(evs)])]
}

fn check(q: &str) {
    match parse(q) {
        Err(e) => assert!(
            e.position <= q.len(),
            "error position {} beyond {q:?}",
            e.position
        ),
        Ok(ast) => {
            let opts = PlanOptions {
                start: 0,
                end: 3_600_000,
                default_limit: 200,
                zone: strata::query::Zone::UTC,
            };
            match compile(&ast, opts) {
                Err(e) => assert!(e.position <= q.len(), "{e} for {q:?}"),
                Ok(plan) => {
                    let range = SearchRange {
                        start: 0,
                        end: 3_600_000,
                    };
                    let _ = execute(
                        &plan,
                        "r",
                        range,
                        &Progress::default(),
                        &events(),
                        &[],
                        1,
                        None,
                    );
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(q in "\\PC{0,60}") {
        check(&q);
    }

    #[test]
    fn relative_times_and_zones_never_panic(s in "\\PC{0,24}", now in any::<i64>()) {
        let z = strata::query::Zone::parse(&s).unwrap_or_default();
        let _ = strata::query::reltime::relative(&s, now, &z);
        let _ = strata::query::reltime::relative(&format!("{}@w", s.len()), now, &z);
    }

    #[test]
    fn token_soup_never_panics(toks in prop::collection::vec(prop::sample::select(TOKENS), 0..24)) {
        check(&toks.join(" "));
        check(&toks.concat());
    }
}

#[test]
fn pathological_inputs() {
    for q in [
        "(".repeat(100_000),
        "not ".repeat(100_000),
        "a | ".repeat(10_000) + "a",
        "x := ".to_string() + &"-".repeat(100_000) + "1",
        "[".repeat(1000),
        "count(".repeat(1000),
        "\"".repeat(3),
        "/".repeat(5),
        "x =~ ".repeat(1000),
        "?{".repeat(1000),
        "a <=> ".repeat(1000) + "b",
        "split(r) | ".repeat(50) + "count()",
        "regex(\"(?<c>.)\", repeat=true) | ".repeat(3) + "count()",
    ] {
        check(&q);
    }
}
