//! Byte-level encoding helpers shared by the on-disk formats.

/// CRC32C (Castagnoli) of `data`, as every record on disk carries.
pub(crate) fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// Appends little-endian fixed-width integers and length-prefixed bytes.
#[derive(Default)]
pub(crate) struct Encoder {
    pub(crate) buf: Vec<u8>,
}

impl Encoder {
    pub(crate) fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn bytes16(&mut self, b: &[u8]) {
        self.u16(b.len() as u16);
        self.buf.extend_from_slice(b);
    }
    pub(crate) fn bytes32(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.buf.extend_from_slice(b);
    }
}

/// Reads what [`Encoder`] wrote; every read is bounds-checked.
pub(crate) struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Decoder { buf, pos: 0 }
    }
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.remaining() < n {
            return None;
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Some(s)
    }
    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }
    pub(crate) fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
    pub(crate) fn bytes16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()? as usize;
        self.take(n)
    }
    pub(crate) fn bytes32(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

/// Appends an unsigned LEB128 varint.
pub(crate) fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Bytes [`put_uvarint`] writes for `v`.
pub(crate) fn uvarint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Bytes [`put_varint`] writes for `v`.
pub(crate) fn varint_len(v: i64) -> usize {
    uvarint_len(((v << 1) ^ (v >> 63)) as u64)
}

/// Appends a zigzag-encoded signed varint.
pub(crate) fn put_varint(buf: &mut Vec<u8>, v: i64) {
    put_uvarint(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// Reads varints and fixed-width integers from a byte slice; every read is
/// bounds-checked and returns `None` past the end or on a malformed varint.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at `pos` of `buf`.
    pub(crate) fn at(buf: &'a [u8], pos: usize) -> Self {
        Cursor { buf, pos }
    }

    /// The current position.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// An unsigned varint (at most 10 bytes, no overflow).
    pub(crate) fn uvarint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            if i == 9 && b > 1 {
                return None;
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    /// A zigzag-encoded signed varint.
    pub(crate) fn varint(&mut self) -> Option<i64> {
        let u = self.uvarint()?;
        Some(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// An unsigned varint that must fit in u32.
    pub(crate) fn uvarint32(&mut self) -> Option<u32> {
        u32::try_from(self.uvarint()?).ok()
    }

    /// `n` bytes.
    pub(crate) fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    /// `n` bytes followed by the rest of the buffer (which the cursor
    /// moves past the `n` bytes only).
    pub(crate) fn bytes_and_rest(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        if end > self.buf.len() {
            return None;
        }
        let s = &self.buf[self.pos..];
        self.pos = end;
        Some(s)
    }

    /// A little-endian u32.
    pub(crate) fn u32(&mut self) -> Option<u32> {
        let v = u32::from_le_bytes(
            self.buf
                .get(self.pos..self.pos.checked_add(4)?)?
                .try_into()
                .ok()?,
        );
        self.pos += 4;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_bounds() {
        let mut e = Encoder::default();
        e.u16(7);
        e.u64(u64::MAX - 1);
        e.bytes16(b"abc");
        e.bytes32(b"");
        let mut d = Decoder::new(&e.buf);
        assert_eq!(d.u16(), Some(7));
        assert_eq!(d.u64(), Some(u64::MAX - 1));
        assert_eq!(d.bytes16(), Some(&b"abc"[..]));
        assert_eq!(d.bytes32(), Some(&b""[..]));
        assert_eq!(d.u32(), None);
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }
}
