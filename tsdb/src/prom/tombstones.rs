//! A Prometheus block's `tombstones` file: deleted time ranges by series
//! reference.

use std::collections::HashMap;
use std::path::Path;

use super::Cur;
use crate::encoding::crc32c;
use crate::Error;

/// Magic number of tombstone files.
pub const MAGIC: u32 = 0x0130_BA30;

/// Deleted ranges (inclusive) by series reference.
pub type Tombstones = HashMap<u64, Vec<(i64, i64)>>;

/// Reads `block/tombstones`; none when the file is absent.
pub fn read(block: &Path) -> Result<Tombstones, Error> {
    let path = block.join("tombstones");
    let b = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Tombstones::new()),
        Err(e) => return Err(Error::io(&path, e)),
    };
    if b.len() < 9 {
        return Err(Error::corrupt(
            &path,
            0,
            "shorter than its header and checksum",
        ));
    }
    let magic = u32::from_be_bytes(b[..4].try_into().expect("4 bytes"));
    if magic != MAGIC {
        return Err(Error::unsupported(
            &path,
            format!("unexpected magic number {magic:#x}"),
        ));
    }
    if b[4] != 1 {
        return Err(Error::unsupported(
            &path,
            format!("tombstones format version {} (version 1 is read)", b[4]),
        ));
    }
    let body = &b[5..b.len() - 4];
    let sum = u32::from_be_bytes(b[b.len() - 4..].try_into().expect("4 bytes"));
    if crc32c(body) != sum {
        return Err(Error::corrupt(&path, 5, "checksum mismatch"));
    }
    let mut out = Tombstones::new();
    let mut c = Cur::new(body);
    while c.remaining() > 0 {
        let at = c.pos as u64 + 5;
        let (Some(r), Some(mint), Some(maxt)) = (c.uvarint(), c.varint(), c.varint()) else {
            return Err(Error::corrupt(&path, at, "tombstone cut short"));
        };
        out.entry(r).or_default().push((mint, maxt));
    }
    Ok(out)
}

/// Whether `t` falls in one of `ranges`.
pub fn deleted(ranges: Option<&Vec<(i64, i64)>>, t: i64) -> bool {
    ranges.is_some_and(|rs| rs.iter().any(|&(a, b)| a <= t && t <= b))
}
