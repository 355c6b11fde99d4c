//! The per-step records packed into `run_log.steps`: each step is a short
//! run of unsigned LEB128 varints, so the usual step (a kind id below 128,
//! status 200, a duration of a few hundred milliseconds) costs 7 bytes, and
//! 10 to 14 more with its five phases. Layout per step:
//! `kind, status, http_status + 1 (0: none), duration_us, flags` then, when
//! `flags & 1`, the five phases (`Phase::ALL` order) in microseconds.

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

fn put(out: &mut Vec<u8>, mut v: u64) {
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

fn take(bytes: &[u8], at: &mut usize) -> Option<u64> {
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

pub fn encode(steps: &[StepRecord]) -> Vec<u8> {
    let mut out = Vec::with_capacity(steps.len() * 8);
    for s in steps {
        put(&mut out, s.kind.max(0) as u64);
        put(&mut out, u64::from(s.status));
        put(&mut out, s.http_status.map_or(0, |h| u64::from(h) + 1));
        put(&mut out, s.duration_us);
        put(&mut out, u64::from(s.phases.is_some()));
        for p in s.phases.iter().flatten() {
            put(&mut out, *p);
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

    #[test]
    fn steps_round_trip_and_stay_small() {
        let steps = [
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
        ];
        let blob = encode(&steps);
        assert_eq!(decode(&blob), steps);
        // 1 + 1 + 2 + 3 + 1, phases 2 + 2 + 3 + 3 + 3; then 2 + 1 + 1 + 1 + 1.
        assert_eq!(blob.len(), 8 + 13 + 6);
        assert_eq!(decode(&blob[..blob.len() - 1]), steps[..1].to_vec());
    }
}
