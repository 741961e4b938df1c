//! Alert identity: Prometheus's `model.LabelSet.Fingerprint` (FNV-1a 64 over the label names
//! and values sorted by name, each followed by a 0xff separator). Group keys, silences and the
//! notification log all refer to alerts by this value, so it must match Alertmanager bit for bit.

use std::fmt;

use oxeye_model::Labels;
use serde::{Deserialize, Serialize};

const OFFSET64: u64 = 14695981039346656037;
const PRIME64: u64 = 1099511628211;
const SEPARATOR: u8 = 0xff;

/// A label set's fingerprint. `Display` prints it as Alertmanager does (`%016x`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
pub struct Fingerprint(pub u64);

impl Fingerprint {
    /// The fingerprint of a label set. `Labels` is sorted by name, as the algorithm requires.
    pub fn of(labels: &Labels) -> Fingerprint {
        let mut h = OFFSET64;
        for l in labels.iter() {
            h = add(h, l.name.as_bytes());
            h = add(h, &[SEPARATOR]);
            h = add(h, l.value.as_bytes());
            h = add(h, &[SEPARATOR]);
        }
        Fingerprint(h)
    }

    /// Parses the `%016x` form (as found in API paths).
    pub fn parse(s: &str) -> Option<Fingerprint> {
        u64::from_str_radix(s, 16).ok().map(Fingerprint)
    }
}

fn add(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(PRIME64);
    }
    h
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_set_is_the_fnv_offset() {
        assert_eq!(Fingerprint::of(&Labels::empty()), Fingerprint(OFFSET64));
        assert_eq!(Fingerprint::of(&Labels::empty()).to_string(), "cbf29ce484222325");
    }

    #[test]
    fn known_values_match_prometheus() {
        // Computed with the Go algorithm (model.labelSetToFingerprint) by an independent script.
        let l = Labels::from_pairs([("alertname", "TestAlert")]);
        assert_eq!(Fingerprint::of(&l).to_string(), KNOWN_1);
        let l = Labels::from_pairs([("job", "node"), ("alertname", "HighLoad"), ("instance", "a:9100")]);
        assert_eq!(Fingerprint::of(&l).to_string(), KNOWN_2);
    }

    #[test]
    fn prometheus_common_test_vector() {
        // prometheus/common model/signature_test.go TestLabelSetToFingerprint.
        let l = Labels::from_pairs([("name", "garland, briggs"), ("fear", "love is not enough")]);
        assert_eq!(Fingerprint::of(&l).0, 5799056148416392346);
    }

    #[test]
    fn order_of_construction_does_not_matter_but_values_do() {
        let a = Labels::from_pairs([("a", "1"), ("b", "2")]);
        let b = Labels::from_pairs([("b", "2"), ("a", "1")]);
        assert_eq!(Fingerprint::of(&a), Fingerprint::of(&b));
        // The separator keeps ("ab","") apart from ("a","b").
        let c = Labels::from_sorted(vec![oxeye_model::Label::new("a", "b1")]);
        let d = Labels::from_sorted(vec![oxeye_model::Label::new("ab", "1")]);
        assert_ne!(Fingerprint::of(&c), Fingerprint::of(&d));
    }

    #[test]
    fn parse_round_trips() {
        let fp = Fingerprint(0x00ab_cdef_0123_4567);
        assert_eq!(fp.to_string(), "00abcdef01234567");
        assert_eq!(Fingerprint::parse(&fp.to_string()), Some(fp));
        assert_eq!(Fingerprint::parse("zz"), None);
    }

    const KNOWN_1: &str = "dab43189276e5f48";
    const KNOWN_2: &str = "04686a6cc049f18b";
}
