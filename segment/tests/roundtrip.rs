//! Write → read round trips, merge semantics, and the guarantee that damaged files are
//! reported as corruption (never a panic, never silently wrong events).

use std::collections::BTreeMap;

use proptest::prelude::*;
use strata_segment::*;

fn ds() -> Datasource {
    Datasource {
        repo: "web".into(),
        tags: BTreeMap::from([("host".into(), "a".into())]),
    }
}

fn write(
    dir: &std::path::Path,
    name: &str,
    mut events: Vec<Event>,
    opts: WriterOptions,
) -> SegmentReader {
    events.sort_by_key(Event::sort_key);
    let path = dir.join(name);
    let mut w = SegmentWriter::create(&path, ds(), opts).unwrap();
    for e in events {
        w.push(e).unwrap();
    }
    let s = w.finish().unwrap();
    assert!(!dir.join(format!("{name}.partial")).exists());
    assert_eq!(s.file_bytes, std::fs::metadata(&path).unwrap().len());
    SegmentReader::open(&path).unwrap()
}

fn arb_event() -> impl Strategy<Value = Event> {
    (
        -5_000i64..5_000,
        0u32..1_000_000,
        any::<i64>(),
        (0u32..4, 0u64..1_000_000, 0u32..10),
        ".{0,80}",
        prop::collection::btree_map("[a-z_]{1,6}", ".{0,12}", 0..4),
    )
        .prop_map(
            |(ts, nanos, ingest, (partition, offset, index), raw, fields)| Event {
                timestamp: 1_700_000_000_000 + ts,
                timestamp_nanos: nanos,
                ingest_timestamp: ingest,
                id: EventId {
                    partition,
                    offset,
                    index,
                },
                raw,
                fields,
            },
        )
}

fn small_blocks(codec: Codec) -> WriterOptions {
    WriterOptions {
        codec,
        block_bytes: 700,
        max_block_events: 7,
        build_filters: true,
        composite_fields: true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn write_read_round_trips(events in prop::collection::vec(arb_event(), 1..120), zstd in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let codec = if zstd { Codec::Zstd { level: 3 } } else { Codec::Lz4 };
        let r = write(dir.path(), "s", events.clone(), small_blocks(codec));
        let mut expected = events;
        expected.sort_by_key(Event::sort_key);
        let got: Vec<Event> = r.events().collect::<Result<_>>().unwrap();
        prop_assert_eq!(&got, &expected);
        let mut rev: Vec<Event> = r.events_rev().collect::<Result<_>>().unwrap();
        rev.reverse();
        prop_assert_eq!(&rev, &expected);
        prop_assert_eq!(r.meta().event_count, expected.len() as u64);
        prop_assert_eq!(r.meta().min_ts, expected[0].timestamp);
        prop_assert_eq!(r.meta().max_ts, expected[expected.len() - 1].timestamp);
    }

    /// Raw strings stored as templates over the field values they contain must read back
    /// exactly: empty values, absent fields, values not found, values inside other values or
    /// found twice, NUL bytes (the template escape) in raw strings and values, non-ASCII text.
    #[test]
    fn raw_templates_over_field_values_round_trip(
        rows in prop::collection::vec((prop::collection::btree_map("[a-c]", "[a-zé0-9\\x00]{0,10}", 0..4), 0u8..3, "[ a\\x00=]{0,3}"), 8..60),
        merged in any::<bool>(),
    ) {
        let events: Vec<Event> = rows.iter().enumerate().map(|(i, (fields, shape, sep))| {
            let raw = match shape {
                0 => fields.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(sep),
                // Values back to back, so spans touch and overlap.
                1 => fields.values().map(String::as_str).collect::<Vec<_>>().concat() + sep,
                _ => format!("row {i}{sep}"),
            };
            Event { timestamp: i as i64, raw, fields: fields.clone(), id: EventId { partition: 0, offset: i as u64, index: 0 }, ..Default::default() }
        }).collect();
        let dir = tempfile::tempdir().unwrap();
        let opts = if merged { small_blocks(Codec::Zstd { level: 3 }) } else { WriterOptions::mini() };
        let r = write(dir.path(), "s", events.clone(), opts);
        let got: Vec<Event> = r.events().collect::<Result<_>>().unwrap();
        prop_assert_eq!(&got, &events);
        for b in 0..r.blocks().len() {
            let block = r.read_block(b).unwrap();
            // The filter never rules a block out for a field value one of its events has,
            // whether the block covers the field (tested by the value's tokens) or not.
            for row in 0..block.len() {
                for (k, v) in &block.event(row).fields {
                    let mut q = FilterQuery::default();
                    q.add_field(k, v);
                    prop_assert!(q.may_match(&r.blocks()[b].filter), "{}={:?} ruled out", k, v);
                }
            }
            let raw = r.raw_column(b).unwrap();
            prop_assert_eq!(&block.raw.data, &raw.data);
            for (name, col) in &block.fields {
                let alone = r.field_column(b, name).unwrap().unwrap();
                prop_assert_eq!(&col.data, &alone.data);
                prop_assert_eq!(&col.offsets, &alone.offsets);
            }
        }
    }

    /// A substring search over templated raw strings that rebuilds only the rows that may
    /// match finds exactly the rows a scan of the whole rebuilt column finds: needles inside
    /// literals, inside values, straddling both, inside the ISO timestamp, across NUL bytes.
    #[test]
    fn templated_substring_search_agrees_with_the_rebuilt_column(
        rows in prop::collection::vec((prop::collection::btree_map("[a-c]", "[a-cA-C0-9\\x00]{0,6}", 0..4), 0u8..4, "[ a=\\x00]{0,3}"), 8..60),
        needles in prop::collection::vec("[a-cA-C0-9=. :TZ\\x00-]{1,5}", 1..6),
        merged in any::<bool>(),
    ) {
        let events: Vec<Event> = rows.iter().enumerate().map(|(i, (fields, shape, sep))| {
            let raw = match shape {
                0 => fields.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(sep),
                1 => fields.values().map(String::as_str).collect::<Vec<_>>().concat() + sep,
                2 => format!("1970-01-01T00:00:00.{i:03}Z{sep}{}", fields.values().map(String::as_str).collect::<Vec<_>>().join(" ")),
                _ => format!("row {i}{sep}"),
            };
            Event { timestamp: i as i64, raw, fields: fields.clone(), id: EventId { partition: 0, offset: i as u64, index: 0 }, ..Default::default() }
        }).collect();
        let dir = tempfile::tempdir().unwrap();
        let opts = if merged { small_blocks(Codec::Zstd { level: 3 }) } else { WriterOptions::mini() };
        let r = write(dir.path(), "s", events, opts);
        // Needles cut out of the raw strings too, so most of them do occur.
        let mut all = needles.clone();
        for b in 0..r.blocks().len() {
            let raw = r.raw_column(b).unwrap();
            for row in (0..raw.len()).step_by(7) {
                let t = raw.get(row).unwrap_or("").as_bytes();
                if t.len() >= 6 {
                    all.push(String::from_utf8_lossy(&t[t.len() / 3..t.len() / 3 + 3]).into_owned());
                }
            }
        }
        for b in 0..r.blocks().len() {
            let raw = r.raw_column(b).unwrap();
            for n in &all {
                let mut expected = Vec::new();
                scan::SubstringMatcher::new(n, true).matching_rows(&raw, &mut expected);
                if let Some(got) = r.raw_rows_containing(b, n).unwrap() {
                    prop_assert_eq!(&got, &expected, "needle {:?} in block {}", n, b);
                }
            }
        }
    }

    #[test]
    fn merge_holds_exactly_both_inputs_in_order(
        a in prop::collection::vec(arb_event(), 1..60),
        b in prop::collection::vec(arb_event(), 1..60),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let ra = write(dir.path(), "a", a.clone(), small_blocks(Codec::Lz4));
        let rb = write(dir.path(), "b", b.clone(), small_blocks(Codec::Lz4));
        merge_segments(&[&ra, &rb], dir.path().join("m"), small_blocks(Codec::Zstd { level: 3 })).unwrap();
        let m = SegmentReader::open(dir.path().join("m")).unwrap();
        let got: Vec<Event> = m.events().collect::<Result<_>>().unwrap();
        let mut expected: Vec<Event> = a.into_iter().chain(b).collect();
        expected.sort_by_key(Event::sort_key);
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn substring_scan_agrees_with_naive_search(
        raws in prop::collection::vec("[a-cA-C -]{0,30}", 1..40),
        needle in "[a-cA-C -]{1,4}",
        ci in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let events: Vec<Event> = raws.iter().enumerate().map(|(i, r)| Event {
            timestamp: i as i64, raw: r.clone(), id: EventId { partition: 0, offset: i as u64, index: 0 }, ..Default::default()
        }).collect();
        let r = write(dir.path(), "s", events, WriterOptions { build_filters: true, ..WriterOptions::mini() });
        let col = r.raw_column(0).unwrap();
        let mut rows = Vec::new();
        scan::SubstringMatcher::new(&needle, ci).matching_rows(&col, &mut rows);
        let expected: Vec<u32> = raws.iter().enumerate().filter(|(_, r)| if ci {
            r.to_ascii_lowercase().contains(&needle.to_ascii_lowercase())
        } else { r.contains(needle.as_str()) }).map(|(i, _)| i as u32).collect();
        prop_assert_eq!(rows, expected.clone());
        // The block filter must never rule out a block that matches.
        if !expected.is_empty() {
            prop_assert!(FilterQuery::for_substring(&needle).may_match(&r.blocks()[0].filter));
        }
    }
}

#[test]
fn out_of_order_push_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = SegmentWriter::create(dir.path().join("s"), ds(), WriterOptions::mini()).unwrap();
    w.push(Event {
        timestamp: 10,
        ..Default::default()
    })
    .unwrap();
    let err = w
        .push(Event {
            timestamp: 5,
            ..Default::default()
        })
        .unwrap_err();
    assert!(err.to_string().contains("time order"), "{err}");
}

#[test]
fn merge_refuses_mixed_datasources() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a",
        vec![Event::default()],
        WriterOptions::mini(),
    );
    let mut w = SegmentWriter::create(
        dir.path().join("b"),
        Datasource {
            repo: "other".into(),
            ..Default::default()
        },
        WriterOptions::mini(),
    )
    .unwrap();
    w.push(Event::default()).unwrap();
    w.finish().unwrap();
    let b = SegmentReader::open(dir.path().join("b")).unwrap();
    let err = merge_segments(&[&a, &b], dir.path().join("m"), WriterOptions::merged())
        .err()
        .unwrap();
    assert!(err.to_string().contains("different datasources"), "{err}");
}

fn sample_events(n: usize) -> Vec<Event> {
    datagen::AppLogs::new(3, 1_700_000_000_000)
        .take(n)
        .enumerate()
        .map(|(i, g)| Event {
            timestamp: g.timestamp,
            timestamp_nanos: 0,
            ingest_timestamp: g.timestamp + 5,
            id: EventId {
                partition: 1,
                offset: i as u64,
                index: 0,
            },
            raw: g.raw,
            fields: g.fields,
        })
        .collect()
}

/// Every single-byte corruption and every truncation of a segment is either detected as
/// corruption or (for bytes the reader never interprets) leaves the events unchanged.
#[test]
fn every_flipped_byte_is_detected_or_harmless() {
    let dir = tempfile::tempdir().unwrap();
    let events = sample_events(40);
    let r = write(dir.path(), "s", events.clone(), small_blocks(Codec::Lz4));
    let good: Vec<Event> = r.events().collect::<Result<_>>().unwrap();
    let bytes = std::fs::read(dir.path().join("s")).unwrap();
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x5a;
        match SegmentReader::from_bytes("flipped", bad) {
            Err(e) => assert!(
                e.is_corruption() || matches!(e, SegmentError::UnsupportedVersion { .. }),
                "byte {i}: {e}"
            ),
            Ok(r) => match r.events().collect::<Result<Vec<_>>>() {
                Err(e) => assert!(e.is_corruption(), "byte {i}: {e}"),
                Ok(got) => assert_eq!(got, good, "byte {i} changed events silently"),
            },
        }
    }
    for len in 0..bytes.len() {
        let err = SegmentReader::from_bytes("truncated", bytes[..len].to_vec()).err();
        assert!(
            err.is_some_and(|e| e.is_corruption()),
            "truncation to {len} not detected"
        );
    }
}

#[test]
fn corruption_error_names_file_and_block() {
    let dir = tempfile::tempdir().unwrap();
    let r = write(dir.path(), "s", sample_events(40), small_blocks(Codec::Lz4));
    let col = &r.blocks()[2].columns[3];
    let mut bytes = std::fs::read(dir.path().join("s")).unwrap();
    bytes[col.offset as usize] ^= 1;
    let r = SegmentReader::from_bytes("/data/seg-42", bytes).unwrap();
    let e = r.raw_column(2).unwrap_err().to_string();
    assert!(
        e.contains("/data/seg-42") && e.contains("block 2") && e.contains("checksum"),
        "{e}"
    );
    assert!(r.raw_column(1).is_ok());
}

/// Files of every format version checked in under testdata must keep reading the same events:
/// v1 stores JSON fields as references into `@rawstring`, v2 stores `@rawstring` as templates
/// over the field columns. `STRATA_REGENERATE_TESTDATA=1` rewrites the current version's file.
#[test]
fn checked_in_segments_of_every_version_still_read() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let current = dir.join(format!("v{FORMAT_VERSION}-app.seg"));
    if std::env::var_os("STRATA_REGENERATE_TESTDATA").is_some() {
        let mut w =
            SegmentWriter::create(&current, ds(), small_blocks(Codec::Zstd { level: 3 })).unwrap();
        for e in sample_events(30) {
            w.push(e).unwrap();
        }
        w.finish().unwrap();
    }
    for version in 1..=FORMAT_VERSION {
        let path = dir.join(format!("v{version}-app.seg"));
        let r = SegmentReader::open(&path)
            .unwrap_or_else(|e| panic!("{} must exist and read: {e}", path.display()));
        let got: Vec<Event> = r.events().collect::<Result<_>>().unwrap();
        assert_eq!(got, sample_events(30), "{}", path.display());
        assert_eq!(r.meta().datasource, ds());
        assert_eq!(r.meta().codec.name(), "zstd");
        assert!(r.blocks().len() > 1);
        let templated = r
            .blocks()
            .iter()
            .all(|b| b.columns.iter().any(|c| c.id == 4));
        assert_eq!(templated, version >= 2, "{}", path.display());
    }
}

/// Generated JSON logs exercise every v2 column mode at once (raw templates with timestamps,
/// dictionaries, composite messages, inline ids); they must read back exactly, through
/// `read_block`, `raw_column`/`field_column` alone, and a merge.
#[test]
fn app_logs_round_trip_through_every_column_mode() {
    let dir = tempfile::tempdir().unwrap();
    let events = sample_events(3000);
    let opts = WriterOptions {
        block_bytes: 64 << 10,
        ..WriterOptions::merged()
    };
    let r = write(dir.path(), "a", events.clone(), opts);
    assert!(r.blocks().len() > 5);
    let got: Vec<Event> = r.events().collect::<Result<_>>().unwrap();
    assert_eq!(got, events);
    let mut row = 0;
    for b in 0..r.blocks().len() {
        let raw = r.raw_column(b).unwrap();
        let message = r.field_column(b, "message").unwrap().unwrap();
        let level = r.field_column(b, "level").unwrap().unwrap();
        for i in 0..raw.len() {
            assert_eq!(raw.get(i), Some(events[row + i].raw.as_str()));
            assert_eq!(
                message.get(i),
                events[row + i].fields.get("message").map(String::as_str)
            );
            assert_eq!(
                level.get(i),
                events[row + i].fields.get("level").map(String::as_str)
            );
        }
        row += raw.len();
    }
    let half = write(
        dir.path(),
        "b",
        events[..1500].to_vec(),
        WriterOptions::mini(),
    );
    merge_segments(&[&r, &half], dir.path().join("m"), opts).unwrap();
    let m = SegmentReader::open(dir.path().join("m")).unwrap();
    let merged: Vec<Event> = m.events().collect::<Result<_>>().unwrap();
    let mut expected: Vec<Event> = events.iter().chain(&events[..1500]).cloned().collect();
    expected.sort_by_key(Event::sort_key);
    assert_eq!(merged, expected);
}

#[test]
fn field_kernels_and_block_skipping() {
    let dir = tempfile::tempdir().unwrap();
    let mut events = sample_events(2000);
    events[1234].raw.push_str(" needle-xyzzy-7");
    events[1234].fields.insert("marker".into(), "xyzzy".into());
    let r = write(
        dir.path(),
        "s",
        events.clone(),
        WriterOptions {
            codec: Codec::Lz4,
            block_bytes: 16 << 10,
            max_block_events: 1000,
            build_filters: true,
            composite_fields: true,
        },
    );
    assert!(r.blocks().len() > 20);
    let q = FilterQuery::for_substring("needle-xyzzy-7");
    let cands = r.candidate_blocks(i64::MIN, i64::MAX, &q);
    assert!(
        cands.len() <= 2,
        "{} of {} blocks read",
        cands.len(),
        r.blocks().len()
    );
    let mut fq = FilterQuery::default();
    fq.add_field("marker", "xyzzy");
    let hit = r.candidate_blocks(i64::MIN, i64::MAX, &fq);
    // One required item: about 2.4% false positives per block (8 bits, 4 probes).
    assert!(
        hit.len() <= 1 + r.blocks().len() / 10,
        "{} of {}",
        hit.len(),
        r.blocks().len()
    );
    let mut found = 0;
    for b in hit {
        if let Some(col) = r.field_column(b, "marker").unwrap() {
            let mut rows = Vec::new();
            scan::equal_rows(&col, "xyzzy", &mut rows);
            found += rows.len();
        }
    }
    assert_eq!(found, 1);
    // Exact and prefix kernels against a naive check on one block.
    let col = r.field_column(0, "service").unwrap().unwrap();
    let mut rows = Vec::new();
    scan::prefix_rows(&col, "pay", &mut rows);
    let naive: Vec<u32> = (0..col.len())
        .filter(|&i| col.get(i).unwrap().starts_with("pay"))
        .map(|i| i as u32)
        .collect();
    assert_eq!(rows, naive);
    assert!(!rows.is_empty());
}

/// Minis are written without filters: every block must then read as "may match".
#[test]
fn segments_without_filters_never_skip_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let events = sample_events(500);
    let r = write(
        dir.path(),
        "s",
        events,
        WriterOptions {
            block_bytes: 8 << 10,
            ..WriterOptions::mini()
        },
    );
    assert!(r.blocks().len() > 3);
    let q = FilterQuery::for_substring("definitely-not-there-xyzzy");
    assert_eq!(
        r.candidate_blocks(i64::MIN, i64::MAX, &q).len(),
        r.blocks().len()
    );
}
