//! XOR ("Gorilla") chunks as Prometheus encodes them in `tsdb/chunkenc/xor.go`: a 2-byte sample
//! count, then the first timestamp as a varint and value as raw bits, the second timestamp as a
//! delta, then delta-of-delta timestamps in 1/16/20/24/68-bit buckets and values XOR'd with their
//! predecessor. Values are compared as bits, so NaN payloads (the staleness marker) survive.
//! This module knows nothing about series, files or locks.

use oxeye_model::Sample;

/// Samples per head chunk before a new one is cut, as in Prometheus.
pub const SAMPLES_PER_CHUNK: u16 = 120;

/// Why a chunk could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Bit offset in the chunk where decoding stopped.
    pub bit: usize,
    pub reason: &'static str,
}

pub(crate) struct BitWriter<'a> {
    buf: &'a mut Vec<u8>,
    /// Bits still free in the last byte of `buf` (0 when a new byte is needed).
    free: &'a mut u8,
}

impl<'a> BitWriter<'a> {
    pub(crate) fn new(buf: &'a mut Vec<u8>, free: &'a mut u8) -> Self {
        BitWriter { buf, free }
    }

    #[inline]
    pub(crate) fn bit(&mut self, b: bool) {
        if *self.free == 0 {
            self.push_byte();
        }
        *self.free -= 1;
        if b {
            let last = self.buf.len() - 1;
            self.buf[last] |= 1 << *self.free;
        }
    }

    #[inline]
    fn push_byte(&mut self) {
        if self.buf.len() == self.buf.capacity() {
            // Grow in small steps: head chunks are long-lived and a doubling Vec wastes up to half
            // its capacity per series.
            self.buf.reserve_exact(16);
        }
        self.buf.push(0);
        *self.free = 8;
    }

    /// Writes the low `n` bits of `v`, most significant first.
    #[inline]
    pub(crate) fn bits(&mut self, v: u64, mut n: u8) {
        while n > 0 {
            if *self.free == 0 {
                self.push_byte();
            }
            let take = n.min(*self.free);
            let shift = n - take;
            let chunk = ((v >> shift) & ((1u64 << take) - 1)) as u8;
            let last = self.buf.len() - 1;
            *self.free -= take;
            self.buf[last] |= chunk << *self.free;
            n -= take;
        }
    }

    fn uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.bits((v & 0x7f) | 0x80, 8);
            v >>= 7;
        }
        self.bits(v, 8);
    }

    fn varint(&mut self, v: i64) {
        self.uvarint(crate::encoding::zigzag(v));
    }
}

pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    pub(crate) fn err(&self, reason: &'static str) -> DecodeError {
        DecodeError { bit: self.pos, reason }
    }

    #[inline]
    pub(crate) fn bit(&mut self) -> Result<bool, DecodeError> {
        let byte = *self.data.get(self.pos / 8).ok_or_else(|| self.err("chunk ends early"))?;
        let b = (byte >> (7 - (self.pos % 8))) & 1 == 1;
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    pub(crate) fn bits(&mut self, n: u8) -> Result<u64, DecodeError> {
        if self.pos + usize::from(n) > self.data.len() * 8 {
            return Err(self.err("chunk ends early"));
        }
        let mut v = 0u64;
        let mut n = n;
        while n > 0 {
            let byte = self.data[self.pos / 8];
            let avail = 8 - (self.pos % 8) as u8;
            let take = avail.min(n);
            let shift = avail - take;
            let chunk = (byte >> shift) & (((1u16 << take) - 1) as u8);
            v = (v << take) | u64::from(chunk);
            self.pos += usize::from(take);
            n -= take;
        }
        Ok(v)
    }

    fn uvarint(&mut self) -> Result<u64, DecodeError> {
        let mut x = 0u64;
        let mut shift = 0u32;
        loop {
            let b = self.bits(8)?;
            if shift > 63 {
                return Err(self.err("varint overflows"));
            }
            x |= (b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(x);
            }
            shift += 7;
        }
    }

    fn varint(&mut self) -> Result<i64, DecodeError> {
        self.uvarint().map(crate::encoding::unzigzag)
    }
}

/// Delta-of-delta buckets: (control prefix bits, prefix length, payload bits).
const DOD_BUCKETS: [(u64, u8, u8); 3] = [(0b10, 2, 14), (0b110, 3, 17), (0b1110, 4, 20)];

pub(crate) fn write_dod(w: &mut BitWriter<'_>, dod: i64) {
    if dod == 0 {
        w.bit(false);
        return;
    }
    for (prefix, plen, nbits) in DOD_BUCKETS {
        let lim = 1i64 << (nbits - 1);
        if dod > -lim && dod <= lim {
            w.bits(prefix, plen);
            w.bits(dod as u64, nbits);
            return;
        }
    }
    w.bits(0b1111, 4);
    w.bits(dod as u64, 64);
}

pub(crate) fn read_dod(r: &mut BitReader<'_>) -> Result<i64, DecodeError> {
    let mut ones = 0u8;
    while ones < 4 {
        if !r.bit()? {
            break;
        }
        ones += 1;
    }
    let nbits = match ones {
        0 => return Ok(0),
        1 => 14,
        2 => 17,
        3 => 20,
        _ => return Ok(r.bits(64)? as i64),
    };
    let raw = r.bits(nbits)?;
    // Sign-extend the bucket's two's-complement payload (the bucket is (-2^(n-1), 2^(n-1)]).
    let mut v = raw as i64;
    if raw > (1u64 << (nbits - 1)) {
        v -= 1i64 << nbits;
    }
    Ok(v)
}

/// XOR state shared by the writer and reader: the previous value's bits and its window.
#[derive(Clone, Copy)]
pub(crate) struct XorState {
    pub(crate) v: u64,
    pub(crate) leading: u8,
    pub(crate) trailing: u8,
}

impl XorState {
    pub(crate) fn new(v: u64) -> Self {
        XorState { v, leading: 0xff, trailing: 0 }
    }

    pub(crate) fn write(&mut self, w: &mut BitWriter<'_>, v: u64) {
        let x = v ^ self.v;
        self.v = v;
        if x == 0 {
            w.bit(false);
            return;
        }
        w.bit(true);
        let leading = (x.leading_zeros() as u8).min(31);
        let trailing = x.trailing_zeros() as u8;
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            w.bit(false);
            let sig = 64 - self.leading - self.trailing;
            w.bits(x >> self.trailing, sig);
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        w.bit(true);
        let sig = 64 - leading - trailing;
        w.bits(u64::from(leading), 5);
        // 64 significant bits do not fit 6 bits; 0 stands for 64 as in Prometheus.
        w.bits(u64::from(sig & 63), 6);
        w.bits(x >> trailing, sig);
    }

    pub(crate) fn read(&mut self, r: &mut BitReader<'_>) -> Result<u64, DecodeError> {
        if !r.bit()? {
            return Ok(self.v);
        }
        if r.bit()? {
            let leading = r.bits(5)? as u8;
            let mut sig = r.bits(6)? as u8;
            if sig == 0 {
                sig = 64;
            }
            if u16::from(leading) + u16::from(sig) > 64 {
                return Err(r.err("xor window exceeds 64 bits"));
            }
            self.leading = leading;
            self.trailing = 64 - leading - sig;
        } else if self.leading == 0xff {
            return Err(r.err("xor window reused before it was set"));
        }
        let sig = 64 - self.leading - self.trailing;
        let bits = r.bits(sig)?;
        self.v ^= bits << self.trailing;
        Ok(self.v)
    }
}

/// The writable state of an XOR chunk. The byte buffer starts with the big-endian sample count.
pub struct XorAppender {
    buf: Vec<u8>,
    free: u8,
    t: i64,
    t_delta: i64,
    xor: XorState,
}

impl Default for XorAppender {
    fn default() -> Self {
        XorAppender { buf: Vec::new(), free: 0, t: 0, t_delta: 0, xor: XorState::new(0) }
    }
}

impl XorAppender {
    pub fn num_samples(&self) -> u16 {
        match self.buf.get(..2) {
            Some(b) => u16::from_be_bytes([b[0], b[1]]),
            None => 0,
        }
    }

    pub fn last_t(&self) -> i64 {
        self.t
    }

    pub fn last_v_bits(&self) -> u64 {
        self.xor.v
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Bytes held on the heap (capacity, not length).
    pub fn heap_bytes(&self) -> usize {
        self.buf.capacity()
    }

    /// Appends a sample. Callers guarantee `t` is after the previous sample and the chunk holds
    /// fewer than `u16::MAX` samples.
    pub fn append(&mut self, t: i64, v: f64) {
        let n = self.num_samples();
        let vb = v.to_bits();
        if n == 0 {
            self.buf.clear();
            self.buf.reserve_exact(16);
            self.buf.extend_from_slice(&[0, 0]);
            self.free = 0;
            let mut w = BitWriter { buf: &mut self.buf, free: &mut self.free };
            w.varint(t);
            w.bits(vb, 64);
            self.xor = XorState::new(vb);
        } else if n == 1 {
            let delta = t.wrapping_sub(self.t);
            let mut w = BitWriter { buf: &mut self.buf, free: &mut self.free };
            w.varint(delta);
            self.xor.write(&mut w, vb);
            self.t_delta = delta;
        } else {
            let delta = t.wrapping_sub(self.t);
            let dod = delta.wrapping_sub(self.t_delta);
            let mut w = BitWriter { buf: &mut self.buf, free: &mut self.free };
            write_dod(&mut w, dod);
            self.xor.write(&mut w, vb);
            self.t_delta = delta;
        }
        self.t = t;
        let c = (n + 1).to_be_bytes();
        self.buf[0] = c[0];
        self.buf[1] = c[1];
    }

    /// Seals the chunk: returns its bytes with no spare capacity and resets the appender.
    pub fn finish(&mut self) -> Box<[u8]> {
        let b = std::mem::take(&mut self.buf).into_boxed_slice();
        self.free = 0;
        b
    }
}

/// Decodes an XOR chunk, pushing samples with `mint <= t <= maxt` onto `out`.
pub fn decode_xor(data: &[u8], mint: i64, maxt: i64, out: &mut Vec<Sample>) -> Result<(), DecodeError> {
    let Some(hdr) = data.get(..2) else {
        return Err(DecodeError { bit: 0, reason: "chunk shorter than its header" });
    };
    let n = u16::from_be_bytes([hdr[0], hdr[1]]);
    let mut r = BitReader::new(&data[2..]);
    let mut t = 0i64;
    let mut delta = 0i64;
    let mut xor = XorState::new(0);
    for i in 0..n {
        let v = match i {
            0 => {
                t = r.varint()?;
                let v = r.bits(64)?;
                xor = XorState::new(v);
                v
            }
            1 => {
                delta = r.varint()?;
                t = t.wrapping_add(delta);
                xor.read(&mut r)?
            }
            _ => {
                delta = delta.wrapping_add(read_dod(&mut r)?);
                t = t.wrapping_add(delta);
                xor.read(&mut r)?
            }
        };
        if t > maxt {
            break;
        }
        if t >= mint {
            out.push(Sample { t, v: f64::from_bits(v) });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxeye_model::STALE_NAN;

    fn round_trip(samples: &[(i64, f64)]) -> Vec<Sample> {
        let mut a = XorAppender::default();
        for &(t, v) in samples {
            a.append(t, v);
        }
        assert_eq!(usize::from(a.num_samples()), samples.len());
        let data = a.finish();
        let mut out = Vec::new();
        decode_xor(&data, i64::MIN, i64::MAX, &mut out).unwrap();
        out
    }

    fn assert_bit_exact(input: &[(i64, f64)], out: &[Sample]) {
        assert_eq!(input.len(), out.len());
        for (a, b) in input.iter().zip(out) {
            assert_eq!(a.0, b.t);
            assert_eq!(a.1.to_bits(), b.v.to_bits(), "value at t={} not bit-exact", a.0);
        }
    }

    #[test]
    fn special_values_round_trip_bit_exact() {
        let input = vec![
            (1000, 1.0),
            (16000, f64::NAN),
            (31000, STALE_NAN),
            (46000, f64::INFINITY),
            (61000, f64::NEG_INFINITY),
            (76000, -0.0),
            (91000, 0.0),
            (106000, f64::MIN_POSITIVE),
            (121000, f64::MAX),
            (136000, STALE_NAN),
            (151000, 42.5),
        ];
        let out = round_trip(&input);
        assert_bit_exact(&input, &out);
        assert!(oxeye_model::is_stale_nan(out[2].v) && !oxeye_model::is_stale_nan(out[1].v));
    }

    #[test]
    fn large_and_negative_timestamp_gaps_round_trip() {
        let input = vec![
            (-5_000_000_000_000, 1.0),
            (-4_999_999_999_999, 2.0),
            (-10, 3.0),
            (0, 4.0),
            (1, 5.0),
            (8193, 6.0),
            (8193 + 8192 * 2 + 1, 7.0),
            (1 << 40, 8.0),
            ((1 << 40) + 15, 9.0),
            ((1 << 40) + 30, 10.0),
            (i64::MAX / 2, 11.0),
        ];
        let out = round_trip(&input);
        assert_bit_exact(&input, &out);
    }

    #[test]
    fn every_dod_bucket_boundary_round_trips() {
        let mut input = vec![(0i64, 0.0f64), (1000, 1.0)];
        let mut t = 1000i64;
        let mut delta = 1000i64;
        for dod in [0i64, 1, -1, 8191, 8192, -8191, -8192, 65536, -65535, 65537, 524288, -524289, 1 << 33] {
            delta += dod;
            t += delta;
            input.push((t, t as f64 * 0.5));
        }
        let out = round_trip(&input);
        assert_bit_exact(&input, &out);
    }

    #[test]
    fn regular_series_is_compact_and_range_filtered() {
        let input: Vec<(i64, f64)> = (0..120).map(|i| (i * 15_000, 7.0)).collect();
        let mut a = XorAppender::default();
        for &(t, v) in &input {
            a.append(t, v);
        }
        // 2 header + ~9 first sample + 2 bits per further sample.
        assert!(a.bytes().len() < 45, "constant regular chunk took {} bytes", a.bytes().len());
        let mut out = Vec::new();
        decode_xor(a.bytes(), 30_000, 60_000, &mut out).unwrap();
        assert_eq!(out.iter().map(|s| s.t).collect::<Vec<_>>(), vec![30_000, 45_000, 60_000]);
    }

    #[test]
    fn truncated_chunk_is_an_error_not_a_panic() {
        let mut a = XorAppender::default();
        for i in 0..50 {
            a.append(i * 1000, i as f64 * 1.37);
        }
        let data = a.finish();
        for cut in 0..data.len() {
            let mut out = Vec::new();
            assert!(decode_xor(&data[..cut], i64::MIN, i64::MAX, &mut out).is_err(), "cut at {cut}");
        }
    }
}
