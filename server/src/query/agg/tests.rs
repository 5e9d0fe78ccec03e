//! Aggregate tests across feeding, merging and finishing: merged partial states must equal one
//! state, and states must survive the serialization that carries them between nodes (every
//! aggregate, split into several parts that cross the wire as bincode and merge).

use super::*;

fn row(pairs: &[(&str, &str)], ts: i64) -> Row {
    let mut r = Row::default();
    r.key.0 = ts;
    for (k, v) in pairs {
        r.set(k, v.to_string());
    }
    r
}

#[test]
fn merged_states_equal_one_state() {
    let agg = Agg::GroupBy {
        fields: vec!["h".into()],
        functions: vec![
            Agg::Count {
                field: None,
                distinct: false,
                as_: "_count".into(),
            },
            Agg::Stat {
                kind: StatKind::Avg,
                field: "x".into(),
                as_: "_avg".into(),
            },
        ],
        limit: 100,
    };
    let rows: Vec<Row> = (0..100)
        .map(|i| row(&[("h", &format!("h{}", i % 7)), ("x", &i.to_string())], i))
        .collect();
    let mut one = agg.new_state();
    for r in &rows {
        agg.add(&mut one, r);
    }
    let (mut a, mut b) = (agg.new_state(), agg.new_state());
    for (i, r) in rows.iter().enumerate() {
        agg.add(if i % 3 == 0 { &mut a } else { &mut b }, r);
    }
    agg.merge(&mut a, b);
    assert_eq!(agg.finish(one), agg.finish(a));
}

#[test]
fn states_survive_serialization_and_still_merge() {
    let agg = Agg::Series {
        span: 10,
        series: Some("h".into()),
        fields: vec!["h".into()],
        functions: vec![Agg::Percentile {
            field: "x".into(),
            percentiles: vec![50.0],
            prefix: String::new(),
            accuracy: 0.01,
        }],
        limit: 10,
        limit_explicit: false,
        start: 0,
        end: 100,
        bucket_ms: 10,
        zone: crate::query::Zone::UTC,
        unit: None,
    };
    let rows: Vec<Row> = (0..50)
        .map(|i| row(&[("h", &format!("h{}", i % 3)), ("x", &i.to_string())], i))
        .collect();
    let (mut a, mut b, mut one) = (agg.new_state(), agg.new_state(), agg.new_state());
    for (i, r) in rows.iter().enumerate() {
        agg.add(if i % 2 == 0 { &mut a } else { &mut b }, r);
        agg.add(&mut one, r);
    }
    let wire = serde_json::to_vec(&b).unwrap();
    let b2: State = serde_json::from_slice(&wire).unwrap();
    assert_eq!(b, b2);
    agg.merge(&mut a, b2);
    assert_eq!(agg.finish(a), agg.finish(one));
}

#[test]
fn tail_keeps_the_newest() {
    let agg = Agg::Rows {
        order: RowOrder::Newest,
        limit: 3,
        select: None,
    };
    let mut st = agg.new_state();
    for i in 0..1000 {
        agg.add_row(&mut st, row(&[], (i * 7919) % 1000));
    }
    let out: Vec<i64> = agg.finish(st).iter().map(|r| r.key.0).collect();
    assert_eq!(out, vec![999, 998, 997]);
}

/// Sends a state the way the cluster does (bincode, as in `search/peers.rs`).
fn over_the_wire(st: &State) -> State {
    let bytes = bincode::serde::encode_to_vec(st, bincode::config::standard()).unwrap();
    bincode::serde::decode_from_slice(&bytes, bincode::config::standard())
        .unwrap()
        .0
}

/// Feeds `rows` into one state, and into `parts` states (rows dealt round-robin, as blocks and
/// nodes split them) that cross the wire and merge; both must finish the same.
fn assert_merges(agg: &Agg, rows: &[Row], parts: usize) -> Vec<Row> {
    let mut one = agg.new_state();
    for r in rows {
        agg.add_row(&mut one, r.clone());
    }
    let mut states: Vec<State> = (0..parts).map(|_| agg.new_state()).collect();
    for (i, r) in rows.iter().enumerate() {
        agg.add_row(&mut states[(i * 7 + i / 3) % parts], r.clone());
    }
    let mut merged = agg.new_state();
    for s in states.iter().rev() {
        agg.merge(&mut merged, over_the_wire(s));
    }
    let expected = agg.finish(one);
    assert_eq!(agg.finish(merged), expected, "{agg:?}");
    expected
}

fn count() -> Agg {
    Agg::Count {
        field: None,
        distinct: false,
        as_: "_count".into(),
    }
}

fn events(n: i64) -> Vec<Row> {
    (0..n)
        .map(|i| {
            row(
                &[
                    ("h", &format!("h{}", i % 5)),
                    ("x", &((i * 7919) % 1000).to_string()),
                    ("v", &format!("v{i}")),
                ],
                1_000 * i,
            )
        })
        .collect()
}

#[test]
fn every_new_aggregate_merges_across_parts() {
    let rows = events(500);
    let aggs = vec![
        Agg::Top {
            fields: vec!["h".into()],
            limit: 2,
            weight: TopWeight::Max("x".into()),
            as_: "_max".into(),
            percent: false,
            rest: Some("others".into()),
        },
        Agg::SelectLast {
            fields: vec!["x".into(), "v".into()],
        },
        Agg::SelectExtreme {
            field: "x".into(),
            include: vec!["v".into()],
            max: true,
        },
        Agg::Session {
            maxpause: 4_000,
            functions: vec![count()],
        },
        Agg::GroupBy {
            fields: vec!["h".into()],
            functions: vec![
                Agg::Rows {
                    order: RowOrder::Newest,
                    limit: 2,
                    select: None,
                },
                count(),
            ],
            limit: 100,
        },
        Agg::GroupBy {
            fields: vec!["h".into()],
            functions: vec![Agg::Session {
                maxpause: 5_000,
                functions: vec![count()],
            }],
            limit: 100,
        },
        Agg::Series {
            span: 3_600_000,
            series: Some("h".into()),
            fields: vec!["h".into()],
            functions: vec![
                count(),
                Agg::Stat {
                    kind: StatKind::Range,
                    field: "x".into(),
                    as_: "_range".into(),
                },
            ],
            limit: 3,
            limit_explicit: false,
            start: 0,
            end: 500_000,
            bucket_ms: 86_400_000,
            zone: crate::query::Zone::parse("+02:00").unwrap(),
            unit: None,
        },
        Agg::Series {
            span: 100_000,
            series: Some("h".into()),
            fields: vec!["h".into()],
            functions: vec![Agg::Window {
                buckets: Some(2),
                span: None,
                functions: vec![count()],
            }],
            limit: 3,
            limit_explicit: false,
            start: 0,
            end: 500_000,
            bucket_ms: 100_000,
            zone: crate::query::Zone::UTC,
            unit: None,
        },
    ];
    for agg in &aggs {
        for parts in [2, 3, 7] {
            assert_merges(agg, &rows, parts);
        }
    }
}

#[test]
fn sessions_split_across_parts_come_back_whole() {
    // Events 1 s apart with maxpause 1.5 s: one session, however the events are dealt.
    let agg = Agg::Session {
        maxpause: 1_500,
        functions: vec![count()],
    };
    let out = assert_merges(&agg, &events(100), 5);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].get_str("_count"), Some("100"));
}

#[test]
fn distinct_count_past_the_exact_cap_is_a_close_estimate() {
    let agg = Agg::Count {
        field: Some("v".into()),
        distinct: true,
        as_: "_count".into(),
    };
    let n = 60_000;
    let out = assert_merges(&agg, &events(n), 4);
    let est: f64 = out[0].get_str("_count").unwrap().parse().unwrap();
    let err = (est - n as f64).abs() / n as f64;
    // The hash is fixed, so this is deterministic; 4 standard errors of HyperLogLog-14.
    assert!(err < 4.0 * HLL_STD_ERROR, "estimate {est} for {n}");
    let mut warnings = Vec::new();
    let mut st = agg.new_state();
    for r in events(n) {
        agg.add(&mut st, &r);
    }
    agg.warnings(&st, &mut warnings);
    assert!(warnings[0].contains("HyperLogLog"), "{warnings:?}");
}

#[test]
fn exact_distinct_count_below_the_cap() {
    let agg = Agg::Count {
        field: Some("v".into()),
        distinct: true,
        as_: "_count".into(),
    };
    let out = assert_merges(&agg, &events(EXACT_DISTINCT as i64), 3);
    assert_eq!(out[0].get_str("_count"), Some("10000"));
}

#[test]
fn percentiles_past_the_exact_cap_stay_within_accuracy() {
    let rows: Vec<Row> = (1..=50_000)
        .map(|i| row(&[("x", &i.to_string())], i))
        .collect();
    for accuracy in [0.01, 0.05] {
        let agg = Agg::Percentile {
            field: "x".into(),
            percentiles: vec![50.0, 99.0],
            prefix: String::new(),
            accuracy,
        };
        let out = assert_merges(&agg, &rows, 3);
        for (p, truth) in [("_50", 25_000.0), ("_99", 49_500.0)] {
            let got: f64 = out[0].get_str(p).unwrap().parse().unwrap();
            assert!(
                (got - truth).abs() / truth <= accuracy + 1e-4,
                "{p} = {got} at accuracy {accuracy}"
            );
        }
    }
}

#[test]
fn sketch_handles_negative_and_zero_values() {
    let mut s = Sketch::default();
    for x in [-100.0, -1.0, 0.0, 0.0, 1.0, 100.0] {
        s.add(x, 0.01);
    }
    assert_eq!(s.len(), 6);
    let lo = s.quantile(0.0, 0.01).unwrap();
    assert!((lo + 100.0).abs() <= 1.0, "{lo}");
    assert_eq!(s.quantile(50.0, 0.01), Some(0.0));
    let hi = s.quantile(100.0, 0.01).unwrap();
    assert!((hi - 100.0).abs() <= 1.0, "{hi}");
}

#[test]
fn unit_conversions() {
    let u = Unit::parse("bytes/span to Mi bytes/day").unwrap();
    assert_eq!(u.factor(86_400_000), 1.0 / 1_048_576.0);
    assert_eq!(u.factor(3_600_000), 24.0 / 1_048_576.0);
    let u = Unit::parse("bytes/sec to KiB/hour").unwrap_err();
    assert!(u.contains("different units"), "{u}");
    let u = Unit::parse("bytes/sec to Kibytes/hour").unwrap();
    assert_eq!(u.factor(1), 3600.0 / 1024.0);
    let u = Unit::parse("Kibytes to bytes").unwrap();
    assert_eq!(u.factor(60_000), 1024.0);
    assert!(Unit::parse("bytes/span to bytes").is_err());
    assert!(Unit::parse("bytes/fortnight to bytes/day").is_err());
    assert!(Unit::parse("bytes").is_err());
}

#[test]
fn stats_outputs_combine_as_a_cartesian_product() {
    let agg = Agg::Stats(vec![
        count(),
        Agg::Collect {
            fields: vec!["h".into()],
            limit: 10,
            separator: "\n".into(),
            multival: false,
        },
    ]);
    let out = assert_merges(&agg, &events(20), 2);
    assert_eq!(out.len(), 5);
    assert!(out.iter().all(|r| r.get_str("_count") == Some("20")));
}

#[test]
fn geohash_matches_logscales_example() {
    // https://library.humio.com/data-analysis/functions-geohash.html: Greenwich.
    let mut buf = String::new();
    assert!(super::add::geohash(51.477928, 0.0, 12, &mut buf));
    assert_eq!(buf, "gcpuzgrbxvrc");
    assert!(super::add::geohash(51.507222, -0.1275, 4, &mut buf));
    assert_eq!(buf, "gcpv");
    assert!(!super::add::geohash(91.0, 0.0, 4, &mut buf));
}

#[test]
fn timechart_days_in_an_iana_zone_span_dst() {
    use crate::query::{compile, parse, PlanOptions, Zone};
    // 2026-03-27T23:00Z (local midnight in Copenhagen, CET) to 2026-03-31T22:00Z: the day of
    // 2026-03-29 is 23 hours long.
    let (start, end) = (1_774_652_400_000, 1_774_994_400_000);
    let q = parse("timeChart(span=1d, timezone=\"Europe/Copenhagen\")").unwrap();
    let plan = compile(
        &q,
        PlanOptions {
            start,
            end,
            default_limit: 200,
            zone: Zone::UTC,
        },
    )
    .unwrap();
    let mut st = plan.agg.new_state();
    // One event an hour: 24, 23, 24, 24 in the local days.
    for i in 0..(end - start) / 3_600_000 {
        plan.feed_row(&mut st, row(&[], start + i * 3_600_000));
    }
    let out = plan.finish(st).rows;
    let got: Vec<(String, String)> = out
        .iter()
        .map(|r| {
            (
                r.get_str("_bucket").unwrap_or_default().to_string(),
                r.get_str("_count").unwrap_or_default().to_string(),
            )
        })
        .collect();
    let h = 3_600_000i64;
    let want: Vec<(String, String)> = [
        (start, 24),
        (start + 24 * h, 23),
        (start + 47 * h, 24),
        (start + 71 * h, 24),
    ]
    .iter()
    .map(|(b, n)| (b.to_string(), n.to_string()))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn fieldstats_merges_across_parts_and_estimates_past_the_exact_cap() {
    let agg = Agg::FieldStats { limit: 10 };
    let rows: Vec<Row> = (0..3000)
        .map(|i| {
            let mut pairs = vec![("#type", "t".to_string()), ("id", i.to_string())];
            if i % 3 == 0 {
                pairs.push(("h", format!("h{}", i % 7)));
            }
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            row(&pairs, i)
        })
        .collect();
    let out = assert_merges(&agg, &rows, 4);
    let get = |f: &str| {
        out.iter().find(|r| r.get_str("field") == Some(f)).map(|r| {
            (
                r.get_str("_count").unwrap_or_default().to_string(),
                r.get_str("distinct").unwrap_or_default().to_string(),
            )
        })
    };
    assert_eq!(get("h"), Some(("1000".into(), "7".into())));
    let (n, d) = get("id").unwrap_or_default();
    assert_eq!(n, "3000");
    // Past 1,000 values the distinct count is a HyperLogLog estimate.
    let d: f64 = d.parse().unwrap_or(0.0);
    assert!((d - 3000.0).abs() < 3000.0 * 0.05, "{d}");
    assert_eq!(out[0].get_str("#type"), Some("t"));
}
