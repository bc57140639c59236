//! A journal reader's state on disk: `readers/<name in hex>` holds its
//! position, generation and catch-up progress (rewritten in place on each
//! acknowledgement, so the page cache keeps it across a crash of the
//! process), and `readers/<name in hex>.catchup` its catch-up list
//! (replaced whole when it changes).
//!
//! ```text
//! state:   "FLJR" | version u8 | 3 zero bytes | segment u64 | offset u64
//!          | generation u64 | catch_up_done u64 | crc32c u32 (of the 40 bytes before)
//! catchup: "FLJC" | version u8 | 3 zero bytes | count u64
//!          | count × (series u64 | mint i64 | maxt i64) | crc32c u32 (of all before)
//! ```
//! Integers are little-endian.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use super::{CatchUp, JournalPosition, ReaderState};
use crate::encoding::crc32c;
use crate::Error;

const STATE_MAGIC: &[u8; 4] = b"FLJR";
const CATCHUP_MAGIC: &[u8; 4] = b"FLJC";
const VERSION: u8 = 1;
const STATE_LEN: usize = 44;

fn hex(name: &str) -> String {
    name.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

fn encode_state(s: &ReaderState) -> [u8; STATE_LEN] {
    let mut b = [0u8; STATE_LEN];
    b[..4].copy_from_slice(STATE_MAGIC);
    b[4] = VERSION;
    b[8..16].copy_from_slice(&s.position.segment.to_le_bytes());
    b[16..24].copy_from_slice(&s.position.offset.to_le_bytes());
    b[24..32].copy_from_slice(&s.generation.to_le_bytes());
    b[32..40].copy_from_slice(&(s.catch_up_done as u64).to_le_bytes());
    let crc = crc32c(&b[..40]);
    b[40..].copy_from_slice(&crc.to_le_bytes());
    b
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn decode_state(b: &[u8]) -> Option<ReaderState> {
    if b.len() != STATE_LEN || &b[..4] != STATE_MAGIC || b[4] != VERSION {
        return None;
    }
    let crc = u32::from_le_bytes(b[40..44].try_into().ok()?);
    if crc32c(&b[..40]) != crc {
        return None;
    }
    Some(ReaderState {
        position: JournalPosition {
            segment: u64_at(b, 8),
            offset: u64_at(b, 16),
        },
        generation: u64_at(b, 24),
        catch_up_done: u64_at(b, 32) as usize,
        catch_up: Vec::new(),
    })
}

fn encode_catch_up(list: &[CatchUp]) -> Vec<u8> {
    let mut b = Vec::with_capacity(20 + list.len() * 24);
    b.extend_from_slice(CATCHUP_MAGIC);
    b.extend_from_slice(&[VERSION, 0, 0, 0]);
    b.extend_from_slice(&(list.len() as u64).to_le_bytes());
    for c in list {
        b.extend_from_slice(&c.series.0.to_le_bytes());
        b.extend_from_slice(&c.mint.to_le_bytes());
        b.extend_from_slice(&c.maxt.to_le_bytes());
    }
    let crc = crc32c(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

fn decode_catch_up(b: &[u8]) -> Option<Vec<CatchUp>> {
    if b.len() < 20 || &b[..4] != CATCHUP_MAGIC || b[4] != VERSION {
        return None;
    }
    let (body, crc) = b.split_at(b.len() - 4);
    if crc32c(body) != u32::from_le_bytes(crc.try_into().ok()?) {
        return None;
    }
    let n = usize::try_from(u64_at(body, 8)).ok()?;
    if body.len() != 16 + n.checked_mul(24)? {
        return None;
    }
    Some(
        (0..n)
            .map(|i| {
                let at = 16 + i * 24;
                CatchUp {
                    series: crate::SeriesRef(u64_at(body, at)),
                    mint: u64_at(body, at + 8) as i64,
                    maxt: u64_at(body, at + 16) as i64,
                }
            })
            .collect(),
    )
}

/// For the fuzz targets: decodes `bytes` as a state and a catch-up list.
pub(super) fn fuzz_bodies(bytes: &[u8]) {
    let _ = decode_state(bytes);
    let _ = decode_catch_up(bytes);
}

/// One reader: its state in memory and its files.
pub(crate) struct ReaderFile {
    path: PathBuf,
    file: File,
    state: ReaderState,
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

fn catch_up_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".catchup");
    PathBuf::from(p)
}

/// Loads every reader in `dir` (created if missing). A reader whose state
/// file is damaged is an error naming it; a damaged catch-up list too.
pub(crate) fn load_all(dir: &Path) -> Result<HashMap<String, ReaderFile>, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut out = HashMap::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let file_name = entry.file_name();
        let Some(fname) = file_name.to_str() else {
            continue;
        };
        if fname.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
            continue;
        }
        if fname.contains('.') {
            continue;
        }
        let Some(name) = unhex(fname) else { continue };
        let path = entry.path();
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let mut state = decode_state(&bytes).ok_or_else(|| Error::Corruption {
            path: path.clone(),
            offset: 0,
            detail: "damaged journal reader state".into(),
        })?;
        let cpath = catch_up_path(&path);
        if cpath.exists() {
            let b = std::fs::read(&cpath).map_err(|e| Error::io(&cpath, e))?;
            state.catch_up = decode_catch_up(&b).ok_or_else(|| Error::Corruption {
                path: cpath.clone(),
                offset: 0,
                detail: "damaged journal catch-up list".into(),
            })?;
        }
        let file = File::options()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        out.insert(name, ReaderFile { path, file, state });
    }
    Ok(out)
}

impl ReaderFile {
    /// A new reader named `name` in `dir`, in `state`.
    pub(crate) fn create(dir: &Path, name: &str, state: ReaderState) -> Result<ReaderFile, Error> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(hex(name));
        write_new(&path, &encode_state(&state))?;
        let _ = std::fs::remove_file(catch_up_path(&path));
        let file = File::options()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        Ok(ReaderFile { path, file, state })
    }

    /// The state.
    pub(crate) fn state(&self) -> &ReaderState {
        &self.state
    }

    /// Records progress, in place.
    pub(crate) fn set_progress(
        &mut self,
        position: JournalPosition,
        catch_up_done: usize,
    ) -> Result<(), Error> {
        self.state.position = self.state.position.max(position);
        self.state.catch_up_done = catch_up_done.min(self.state.catch_up.len());
        self.file
            .write_all_at(&encode_state(&self.state), 0)
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Moves the reader to `to`, adding `skipped` to what it has to catch
    /// up on; a series already in the list keeps its oldest time.
    pub(crate) fn move_on(
        &mut self,
        to: JournalPosition,
        skipped: Vec<CatchUp>,
    ) -> Result<(), Error> {
        let done = self.state.catch_up_done.min(self.state.catch_up.len());
        let mut merged: std::collections::BTreeMap<u64, CatchUp> = self.state.catch_up[done..]
            .iter()
            .map(|c| (c.series.0, *c))
            .collect();
        for c in skipped {
            merged
                .entry(c.series.0)
                .and_modify(|e| {
                    e.mint = e.mint.min(c.mint);
                    e.maxt = e.maxt.max(c.maxt);
                })
                .or_insert(c);
        }
        let list: Vec<CatchUp> = merged.into_values().collect();
        write_new(&catch_up_path(&self.path), &encode_catch_up(&list))?;
        self.state.catch_up = list;
        self.state.catch_up_done = 0;
        self.state.generation += 1;
        self.state.position = to;
        self.file
            .write_all_at(&encode_state(&self.state), 0)
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Makes the state durable.
    pub(crate) fn sync(&self) -> Result<(), Error> {
        self.file.sync_data().map_err(|e| Error::io(&self.path, e))
    }

    /// Deletes the reader's files.
    pub(crate) fn remove(self) -> Result<(), Error> {
        for p in [catch_up_path(&self.path), self.path.clone()] {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&p, e)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_and_list_roundtrip_and_refuse_damage() {
        let s = ReaderState {
            position: JournalPosition {
                segment: 7,
                offset: 1234,
            },
            generation: 3,
            catch_up_done: 2,
            catch_up: Vec::new(),
        };
        let b = encode_state(&s);
        let back = decode_state(&b).unwrap();
        assert_eq!(back.position, s.position);
        assert_eq!((back.generation, back.catch_up_done), (3, 2));
        for i in 0..b.len() {
            let mut bad = b;
            bad[i] ^= 0x40;
            assert!(decode_state(&bad).is_none(), "byte {i}");
        }
        let list = vec![
            CatchUp {
                series: crate::SeriesRef(1),
                mint: -5,
                maxt: 10,
            },
            CatchUp {
                series: crate::SeriesRef(u64::MAX),
                mint: i64::MIN,
                maxt: i64::MAX,
            },
        ];
        let b = encode_catch_up(&list);
        assert_eq!(decode_catch_up(&b).unwrap(), list);
        assert!(decode_catch_up(&b[..b.len() - 1]).is_none());
        assert_eq!(unhex(&hex("vm/prod ü")).unwrap(), "vm/prod ü");
    }
}
