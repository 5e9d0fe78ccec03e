//! The columns every block has besides its strings: time (id 0), ingest (id 1) and id (id 2).
//! Each is delta-coded against the previous row: neighbouring events in time order mostly have
//! close timestamps, ingest times and offsets, so the varints stay short.
//!
//! - time: per event, zigzag varint of the delta to the previous `@timestamp`, then a varint of
//!   the sub-millisecond nanoseconds.
//! - ingest: zigzag varint deltas of the ingest timestamp.
//! - id: per event varint partition, zigzag varint offset delta, varint index.

use crate::codec::{put_varint, unzigzag, zigzag, Dec};
use crate::event::{Event, EventId};

pub(crate) fn encode_time(events: &[Event]) -> Vec<u8> {
    let mut b = Vec::with_capacity(events.len() * 4);
    let mut prev = 0i64;
    for e in events {
        put_varint(&mut b, zigzag(e.timestamp.wrapping_sub(prev)));
        put_varint(&mut b, u64::from(e.timestamp_nanos));
        prev = e.timestamp;
    }
    b
}

pub(crate) fn encode_ingest(events: &[Event]) -> Vec<u8> {
    let mut b = Vec::with_capacity(events.len() * 2);
    let mut prev = 0i64;
    for e in events {
        put_varint(&mut b, zigzag(e.ingest_timestamp.wrapping_sub(prev)));
        prev = e.ingest_timestamp;
    }
    b
}

pub(crate) fn encode_id(events: &[Event]) -> Vec<u8> {
    let mut b = Vec::with_capacity(events.len() * 4);
    let mut prev = 0u64;
    for e in events {
        put_varint(&mut b, u64::from(e.id.partition));
        put_varint(&mut b, zigzag(e.id.offset.wrapping_sub(prev) as i64));
        put_varint(&mut b, u64::from(e.id.index));
        prev = e.id.offset;
    }
    b
}

pub(crate) fn decode_time(bytes: &[u8], count: usize) -> Result<Vec<(i64, u32)>, String> {
    let mut d = Dec::new(bytes);
    // `count` comes from the footer: never reserve more rows than the bytes can hold.
    let mut out = Vec::with_capacity(count.min(d.remaining() / 2));
    let mut prev = 0i64;
    for _ in 0..count {
        let ts = prev.wrapping_add(unzigzag(d.varint("timestamp delta")?));
        let nanos = d.varint("timestamp nanos")?;
        if nanos >= 1_000_000 {
            return Err(format!("sub-millisecond nanos {nanos} out of range"));
        }
        out.push((ts, nanos as u32));
        prev = ts;
    }
    trailing(&d, "time")?;
    Ok(out)
}

pub(crate) fn decode_ingest(bytes: &[u8], count: usize) -> Result<Vec<i64>, String> {
    let mut d = Dec::new(bytes);
    let mut out = Vec::with_capacity(count.min(d.remaining()));
    let mut prev = 0i64;
    for _ in 0..count {
        prev = prev.wrapping_add(unzigzag(d.varint("ingest delta")?));
        out.push(prev);
    }
    trailing(&d, "ingest")?;
    Ok(out)
}

pub(crate) fn decode_id(bytes: &[u8], count: usize) -> Result<Vec<EventId>, String> {
    let mut d = Dec::new(bytes);
    let mut out = Vec::with_capacity(count.min(d.remaining() / 3));
    let mut prev = 0u64;
    for _ in 0..count {
        let partition = u32::try_from(d.varint("id partition")?)
            .map_err(|_| "id partition exceeds 32 bits".to_string())?;
        let offset = prev.wrapping_add(unzigzag(d.varint("id offset")?) as u64);
        let index = u32::try_from(d.varint("id index")?)
            .map_err(|_| "id index exceeds 32 bits".to_string())?;
        out.push(EventId {
            partition,
            offset,
            index,
        });
        prev = offset;
    }
    trailing(&d, "id")?;
    Ok(out)
}

fn trailing(d: &Dec<'_>, what: &str) -> Result<(), String> {
    if d.remaining() != 0 {
        return Err(format!(
            "{what} column has {} trailing bytes",
            d.remaining()
        ));
    }
    Ok(())
}
