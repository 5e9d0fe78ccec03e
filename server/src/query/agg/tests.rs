//! Aggregate tests across feeding, merging and finishing: merged partial states must equal one
//! state, and states must survive the serialization that carries them between nodes.

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
        offset_ms: 0,
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
