//! The chunk encoding used inside persisted blocks, denser than head XOR chunks because a block
//! chunk is written once with all its samples known. Timestamps: regular series (one interval)
//! cost nothing per sample; others use delta-of-delta buckets. Values: when every value is a
//! decimal with few digits (counters, most gauges), they are stored as integers m * 10^-e with
//! the cheaper of delta or delta-of-delta in small bit buckets; otherwise Gorilla XOR. Decoding
//! reproduces the exact f64 bits (checked at encode time), so NaN/stale markers fall back to XOR.

use oxeye_model::Sample;

use crate::chunkenc::{BitReader, BitWriter, DecodeError, XorState, read_dod, write_dod};
use crate::encoding::{Decoder, put_uvarint, put_varint};

const POW10: [f64; 10] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

const TS_REGULAR: u8 = 0;
const TS_DOD: u8 = 1;
const V_XOR: u8 = 0;
const V_INT_DELTA: u8 = 1;
const V_INT_DOD: u8 = 2;

/// Small-integer buckets: (prefix, prefix bits, payload bits).
const INT_BUCKETS: [(u64, u8, u8); 4] = [(0b10, 2, 4), (0b110, 3, 8), (0b1110, 4, 16), (0b11110, 5, 32)];

fn write_int(w: &mut BitWriter<'_>, x: i64) {
    if x == 0 {
        w.bit(false);
        return;
    }
    for (prefix, plen, nbits) in INT_BUCKETS {
        let lim = 1i64 << (nbits - 1);
        if x >= -lim && x < lim {
            w.bits(prefix, plen);
            w.bits(x as u64, nbits);
            return;
        }
    }
    w.bits(0b11111, 5);
    w.bits(x as u64, 64);
}

fn read_int(r: &mut BitReader<'_>) -> Result<i64, DecodeError> {
    let mut ones = 0usize;
    while ones < 5 {
        if !r.bit()? {
            break;
        }
        ones += 1;
    }
    if ones == 0 {
        return Ok(0);
    }
    if ones == 5 {
        return Ok(r.bits(64)? as i64);
    }
    let nbits = INT_BUCKETS[ones - 1].2;
    let raw = r.bits(nbits)?;
    // Sign-extend the two's-complement payload.
    let shift = 64 - u32::from(nbits);
    Ok(((raw << shift) as i64) >> shift)
}

/// Finds the smallest decimal exponent at which every value is an exact integer mantissa.
fn decimal_mantissas(samples: &[Sample]) -> Option<(u8, Vec<i64>)> {
    'exp: for (e, &scale) in POW10.iter().enumerate() {
        let mut ms = Vec::with_capacity(samples.len());
        for s in samples {
            let m = (s.v * scale).round();
            if !m.is_finite() || m.abs() >= (1u64 << 53) as f64 {
                continue 'exp;
            }
            let mi = m as i64;
            if (mi as f64 / scale).to_bits() != s.v.to_bits() {
                continue 'exp;
            }
            ms.push(mi);
        }
        return Some((e as u8, ms));
    }
    None
}

fn encode_ints(ms: &[i64], dod: bool) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut free = 0u8;
    let mut w = BitWriter::new(&mut buf, &mut free);
    let mut prev_delta = 0i64;
    for win in ms.windows(2) {
        let delta = win[1].wrapping_sub(win[0]);
        if dod {
            write_int(&mut w, delta.wrapping_sub(prev_delta));
            prev_delta = delta;
        } else {
            write_int(&mut w, delta);
        }
    }
    buf
}

/// Encodes samples (ascending timestamps, at least one) as a block chunk body.
pub fn encode(samples: &[Sample]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + samples.len());
    put_uvarint(&mut out, samples.len() as u64);
    let Some(first) = samples.first() else { return out };
    put_varint(&mut out, first.t);
    if samples.len() > 1 {
        let d0 = samples[1].t.wrapping_sub(first.t);
        put_varint(&mut out, d0);
        let regular = samples.windows(2).all(|w| w[1].t.wrapping_sub(w[0].t) == d0);
        if regular {
            out.push(TS_REGULAR);
        } else {
            out.push(TS_DOD);
            let mut buf = Vec::new();
            let mut free = 0u8;
            let mut w = BitWriter::new(&mut buf, &mut free);
            let mut prev = d0;
            for win in samples[1..].windows(2) {
                let d = win[1].t.wrapping_sub(win[0].t);
                write_dod(&mut w, d.wrapping_sub(prev));
                prev = d;
            }
            put_uvarint(&mut out, buf.len() as u64);
            out.extend_from_slice(&buf);
        }
    }
    // Values: try the integer forms, keep the smallest.
    let mut best: Option<(u8, u8, i64, Vec<u8>)> = None;
    if let Some((e, ms)) = decimal_mantissas(samples) {
        for (mode, dod) in [(V_INT_DELTA, false), (V_INT_DOD, true)] {
            let body = encode_ints(&ms, dod);
            if best.as_ref().is_none_or(|b| body.len() < b.3.len()) {
                best = Some((mode, e, ms[0], body));
            }
        }
    }
    match best {
        Some((mode, e, m0, body)) => {
            out.push(mode);
            out.push(e);
            put_varint(&mut out, m0);
            out.extend_from_slice(&body);
        }
        None => {
            out.push(V_XOR);
            out.extend_from_slice(&first.v.to_bits().to_le_bytes());
            let mut buf = Vec::new();
            let mut free = 0u8;
            let mut w = BitWriter::new(&mut buf, &mut free);
            let mut st = XorState::new(first.v.to_bits());
            for s in &samples[1..] {
                st.write(&mut w, s.v.to_bits());
            }
            out.extend_from_slice(&buf);
        }
    }
    out
}

fn derr(reason: &'static str) -> DecodeError {
    DecodeError { bit: 0, reason }
}

/// Decodes a block chunk body, pushing samples in `[mint, maxt]` onto `out`.
pub fn decode(data: &[u8], mint: i64, maxt: i64, out: &mut Vec<Sample>) -> Result<(), DecodeError> {
    let mut d = Decoder::new(data);
    let n = d.uvarint().ok_or(derr("sample count"))? as usize;
    if n == 0 {
        return Ok(());
    }
    if n > data.len() * 8 + 1 {
        return Err(derr("sample count exceeds chunk size"));
    }
    let mut ts = Vec::with_capacity(n);
    let t0 = d.varint().ok_or(derr("first timestamp"))?;
    ts.push(t0);
    if n > 1 {
        let d0 = d.varint().ok_or(derr("first delta"))?;
        let mode = d.u8().ok_or(derr("timestamp mode"))?;
        match mode {
            TS_REGULAR => {
                for i in 1..n {
                    ts.push(ts[i - 1].wrapping_add(d0));
                }
            }
            TS_DOD => {
                let len = d.uvarint().ok_or(derr("timestamp stream length"))? as usize;
                let body = d.bytes(len).ok_or(derr("timestamp stream"))?;
                let mut r = BitReader::new(body);
                let mut delta = d0;
                ts.push(t0.wrapping_add(d0));
                for i in 2..n {
                    delta = delta.wrapping_add(read_dod(&mut r)?);
                    ts.push(ts[i - 1].wrapping_add(delta));
                }
            }
            _ => return Err(derr("unknown timestamp mode")),
        }
    }
    let vmode = d.u8().ok_or(derr("value mode"))?;
    let lo = ts.partition_point(|&t| t < mint);
    let hi = ts.partition_point(|&t| t <= maxt);
    match vmode {
        V_XOR => {
            let v0 = d.u64_le().ok_or(derr("first value"))?;
            let rest = &data[d.pos()..];
            let mut r = BitReader::new(rest);
            let mut st = XorState::new(v0);
            for (i, &t) in ts.iter().enumerate().take(hi) {
                let v = if i == 0 { v0 } else { st.read(&mut r)? };
                if i >= lo {
                    out.push(Sample { t, v: f64::from_bits(v) });
                }
            }
        }
        V_INT_DELTA | V_INT_DOD => {
            let e = d.u8().ok_or(derr("decimal exponent"))?;
            let scale = *POW10.get(usize::from(e)).ok_or(derr("decimal exponent out of range"))?;
            let mut m = d.varint().ok_or(derr("first mantissa"))?;
            let rest = &data[d.pos()..];
            let mut r = BitReader::new(rest);
            let mut delta = 0i64;
            for (i, &t) in ts.iter().enumerate().take(hi) {
                if i > 0 {
                    let x = read_int(&mut r)?;
                    if vmode == V_INT_DOD {
                        delta = delta.wrapping_add(x);
                    } else {
                        delta = x;
                    }
                    m = m.wrapping_add(delta);
                }
                if i >= lo {
                    out.push(Sample { t, v: m as f64 / scale });
                }
            }
        }
        _ => return Err(derr("unknown value mode")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxeye_model::STALE_NAN;

    fn rt(samples: &[Sample]) -> usize {
        let enc = encode(samples);
        let mut out = Vec::new();
        decode(&enc, i64::MIN, i64::MAX, &mut out).unwrap();
        assert_eq!(out.len(), samples.len());
        for (a, b) in samples.iter().zip(&out) {
            assert_eq!((a.t, a.v.to_bits()), (b.t, b.v.to_bits()));
        }
        enc.len()
    }

    #[test]
    fn counters_gauges_and_specials_round_trip_bit_exact() {
        let counter: Vec<Sample> = (0..480).map(|i| Sample::new(i * 15_000, (i * 37 + i % 7) as f64)).collect();
        let size = rt(&counter);
        assert!(size < 480, "counter took {size} bytes for 480 samples");
        let gauge: Vec<Sample> =
            (0..480).map(|i| Sample::new(1_700_000_000_000 + i * 15_000, 0.25 * (i % 9) as f64)).collect();
        rt(&gauge);
        let decimal: Vec<Sample> = (0..100).map(|i| Sample::new(i * 1000, 12.34 + i as f64 * 0.01)).collect();
        rt(&decimal);
        let mut specials: Vec<Sample> = (0..10).map(|i| Sample::new(i * 1000 + i * i, i as f64)).collect();
        specials[3].v = STALE_NAN;
        specials[4].v = f64::NAN;
        specials[5].v = f64::INFINITY;
        specials[6].v = -0.0;
        rt(&specials);
        rt(&[Sample::new(-5, 1e300)]);
        rt(&[Sample::new(i64::MIN / 2, 3.0), Sample::new(i64::MAX / 2, -3.0)]);
        let irrational: Vec<Sample> = (0..50).map(|i| Sample::new(i * 10, (i as f64).sqrt())).collect();
        rt(&irrational);
    }

    #[test]
    fn constant_regular_series_costs_almost_nothing() {
        let s: Vec<Sample> = (0..480).map(|i| Sample::new(i * 15_000, 1.0)).collect();
        assert!(rt(&s) < 80);
    }

    #[test]
    fn range_filter_and_truncation() {
        let s: Vec<Sample> = (0..100).map(|i| Sample::new(i * 10, i as f64 * 1.5)).collect();
        let enc = encode(&s);
        let mut out = Vec::new();
        decode(&enc, 200, 230, &mut out).unwrap();
        assert_eq!(out.iter().map(|s| s.t).collect::<Vec<_>>(), vec![200, 210, 220, 230]);
        for cut in 0..enc.len() {
            let mut out = Vec::new();
            assert!(decode(&enc[..cut], i64::MIN, i64::MAX, &mut out).is_err(), "cut at {cut}");
        }
    }
}
