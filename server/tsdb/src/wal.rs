//! The write-ahead log: numbered segment files of CRC-framed records (series definitions and
//! sample batches), the replay reader that truncates a torn tail instead of failing, and
//! checkpoints that keep what the head still needs when old segments are dropped. It knows the
//! record encoding but not the head's data structures; replay hands records to a callback.
//!
//! Sync policy: each commit's record is written with write(2) before commit returns (survives
//! kill -9); segments are fsynced when cut and by `sync()` which the Db calls periodically.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use oxeye_model::{Label, Labels};
use parking_lot::Mutex;

use crate::encoding::{Decoder, put_str, put_uvarint};
use crate::{Error, Result};

pub(crate) const REC_SERIES: u8 = 1;
pub(crate) const REC_SAMPLES: u8 = 2;
const HEADER: usize = 9;
/// Records larger than this are treated as corruption (a torn length field).
const MAX_RECORD: u32 = 256 << 20;

pub(crate) fn segment_name(i: u32) -> String {
    format!("{i:08}")
}

fn checkpoint_name(i: u32) -> String {
    format!("checkpoint.{i:08}")
}

fn crc(typ: u8, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&[typ]);
    h.update(payload);
    h.finalize()
}

pub(crate) fn frame(out: &mut Vec<u8>, typ: u8, payload: &[u8]) {
    out.push(typ);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc(typ, payload).to_le_bytes());
    out.extend_from_slice(payload);
}

pub(crate) fn encode_series(out: &mut Vec<u8>, r: u64, labels: &Labels) {
    put_uvarint(out, r);
    put_uvarint(out, labels.len() as u64);
    for l in labels {
        put_str(out, &l.name);
        put_str(out, &l.value);
    }
}

/// Decodes a series record payload into (ref, labels) pairs.
pub(crate) fn decode_series(payload: &[u8]) -> Option<Vec<(u64, Labels)>> {
    let mut d = Decoder::new(payload);
    let mut out = Vec::new();
    while !d.is_empty() {
        let r = d.uvarint()?;
        let n = d.uvarint()?;
        let mut ls = Vec::with_capacity(n.min(64) as usize);
        for _ in 0..n {
            let name = d.str()?.to_string();
            let value = d.str()?.to_string();
            ls.push(Label { name, value });
        }
        if !ls.windows(2).all(|w| w[0].name < w[1].name) {
            return None;
        }
        out.push((r, Labels::from_sorted(ls)));
    }
    Some(out)
}

/// Encodes a sample batch: base timestamp, then (ref, t - base, raw f64 bits) per sample.
pub(crate) fn encode_samples(out: &mut Vec<u8>, samples: &[(u64, i64, f64)]) {
    let base = samples.first().map(|s| s.1).unwrap_or(0);
    crate::encoding::put_varint(out, base);
    for &(r, t, v) in samples {
        put_uvarint(out, r);
        crate::encoding::put_varint(out, t.wrapping_sub(base));
        out.extend_from_slice(&v.to_bits().to_le_bytes());
    }
}

pub(crate) fn decode_samples(payload: &[u8], mut f: impl FnMut(u64, i64, f64)) -> Option<()> {
    let mut d = Decoder::new(payload);
    let base = d.varint()?;
    while !d.is_empty() {
        let r = d.uvarint()?;
        let t = base.wrapping_add(d.varint()?);
        let v = f64::from_bits(d.u64_le()?);
        f(r, t, v);
    }
    Some(())
}

/// What reading a file of records found.
pub(crate) struct ReadOutcome {
    /// Bytes of valid records from the start.
    pub(crate) valid_len: u64,
    /// Where and why reading stopped early.
    pub(crate) corruption: Option<(u64, String)>,
}

/// Reads every record of `path`, stopping at the first torn or corrupt one.
pub(crate) fn read_records(path: &Path, mut f: impl FnMut(u8, &[u8]) -> Result<()>) -> Result<ReadOutcome> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut off = 0u64;
    let mut payload = Vec::new();
    loop {
        let mut hdr = [0u8; HEADER];
        let got = read_full(&mut r, &mut hdr).map_err(|e| Error::io(path, e))?;
        if got == 0 {
            return Ok(ReadOutcome { valid_len: off, corruption: None });
        }
        let torn = |reason: &str| Ok(ReadOutcome { valid_len: off, corruption: Some((off, reason.to_string())) });
        if got < HEADER {
            return torn("torn record header");
        }
        let typ = hdr[0];
        let len = u32::from_le_bytes([hdr[1], hdr[2], hdr[3], hdr[4]]);
        let want = u32::from_le_bytes([hdr[5], hdr[6], hdr[7], hdr[8]]);
        if !(REC_SERIES..=REC_SAMPLES).contains(&typ) {
            return torn("unknown record type");
        }
        if len > MAX_RECORD {
            return torn("record length out of range");
        }
        payload.resize(len as usize, 0);
        let got = read_full(&mut r, &mut payload).map_err(|e| Error::io(path, e))?;
        if got < payload.len() {
            return torn("torn record payload");
        }
        if crc(typ, &payload) != want {
            return torn("record checksum mismatch");
        }
        if let Err(e) = f(typ, &payload) {
            if let Error::Corrupt { reason, .. } = e {
                return torn(&reason);
            }
            return Err(e);
        }
        off += (HEADER + payload.len()) as u64;
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Files in the WAL directory.
pub(crate) struct WalFiles {
    pub(crate) checkpoint: Option<(u32, PathBuf)>,
    pub(crate) segments: Vec<(u32, PathBuf)>,
}

pub(crate) fn list(dir: &Path) -> Result<WalFiles> {
    let mut segments = Vec::new();
    let mut checkpoint: Option<(u32, PathBuf)> = None;
    let rd = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for ent in rd {
        let ent = ent.map_err(|e| Error::io(dir, e))?;
        let name = ent.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tmp") {
            // A checkpoint that was being written when the process died.
            let _ = fs::remove_file(ent.path());
            continue;
        }
        if let Some(n) = name.strip_prefix("checkpoint.").and_then(|s| s.parse::<u32>().ok()) {
            if checkpoint.as_ref().is_none_or(|(c, _)| n > *c) {
                checkpoint = Some((n, ent.path()));
            }
        } else if let Ok(n) = name.parse::<u32>() {
            segments.push((n, ent.path()));
        }
    }
    segments.sort();
    if let Some((c, _)) = &checkpoint {
        segments.retain(|(n, _)| n > c);
    }
    Ok(WalFiles { checkpoint, segments })
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(dir, e))
}

struct Writer {
    file: File,
    index: u32,
    size: u64,
    buf: Vec<u8>,
}

/// The appending side of the WAL.
pub(crate) struct Wal {
    dir: PathBuf,
    segment_size: u64,
    w: Mutex<Writer>,
    /// A second handle on the current segment so fsync does not hold up commits.
    sync_handle: Mutex<Option<File>>,
    dirty: AtomicBool,
}

fn create_segment(dir: &Path, index: u32) -> Result<File> {
    let path = dir.join(segment_name(index));
    OpenOptions::new().create(true).append(true).open(&path).map_err(|e| Error::io(&path, e))
}

impl Wal {
    /// Starts writing a fresh segment numbered `index`.
    pub(crate) fn open(dir: &Path, segment_size: u64, index: u32) -> Result<Wal> {
        let file = create_segment(dir, index)?;
        sync_dir(dir)?;
        let sync = file.try_clone().map_err(|e| Error::io(dir, e))?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            segment_size: segment_size.max(4096),
            w: Mutex::new(Writer { file, index, size: 0, buf: Vec::with_capacity(64 << 10) }),
            sync_handle: Mutex::new(Some(sync)),
            dirty: AtomicBool::new(false),
        })
    }

    /// Buffers a series record; it reaches the file with the next commit's write.
    pub(crate) fn log_series(&self, r: u64, labels: &Labels) {
        let mut payload = Vec::with_capacity(64);
        encode_series(&mut payload, r, labels);
        let mut w = self.w.lock();
        frame(&mut w.buf, REC_SERIES, &payload);
    }

    /// Writes buffered series records and this sample batch with one write(2).
    pub(crate) fn log_samples(&self, payload: &[u8]) -> Result<()> {
        let mut w = self.w.lock();
        if !payload.is_empty() {
            frame(&mut w.buf, REC_SAMPLES, payload);
        }
        self.flush_locked(&mut w)
    }

    pub(crate) fn flush(&self) -> Result<()> {
        let mut w = self.w.lock();
        self.flush_locked(&mut w)
    }

    fn flush_locked(&self, w: &mut Writer) -> Result<()> {
        if w.buf.is_empty() {
            return Ok(());
        }
        if w.size > 0 && w.size + w.buf.len() as u64 > self.segment_size {
            self.cut_locked(w)?;
        }
        let Writer { file, buf, index, size } = w;
        if let Err(e) = file.write_all(buf) {
            // A partial write leaves a torn record that replay truncates; drop the buffer so
            // the next commit does not write a duplicate after the torn bytes.
            buf.clear();
            return Err(Error::io(self.dir.join(segment_name(*index)), e));
        }
        *size += buf.len() as u64;
        buf.clear();
        if buf.capacity() > 4 << 20 {
            buf.shrink_to(64 << 10);
        }
        self.dirty.store(true, Ordering::Release);
        Ok(())
    }

    fn cut_locked(&self, w: &mut Writer) -> Result<()> {
        let path = self.dir.join(segment_name(w.index));
        w.file.sync_data().map_err(|e| Error::io(&path, e))?;
        let next = w.index + 1;
        let file = create_segment(&self.dir, next)?;
        sync_dir(&self.dir)?;
        *self.sync_handle.lock() = file.try_clone().ok();
        w.file = file;
        w.index = next;
        w.size = 0;
        tracing::debug!(segment = next, "WAL segment cut");
        Ok(())
    }

    /// Flushes pending records and starts a new segment; returns the last sealed segment.
    pub(crate) fn cut(&self) -> Result<u32> {
        let mut w = self.w.lock();
        self.flush_locked(&mut w)?;
        let sealed = w.index;
        self.cut_locked(&mut w)?;
        Ok(sealed)
    }

    /// fsyncs the current segment if anything was written since the last sync.
    pub(crate) fn sync(&self) -> Result<()> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let h = self.sync_handle.lock().as_ref().and_then(|f| f.try_clone().ok());
        if let Some(f) = h {
            f.sync_data().map_err(|e| Error::io(&self.dir, e))?;
        }
        Ok(())
    }

    /// Total bytes of WAL files on disk.
    pub(crate) fn size_bytes(&self) -> u64 {
        fs::read_dir(&self.dir).map(|rd| rd.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0)
    }

    /// Replaces segments `<= upto` (and any older checkpoint) with a checkpoint holding the
    /// series `keep_series` accepts and samples at or after `mint`. Returns records kept.
    pub(crate) fn checkpoint(&self, upto: u32, mint: i64, keep_series: &dyn Fn(u64) -> bool) -> Result<u64> {
        let files = list(&self.dir)?;
        let mut inputs: Vec<PathBuf> = Vec::new();
        if let Some((_, p)) = &files.checkpoint {
            inputs.push(p.clone());
        }
        inputs.extend(files.segments.iter().filter(|(n, _)| *n <= upto).map(|(_, p)| p.clone()));
        let tmp = self.dir.join(format!("{}.tmp", checkpoint_name(upto)));
        let mut out = Vec::new();
        let mut kept = 0u64;
        let mut samples: Vec<(u64, i64, f64)> = Vec::new();
        for p in &inputs {
            let outcome = read_records(p, |typ, payload| {
                match typ {
                    REC_SERIES => {
                        let series =
                            decode_series(payload).ok_or_else(|| Error::corrupt(p, 0, "undecodable series record"))?;
                        let mut rec = Vec::new();
                        for (r, ls) in series.iter().filter(|(r, _)| keep_series(*r)) {
                            encode_series(&mut rec, *r, ls);
                        }
                        if !rec.is_empty() {
                            frame(&mut out, REC_SERIES, &rec);
                            kept += 1;
                        }
                    }
                    _ => {
                        samples.clear();
                        decode_samples(payload, |r, t, v| {
                            if t >= mint && keep_series(r) {
                                samples.push((r, t, v));
                            }
                        })
                        .ok_or_else(|| Error::corrupt(p, 0, "undecodable samples record"))?;
                        if !samples.is_empty() {
                            let mut rec = Vec::new();
                            encode_samples(&mut rec, &samples);
                            frame(&mut out, REC_SAMPLES, &rec);
                            kept += 1;
                        }
                    }
                }
                Ok(())
            })?;
            if let Some((off, reason)) = outcome.corruption {
                tracing::warn!(file = %p.display(), offset = off, reason, "checkpoint input ends early");
            }
        }
        {
            let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
            f.write_all(&out).map_err(|e| Error::io(&tmp, e))?;
            f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        }
        let dst = self.dir.join(checkpoint_name(upto));
        fs::rename(&tmp, &dst).map_err(|e| Error::io(&dst, e))?;
        sync_dir(&self.dir)?;
        // Only now is it safe to drop what the checkpoint replaces.
        if let Some((n, p)) = &files.checkpoint
            && *n != upto
        {
            let _ = fs::remove_file(p);
        }
        for (n, p) in &files.segments {
            if *n <= upto {
                fs::remove_file(p).map_err(|e| Error::io(p, e))?;
            }
        }
        tracing::info!(checkpoint = upto, records = kept, bytes = out.len(), "WAL checkpoint written");
        Ok(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_torn_tail_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path(), 1 << 20, 1).unwrap();
        let ls = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        wal.log_series(7, &ls);
        let mut p = Vec::new();
        encode_samples(&mut p, &[(7, 1000, 1.5), (7, 2000, oxeye_model::STALE_NAN)]);
        wal.log_samples(&p).unwrap();
        let path = dir.path().join(segment_name(1));
        let full = fs::read(&path).unwrap();
        // Append half a record: replay must stop before it.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&full[..full.len() - 3]).unwrap();
        let mut got = Vec::new();
        let outcome = read_records(&path, |typ, payload| {
            if typ == REC_SERIES {
                got.push(format!("{:?}", decode_series(payload).unwrap()));
            } else {
                decode_samples(payload, |r, t, v| got.push(format!("{r} {t} {:x}", v.to_bits()))).unwrap();
            }
            Ok(())
        })
        .unwrap();
        // The second copy's series record is whole, its samples record is torn.
        let valid = outcome.valid_len as usize;
        assert!(valid > full.len() && valid < 2 * full.len() - 3, "valid prefix {valid} of {}", 2 * full.len() - 3);
        assert_eq!(outcome.corruption.map(|c| c.0), Some(outcome.valid_len));
        assert_eq!(got.len(), 4, "series + two samples, then the second series record: {got:?}");
        assert_eq!(got[2], format!("7 2000 {:x}", oxeye_model::STALE_NAN_BITS));
    }
}
