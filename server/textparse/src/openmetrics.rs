//! OpenMetrics 1.0 family-level rules: which sample names belong to a family, metadata placement
//! and repetition, name clashes, grouping and timestamp order, counter/histogram/summary/info/
//! stateset value rules, `le` / `quantile` labels and exemplar placement. It sees one sample at a
//! time (names, label spans, values); it knows nothing about line syntax.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::MetricType;
use crate::error::{ErrorKind, excerpt};
use crate::number::parse_om_number;
use crate::sample::unescape;

/// Keys are already xxh3 hashes; hashing them again would only cost time.
#[derive(Default)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type GroupSet = HashSet<u64, BuildHasherDefault<IdentityHasher>>;

/// One label as byte ranges into the line it was parsed from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LabelSpan {
    pub name: (usize, usize),
    /// The raw (still escaped) value, without quotes.
    pub value: (usize, usize),
}

impl LabelSpan {
    pub fn name<'l>(&self, line: &'l str) -> &'l str {
        line.get(self.name.0..self.name.1).unwrap_or("")
    }
    pub fn value<'l>(&self, line: &'l str) -> &'l str {
        line.get(self.value.0..self.value.1).unwrap_or("")
    }
}

/// Suffixes a family of each type may use for its samples (the empty suffix is the bare name).
pub(crate) fn allowed_suffixes(t: MetricType) -> &'static [&'static str] {
    match t {
        MetricType::Counter => &["_total", "_created"],
        MetricType::Summary => &["", "_count", "_sum", "_created"],
        MetricType::Histogram => &["_bucket", "_count", "_sum", "_created"],
        MetricType::GaugeHistogram => &["_bucket", "_gcount", "_gsum"],
        MetricType::Info => &["_info"],
        MetricType::StateSet | MetricType::Gauge | MetricType::Unknown => &[""],
    }
}

/// Per-group state of a histogram or gauge histogram: consecutive samples with the same labels
/// (minus `le`) and timestamp.
#[derive(Debug, Default)]
struct HistogramGroup {
    key: Option<(u64, Option<u64>)>,
    last_bound: Option<f64>,
    last_bucket_value: f64,
    count: Option<f64>,
    has_sum: bool,
    has_gsum: bool,
    negative_buckets: bool,
    negative_gsum: bool,
}

impl HistogramGroup {
    fn check(&self, family: &str) -> Result<(), ErrorKind> {
        let fail = |m: &str| Err(ErrorKind::Invalid(format!("histogram {family:?}: {m}")));
        if self.last_bound != Some(f64::INFINITY) {
            return fail("+Inf bucket missing");
        }
        if let Some(c) = self.count
            && c != self.last_bucket_value
        {
            return fail("count does not match the +Inf bucket");
        }
        if self.has_sum && self.count.is_none() {
            return fail("_sum without _count");
        }
        if self.has_gsum && self.count.is_none() {
            return fail("_gsum without _gcount");
        }
        if !(self.has_sum || self.has_gsum) && self.count.is_some() {
            return fail("_count without _sum");
        }
        if self.negative_buckets && self.has_sum {
            return fail("_sum with negative buckets");
        }
        if !self.negative_buckets && self.negative_gsum {
            return fail("negative _gsum without negative buckets");
        }
        Ok(())
    }
}

/// What the strict validator needs to know about one sample.
pub(crate) struct SampleView<'l> {
    pub line: &'l str,
    pub name: &'l str,
    pub labels: &'l [LabelSpan],
    pub value: f64,
    /// Timestamp in seconds as written.
    pub timestamp: Option<f64>,
    pub has_exemplar: bool,
}

/// The family being read plus everything the strict rules remember across families.
#[derive(Default)]
pub(crate) struct FamilyState<'a> {
    pub active: bool,
    pub family: &'a str,
    pub typ: MetricType,
    typ_declared: bool,
    help_seen: bool,
    unit: Option<&'a str>,
    samples_seen: bool,
    group: Option<u64>,
    group_ts: Option<f64>,
    seen_groups: GroupSet,
    hist: HistogramGroup,
    seen_names: HashSet<String>,
}

fn invalid(msg: String) -> ErrorKind {
    ErrorKind::Invalid(msg)
}

impl<'a> FamilyState<'a> {
    /// True when `name` is a sample name of the current family.
    pub fn owns(&self, name: &str) -> bool {
        self.active && name.strip_prefix(self.family).is_some_and(|suffix| allowed_suffixes(self.typ).contains(&suffix))
    }

    fn start(&mut self, name: &'a str, typ: MetricType) {
        self.active = true;
        self.family = name;
        self.typ = typ;
        self.typ_declared = false;
        self.help_seen = false;
        self.unit = None;
        self.samples_seen = false;
        self.group = None;
        self.group_ts = None;
        self.seen_groups.clear();
        self.hist = HistogramGroup::default();
    }

    /// End-of-family rules; `strict` off only closes the family.
    pub fn finish(&mut self, strict: bool) -> Result<(), ErrorKind> {
        if !self.active {
            return Ok(());
        }
        self.active = false;
        if !strict {
            return Ok(());
        }
        let family = self.family;
        let suffixes = allowed_suffixes(self.typ);
        let bare = if suffixes.contains(&"") { None } else { Some("") };
        for suffix in suffixes.iter().copied().chain(bare) {
            let mut full = String::with_capacity(family.len() + suffix.len());
            full.push_str(family);
            full.push_str(suffix);
            if self.seen_names.contains(&full) {
                return Err(invalid(format!("metric name {full:?} clashes with an earlier metric family")));
            }
            self.seen_names.insert(full);
        }
        if let Some(unit) = self.unit.filter(|u| !u.is_empty()) {
            if !family.strip_suffix(unit).is_some_and(|rest| rest.ends_with('_')) {
                return Err(invalid(format!("unit {unit:?} is not a suffix of metric family {family:?}")));
            }
            if matches!(self.typ, MetricType::Info | MetricType::StateSet) {
                return Err(invalid(format!("{} metric family {family:?} must not have a unit", self.typ)));
            }
        }
        if matches!(self.typ, MetricType::Histogram | MetricType::GaugeHistogram) && self.hist.key.is_some() {
            self.hist.check(family)?;
        }
        Ok(())
    }

    /// A `# HELP` / `# TYPE` / `# UNIT` line for `name`. Returns the declared type for TYPE.
    pub fn metadata(
        &mut self,
        strict: bool,
        kind: &str,
        name: &'a str,
        text: &'a str,
    ) -> Result<Option<MetricType>, ErrorKind> {
        if self.active && name == self.family {
            if self.samples_seen && strict {
                return Err(invalid(format!("# {kind} for {name:?} after its samples")));
            }
        } else {
            self.finish(strict)?;
            self.start(name, MetricType::Unknown);
        }
        match kind {
            "HELP" => {
                if self.help_seen && strict {
                    return Err(invalid(format!("second # HELP for {name:?}")));
                }
                self.help_seen = true;
                Ok(None)
            }
            "TYPE" => {
                if self.typ_declared && strict {
                    return Err(invalid(format!("second # TYPE for {name:?}")));
                }
                let t = MetricType::from_openmetrics(text).ok_or_else(|| ErrorKind::InvalidType(excerpt(text)))?;
                self.typ_declared = true;
                self.typ = t;
                Ok(Some(t))
            }
            _ => {
                if self.unit.is_some() && strict {
                    return Err(invalid(format!("second # UNIT for {name:?}")));
                }
                self.unit = Some(text);
                Ok(None)
            }
        }
    }

    /// Assigns a sample to a family, starting an untyped one when its name belongs to none.
    pub fn enter_sample(&mut self, strict: bool, name: &'a str) -> Result<(), ErrorKind> {
        if !self.owns(name) {
            self.finish(strict)?;
            self.start(name, MetricType::Unknown);
        }
        self.samples_seen = true;
        Ok(())
    }

    /// The per-sample OpenMetrics rules. Call after `enter_sample`.
    pub fn check_sample(&mut self, s: &SampleView<'_>) -> Result<(), ErrorKind> {
        let family = self.family;
        let typ = self.typ;
        let suffix = s.name.get(family.len()..).unwrap_or("");
        let find = |label: &str| s.labels.iter().find(|l| l.name(s.line) == label).map(|l| l.value(s.line));
        let line_err = |m: &str| Err(invalid(format!("{m} in {:?}", excerpt(s.line))));

        if typ == MetricType::StateSet && find(family).is_none() {
            return line_err("stateset sample without its family label");
        }
        let mut bound = None;
        if suffix == "_bucket" {
            let le = find("le").map(decode).and_then(|v| parse_bound(&v));
            match le {
                Some(b) => bound = Some(b),
                None => return line_err("bucket without a valid le label"),
            }
            if !is_integer(s.value) {
                return line_err("bucket value must be an integer");
            }
        }
        if (suffix == "_count" || suffix == "_gcount") && !is_integer(s.value) {
            return line_err("count value must be an integer");
        }
        if typ == MetricType::Summary && suffix.is_empty() {
            let q = find("quantile").map(decode).and_then(|v| parse_bound(&v));
            if !q.is_some_and(|q| (0.0..=1.0).contains(&q)) {
                return line_err("summary quantile sample without a quantile label in [0, 1]");
            }
            if s.value < 0.0 {
                return line_err("quantile values cannot be negative");
            }
        }

        // Grouping: a group's samples are contiguous and its timestamps never go backwards.
        let g = self.group_hash(s, suffix);
        if let Some(cur) = self.group {
            if g != cur && self.seen_groups.contains(&g) {
                return line_err("samples of one group are not contiguous");
            }
            if g == cur {
                if s.timestamp.is_some() != self.group_ts.is_some() {
                    return line_err("mix of samples with and without timestamp in one group");
                }
                if let (Some(prev), Some(ts)) = (self.group_ts, s.timestamp)
                    && prev > ts
                    && typ != MetricType::Info
                {
                    return line_err("timestamps go backwards within a group");
                }
            }
        }
        self.group = Some(g);
        self.group_ts = s.timestamp;
        self.seen_groups.insert(g);

        if matches!(typ, MetricType::Histogram | MetricType::GaugeHistogram) && !suffix.is_empty() {
            self.histogram_sample(s, suffix, g, bound)?;
        }

        if typ == MetricType::StateSet && s.value != 0.0 && s.value != 1.0 {
            return line_err("stateset values must be 0 or 1");
        }
        if typ == MetricType::Info && s.value != 1.0 {
            return line_err("info values must be 1");
        }
        if matches!(suffix, "_total" | "_sum" | "_count" | "_bucket" | "_gcount" | "_gsum") && s.value.is_nan() {
            return line_err("counter-like values cannot be NaN");
        }
        if matches!(suffix, "_total" | "_sum" | "_count" | "_bucket" | "_gcount") && s.value < 0.0 {
            return line_err("counter-like values cannot be negative");
        }
        if s.has_exemplar {
            let ok = (matches!(typ, MetricType::Histogram | MetricType::GaugeHistogram) && s.name.ends_with("_bucket"))
                || (typ == MetricType::Counter && s.name.ends_with("_total"));
            if !ok {
                return line_err("exemplars are only allowed on counter _total and histogram _bucket samples");
            }
        }
        Ok(())
    }

    fn histogram_sample(
        &mut self,
        s: &SampleView<'_>,
        suffix: &str,
        g: u64,
        bound: Option<f64>,
    ) -> Result<(), ErrorKind> {
        let key = (g, s.timestamp.map(f64::to_bits));
        if self.hist.key != Some(key) {
            if self.hist.key.is_some() {
                self.hist.check(self.family)?;
            }
            self.hist = HistogramGroup { key: Some(key), ..HistogramGroup::default() };
        }
        let h = &mut self.hist;
        match suffix {
            "_bucket" => {
                let b = bound.unwrap_or(f64::NAN);
                if b < 0.0 {
                    h.negative_buckets = true;
                }
                if h.last_bound.is_some_and(|prev| b <= prev) {
                    return Err(invalid(format!("histogram {:?}: buckets out of order", self.family)));
                }
                if s.value < h.last_bucket_value {
                    return Err(invalid(format!("histogram {:?}: bucket counts are not cumulative", self.family)));
                }
                h.last_bound = Some(b);
                h.last_bucket_value = s.value;
            }
            "_count" | "_gcount" => h.count = Some(s.value),
            "_sum" => h.has_sum = true,
            "_gsum" => {
                h.has_gsum = true;
                if s.value < 0.0 {
                    h.negative_gsum = true;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Order-independent hash of the sample's labels minus the one that tells a group's members
    /// apart (`le` of buckets, `quantile` of summary quantiles, the family label of a state set).
    fn group_hash(&self, s: &SampleView<'_>, suffix: &str) -> u64 {
        let skip = match self.typ {
            MetricType::Info => return 0,
            MetricType::Summary if suffix.is_empty() => "quantile",
            MetricType::StateSet => self.family,
            MetricType::Histogram | MetricType::GaugeHistogram if suffix == "_bucket" => "le",
            _ => "",
        };
        let mut h: u64 = 0;
        for l in s.labels {
            let n = l.name(s.line);
            if n == skip {
                continue;
            }
            let seed = xxh3_64(n.as_bytes());
            h = h.wrapping_add(xxh3_64_with_seed(l.value(s.line).as_bytes(), seed));
        }
        h
    }
}

fn decode(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.contains('\\') { std::borrow::Cow::Owned(unescape(raw, true)) } else { std::borrow::Cow::Borrowed(raw) }
}

/// An `le` or `quantile` value: a number, not NaN, and infinities spelled `+Inf` / `-Inf`.
fn parse_bound(v: &str) -> Option<f64> {
    let f = parse_om_number(v)?;
    if f.is_nan() || (f.is_infinite() && v != "+Inf" && v != "-Inf") {
        return None;
    }
    Some(f)
}

fn is_integer(v: f64) -> bool {
    v.is_finite() && v.fract() == 0.0
}
