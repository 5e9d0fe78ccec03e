//! Compatibility of the server's durable encodings: an `IngestRecord` is what the ingest queue
//! (`humio-ingest`, embedded or Kafka) holds between the 200 and digest. A node upgraded while
//! records are still queued must read every record an older node wrote, so the checked-in
//! `testdata/ingest-record-v1.bin` (written by the encoder of format version 1) must decode to
//! the same record and re-encode to the same bytes. Field order and types are a contract.
//!
//! `STRATA_BLESS=1 cargo test -p strata --test compat` writes the fixture when it is missing;
//! it never rewrites a checked-in file (delete it deliberately to replace it).

use std::collections::BTreeMap;
use std::path::PathBuf;

use strata::ingest::{IngestRecord, QueuedEvent};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/ingest-record-v1.bin")
}

/// A record with every field set, unicode and multi-line text, and integers of every width.
fn record() -> IngestRecord {
    let tags: BTreeMap<String, String> = [
        ("host".to_string(), "web-07".to_string()),
        ("#type".to_string(), "accesslog".to_string()),
    ]
    .into();
    IngestRecord {
        repo: "web".into(),
        tags,
        ingest_timestamp: 1_767_225_600_123,
        events: vec![
            QueuedEvent {
                timestamp: 1_767_225_599_999,
                nanos: 999_999,
                raw: r#"127.0.0.1 - - [01/Jan/2026:00:00:00 +0000] "GET /ä?q=1 HTTP/1.1" 200 512"#
                    .into(),
                fields: vec![
                    ("status".into(), "200".into()),
                    ("method".into(), "GET".into()),
                ],
            },
            QueuedEvent {
                timestamp: -1,
                nanos: 0,
                raw: "line one\nline two\ttabbed".into(),
                fields: Vec::new(),
            },
            QueuedEvent {
                timestamp: i64::MAX,
                nanos: u32::MAX,
                raw: String::new(),
                fields: vec![("".into(), "empty key".into())],
            },
        ],
    }
}

#[test]
fn ingest_records_of_format_1_still_read() {
    let path = fixture();
    if !path.exists() && std::env::var_os("STRATA_BLESS").is_some() {
        std::fs::write(&path, record().encode()).unwrap();
    }
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (STRATA_BLESS=1 writes it)", path.display()));
    assert_eq!(bytes[0], 1, "format version byte");
    let decoded = IngestRecord::decode(&bytes).expect("a format-1 record decodes");
    assert_eq!(decoded, record());
    assert_eq!(
        record().encode(),
        bytes,
        "the encoder still writes format 1 byte for byte (older nodes read it in a rolling upgrade)"
    );
    // Damage is an error naming the problem, never a panic.
    assert!(IngestRecord::decode(&[]).is_err());
    assert!(IngestRecord::decode(&[9, 0])
        .unwrap_err()
        .contains("version 9"));
    assert!(IngestRecord::decode(&bytes[..bytes.len() - 3]).is_err());
    let mut long = bytes.clone();
    long.push(0);
    assert!(IngestRecord::decode(&long)
        .unwrap_err()
        .contains("trailing"));
}
