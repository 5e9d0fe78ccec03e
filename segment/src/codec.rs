//! Byte-level encoding helpers shared by the footer and the columns: little-endian integers,
//! LEB128 varints, zigzag, length-prefixed strings, and the two block compression codecs.
//!
//! Every decoder is bounds-checked and returns a description of what was wrong instead of
//! panicking, because segment bytes may come from a damaged disk or a hostile peer.

/// Compression codec of a segment's column chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// `lz4_flex` block format: fast, used for mini segments written by digest.
    Lz4,
    /// zstd at `level`: strong, used for merged segments.
    Zstd { level: i32 },
}

impl Codec {
    pub(crate) fn id(self) -> u8 {
        match self {
            Codec::Lz4 => 1,
            Codec::Zstd { .. } => 2,
        }
    }

    pub(crate) fn from_id(id: u8) -> Option<Codec> {
        match id {
            1 => Some(Codec::Lz4),
            // The level only matters when compressing; readers do not need it.
            2 => Some(Codec::Zstd { level: 0 }),
            _ => None,
        }
    }

    /// Human name, as shown in metadata.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Lz4 => "lz4",
            Codec::Zstd { .. } => "zstd",
        }
    }

    pub(crate) fn compress(self, data: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            Codec::Lz4 => Ok(lz4_flex::block::compress(data)),
            Codec::Zstd { level } => zstd::bulk::compress(data, level)
                .map_err(|e| format!("zstd compression failed: {e}")),
        }
    }

    pub(crate) fn decompress(self, data: &[u8], ulen: usize) -> Result<Vec<u8>, String> {
        let out = match self {
            Codec::Lz4 => lz4_flex::block::decompress(data, ulen)
                .map_err(|e| format!("lz4 decompression failed: {e}"))?,
            Codec::Zstd { .. } => zstd::bulk::decompress(data, ulen)
                .map_err(|e| format!("zstd decompression failed: {e}"))?,
        };
        if out.len() != ulen {
            return Err(format!(
                "decompressed to {} bytes, the directory says {ulen}",
                out.len()
            ));
        }
        Ok(out)
    }
}

/// Append-only little-endian encoder.
#[derive(Default)]
pub(crate) struct Enc {
    pub buf: Vec<u8>,
}

impl Enc {
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn bytes(&mut self, v: &[u8]) {
        self.u32(v.len() as u32);
        self.buf.extend_from_slice(v);
    }
    pub fn str(&mut self, v: &str) {
        self.bytes(v.as_bytes());
    }
}

pub(crate) fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Bounds-checked little-endian decoder.
pub(crate) struct Dec<'a> {
    pub data: &'a [u8],
    pub pos: usize,
}

impl<'a> Dec<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Dec { data, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if n > self.remaining() {
            return Err(format!(
                "{what} needs {n} bytes at byte {} but only {} remain",
                self.pos,
                self.remaining()
            ));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn arr<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.arr::<1>(what)?[0])
    }
    pub fn u32(&mut self, what: &str) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.arr(what)?))
    }
    pub fn u64(&mut self, what: &str) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.arr(what)?))
    }
    pub fn i64(&mut self, what: &str) -> Result<i64, String> {
        Ok(i64::from_le_bytes(self.arr(what)?))
    }
    pub fn bytes(&mut self, what: &str) -> Result<&'a [u8], String> {
        let n = self.u32(what)? as usize;
        self.take(n, what)
    }
    pub fn str(&mut self, what: &str) -> Result<String, String> {
        let b = self.bytes(what)?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| format!("{what} is not valid UTF-8"))
    }
    /// A count of items that each take at least `min_item_bytes`: rejects counts the
    /// remaining bytes cannot hold, so a corrupt count cannot trigger a huge allocation.
    pub fn count(&mut self, what: &str, min_item_bytes: usize) -> Result<usize, String> {
        let n = self.u32(what)? as usize;
        if n.saturating_mul(min_item_bytes.max(1)) > self.remaining() {
            return Err(format!(
                "{what} {n} cannot fit in the {} bytes that remain",
                self.remaining()
            ));
        }
        Ok(n)
    }
    #[inline]
    pub fn varint(&mut self, what: &str) -> Result<u64, String> {
        // Most varints (lengths, deltas) are one byte.
        if let Some(&b) = self.data.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(u64::from(b));
            }
        }
        self.varint_slow(what)
    }

    #[cold]
    fn varint_slow(&mut self, what: &str) -> Result<u64, String> {
        let mut v: u64 = 0;
        let mut shift = 0u32;
        loop {
            let Some(&b) = self.data.get(self.pos) else {
                return Err(format!(
                    "{what}: varint runs past the end at byte {}",
                    self.pos
                ));
            };
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err(format!("{what}: varint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
            shift += 7;
            if shift > 63 {
                return Err(format!("{what}: varint longer than 10 bytes"));
            }
        }
    }
}

/// Stable 64-bit hash used by the on-disk filters. Changing it changes the file format.
pub fn hash64(data: &[u8]) -> u64 {
    // 8 bytes at a time with a multiply-xorshift mix (wyhash-like), then murmur3's fmix64:
    // tokens are short, so the per-call cost matters more than the per-byte one.
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h: u64 = 0x243f_6a88_85a3_08d3 ^ (data.len() as u64).wrapping_mul(K);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K);
        h ^= h >> 29;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K);
        h ^= h >> 29;
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_and_zigzag_round_trip() {
        for v in [0i64, 1, -1, 63, -64, 1 << 40, i64::MIN, i64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, zigzag(v));
            let mut d = Dec::new(&b);
            assert_eq!(unzigzag(d.varint("v").unwrap()), v);
            assert_eq!(d.remaining(), 0);
        }
    }

    #[test]
    fn truncated_varint_is_an_error() {
        let mut d = Dec::new(&[0x80, 0x80]);
        assert!(d.varint("x").unwrap_err().contains("past the end"));
        let mut d = Dec::new(&[0xff; 11]);
        assert!(d.varint("x").is_err());
    }

    #[test]
    fn hash_is_stable() {
        // Pinned: the filters on disk depend on this exact function.
        assert_eq!(hash64(b"error"), 8_026_321_236_064_388_054);
        assert_ne!(hash64(b"error"), hash64(b"Error"));
    }
}
