//! Persisted blocks: one directory per time range holding `meta.json`, `index` (symbols, series
//! with their chunk references, postings per label pair, a postings offset table and a TOC, each
//! section CRC-protected) and `chunks/000001` (block-encoded chunks). Writing goes to a `.tmp`
//! directory that is fsynced and renamed; deletion renames to `.tmp-for-deletion` first. Readers
//! keep the index bytes in memory and read chunks from disk only when a query needs them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use oxeye_model::{Label, Labels, Sample};
use serde::{Deserialize, Serialize};

use crate::encoding::{Decoder, put_str, put_uvarint, put_varint};
use crate::postings::PostingsIndex;
use crate::{Error, Result, blockenc};

const INDEX_MAGIC: &[u8; 4] = b"OXIX";
const CHUNKS_MAGIC: &[u8; 4] = b"OXCH";
const TOC_LEN: usize = 8 * 4 + 4;
/// Samples per block chunk: bounds the work of decoding one chunk for a short query.
const MAX_CHUNK_SAMPLES: usize = 8192;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BlockStats {
    #[serde(rename = "numSamples")]
    pub num_samples: u64,
    #[serde(rename = "numSeries")]
    pub num_series: u64,
    #[serde(rename = "numChunks")]
    pub num_chunks: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BlockCompaction {
    pub level: u32,
    pub sources: Vec<String>,
}

/// `meta.json`, with Prometheus's field names. `max_time` is exclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockMeta {
    pub ulid: String,
    #[serde(rename = "minTime")]
    pub min_time: i64,
    #[serde(rename = "maxTime")]
    pub max_time: i64,
    pub stats: BlockStats,
    pub compaction: BlockCompaction,
    pub version: u32,
}

/// A chunk's place in the chunks file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChunkMeta {
    pub(crate) mint: i64,
    pub(crate) maxt: i64,
    pub(crate) offset: u64,
    pub(crate) len: u64,
}

/// A sortable unique block name: 48-bit milliseconds then 80 random bits, Crockford base32
/// (the ULID layout Prometheus uses for block directories).
pub(crate) fn new_ulid() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
        & ((1u128 << 48) - 1);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(SEQ.fetch_add(1, Ordering::Relaxed));
    h.write_u128(ms);
    let r1 = h.finish() as u128;
    h.write_u8(1);
    let r2 = (h.finish() & 0xffff) as u128;
    let v: u128 = (ms << 80) | (r1 << 16) | r2;
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    (0..26).rev().map(|i| ALPHABET[((v >> (i * 5)) & 31) as usize] as char).collect()
}

fn is_block_name(name: &str) -> bool {
    name.len() == 26 && name.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Writes a block under `parent` from series given in sorted label order. `fetch(i)` returns the
/// samples of `series[i]` within `[mint, maxt)`. Returns None when no series had samples.
pub(crate) fn write_block(
    parent: &Path,
    mint: i64,
    maxt: i64,
    level: u32,
    sources: Vec<String>,
    series: &[Labels],
    fetch: &mut dyn FnMut(usize) -> Result<Vec<Sample>>,
) -> Result<Option<BlockMeta>> {
    let ulid = new_ulid();
    let tmp = parent.join(format!("{ulid}.tmp"));
    let chunks_dir = tmp.join("chunks");
    fs::create_dir_all(&chunks_dir).map_err(|e| Error::io(&chunks_dir, e))?;
    let result = write_block_files(&tmp, mint, maxt, series, fetch);
    let stats = match result {
        Ok(Some(stats)) => stats,
        Ok(None) => {
            let _ = fs::remove_dir_all(&tmp);
            return Ok(None);
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    let sources = if sources.is_empty() { vec![ulid.clone()] } else { sources };
    let meta = BlockMeta {
        ulid: ulid.clone(),
        min_time: mint,
        max_time: maxt,
        stats,
        compaction: BlockCompaction { level, sources },
        version: 1,
    };
    let meta_path = tmp.join("meta.json");
    let json = serde_json::to_vec_pretty(&meta).map_err(|e| Error::Meta { path: meta_path.clone(), source: e })?;
    write_synced(&meta_path, &json)?;
    crate::wal::sync_dir(&chunks_dir)?;
    crate::wal::sync_dir(&tmp)?;
    let dst = parent.join(&ulid);
    fs::rename(&tmp, &dst).map_err(|e| Error::io(&dst, e))?;
    crate::wal::sync_dir(parent)?;
    Ok(Some(meta))
}

fn write_synced(path: &Path, data: &[u8]) -> Result<()> {
    let mut f = File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(data).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

fn section(out: &mut Vec<u8>, content: &[u8]) {
    out.extend_from_slice(&(content.len() as u32).to_le_bytes());
    out.extend_from_slice(content);
    out.extend_from_slice(&crc32fast::hash(content).to_le_bytes());
}

fn write_block_files(
    dir: &Path,
    mint: i64,
    maxt: i64,
    series: &[Labels],
    fetch: &mut dyn FnMut(usize) -> Result<Vec<Sample>>,
) -> Result<Option<BlockStats>> {
    // Symbols sorted, so comparing ids compares strings.
    let mut symset: BTreeSet<&str> = BTreeSet::new();
    for ls in series {
        for l in ls {
            symset.insert(&l.name);
            symset.insert(&l.value);
        }
    }
    let symbols: Vec<&str> = symset.into_iter().collect();
    let sym_id: HashMap<&str, u64> = symbols.iter().enumerate().map(|(i, s)| (*s, i as u64)).collect();

    let chunks_path = dir.join("chunks").join("000001");
    let cf = File::create(&chunks_path).map_err(|e| Error::io(&chunks_path, e))?;
    let mut cw = BufWriter::with_capacity(1 << 20, cf);
    cw.write_all(CHUNKS_MAGIC).map_err(|e| Error::io(&chunks_path, e))?;
    let mut coff = CHUNKS_MAGIC.len() as u64;

    let mut index = Vec::with_capacity(1 << 16);
    index.extend_from_slice(INDEX_MAGIC);
    index.push(1);
    let sym_off = index.len() as u64;
    let mut content = Vec::new();
    put_uvarint(&mut content, symbols.len() as u64);
    for s in &symbols {
        put_str(&mut content, s);
    }
    section(&mut index, &content);

    let series_off = index.len() as u64;
    let mut postings: BTreeMap<(u64, u64), Vec<u64>> = BTreeMap::new();
    let mut all = Vec::new();
    let mut stats = BlockStats::default();
    for (i, ls) in series.iter().enumerate() {
        let samples = fetch(i)?;
        let samples: Vec<Sample> = samples.into_iter().filter(|s| s.t >= mint && s.t < maxt).collect();
        if samples.is_empty() {
            continue;
        }
        let mut metas = Vec::new();
        for part in samples.chunks(MAX_CHUNK_SAMPLES) {
            let body = blockenc::encode(part);
            cw.write_all(&body).map_err(|e| Error::io(&chunks_path, e))?;
            cw.write_all(&crc32fast::hash(&body).to_le_bytes()).map_err(|e| Error::io(&chunks_path, e))?;
            let first = part.first().map(|s| s.t).unwrap_or(mint);
            let last = part.last().map(|s| s.t).unwrap_or(mint);
            metas.push(ChunkMeta { mint: first, maxt: last, offset: coff, len: body.len() as u64 });
            coff += body.len() as u64 + 4;
        }
        stats.num_samples += samples.len() as u64;
        stats.num_chunks += metas.len() as u64;
        stats.num_series += 1;
        let id = index.len() as u64;
        content.clear();
        put_uvarint(&mut content, ls.len() as u64);
        for l in ls {
            let n = sym_id.get(l.name.as_str()).copied().unwrap_or(0);
            let v = sym_id.get(l.value.as_str()).copied().unwrap_or(0);
            put_uvarint(&mut content, n);
            put_uvarint(&mut content, v);
            postings.entry((n, v)).or_default().push(id);
        }
        put_uvarint(&mut content, metas.len() as u64);
        for m in &metas {
            put_varint(&mut content, m.mint);
            put_uvarint(&mut content, (m.maxt - m.mint) as u64);
            put_uvarint(&mut content, m.offset);
            put_uvarint(&mut content, m.len);
        }
        section(&mut index, &content);
        all.push(id);
    }
    if stats.num_series == 0 {
        return Ok(None);
    }
    let cf = cw.into_inner().map_err(|e| Error::io(&chunks_path, e.into_error()))?;
    cf.sync_all().map_err(|e| Error::io(&chunks_path, e))?;

    let postings_off = index.len() as u64;
    let mut table: Vec<(&str, &str, u64)> = Vec::with_capacity(postings.len() + 1);
    let write_list = |index: &mut Vec<u8>, list: &[u64]| {
        let off = index.len() as u64;
        let mut c = Vec::with_capacity(list.len() * 2 + 4);
        put_uvarint(&mut c, list.len() as u64);
        let mut prev = 0;
        for &id in list {
            put_uvarint(&mut c, id - prev);
            prev = id;
        }
        section(index, &c);
        off
    };
    // The all-series list under the empty label pair, as Prometheus does.
    table.push(("", "", write_list(&mut index, &all)));
    for ((n, v), list) in &postings {
        let off = write_list(&mut index, list);
        table.push((symbols[*n as usize], symbols[*v as usize], off));
    }
    let table_off = index.len() as u64;
    content.clear();
    put_uvarint(&mut content, table.len() as u64);
    for (n, v, off) in &table {
        put_str(&mut content, n);
        put_str(&mut content, v);
        put_uvarint(&mut content, *off);
    }
    section(&mut index, &content);
    let mut toc = Vec::with_capacity(TOC_LEN);
    for off in [sym_off, series_off, postings_off, table_off] {
        toc.extend_from_slice(&off.to_le_bytes());
    }
    let c = crc32fast::hash(&toc);
    toc.extend_from_slice(&c.to_le_bytes());
    index.extend_from_slice(&toc);
    write_synced(&dir.join("index"), &index)?;
    Ok(Some(stats))
}

/// A block opened for reading.
pub(crate) struct Block {
    pub(crate) dir: PathBuf,
    pub(crate) meta: BlockMeta,
    index_path: PathBuf,
    index: Vec<u8>,
    symbols: Vec<String>,
    /// label name -> sorted (value, postings offset).
    table: BTreeMap<String, Vec<(String, u64)>>,
    all_off: u64,
    chunks_path: PathBuf,
    chunks: File,
    pub(crate) size_bytes: u64,
}

impl Block {
    pub(crate) fn open(dir: &Path) -> Result<Block> {
        let meta_path = dir.join("meta.json");
        let raw = fs::read(&meta_path).map_err(|e| Error::io(&meta_path, e))?;
        let meta: BlockMeta =
            serde_json::from_slice(&raw).map_err(|e| Error::Meta { path: meta_path.clone(), source: e })?;
        let index_path = dir.join("index");
        let index = fs::read(&index_path).map_err(|e| Error::io(&index_path, e))?;
        let chunks_path = dir.join("chunks").join("000001");
        let chunks = File::open(&chunks_path).map_err(|e| Error::io(&chunks_path, e))?;
        let corrupt = |off: u64, why: &str| Error::corrupt(&index_path, off, why);
        if index.len() < INDEX_MAGIC.len() + 1 + TOC_LEN || &index[..4] != INDEX_MAGIC {
            return Err(corrupt(0, "bad magic or file too short"));
        }
        let toc_start = index.len() - TOC_LEN;
        let toc = &index[toc_start..];
        if crc32fast::hash(&toc[..32]).to_le_bytes() != toc[32..36] {
            return Err(corrupt(toc_start as u64, "table of contents checksum mismatch"));
        }
        let mut offs = [0u64; 4];
        for (i, o) in offs.iter_mut().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&toc[i * 8..i * 8 + 8]);
            *o = u64::from_le_bytes(b);
        }
        let [sym_off, _series_off, _postings_off, table_off] = offs;
        let syms = read_section(&index, sym_off, &index_path)?;
        let mut d = Decoder::new(syms);
        let n = d.uvarint().ok_or_else(|| corrupt(sym_off, "symbol count"))?;
        let mut symbols = Vec::with_capacity(n.min(1 << 20) as usize);
        for _ in 0..n {
            symbols.push(d.str().ok_or_else(|| corrupt(sym_off + 4 + d.pos() as u64, "symbol"))?.to_string());
        }
        let tb = read_section(&index, table_off, &index_path)?;
        let mut d = Decoder::new(tb);
        let n = d.uvarint().ok_or_else(|| corrupt(table_off, "postings table count"))?;
        let mut table: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
        let mut all_off = None;
        for _ in 0..n {
            let at = table_off + 4 + d.pos() as u64;
            let name = d.str().ok_or_else(|| corrupt(at, "postings table entry"))?;
            let value = d.str().ok_or_else(|| corrupt(at, "postings table entry"))?;
            let off = d.uvarint().ok_or_else(|| corrupt(at, "postings table entry"))?;
            if name.is_empty() && value.is_empty() {
                all_off = Some(off);
            } else {
                table.entry(name.to_string()).or_default().push((value.to_string(), off));
            }
        }
        let all_off = all_off.ok_or_else(|| corrupt(table_off, "no all-series postings"))?;
        let size_bytes = dir_size(dir);
        Ok(Block {
            dir: dir.to_path_buf(),
            meta,
            index_path,
            index,
            symbols,
            table,
            all_off,
            chunks_path,
            chunks,
            size_bytes,
        })
    }

    fn postings_at(&self, off: u64) -> Result<Vec<u64>> {
        let c = read_section(&self.index, off, &self.index_path)?;
        let mut d = Decoder::new(c);
        let bad = || Error::corrupt(&self.index_path, off, "postings list");
        let n = d.uvarint().ok_or_else(bad)?;
        let mut out = Vec::with_capacity(n.min(1 << 24) as usize);
        let mut prev = 0u64;
        for _ in 0..n {
            prev = prev.checked_add(d.uvarint().ok_or_else(bad)?).ok_or_else(bad)?;
            out.push(prev);
        }
        Ok(out)
    }

    /// Labels and chunk metas of the series at index offset `id`.
    pub(crate) fn series(&self, id: u64) -> Result<(Labels, Vec<ChunkMeta>)> {
        let c = read_section(&self.index, id, &self.index_path)?;
        let mut d = Decoder::new(c);
        let bad = || Error::corrupt(&self.index_path, id, "series entry");
        let sym = |i: u64| self.symbols.get(i as usize).ok_or_else(bad);
        let n = d.uvarint().ok_or_else(bad)?;
        let mut ls = Vec::with_capacity(n.min(256) as usize);
        for _ in 0..n {
            let name = sym(d.uvarint().ok_or_else(bad)?)?.clone();
            let value = sym(d.uvarint().ok_or_else(bad)?)?.clone();
            ls.push(Label { name, value });
        }
        if !ls.windows(2).all(|w| w[0].name < w[1].name) {
            return Err(bad());
        }
        let nc = d.uvarint().ok_or_else(bad)?;
        let mut metas = Vec::with_capacity(nc.min(1 << 16) as usize);
        for _ in 0..nc {
            let mint = d.varint().ok_or_else(bad)?;
            let span = d.uvarint().ok_or_else(bad)?;
            let offset = d.uvarint().ok_or_else(bad)?;
            let len = d.uvarint().ok_or_else(bad)?;
            metas.push(ChunkMeta { mint, maxt: mint.wrapping_add(span as i64), offset, len });
        }
        Ok((Labels::from_sorted(ls), metas))
    }

    /// Reads one chunk from disk and decodes samples in `[mint, maxt]` onto `out`.
    pub(crate) fn read_chunk(&self, m: &ChunkMeta, mint: i64, maxt: i64, out: &mut Vec<Sample>) -> Result<()> {
        let bad = |why: String| Error::corrupt(&self.chunks_path, m.offset, why);
        let len = usize::try_from(m.len).map_err(|_| bad("chunk length".into()))?;
        if len > 1 << 30 {
            return Err(bad(format!("chunk length {len} out of range")));
        }
        let mut buf = vec![0u8; len + 4];
        self.chunks.read_exact_at(&mut buf, m.offset).map_err(|e| Error::io(&self.chunks_path, e))?;
        let (body, sum) = buf.split_at(len);
        if crc32fast::hash(body).to_le_bytes() != sum {
            return Err(bad("chunk checksum mismatch".into()));
        }
        blockenc::decode(body, mint, maxt, out).map_err(|e| bad(format!("{} (bit {})", e.reason, e.bit)))
    }

    pub(crate) fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.meta.min_time <= maxt && self.meta.max_time > mint
    }

    pub(crate) fn label_names(&self) -> Vec<String> {
        self.table.keys().cloned().collect()
    }

    pub(crate) fn label_values(&self, name: &str) -> Vec<String> {
        self.table.get(name).map(|v| v.iter().map(|(v, _)| v.clone()).collect()).unwrap_or_default()
    }
}

impl PostingsIndex for Block {
    fn all_postings(&self) -> Result<Vec<u64>> {
        self.postings_at(self.all_off)
    }

    fn postings_eq(&self, name: &str, value: &str) -> Result<Vec<u64>> {
        let Some(values) = self.table.get(name) else { return Ok(Vec::new()) };
        match values.binary_search_by(|(v, _)| v.as_str().cmp(value)) {
            Ok(i) => self.postings_at(values[i].1),
            Err(_) => Ok(Vec::new()),
        }
    }

    fn postings_where(&self, name: &str, pred: &mut dyn FnMut(&str) -> bool) -> Result<Vec<u64>> {
        let Some(values) = self.table.get(name) else { return Ok(Vec::new()) };
        let mut lists = Vec::new();
        for (v, off) in values {
            if pred(v) {
                lists.push(self.postings_at(*off)?);
            }
        }
        Ok(crate::postings::union(lists))
    }
}

fn read_section<'a>(buf: &'a [u8], off: u64, path: &Path) -> Result<&'a [u8]> {
    let bad = |why: &str| Error::corrupt(path, off, why);
    let o = usize::try_from(off).map_err(|_| bad("offset out of range"))?;
    let len_bytes = buf.get(o..o + 4).ok_or_else(|| bad("section length beyond end of file"))?;
    let len = u32::from_le_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]) as usize;
    let content = buf.get(o + 4..o + 4 + len).ok_or_else(|| bad("section beyond end of file"))?;
    let sum = buf.get(o + 4 + len..o + 8 + len).ok_or_else(|| bad("section checksum beyond end of file"))?;
    if crc32fast::hash(content).to_le_bytes() != sum {
        return Err(bad("section checksum mismatch"));
    }
    Ok(content)
}

pub(crate) fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_size(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// Lists block directories under `dir`, removing leftovers of interrupted writes and deletions.
pub(crate) fn list_blocks(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if !path.is_dir() {
            continue;
        }
        if name.ends_with(".tmp") || name.ends_with(".tmp-for-deletion") {
            tracing::info!(dir = %path.display(), "removing leftover of an interrupted block write or deletion");
            let _ = fs::remove_dir_all(&path);
            continue;
        }
        if is_block_name(&name) && path.join("meta.json").exists() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Deletes a block directory atomically: rename first so a crash never leaves half a block.
pub(crate) fn delete_block(dir: &Path) -> Result<()> {
    let mut tmp = dir.as_os_str().to_owned();
    tmp.push(".tmp-for-deletion");
    let tmp = PathBuf::from(tmp);
    fs::rename(dir, &tmp).map_err(|e| Error::io(dir, e))?;
    fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_and_detect_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let series = vec![
            Labels::from_pairs([("__name__", "a"), ("job", "x")]),
            Labels::from_pairs([("__name__", "b"), ("job", "x")]),
            Labels::from_pairs([("__name__", "c"), ("job", "y")]),
        ];
        let meta = write_block(dir.path(), 0, 10_000, 1, vec![], &series, &mut |i| {
            Ok((0..10).map(|k| Sample::new(k * 1000, (i * 100 + k as usize) as f64)).collect())
        })
        .unwrap()
        .unwrap();
        assert_eq!(meta.stats.num_series, 3);
        assert_eq!(meta.stats.num_samples, 30);
        let bdir = dir.path().join(&meta.ulid);
        let b = Block::open(&bdir).unwrap();
        let ids = b.postings_eq("job", "x").unwrap();
        assert_eq!(ids.len(), 2);
        let (ls, metas) = b.series(ids[1]).unwrap();
        assert_eq!(ls, series[1]);
        let mut out = Vec::new();
        b.read_chunk(&metas[0], 2000, 3000, &mut out).unwrap();
        assert_eq!(out, vec![Sample::new(2000, 102.0), Sample::new(3000, 103.0)]);
        assert_eq!(b.label_values("job"), vec!["x", "y"]);

        // Flip a byte in the chunks file: reading reports the file and offset.
        let cpath = bdir.join("chunks").join("000001");
        let mut raw = fs::read(&cpath).unwrap();
        let at = metas[0].offset as usize + 1;
        raw[at] ^= 0xff;
        fs::write(&cpath, &raw).unwrap();
        let b = Block::open(&bdir).unwrap();
        let err = b.read_chunk(&metas[0], 0, 10_000, &mut Vec::new()).unwrap_err().to_string();
        assert!(err.contains("000001") && err.contains("offset"), "{err}");

        // A truncated index is an error at open, not a panic.
        let ipath = bdir.join("index");
        let raw = fs::read(&ipath).unwrap();
        fs::write(&ipath, &raw[..raw.len() / 2]).unwrap();
        assert!(Block::open(&bdir).is_err());
    }
}
