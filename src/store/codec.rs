//! The per-step records packed into `run_log.steps`: each step is a short
//! run of unsigned LEB128 varints. Layout per step (since V8):
//! `kind, status | 8 (| 16 when the HTTP status is 200), [http_status + 1
//! (0: none), unless 200], flags`, then, when `flags & 1`, the five phases
//! (`Phase::ALL` order) in microseconds and the step's duration as the
//! zigzag of its difference to the phases' sum (the phases cover nearly
//! all of it), else the duration in microseconds. The usual timed step (a
//! kind id below 128, status 200, five phases) costs 4 bytes plus its
//! phases (10 to 14), an untimed one 6 to 7. Blobs written before V8
//! (`kind, status, http_status + 1, duration_us, flags, phases`: status
//! below 8) still decode.
//!
//! Also the hourly histograms: `rollup_phases`' old layout
//! ([`encode_histograms`], read by the V8 conversion) and `rollup_timings`'
//! ([`encode_timings`]: one blob per probe and hour holding every step's
//! latency and phase histograms).

use super::latency::Histogram;

/// One step as stored in the blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StepRecord {
    /// `step_kinds.id`.
    pub kind: i64,
    /// `StepStatus` code (`runs::status_code`).
    pub status: u8,
    pub http_status: Option<u16>,
    pub duration_us: u64,
    /// Phases in microseconds, summed over the step's requests.
    pub phases: Option<[u64; 5]>,
}

pub(super) fn put(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

pub(super) fn take(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Status byte flag: the step is in the V8 layout.
const V8_LAYOUT: u8 = 8;
/// Status byte flag: HTTP status 200, not written.
const HTTP_200: u8 = 16;
/// The step status code's bits in the status byte.
const STATUS_BITS: u8 = 7;

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

pub fn encode(steps: &[StepRecord]) -> Vec<u8> {
    let mut out = Vec::with_capacity(steps.len() * 8);
    for s in steps {
        put(&mut out, s.kind.max(0) as u64);
        let ok = s.http_status == Some(200);
        put(
            &mut out,
            u64::from((s.status & STATUS_BITS) | V8_LAYOUT | if ok { HTTP_200 } else { 0 }),
        );
        if !ok {
            put(&mut out, s.http_status.map_or(0, |h| u64::from(h) + 1));
        }
        put(&mut out, u64::from(s.phases.is_some()));
        match &s.phases {
            Some(phases) => {
                for p in phases {
                    put(&mut out, *p);
                }
                let sum = phases.iter().fold(0u64, |a, p| a.saturating_add(*p));
                let diff = i128::from(s.duration_us) - i128::from(sum);
                put(&mut out, zigzag(i64::try_from(diff).unwrap_or(0)));
            }
            None => put(&mut out, s.duration_us),
        }
    }
    out
}

/// The records of a blob; a truncated or garbled tail (never written by
/// [`encode`]) ends the list.
pub fn decode(bytes: &[u8]) -> Vec<StepRecord> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match decode_one(bytes, &mut at) {
            Some(s) => out.push(s),
            None => break,
        }
    }
    out
}

fn decode_one(bytes: &[u8], at: &mut usize) -> Option<StepRecord> {
    let kind = take(bytes, at)? as i64;
    let status = take(bytes, at)? as u8;
    if status & V8_LAYOUT != 0 {
        return decode_v8(bytes, at, kind, status);
    }
    let http = take(bytes, at)?;
    let duration_us = take(bytes, at)?;
    let flags = take(bytes, at)?;
    let phases = if flags & 1 == 1 {
        let mut p = [0u64; 5];
        for v in &mut p {
            *v = take(bytes, at)?;
        }
        Some(p)
    } else {
        None
    };
    Some(StepRecord {
        kind,
        status,
        http_status: (http > 0).then(|| u16::try_from(http - 1).unwrap_or(u16::MAX)),
        duration_us,
        phases,
    })
}

fn decode_v8(bytes: &[u8], at: &mut usize, kind: i64, status: u8) -> Option<StepRecord> {
    let http = if status & HTTP_200 != 0 { 201 } else { take(bytes, at)? };
    let flags = take(bytes, at)?;
    let (phases, duration_us) = if flags & 1 == 1 {
        let mut p = [0u64; 5];
        for v in &mut p {
            *v = take(bytes, at)?;
        }
        let sum = p.iter().fold(0u64, |a, v| a.saturating_add(*v));
        let diff = unzigzag(take(bytes, at)?);
        (Some(p), u64::try_from(i128::from(sum) + i128::from(diff)).unwrap_or(0))
    } else {
        (None, take(bytes, at)?)
    };
    Some(StepRecord {
        kind,
        status: status & STATUS_BITS,
        http_status: (http > 0).then(|| u16::try_from(http - 1).unwrap_or(u16::MAX)),
        duration_us,
        phases,
    })
}

/// Histograms of durations in whole microseconds (the phases), each
/// `present, count, sum, min, max, buckets, (index delta, count)…`: an
/// hour of a step's five phases in about 100 bytes.
pub fn encode_histograms(hs: &[Option<&Histogram>]) -> Vec<u8> {
    let us = |s: f64| (s * 1e6).round().max(0.0) as u64;
    let mut out = Vec::new();
    for h in hs {
        let Some(h) = h else {
            put(&mut out, 0);
            continue;
        };
        put(&mut out, 1);
        put(&mut out, h.count);
        put(&mut out, us(h.sum_s));
        put(&mut out, us(h.min_s));
        put(&mut out, us(h.max_s));
        put(&mut out, h.buckets.len() as u64);
        let mut last = 0;
        for (b, n) in &h.buckets {
            put(&mut out, u64::from(b - last));
            put(&mut out, *n);
            last = *b;
        }
    }
    out
}

pub fn decode_histograms(bytes: &[u8]) -> Vec<Option<Histogram>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match decode_histogram(bytes, &mut at) {
            Some(h) => out.push(h),
            None => break,
        }
    }
    out
}

fn decode_histogram(bytes: &[u8], at: &mut usize) -> Option<Option<Histogram>> {
    if take(bytes, at)? == 0 {
        return Some(None);
    }
    let s = |v: u64| v as f64 / 1e6;
    let mut h = Histogram {
        count: take(bytes, at)?,
        sum_s: s(take(bytes, at)?),
        min_s: s(take(bytes, at)?),
        max_s: s(take(bytes, at)?),
        buckets: Default::default(),
    };
    let mut b = 0u32;
    for _ in 0..take(bytes, at)? {
        b = b.saturating_add(u32::try_from(take(bytes, at)?).unwrap_or(u32::MAX));
        h.buckets.insert(b, take(bytes, at)?);
    }
    Some(Some(h))
}

/// Bytes a varint takes.
fn varint_len(v: u64) -> usize {
    (64 - v.max(1).leading_zeros() as usize).div_ceil(7)
}

/// Whole microseconds of a duration in seconds (durations are measured in
/// µs or ms, so this is exact).
pub(super) fn us(s: f64) -> u64 {
    (s * 1e6).round().max(0.0) as u64
}

/// One histogram of durations, compactly (`rollup_timings`): `0` for an
/// empty one, else `entries << 1 | dense`, the first bucket's index, then
/// either every bucket's count from the first to the last (dense, zeros
/// included) or the first count and `(index delta, count)` pairs (sparse),
/// whichever is shorter; then the sum, the minimum and `max - min`, in µs.
/// The count is the buckets' total.
pub fn put_histogram(out: &mut Vec<u8>, h: &Histogram) {
    let (Some((&first, _)), Some((&last, _))) = (h.buckets.first_key_value(), h.buckets.last_key_value()) else {
        put(out, 0);
        return;
    };
    let dense_len: usize = (first..=last).map(|b| varint_len(h.buckets.get(&b).copied().unwrap_or(0))).sum();
    let mut prev = first;
    let sparse_len: usize = h
        .buckets
        .iter()
        .map(|(b, n)| {
            let len = if *b == first { 0 } else { varint_len(u64::from(b - prev)) } + varint_len(*n);
            prev = *b;
            len
        })
        .sum();
    let dense = dense_len <= sparse_len;
    let entries = if dense {
        u64::from(last - first) + 1
    } else {
        h.buckets.len() as u64
    };
    put(out, entries << 1 | u64::from(dense));
    put(out, u64::from(first));
    if dense {
        for b in first..=last {
            put(out, h.buckets.get(&b).copied().unwrap_or(0));
        }
    } else {
        let mut prev = first;
        for (b, n) in &h.buckets {
            if *b != first {
                put(out, u64::from(b - prev));
            }
            put(out, *n);
            prev = *b;
        }
    }
    let min = us(h.min_s);
    put(out, us(h.sum_s));
    put(out, min);
    put(out, us(h.max_s).saturating_sub(min));
}

/// The histogram [`put_histogram`] wrote at `at` (None: a garbled tail).
pub fn take_histogram(bytes: &[u8], at: &mut usize) -> Option<Histogram> {
    let header = take(bytes, at)?;
    let mut h = Histogram::default();
    if header == 0 {
        return Some(h);
    }
    let (entries, dense) = (header >> 1, header & 1 == 1);
    let mut b = u32::try_from(take(bytes, at)?).ok()?;
    for i in 0..entries {
        if i > 0 {
            b = b.checked_add(if dense { 1 } else { u32::try_from(take(bytes, at)?).ok()? })?;
        }
        let n = take(bytes, at)?;
        if n > 0 {
            h.buckets.insert(b, n);
            h.count += n;
        }
    }
    let s = |v: u64| v as f64 / 1e6;
    let (sum, min, span) = (take(bytes, at)?, take(bytes, at)?, take(bytes, at)?);
    h.sum_s = s(sum);
    h.min_s = s(min);
    h.max_s = s(min.saturating_add(span));
    Some(h)
}

/// One step's hour in `rollup_timings`: its latency and its phases.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timings {
    pub latency: Option<Histogram>,
    /// `Phase::ALL` order.
    pub phases: [Option<Histogram>; 5],
}

/// A probe's hour: `(step, timings)` records, `step` 0 for the whole run
/// (step '') or the step name's `texts` id; each record is the step, a
/// flags varint (bit 0: latency, bits 1–5: the phases present), then the
/// present histograms ([`put_histogram`]).
pub fn encode_timings(series: &[(i64, &Timings)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (step, t) in series {
        put(&mut out, step.max(&0).unsigned_abs());
        let mut flags = u64::from(t.latency.is_some());
        for (i, p) in t.phases.iter().enumerate() {
            flags |= u64::from(p.is_some()) << (i + 1);
        }
        put(&mut out, flags);
        for h in t.latency.iter().chain(t.phases.iter().flatten()) {
            put_histogram(&mut out, h);
        }
    }
    out
}

/// The records of [`encode_timings`]; a garbled tail ends the list.
pub fn decode_timings(bytes: &[u8]) -> Vec<(i64, Timings)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let Some(record) = take_timings(bytes, &mut at) else { break };
        out.push(record);
    }
    out
}

fn take_timings(bytes: &[u8], at: &mut usize) -> Option<(i64, Timings)> {
    let step = i64::try_from(take(bytes, at)?).ok()?;
    let flags = take(bytes, at)?;
    let mut t = Timings::default();
    if flags & 1 == 1 {
        t.latency = Some(take_histogram(bytes, at)?);
    }
    for (i, p) in t.phases.iter_mut().enumerate() {
        if flags >> (i + 1) & 1 == 1 {
            *p = Some(take_histogram(bytes, at)?);
        }
    }
    Some((step, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_round_trip() {
        let mut h = Histogram::default();
        for us in [1_200u64, 1_500, 90_000, 250_000] {
            h.add(us as f64 / 1e6);
        }
        let blob = encode_histograms(&[Some(&h), None, Some(&h)]);
        assert_eq!(decode_histograms(&blob), vec![Some(h.clone()), None, Some(h)]);
    }

    fn hist(values_us: &[u64]) -> Histogram {
        let mut h = Histogram::default();
        for v in values_us {
            h.add(*v as f64 / 1e6);
        }
        // As `aggregate` keeps it: the exact sum of whole microseconds.
        h.sum_s = values_us.iter().sum::<u64>() as f64 / 1e6;
        h
    }

    #[test]
    fn compact_histograms_round_trip_dense_sparse_and_empty() {
        let dense = hist(&[300_000, 310_000, 350_000, 420_000, 420_500, 999_000]);
        let sparse = hist(&[900, 250_000, 9_000_000]);
        let empty = Histogram::default();
        for h in [&dense, &sparse, &empty] {
            let mut out = Vec::new();
            put_histogram(&mut out, h);
            let mut at = 0;
            assert_eq!(take_histogram(&out, &mut at).as_ref(), Some(h));
            assert_eq!(at, out.len());
        }
        let mut out = Vec::new();
        put_histogram(&mut out, &sparse);
        // Three buckets far apart: header, first, count, then two (delta, count) pairs, then sum, min, span.
        assert_eq!(out.len(), 1 + 1 + 1 + 2 * 2 + 4 + 2 + 4);
        let t = Timings {
            latency: Some(dense.clone()),
            phases: [Some(sparse.clone()), None, Some(empty), None, Some(dense)],
        };
        let blob = encode_timings(&[(0, &t), (7, &Timings::default())]);
        assert_eq!(decode_timings(&blob), vec![(0, t), (7, Timings::default())]);
        assert_eq!(decode_timings(&blob[..blob.len() - 1]).len(), 1, "a garbled tail ends the list");
    }

    /// A timed HTTP 200 step, then an untimed one with no HTTP status.
    fn two_steps() -> [StepRecord; 2] {
        [
            StepRecord {
                kind: 3,
                status: 0,
                http_status: Some(200),
                duration_us: 231_456,
                phases: Some([1_200, 800, 25_000, 150_000, 54_456]),
            },
            StepRecord {
                kind: 300,
                status: 1,
                http_status: None,
                duration_us: 0,
                phases: None,
            },
        ]
    }

    #[test]
    fn steps_round_trip_and_stay_small() {
        let steps = two_steps();
        let blob = encode(&steps);
        assert_eq!(decode(&blob), steps);
        // 1 + 1 + 1, phases 2 + 2 + 3 + 3 + 3, duration = their sum: 1;
        // then 2 + 1 + 1 (no HTTP status) + 1 + 1.
        assert_eq!(blob.len(), 3 + 13 + 1 + 6);
        assert_eq!(decode(&blob[..blob.len() - 1]), steps[..1].to_vec());
        // Another status, phases that do not add up (either way).
        let odd = [
            StepRecord {
                http_status: Some(302),
                duration_us: 231_000,
                ..steps[0]
            },
            StepRecord {
                duration_us: 240_000,
                ..steps[0]
            },
        ];
        assert_eq!(decode(&encode(&odd)), odd);
    }

    #[test]
    fn blobs_written_before_v8_still_decode() {
        // kind 3, status 0, HTTP 200 + 1, 231 456 µs, flags 1, five phases;
        // then kind 300, status 1, no HTTP status, 0 µs, no phases.
        let mut old = Vec::new();
        for v in [3, 0, 201, 231_456, 1, 1_200, 800, 25_000, 150_000, 54_456, 300, 1, 0, 0, 0] {
            put(&mut old, v);
        }
        let want = two_steps().to_vec();
        assert_eq!(decode(&old), want);
    }
}
