//! Compatibility fixtures of Global's durable encodings. `global-events` is never truncated, so
//! every record ever written must decode, forever, to the same event; snapshots on disk must
//! keep loading after an upgrade. Both encodings are pinned by files checked in under
//! `global/testdata/` (framing described in `global/testdata/README.md`):
//!
//! - `global-events-v1.bin`: records of every `GlobalEvent` variant (and every value of the
//!   enums nested in events), as `event::encode` writes them onto the log;
//! - `global-snapshot-v1.json`: a snapshot of a small but complete state, as `snapshot::encode`
//!   writes it.
//!
//! The default run only reads them. `STRATA_BLESS=1 cargo test -p strata-global --test compat`
//! writes the fixtures that are missing and appends the records of newly added events to
//! `global-events-v1.bin`; it never rewrites bytes already checked in (they are what old logs
//! and old data dirs hold). Replacing a fixture is deliberate: delete it, bless, and say why in
//! the commit. A new record version or snapshot format gets new files; the old ones stay.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use strata_global::event::{self, RECORD_VERSION};
use strata_global::snapshot::{self, Snapshot};
use strata_global::*;

const EVENTS_FIXTURE: &str = "global-events-v1.bin";
const SNAPSHOT_FIXTURE: &str = "global-snapshot-v1.json";

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn bless() -> bool {
    std::env::var_os("STRATA_BLESS").is_some_and(|v| v == "1")
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    Arc::new(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// Exhaustiveness. Three checks together make "every variant has a fixture" impossible to miss:
//
// 1. `names` matches every variant without a wildcard arm, so adding a variant to
//    `GlobalEvent`, `ItemKind` or `NodeState` is a compile error here until it has an arm.
// 2. An arm alone is not a fixture, so the test also asks serde for the real list of variants
//    (`variants_of`: the derived `Deserialize` hands the names of all variants, in declaration
//    order, to `Deserializer::deserialize_enum`) and asserts that the fixture records cover
//    each of them.
// 3. bincode writes a variant as its index in declaration order; each record's tag byte must
//    be the index serde reports for its variant, which pins the order of the variants.
// ---------------------------------------------------------------------------------------------

/// The variant name of `e`, then the variant names of the enums nested in it.
fn names(e: &GlobalEvent) -> (&'static str, Vec<&'static str>) {
    use GlobalEvent::*;
    let kind = |k: &ItemKind| match k {
        ItemKind::SavedQuery => "SavedQuery",
        ItemKind::Dashboard => "Dashboard",
        ItemKind::Alert => "Alert",
        ItemKind::Action => "Action",
        ItemKind::LookupFile => "LookupFile",
    };
    let state = |s: &NodeState| match s {
        NodeState::Running => "Running",
        NodeState::Offline => "Offline",
        NodeState::Draining => "Draining",
    };
    let scope = |s: &TokenScope| match s {
        TokenScope::Personal => "Personal",
        TokenScope::Session => "Session",
        TokenScope::Organization { .. } => "Organization",
        TokenScope::Repositories { .. } => "Repositories",
    };
    match e {
        CreateRepository { .. } => ("CreateRepository", vec![]),
        UpdateRepository { .. } => ("UpdateRepository", vec![]),
        DeleteRepository { .. } => ("DeleteRepository", vec![]),
        CreateUser { .. } => ("CreateUser", vec![]),
        AddApiToken { .. } => ("AddApiToken", vec![]),
        RemoveApiToken { .. } => ("RemoveApiToken", vec![]),
        CreateIngestToken { .. } => ("CreateIngestToken", vec![]),
        SetIngestTokenParser { .. } => ("SetIngestTokenParser", vec![]),
        DeleteIngestToken { .. } => ("DeleteIngestToken", vec![]),
        PutParser { .. } => ("PutParser", vec![]),
        DeleteParser { .. } => ("DeleteParser", vec![]),
        PutItem { kind: k, .. } => ("PutItem", vec![kind(k)]),
        DeleteItem { kind: k, .. } => ("DeleteItem", vec![kind(k)]),
        RegisterNode { .. } => ("RegisterNode", vec![]),
        SetNodeState { state: s, .. } => ("SetNodeState", vec![state(s)]),
        SetPartitionNodes { .. } => ("SetPartitionNodes", vec![]),
        SetReplicationFactor { .. } => ("SetReplicationFactor", vec![]),
        AddSegment { .. } => ("AddSegment", vec![]),
        ReplaceSegments { .. } => ("ReplaceSegments", vec![]),
        AddSegmentHolder { .. } => ("AddSegmentHolder", vec![]),
        RemoveSegmentHolder { .. } => ("RemoveSegmentHolder", vec![]),
        SetSegmentInBucket { .. } => ("SetSegmentInBucket", vec![]),
        DeleteSegments { .. } => ("DeleteSegments", vec![]),
        SetSafeOffset { .. } => ("SetSafeOffset", vec![]),
        SetTruncatedOffset { .. } => ("SetTruncatedOffset", vec![]),
        CreateUserV2 { .. } => ("CreateUserV2", vec![]),
        UpdateUser { .. } => ("UpdateUser", vec![]),
        RemoveUser { .. } => ("RemoveUser", vec![]),
        SetUserPassword { .. } => ("SetUserPassword", vec![]),
        CreateToken { scope: s, .. } => ("CreateToken", vec![scope(s)]),
        AddGroup { .. } => ("AddGroup", vec![]),
        RemoveGroup { .. } => ("RemoveGroup", vec![]),
        AddUsersToGroup { .. } => ("AddUsersToGroup", vec![]),
        RemoveUsersFromGroup { .. } => ("RemoveUsersFromGroup", vec![]),
        PutRole { .. } => ("PutRole", vec![]),
        RemoveRole { .. } => ("RemoveRole", vec![]),
        AssignRole { .. } => ("AssignRole", vec![]),
        UnassignRole { .. } => ("UnassignRole", vec![]),
        CreateView { .. } => ("CreateView", vec![]),
        UpdateView { .. } => ("UpdateView", vec![]),
        DeleteView { .. } => ("DeleteView", vec![]),
    }
}

/// The names of `T`'s variants in declaration order, as serde's derive lists them.
fn variants_of<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{Error, Visitor};
    type E = serde::de::value::Error;
    struct Probe(Option<&'static [&'static str]>);
    impl<'de> serde::Deserializer<'de> for &mut Probe {
        type Error = E;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, E> {
            Err(E::custom("not an enum"))
        }
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _: &'static str,
            variants: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, E> {
            self.0 = Some(variants);
            Err(E::custom("probe only"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map struct
            identifier ignored_any
        }
    }
    let mut probe = Probe(None);
    let _ = T::deserialize(&mut probe);
    probe.0.expect("T derives Deserialize as an enum")
}

// ---------------------------------------------------------------------------------------------
// The event records. Append new fixtures at the END (blessing only appends).
// ---------------------------------------------------------------------------------------------

fn fixture_segment() -> SegmentInfo {
    SegmentInfo {
        id: "3-p7-9f86d081884c7d65".into(),
        repo: "web-prod".into(),
        tags: tags(&[("#type", "nginx"), ("host", "edge-eu-1")]),
        min_ts: 1_717_000_000_123,
        max_ts: 1_717_000_059_987,
        event_count: 48_213,
        raw_bytes: 31_457_280,
        file_bytes: 3_145_911,
        file_crc: 0x9e37_79b9,
        codec: "lz4".into(),
        partition: 7,
        first_offset: 5_000_000_000,
        last_offset: 5_000_048_212,
        nodes: NodeSet::from([3]),
        bucket_key: None,
        merged: false,
        merge_target: Some("a1b2c3d4e5f60718-p7".into()),
        created_ms: 1_717_000_061_002,
        // Writers send 0; apply sets the version to the event's offset.
        version: 0,
    }
}

/// One record per `GlobalEvent` variant in declaration order, then records for the values of
/// nested enums not covered yet. Values are realistic and avoid defaults, and integers span
/// every bincode varint width (1, 3, 5 and 9 bytes).
fn fixture_events() -> Vec<GlobalEvent> {
    use GlobalEvent::*;
    vec![
        CreateRepository {
            name: "web-prod".into(),
            description: "Edge proxies and the storefront — EU".into(),
        },
        UpdateRepository {
            name: "web-prod".into(),
            expected_version: 4_294_967_301,
            description: "Edge proxies, storefront and checkout".into(),
            retention: Retention {
                max_age_days: Some(30),
                max_compressed_bytes: Some(500 << 30),
                max_uncompressed_bytes: None,
            },
        },
        DeleteRepository {
            name: "staging-tmp".into(),
            expected_version: 1_234,
        },
        CreateUser {
            username: "alice@example.com".into(),
            is_root: true,
        },
        AddApiToken {
            username: "alice@example.com".into(),
            token_id: "tok-7f3a0c".into(),
            token_hash: "c4d5b607508660f3dca3a837c47e825e57f13bff917f844f154bc3bdeca5716b".into(),
        },
        RemoveApiToken {
            token_id: "tok-19c2e8".into(),
        },
        CreateIngestToken {
            repo: "web-prod".into(),
            name: "nginx-edge".into(),
            token_hash: "2a6dbb4a6c564eaf4c78d762c5d705f83d5ddb65a9dfeb274dcdbc1ae04ccbba".into(),
            parser: Some("nginx-combined".into()),
        },
        SetIngestTokenParser {
            repo: "web-prod".into(),
            name: "nginx-edge".into(),
            parser: Some("json".into()),
            expected_version: 70_000,
        },
        DeleteIngestToken {
            repo: "web-prod".into(),
            name: "legacy-syslog".into(),
        },
        PutParser {
            repo: "web-prod".into(),
            name: "nginx-combined".into(),
            script: "/^(?<client>\\S+) \\S+ \\S+ \\[(?<ts>[^\\]]+)\\] \"(?<method>\\w+)/\n\
                     | parseTimestamp(\"dd/MMM/yyyy:HH:mm:ss Z\", field=ts)"
                .into(),
            expected_version: Some(88),
        },
        DeleteParser {
            repo: "web-prod".into(),
            name: "json-lines".into(),
        },
        PutItem {
            repo: "web-prod".into(),
            kind: ItemKind::Dashboard,
            id: "dash-01hzx3k9".into(),
            name: "Edge latency".into(),
            body: r#"{"widgets":[{"query":"status>=500 | timechart()","title":"5xx"}]}"#.into(),
            expected_version: None,
        },
        DeleteItem {
            repo: "web-prod".into(),
            kind: ItemKind::SavedQuery,
            id: "q-0042".into(),
        },
        RegisterNode {
            id: 3,
            url: "http://strata-3.internal:8080".into(),
            zone: Some("eu-west-1b".into()),
        },
        SetNodeState {
            id: 3,
            state: NodeState::Draining,
        },
        SetPartitionNodes {
            partition: 7,
            nodes: vec![3, 1, 2],
            expected_version: 512,
        },
        SetReplicationFactor { factor: 2 },
        AddSegment {
            segment: fixture_segment(),
            safe_offset: Some(4_999_990_000),
        },
        ReplaceSegments {
            remove: vec![
                "3-p7-9f86d081884c7d65".into(),
                "3-p7-60303ae22b998861".into(),
            ],
            add: SegmentInfo {
                id: "3-m-2c26b46b68ffc68f".into(),
                tags: tags(&[("#type", "nginx"), ("host", "edge-eu-1")]),
                codec: "zstd".into(),
                event_count: 96_001,
                raw_bytes: 62_914_560,
                file_bytes: 4_718_592,
                file_crc: 0x0bad_f00d,
                last_offset: 5_000_096_000,
                nodes: NodeSet::from([1, 3]),
                merged: true,
                merge_target: None,
                created_ms: 1_717_000_400_500,
                version: 77,
                ..fixture_segment()
            },
        },
        AddSegmentHolder {
            id: "3-m-2c26b46b68ffc68f".into(),
            node: 2,
        },
        RemoveSegmentHolder {
            id: "3-m-2c26b46b68ffc68f".into(),
            node: 3,
        },
        SetSegmentInBucket {
            id: "3-m-2c26b46b68ffc68f".into(),
            key: "segments/3-m-2c26b46b68ffc68f".into(),
        },
        DeleteSegments {
            ids: vec![
                "1-p0-00000000000000aa".into(),
                "2-m-fedcba9876543210".into(),
            ],
        },
        SetSafeOffset {
            partition: 7,
            offset: 5_000_096_001,
        },
        SetTruncatedOffset {
            partition: 7,
            offset: 4_900_000_000,
        },
        // Nested enum values the records above leave out.
        PutItem {
            repo: "web-prod".into(),
            kind: ItemKind::Alert,
            id: "alert-5xx".into(),
            name: "5xx burst".into(),
            body: r#"{"query":"status>=500 | count()","threshold":50,"window":"5m"}"#.into(),
            expected_version: Some(301),
        },
        PutItem {
            repo: "web-prod".into(),
            kind: ItemKind::Action,
            id: "act-pager".into(),
            name: "Page on-call".into(),
            body: r#"{"type":"webhook","url":"https://pager.example.com/hook"}"#.into(),
            expected_version: None,
        },
        SetNodeState {
            id: 1,
            state: NodeState::Offline,
        },
        SetNodeState {
            id: 1,
            state: NodeState::Running,
        },
        // Users, tokens, groups and roles (appended with the permission model).
        CreateUserV2 {
            username: "bob@example.com".into(),
            is_root: false,
            full_name: Some("Bob Ström".into()),
            email: Some("bob@example.com".into()),
        },
        UpdateUser {
            username: "bob@example.com".into(),
            expected_version: 5_000_000_123,
            is_root: true,
            full_name: None,
            email: Some("robert@example.com".into()),
        },
        RemoveUser {
            username: "carol@example.com".into(),
        },
        SetUserPassword {
            username: "bob@example.com".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$3J0nuPBmLQ0GPKvUtRj3jQ"
                .into(),
        },
        CreateToken {
            token_id: "tok-ses-01".into(),
            name: "session".into(),
            username: "bob@example.com".into(),
            scope: TokenScope::Session,
            token_hash: "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8".into(),
            created_ms: 1_764_547_200_000,
            expires_ms: Some(1_764_633_600_000),
        },
        AddGroup {
            id: "grp-oncall".into(),
            name: "On-call".into(),
        },
        RemoveGroup {
            id: "grp-old".into(),
        },
        AddUsersToGroup {
            group_id: "grp-oncall".into(),
            usernames: vec!["bob@example.com".into(), "alice@example.com".into()],
        },
        RemoveUsersFromGroup {
            group_id: "grp-oncall".into(),
            usernames: vec!["alice@example.com".into()],
        },
        PutRole {
            id: "role-reader".into(),
            name: "Reader".into(),
            view_permissions: vec!["ReadAccess".into(), "ChangeDashboards".into()],
            organization_permissions: vec!["CreateRepository".into()],
            system_permissions: vec!["ReadHealthCheck".into()],
            expected_version: Some(300),
        },
        RemoveRole {
            id: "role-old".into(),
        },
        AssignRole {
            group_id: "grp-oncall".into(),
            role_id: "role-reader".into(),
            repo: Some("web-prod".into()),
        },
        UnassignRole {
            group_id: "grp-oncall".into(),
            role_id: "role-reader".into(),
            repo: None,
        },
        // The other token scopes.
        CreateToken {
            token_id: "tok-pers-01".into(),
            name: "laptop".into(),
            username: "bob@example.com".into(),
            scope: TokenScope::Personal,
            token_hash: "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b".into(),
            created_ms: 1_764_547_200_001,
            expires_ms: None,
        },
        CreateToken {
            token_id: "tok-org-01".into(),
            name: "provisioning".into(),
            username: "alice@example.com".into(),
            scope: TokenScope::Organization {
                permissions: vec!["ManageUsers".into(), "CreateRepository".into()],
            },
            token_hash: "d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35".into(),
            created_ms: 1_764_547_200_002,
            expires_ms: Some(1_796_083_200_000),
        },
        CreateToken {
            token_id: "tok-repo-01".into(),
            name: "grafana".into(),
            username: "alice@example.com".into(),
            scope: TokenScope::Repositories {
                repos: vec!["web-prod".into()],
                permissions: vec!["ReadAccess".into()],
            },
            token_hash: "4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce".into(),
            created_ms: 1_764_547_200_003,
            expires_ms: None,
        },
        CreateView {
            name: "web-all".into(),
            description: "Both web tiers".into(),
            connections: vec![
                ViewConnection {
                    repository_name: "web-prod".into(),
                    filter: "#type=accesslog".into(),
                },
                ViewConnection {
                    repository_name: "web-staging".into(),
                    filter: String::new(),
                },
            ],
        },
        UpdateView {
            name: "web-all".into(),
            expected_version: 412,
            description: "Production web only".into(),
            connections: vec![ViewConnection {
                repository_name: "web-prod".into(),
                filter: "status>=500".into(),
            }],
        },
        DeleteView {
            name: "web-old".into(),
            expected_version: 413,
        },
        PutItem {
            repo: "web-prod".into(),
            kind: ItemKind::LookupFile,
            id: "hosts.csv".into(),
            name: "hosts.csv".into(),
            body: r#"{"format":"gzip+base64","data":"H4sIAAAAAAAA/w==","sizeBytes":0}"#.into(),
            expected_version: None,
        },
    ]
}

/// `[u32 little-endian length][record]` per record; a record is exactly what goes on the log.
fn frame(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        out.extend_from_slice(&(r.len() as u32).to_le_bytes());
        out.extend_from_slice(r);
    }
    out
}

fn unframe(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes.split_at(4);
        let len = u32::from_le_bytes(len.try_into().unwrap()) as usize;
        assert!(rest.len() >= len, "record {} is torn", out.len());
        let (record, rest) = rest.split_at(len);
        out.push(record);
        bytes = rest;
    }
    out
}

#[test]
fn every_checked_in_event_record_still_decodes_to_the_same_event() {
    assert_eq!(
        RECORD_VERSION, 1,
        "a new record version needs a new fixture file; keep {EVENTS_FIXTURE} and its test"
    );
    let path = testdata().join(EVENTS_FIXTURE);
    let expected = fixture_events();
    let encoded: Vec<Vec<u8>> = expected.iter().map(event::encode).collect();
    if bless() {
        let new = frame(&encoded);
        match std::fs::read(&path) {
            Ok(old) if old == new => {}
            Ok(old) if new.starts_with(&old) => std::fs::write(&path, &new).unwrap(),
            Ok(_) => panic!(
                "{EVENTS_FIXTURE}: the current encoder no longer writes the checked-in records \
                 (or a fixture was changed or inserted instead of appended); old logs hold those \
                 bytes, so the fixture is left as it is"
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(testdata()).unwrap();
                std::fs::write(&path, &new).unwrap();
            }
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let records = unframe(&bytes);
    assert_eq!(records.len(), expected.len(), "records in {EVENTS_FIXTURE}");

    let variants = variants_of::<GlobalEvent>();
    for (i, ((record, want), fresh)) in records.iter().zip(&expected).zip(&encoded).enumerate() {
        let got = event::decode(i as u64, record)
            .unwrap_or_else(|e| panic!("record {i} ({}): {e}", names(want).0));
        assert_eq!(&got, want, "record {i} decodes to a different event");
        // Rolling upgrades: nodes still on the old build read what the new build writes.
        assert_eq!(
            record,
            fresh,
            "record {i} ({}): the current encoder writes different bytes",
            names(want).0
        );
        // Below 251 a varint is one byte, so the byte after the version is the index.
        let index = variants.iter().position(|v| *v == names(want).0);
        assert_eq!(record[0], RECORD_VERSION);
        assert_eq!(
            Some(record[1] as usize),
            index,
            "record {i}: bincode variant index of {} moved",
            names(want).0
        );
    }

    // Coverage: every variant of the event and of the enums nested in it has a record.
    let mut covered = BTreeSet::new();
    for e in &expected {
        let (name, nested) = names(e);
        covered.insert(name);
        covered.extend(nested);
    }
    for (enum_name, all) in [
        ("GlobalEvent", variants),
        ("ItemKind", variants_of::<ItemKind>()),
        ("NodeState", variants_of::<NodeState>()),
        ("TokenScope", variants_of::<TokenScope>()),
    ] {
        let missing: Vec<_> = all.iter().filter(|v| !covered.contains(*v)).collect();
        assert!(
            missing.is_empty(),
            "{enum_name} variants without a record in {EVENTS_FIXTURE}: {missing:?} \
             (append one to fixture_events() and bless)"
        );
    }
    let events: BTreeSet<&str> = expected.iter().map(|e| names(e).0).collect();
    assert_eq!(
        events.len(),
        variants.len(),
        "GlobalEvent variants with a record vs variants of the enum"
    );
}

// ---------------------------------------------------------------------------------------------
// The snapshot: a short but complete history, applied in order at offsets 0, 1, 2, …
// ---------------------------------------------------------------------------------------------

fn seg(
    id: &str,
    repo: &str,
    tags: &Tags,
    partition: u32,
    node: u32,
    offsets: (u64, u64),
) -> SegmentInfo {
    SegmentInfo {
        id: id.into(),
        repo: repo.into(),
        tags: tags.clone(),
        min_ts: 1_717_000_000_000 + offsets.0 as i64,
        max_ts: 1_717_000_000_000 + offsets.1 as i64,
        event_count: offsets.1 - offsets.0 + 1,
        raw_bytes: (offsets.1 - offsets.0 + 1) * 310,
        file_bytes: (offsets.1 - offsets.0 + 1) * 31,
        file_crc: 0x1234_0000 + offsets.0 as u32,
        codec: "lz4".into(),
        partition,
        first_offset: offsets.0,
        last_offset: offsets.1,
        nodes: NodeSet::from([node]),
        bucket_key: None,
        merged: false,
        merge_target: Some(format!("5d41402abc4b2a76-p{partition}").into()),
        created_ms: 1_717_000_100_000 + offsets.1 as i64,
        version: 0,
    }
}

fn history() -> Vec<GlobalEvent> {
    use GlobalEvent::*;
    let nginx = tags(&[("#type", "nginx"), ("host", "edge-eu-1")]);
    let auditd = tags(&[("#type", "auditd")]);
    let scratch = tags(&[("#type", "test")]);
    let ingest_token = |repo: &str, name: &str, parser: Option<&str>| CreateIngestToken {
        repo: repo.into(),
        name: name.into(),
        token_hash: hash_token(&format!("{repo}/{name}-secret")),
        parser: parser.map(Into::into),
    };
    let put_item = |repo: &str, kind, id: &str, name: &str, body: &str, v| PutItem {
        repo: repo.into(),
        kind,
        id: id.into(),
        name: name.into(),
        body: body.into(),
        expected_version: v,
    };
    let node = |id: u32, zone: Option<&str>| RegisterNode {
        id,
        url: format!("http://strata-{id}.internal:8080"),
        zone: zone.map(Into::into),
    };
    let holder = |id: &str, node| AddSegmentHolder {
        id: id.into(),
        node,
    };
    vec![
        /* 0 */
        CreateRepository {
            name: "web-prod".into(),
            description: "Edge proxies".into(),
        },
        /* 1 */
        CreateRepository {
            name: "audit".into(),
            description: "auditd from every host".into(),
        },
        /* 2 */
        CreateRepository {
            name: "scratch".into(),
            description: "".into(),
        },
        /* 3 */
        UpdateRepository {
            name: "web-prod".into(),
            expected_version: 0,
            description: "Edge proxies and the storefront".into(),
            retention: Retention {
                max_age_days: Some(30),
                max_compressed_bytes: Some(500 << 30),
                max_uncompressed_bytes: None,
            },
        },
        /* 4 */
        CreateUser {
            username: "alice".into(),
            is_root: true,
        },
        /* 5 */
        CreateUser {
            username: "bob".into(),
            is_root: false,
        },
        /* 6 */
        AddApiToken {
            username: "alice".into(),
            token_id: "tok-a1".into(),
            token_hash: hash_token("alice-secret"),
        },
        /* 7 */
        AddApiToken {
            username: "bob".into(),
            token_id: "tok-b1".into(),
            token_hash: hash_token("bob-secret"),
        },
        /* 8 */
        AddApiToken {
            username: "bob".into(),
            token_id: "tok-b0".into(),
            token_hash: hash_token("bob-old-secret"),
        },
        /* 9 */
        RemoveApiToken {
            token_id: "tok-b0".into(),
        },
        /* 10 */
        PutParser {
            repo: "web-prod".into(),
            name: "nginx-combined".into(),
            script: "/^(?<client>\\S+) /".into(),
            expected_version: None,
        },
        /* 11 */
        PutParser {
            repo: "web-prod".into(),
            name: "nginx-combined".into(),
            script: "/^(?<client>\\S+) \\S+ \\S+ \\[(?<ts>[^\\]]+)\\]/".into(),
            expected_version: Some(10),
        },
        /* 12 */
        PutParser {
            repo: "web-prod".into(),
            name: "json-lines".into(),
            script: "parseJson()".into(),
            expected_version: None,
        },
        /* 13 */
        DeleteParser {
            repo: "web-prod".into(),
            name: "json-lines".into(),
        },
        /* 14 */ ingest_token("web-prod", "nginx-edge", Some("nginx-combined")),
        /* 15 */ ingest_token("audit", "auditd", None),
        /* 16 */
        SetIngestTokenParser {
            repo: "audit".into(),
            name: "auditd".into(),
            parser: Some("kv".into()),
            expected_version: 15,
        },
        /* 17 */ ingest_token("web-prod", "legacy", None),
        /* 18 */
        DeleteIngestToken {
            repo: "web-prod".into(),
            name: "legacy".into(),
        },
        /* 19 */ ingest_token("scratch", "tmp", None),
        /* 20 */
        put_item(
            "web-prod",
            ItemKind::SavedQuery,
            "q-errors",
            "Errors",
            r#"{"query":"status>=500"}"#,
            None,
        ),
        /* 21 */
        put_item(
            "web-prod",
            ItemKind::Dashboard,
            "dash-edge",
            "Edge",
            r#"{"widgets":[]}"#,
            None,
        ),
        /* 22 */
        put_item(
            "web-prod",
            ItemKind::Dashboard,
            "dash-edge",
            "Edge latency",
            r#"{"widgets":[{"query":"timechart()"}]}"#,
            Some(21),
        ),
        /* 23 */
        put_item(
            "web-prod",
            ItemKind::Alert,
            "alert-5xx",
            "5xx burst",
            r#"{"threshold":50}"#,
            None,
        ),
        /* 24 */
        put_item(
            "web-prod",
            ItemKind::Action,
            "act-pager",
            "Pager",
            r#"{"type":"webhook"}"#,
            None,
        ),
        /* 25 */
        put_item("audit", ItemKind::SavedQuery, "q-tmp", "tmp", "{}", None),
        /* 26 */
        DeleteItem {
            repo: "audit".into(),
            kind: ItemKind::SavedQuery,
            id: "q-tmp".into(),
        },
        /* 27 */ node(1, Some("eu-west-1a")),
        /* 28 */ node(2, Some("eu-west-1b")),
        /* 29 */ node(3, None),
        /* 30 */ node(4, Some("eu-west-1c")),
        /* 31 */
        SetNodeState {
            id: 3,
            state: NodeState::Draining,
        },
        /* 32 */
        SetNodeState {
            id: 4,
            state: NodeState::Offline,
        },
        /* 33 */ SetReplicationFactor { factor: 2 },
        /* 34 */
        SetPartitionNodes {
            partition: 0,
            nodes: vec![1, 2],
            expected_version: 0,
        },
        /* 35 */
        SetPartitionNodes {
            partition: 1,
            nodes: vec![2, 1],
            expected_version: 0,
        },
        // Two minis of one datasource on partition 0, merged below.
        /* 36 */
        AddSegment {
            segment: seg("1-p0-000000000000000a", "web-prod", &nginx, 0, 1, (0, 999)),
            safe_offset: Some(1_000),
        },
        /* 37 */
        AddSegment {
            segment: seg(
                "1-p0-000000000000000b",
                "web-prod",
                &nginx,
                0,
                1,
                (1_000, 1_999),
            ),
            safe_offset: Some(2_000),
        },
        /* 38 */
        AddSegment {
            segment: seg("2-p1-000000000000000c", "audit", &auditd, 1, 2, (0, 499)),
            safe_offset: Some(500),
        },
        /* 39 */
        AddSegment {
            segment: seg(
                "1-p0-000000000000000d",
                "scratch",
                &scratch,
                0,
                1,
                (2_000, 2_099),
            ),
            safe_offset: None,
        },
        /* 40 */ holder("2-p1-000000000000000c", 1),
        /* 41 */
        ReplaceSegments {
            remove: vec![
                "1-p0-000000000000000a".into(),
                "1-p0-000000000000000b".into(),
            ],
            add: SegmentInfo {
                id: "1-m-00000000000000e0".into(),
                codec: "zstd".into(),
                merged: true,
                merge_target: None,
                first_offset: 0,
                event_count: 2_000,
                ..seg("1-m-00000000000000e0", "web-prod", &nginx, 0, 1, (0, 1_999))
            },
        },
        /* 42 */ holder("1-m-00000000000000e0", 2),
        /* 43 */
        SetSegmentInBucket {
            id: "1-m-00000000000000e0".into(),
            key: "segments/1-m-00000000000000e0".into(),
        },
        /* 44 */
        AddSegment {
            segment: seg(
                "1-p0-000000000000000f",
                "web-prod",
                &nginx,
                0,
                1,
                (2_100, 2_599),
            ),
            safe_offset: Some(2_600),
        },
        /* 45 */ holder("1-p0-000000000000000f", 2),
        /* 46 */
        RemoveSegmentHolder {
            id: "1-p0-000000000000000f".into(),
            node: 2,
        },
        /* 47 */
        AddSegment {
            segment: seg("2-p1-0000000000000010", "audit", &auditd, 1, 2, (500, 799)),
            safe_offset: Some(800),
        },
        /* 48 */
        DeleteSegments {
            ids: vec!["2-p1-0000000000000010".into()],
        },
        /* 49 */
        SetSafeOffset {
            partition: 0,
            offset: 2_700,
        },
        /* 50 */
        SetTruncatedOffset {
            partition: 0,
            offset: 2_000,
        },
        /* 51 */
        SetTruncatedOffset {
            partition: 1,
            offset: 500,
        },
        /* 52 */
        DeleteRepository {
            name: "scratch".into(),
            expected_version: 2,
        },
    ]
}

fn replayed() -> Snapshot {
    let mut state = State::default();
    let events = history();
    for (i, e) in events.iter().enumerate() {
        let outcome = state.apply(i as u64, e);
        assert!(outcome.is_applied(), "history event {i} {e:?}: {outcome:?}");
    }
    Snapshot {
        next_offset: events.len() as u64,
        state,
    }
}

#[test]
fn checked_in_snapshot_still_loads_to_the_same_state() {
    let path = testdata().join(SNAPSHOT_FIXTURE);
    let want = replayed();
    if bless() && !path.exists() {
        std::fs::create_dir_all(testdata()).unwrap();
        std::fs::write(&path, snapshot::encode(&want).unwrap()).unwrap();
    }
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header_line = bytes.split(|&b| b == b'\n').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(header_line).unwrap();
    assert_eq!(header["format"], 1, "{SNAPSHOT_FIXTURE} is format 1");
    assert!(
        header["parts"].as_array().unwrap().len() > 1,
        "state and segment parts"
    );

    // Through the loader a node runs at start: the data dir's newest snapshot file.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(snapshot::SNAPSHOT_FILE), &bytes).unwrap();
    let (loaded, warnings) = snapshot::load(dir.path());
    assert!(warnings.is_empty(), "{warnings:?}");
    let got = loaded.expect("the fixture loads");
    assert_eq!(got, want, "the snapshot and the replayed history disagree");

    // Key contents, spelled out, so the fixture stays meaningful whatever apply does.
    let s = &got.state;
    assert_eq!(got.next_offset, 53);
    assert_eq!(
        s.repositories.keys().collect::<Vec<_>>(),
        ["audit", "web-prod"]
    );
    let web = &s.repositories["web-prod"];
    assert_eq!((web.version, web.retention.max_age_days), (3, Some(30)));
    assert_eq!(web.parsers.keys().collect::<Vec<_>>(), ["nginx-combined"]);
    assert_eq!(web.parsers["nginx-combined"].version, 11);
    let kinds: BTreeMap<_, Vec<_>> = web
        .items
        .iter()
        .map(|(k, m)| (*k, m.keys().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        kinds,
        BTreeMap::from([
            (ItemKind::SavedQuery, vec!["q-errors"]),
            (ItemKind::Dashboard, vec!["dash-edge"]),
            (ItemKind::Alert, vec!["alert-5xx"]),
            (ItemKind::Action, vec!["act-pager"]),
        ])
    );
    assert_eq!(web.items[&ItemKind::Dashboard]["dash-edge"].version, 22);
    assert!(s.repositories["audit"].items[&ItemKind::SavedQuery].is_empty());
    assert!(s.users["alice"].is_root && !s.users["bob"].is_root);
    assert_eq!(
        s.api_tokens.keys().collect::<Vec<_>>(),
        ["tok-a1", "tok-b1"]
    );
    assert_eq!(
        s.user_by_api_token_hash(&hash_token("bob-secret"))
            .map(|u| u.username.as_str()),
        Some("bob")
    );
    assert_eq!(
        s.ingest_tokens.keys().collect::<Vec<_>>(),
        ["audit/auditd", "web-prod/nginx-edge"]
    );
    assert_eq!(
        s.ingest_tokens["audit/auditd"].parser.as_deref(),
        Some("kv")
    );
    assert_eq!(s.ingest_tokens["audit/auditd"].version, 16);
    let states: Vec<_> = s
        .nodes
        .values()
        .map(|n| (n.id, n.state, n.zone.is_some()))
        .collect();
    assert_eq!(
        states,
        [
            (1, NodeState::Running, true),
            (2, NodeState::Running, true),
            (3, NodeState::Draining, false),
            (4, NodeState::Offline, true),
        ]
    );
    assert_eq!(s.replication_factor, 2);
    let p0 = &s.partitions[&0];
    assert_eq!(
        (
            p0.nodes.as_slice(),
            p0.safe_offset,
            p0.truncated_offset,
            p0.version
        ),
        (&[1, 2][..], 2_700, 2_000, 34)
    );
    let p1 = &s.partitions[&1];
    assert_eq!(
        (p1.nodes.as_slice(), p1.safe_offset, p1.truncated_offset),
        (&[2, 1][..], 800, 500)
    );
    assert_eq!(s.datasources.len(), 2, "scratch's datasource went with it");
    let ds = &s.datasources[&datasource_key(
        "web-prod",
        &tags(&[("#type", "nginx"), ("host", "edge-eu-1")]),
    )];
    assert_eq!(ds.high_water, BTreeMap::from([(0, 2_599)]));

    let mut ids: Vec<&str> = s.segments.values().map(|x| x.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "1-m-00000000000000e0",
            "1-p0-000000000000000f",
            "2-p1-000000000000000c"
        ]
    );
    let merged = s.segments.get("1-m-00000000000000e0").unwrap();
    assert!(merged.merged && merged.merge_target.is_none());
    assert_eq!(
        merged.bucket_key.as_deref(),
        Some("segments/1-m-00000000000000e0")
    );
    assert_eq!(
        (merged.nodes.clone(), merged.version),
        (NodeSet::from([1, 2]), 43)
    );
    let mini = s.segments.get("1-p0-000000000000000f").unwrap();
    assert_eq!(mini.merge_target.as_deref(), Some("5d41402abc4b2a76-p0"));
    assert_eq!(
        (mini.nodes.clone(), mini.version, mini.bucket_key.clone()),
        (NodeSet::from([1]), 46, None)
    );
    assert_eq!(
        s.segments.get("2-p1-000000000000000c").unwrap().nodes,
        NodeSet::from([1, 2])
    );
    // The loader shares each datasource's tags with its segments, as apply does.
    assert!(Arc::ptr_eq(&merged.tags, &ds.tags) && Arc::ptr_eq(&mini.tags, &ds.tags));
}
