//! The pull parser: splits the body into lines and turns each into an [`Entry`]. Line syntax of
//! both formats lives here; OpenMetrics family rules are delegated to `openmetrics`. Errors stop
//! the parser (a scrape with a bad line is rejected whole, as upstream does).

use std::borrow::Cow;

use crate::error::{ErrorKind, ParseError, excerpt};
use crate::number::{parse_go_float, parse_om_number, parse_om_realnumber, seconds_to_ms};
use crate::openmetrics::{FamilyState, LabelSpan, SampleView};
use crate::sample::{Exemplar, Sample, unescape};
use crate::{Format, MetricType};

/// How much of OpenMetrics is enforced. The text format is always parsed as Prometheus does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Validation {
    /// Every rule of the OpenMetrics 1.0 specification: family grouping, name clashes, suffixes,
    /// histogram buckets, value ranges, exemplar placement and size.
    #[default]
    Strict,
    /// Line syntax only, as Prometheus's own OpenMetrics parser: bodies Prometheus ingests are
    /// ingested even where they break family-level rules.
    Syntax,
}

/// One item of a scrape body. Comments (text format) are skipped.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    Type { metric_family: &'a str, typ: MetricType },
    Help { metric_family: &'a str, text: Cow<'a, str> },
    Unit { metric_family: &'a str, unit: &'a str },
    Sample(Sample<'a>),
}

/// Exemplar label sets longer than this many characters (names plus values) are invalid.
const MAX_EXEMPLAR_RUNES: usize = 128;

/// A pull parser over one scrape body.
pub struct Parser<'a> {
    body: &'a str,
    pos: usize,
    line: usize,
    format: Format,
    strict: bool,
    done: bool,
    pending: Option<ParseError>,
    /// Text format: the family named by the last `# TYPE` / `# HELP`.
    text_family: &'a str,
    text_type: MetricType,
    om: FamilyState<'a>,
    spans: Vec<LabelSpan>,
    exemplar_spans: Vec<LabelSpan>,
}

const fn table(first: bool, colon: bool) -> [bool; 256] {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphabetic() || b == b'_' || (colon && b == b':') || (!first && b.is_ascii_digit());
        c += 1;
    }
    t
}
const METRIC_FIRST: [bool; 256] = table(true, true);
const METRIC_REST: [bool; 256] = table(false, true);
const LABEL_FIRST: [bool; 256] = table(true, false);
const LABEL_REST: [bool; 256] = table(false, false);

/// Length of the name at the start of `b` (0 when none).
fn name_len(b: &[u8], first: &[bool; 256], rest: &[bool; 256]) -> usize {
    match b.first() {
        Some(&c) if first[c as usize] => {}
        _ => return 0,
    }
    1 + b[1..].iter().take_while(|&&c| rest[c as usize]).count()
}

pub(crate) fn is_metric_name(s: &str) -> bool {
    !s.is_empty() && name_len(s.as_bytes(), &METRIC_FIRST, &METRIC_REST) == s.len()
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

/// Index just past the closing quote of a label value whose opening quote is at `open`.
fn quoted_end(b: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

fn syntax(msg: &str, line: &str) -> ErrorKind {
    ErrorKind::Syntax(format!("{msg} in {:?}", excerpt(line)))
}

impl<'a> Parser<'a> {
    /// A parser with [`Validation::Strict`] OpenMetrics rules.
    pub fn new(body: &'a [u8], format: Format) -> Self {
        Self::with_validation(body, format, Validation::Strict)
    }

    pub fn with_validation(body: &'a [u8], format: Format, validation: Validation) -> Self {
        let (body, pending) = match std::str::from_utf8(body) {
            Ok(s) => (s, None),
            Err(e) => {
                let line = 1 + memchr::memchr_iter(b'\n', &body[..e.valid_up_to()]).count();
                ("", Some(ParseError { line, kind: ErrorKind::InvalidUtf8 }))
            }
        };
        Parser {
            body,
            pos: 0,
            line: 0,
            format,
            strict: validation == Validation::Strict,
            done: false,
            pending,
            text_family: "",
            text_type: MetricType::Unknown,
            om: FamilyState::default(),
            spans: Vec::with_capacity(16),
            exemplar_spans: Vec::with_capacity(4),
        }
    }

    /// The 1-based line number of the entry last returned.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The next entry, `Ok(None)` at the end of the body. After an error every call returns
    /// `Ok(None)`.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        if let Some(e) = self.pending.take() {
            self.done = true;
            return Err(e);
        }
        if self.done {
            return Ok(None);
        }
        loop {
            if self.pos >= self.body.len() {
                self.done = true;
                if self.format == Format::OpenMetrics {
                    return Err(ParseError { line: self.line.max(1), kind: ErrorKind::MissingEof });
                }
                return Ok(None);
            }
            let rest = &self.body[self.pos..];
            let line = match memchr::memchr(b'\n', rest.as_bytes()) {
                Some(i) => {
                    self.pos += i + 1;
                    &rest[..i]
                }
                None => {
                    self.pos = self.body.len();
                    rest
                }
            };
            self.line += 1;
            let r = match self.format {
                Format::PrometheusText => self.text_line(line),
                Format::OpenMetrics => self.om_line(line),
            };
            match r {
                Ok(Some(e)) => return Ok(Some(e)),
                Ok(None) if self.done => return Ok(None),
                Ok(None) => continue,
                Err(kind) => {
                    self.done = true;
                    return Err(ParseError { line: self.line, kind });
                }
            }
        }
    }

    // ----- Prometheus text format -----

    fn text_line(&mut self, line: &'a str) -> Result<Option<Entry<'a>>, ErrorKind> {
        let b = line.as_bytes();
        let start = skip_ws(b, 0);
        match b.get(start) {
            None => Ok(None),
            Some(b'#') => self.text_comment(line, start + 1),
            Some(_) => self.text_sample(line, start).map(|s| Some(Entry::Sample(s))),
        }
    }

    /// `#` at `i - 1`. `# HELP` / `# TYPE` are metadata; any other comment is skipped.
    fn text_comment(&mut self, line: &'a str, i: usize) -> Result<Option<Entry<'a>>, ErrorKind> {
        let b = line.as_bytes();
        let j = skip_ws(b, i);
        if j == i {
            return Ok(None);
        }
        let keyword = &line[j..];
        let is_help = keyword.starts_with("HELP");
        if !(is_help || keyword.starts_with("TYPE")) {
            return Ok(None);
        }
        let k = j + 4;
        let n0 = skip_ws(b, k);
        if n0 == k || n0 == b.len() {
            // `# HELPER ...` or a bare `# HELP` is an ordinary comment, as upstream's lexer has it.
            return Ok(None);
        }
        let n = name_len(&b[n0..], &METRIC_FIRST, &METRIC_REST);
        if n == 0 {
            return Err(syntax("expected metric name after # HELP/TYPE", line));
        }
        let name = &line[n0..n0 + n];
        let after = n0 + n;
        // Upstream takes the text after exactly one separating blank or tab.
        let text = match b.get(after) {
            None => "",
            Some(b' ' | b'\t') => &line[after + 1..],
            Some(_) => return Err(ErrorKind::InvalidMetricName(excerpt(&line[n0..]))),
        };
        if name != self.text_family {
            self.text_family = name;
            self.text_type = MetricType::Unknown;
        }
        if is_help {
            let text = if text.contains('\\') { Cow::Owned(unescape(text, false)) } else { Cow::Borrowed(text) };
            Ok(Some(Entry::Help { metric_family: name, text }))
        } else {
            let typ = MetricType::from_text_format(text).ok_or_else(|| ErrorKind::InvalidType(excerpt(text)))?;
            self.text_type = typ;
            Ok(Some(Entry::Type { metric_family: name, typ }))
        }
    }

    fn text_family_of(&mut self, name: &'a str) -> (&'a str, MetricType) {
        let fam = self.text_family;
        if !fam.is_empty()
            && let Some(suffix) = name.strip_prefix(fam)
        {
            let ok = match self.text_type {
                _ if suffix.is_empty() => true,
                MetricType::Counter => matches!(suffix, "_total" | "_created"),
                MetricType::Histogram => matches!(suffix, "_bucket" | "_count" | "_sum" | "_created"),
                MetricType::Summary => matches!(suffix, "_count" | "_sum" | "_created"),
                _ => false,
            };
            if ok {
                return (fam, self.text_type);
            }
        }
        (name, MetricType::Unknown)
    }

    fn text_sample(&mut self, line: &'a str, start: usize) -> Result<Sample<'a>, ErrorKind> {
        let b = line.as_bytes();
        let n = name_len(&b[start..], &METRIC_FIRST, &METRIC_REST);
        if n == 0 {
            return Err(ErrorKind::InvalidMetricName(excerpt(&line[start..])));
        }
        let name = &line[start..start + n];
        let mut i = skip_ws(b, start + n);
        let mut series_end = start + n;
        let mut labels = "";
        self.spans.clear();
        if b.get(i) == Some(&b'{') {
            let open = i;
            i = self.text_labels(line, i + 1)?;
            labels = &line[open + 1..i - 1];
            series_end = i;
            i = skip_ws(b, i);
        } else if i == start + n && i < b.len() {
            // A name runs straight into something that is neither blank nor `{`.
            let end = b[i..].iter().position(|&c| c == b' ' || c == b'\t').map_or(b.len(), |p| i + p);
            return Err(ErrorKind::InvalidMetricName(excerpt(&line[start..end])));
        }
        self.check_duplicate_labels(line)?;

        let vstart = i;
        while i < b.len() && !matches!(b[i], b' ' | b'\t' | b'{') {
            i += 1;
        }
        let vtext = &line[vstart..i];
        if vtext.is_empty() {
            return Err(syntax("expected value", line));
        }
        let value = parse_go_float(vtext).ok_or_else(|| ErrorKind::InvalidValue(excerpt(vtext)))?;
        i = skip_ws(b, i);
        let mut timestamp_ms = None;
        if i < b.len() {
            let tstart = i;
            while i < b.len() && !matches!(b[i], b' ' | b'\t') {
                i += 1;
            }
            let ttext = &line[tstart..i];
            if !ttext.bytes().all(|c| c.is_ascii_digit()) {
                return Err(ErrorKind::InvalidTimestamp(excerpt(ttext)));
            }
            timestamp_ms = Some(ttext.parse::<i64>().map_err(|_| ErrorKind::InvalidTimestamp(excerpt(ttext)))?);
            if skip_ws(b, i) != b.len() {
                return Err(syntax("expected end of line after timestamp", line));
            }
        }
        let (metric_family, metric_type) = self.text_family_of(name);
        Ok(Sample {
            series: &line[start..series_end],
            name,
            value,
            timestamp_ms,
            exemplar: None,
            metric_family,
            metric_type,
            labels,
        })
    }

    /// Labels after `{` at `i - 1`, Prometheus lexer rules: blanks anywhere, commas optional
    /// between pairs, one trailing comma allowed. Returns the index past `}`.
    fn text_labels(&mut self, line: &str, mut i: usize) -> Result<usize, ErrorKind> {
        let b = line.as_bytes();
        loop {
            i = skip_ws(b, i);
            match b.get(i) {
                None => return Err(syntax("unterminated label set", line)),
                Some(b'}') => return Ok(i + 1),
                Some(_) => {}
            }
            let n = name_len(&b[i..], &LABEL_FIRST, &LABEL_REST);
            if n == 0 {
                let end = b[i..].iter().position(|c| b"=,} \t\"".contains(c)).map_or(b.len(), |p| i + p.max(1));
                let end = (end..=b.len()).find(|&e| line.is_char_boundary(e)).unwrap_or(b.len());
                return Err(ErrorKind::InvalidLabelName(excerpt(&line[i..end])));
            }
            let name = (i, i + n);
            i = skip_ws(b, i + n);
            if b.get(i) != Some(&b'=') {
                return Err(syntax("expected '=' after label name", line));
            }
            i = skip_ws(b, i + 1);
            if b.get(i) != Some(&b'"') {
                return Err(syntax("expected quoted label value", line));
            }
            let end = quoted_end(b, i).ok_or_else(|| syntax("unterminated label value", line))?;
            self.spans.push(LabelSpan { name, value: (i + 1, end - 1) });
            i = skip_ws(b, end);
            if b.get(i) == Some(&b',') {
                i += 1;
            }
        }
    }

    fn check_duplicate_labels(&self, line: &str) -> Result<(), ErrorKind> {
        for (k, l) in self.spans.iter().enumerate() {
            let n = l.name(line);
            if n == oxeye_model::METRIC_NAME || self.spans[..k].iter().any(|p| p.name(line) == n) {
                return Err(ErrorKind::DuplicateLabel(n.to_string()));
            }
        }
        Ok(())
    }

    // ----- OpenMetrics -----

    fn om_line(&mut self, line: &'a str) -> Result<Option<Entry<'a>>, ErrorKind> {
        let b = line.as_bytes();
        match b.first() {
            None => Err(syntax("blank line", line)),
            Some(b'#') => self.om_descriptor(line),
            Some(_) => self.om_sample(line).map(|s| Some(Entry::Sample(s))),
        }
    }

    fn om_descriptor(&mut self, line: &'a str) -> Result<Option<Entry<'a>>, ErrorKind> {
        if line == "# EOF" {
            if self.pos < self.body.len() {
                self.line += 1;
                return Err(ErrorKind::AfterEof);
            }
            self.om.finish(self.strict)?;
            self.done = true;
            return Ok(None);
        }
        let (kind, rest) = if let Some(r) = line.strip_prefix("# HELP ") {
            ("HELP", r)
        } else if let Some(r) = line.strip_prefix("# TYPE ") {
            ("TYPE", r)
        } else if let Some(r) = line.strip_prefix("# UNIT ") {
            ("UNIT", r)
        } else {
            return Err(syntax("expected # HELP, # TYPE, # UNIT or # EOF (OpenMetrics has no comments)", line));
        };
        let Some((name, text)) = rest.split_once(' ') else {
            return Err(syntax("expected metric name and text", line));
        };
        if !is_metric_name(name) {
            return Err(ErrorKind::InvalidMetricName(excerpt(name)));
        }
        let typ = self.om.metadata(self.strict, kind, name, text)?;
        Ok(Some(match (kind, typ) {
            ("TYPE", Some(typ)) => Entry::Type { metric_family: name, typ },
            ("HELP", _) => {
                let text = if text.contains('\\') { Cow::Owned(unescape(text, true)) } else { Cow::Borrowed(text) };
                Entry::Help { metric_family: name, text }
            }
            _ => Entry::Unit { metric_family: name, unit: text },
        }))
    }

    /// OpenMetrics labels after `{` at `i - 1`: no blanks, commas only between pairs. Returns the
    /// index past `}`.
    fn om_labels(line: &str, mut i: usize, spans: &mut Vec<LabelSpan>) -> Result<usize, ErrorKind> {
        let b = line.as_bytes();
        if b.get(i) == Some(&b'}') {
            return Ok(i + 1);
        }
        loop {
            let n = name_len(&b[i.min(b.len())..], &LABEL_FIRST, &LABEL_REST);
            if n == 0 {
                return Err(syntax("expected label name", line));
            }
            let name = (i, i + n);
            i += n;
            if b.get(i) != Some(&b'=') {
                return Err(syntax("expected '=' after label name", line));
            }
            i += 1;
            if b.get(i) != Some(&b'"') {
                return Err(syntax("expected quoted label value", line));
            }
            let end = quoted_end(b, i).ok_or_else(|| syntax("unterminated label value", line))?;
            spans.push(LabelSpan { name, value: (i + 1, end - 1) });
            i = end;
            match b.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => return Ok(i + 1),
                _ => return Err(syntax("expected ',' or '}' after label value", line)),
            }
        }
    }

    fn om_sample(&mut self, line: &'a str) -> Result<Sample<'a>, ErrorKind> {
        let b = line.as_bytes();
        let n = name_len(b, &METRIC_FIRST, &METRIC_REST);
        if n > 0 && n == b.len() {
            return Err(syntax("expected a space and a value after the metric name", line));
        }
        if n == 0 || !matches!(b.get(n), Some(b' ' | b'{')) {
            let end = b.iter().position(|&c| c == b' ' || c == b'{').unwrap_or(b.len());
            return Err(ErrorKind::InvalidMetricName(excerpt(&line[..end])));
        }
        let name = &line[..n];
        let mut i = n;
        let mut labels = "";
        self.spans.clear();
        if b[i] == b'{' {
            i = Self::om_labels(line, i + 1, &mut self.spans)?;
            labels = &line[n + 1..i - 1];
        }
        let series = &line[..i];
        self.check_duplicate_labels(line)?;
        if b.get(i) != Some(&b' ') {
            return Err(syntax("expected a single space before the value", line));
        }
        i += 1;
        let (vtext, mut i) = token(line, i);
        let value = parse_om_number(vtext).ok_or_else(|| ErrorKind::InvalidValue(excerpt(vtext)))?;

        let mut timestamp = None;
        let mut exemplar = None;
        if i < b.len() {
            // b[i] == ' '
            i += 1;
            if b.get(i) != Some(&b'#') {
                let (ttext, next) = token(line, i);
                let ts = parse_om_realnumber(ttext).ok_or_else(|| ErrorKind::InvalidTimestamp(excerpt(ttext)))?;
                timestamp = Some(ts);
                i = next;
                if i < b.len() {
                    i += 1;
                    if b.get(i) != Some(&b'#') {
                        return Err(syntax("expected end of line or exemplar after timestamp", line));
                    }
                }
            }
            if i < b.len() {
                exemplar = Some(self.om_exemplar(line, i)?);
            }
        }

        self.om.enter_sample(self.strict, name)?;
        if self.strict {
            self.om.check_sample(&SampleView {
                line,
                name,
                labels: &self.spans,
                value,
                timestamp,
                has_exemplar: exemplar.is_some(),
            })?;
        }
        Ok(Sample {
            series,
            name,
            value,
            timestamp_ms: timestamp.map(seconds_to_ms),
            exemplar,
            metric_family: self.om.family,
            metric_type: self.om.typ,
            labels,
        })
    }

    /// ` # {labels} value [timestamp]` with `#` at `i`.
    fn om_exemplar(&mut self, line: &'a str, i: usize) -> Result<Exemplar<'a>, ErrorKind> {
        let b = line.as_bytes();
        let bad = |m: &str| ErrorKind::InvalidExemplar(format!("{m} in {:?}", excerpt(line)));
        if b.get(i + 1) != Some(&b' ') || b.get(i + 2) != Some(&b'{') {
            return Err(bad("expected \"# {\""));
        }
        self.exemplar_spans.clear();
        let open = i + 2;
        let close = Self::om_labels(line, open + 1, &mut self.exemplar_spans)?;
        let labels = &line[open + 1..close - 1];
        for (k, l) in self.exemplar_spans.iter().enumerate() {
            if self.exemplar_spans[..k].iter().any(|p| p.name(line) == l.name(line)) {
                return Err(ErrorKind::DuplicateLabel(l.name(line).to_string()));
            }
        }
        if self.strict {
            let runes: usize =
                self.exemplar_spans.iter().map(|l| l.name(line).chars().count() + decoded_len(l.value(line))).sum();
            if runes > MAX_EXEMPLAR_RUNES {
                return Err(bad(&format!("labels are {runes} characters long, more than {MAX_EXEMPLAR_RUNES}")));
            }
        }
        if b.get(close) != Some(&b' ') {
            return Err(bad("expected a space and a value after the labels"));
        }
        let (vtext, mut j) = token(line, close + 1);
        let value = parse_om_number(vtext).ok_or_else(|| bad("invalid value"))?;
        let mut timestamp_ms = None;
        if j < b.len() {
            j += 1;
            let (ttext, end) = token(line, j);
            let ts = parse_om_realnumber(ttext).ok_or_else(|| bad("invalid timestamp"))?;
            if end != b.len() {
                return Err(bad("unexpected text after the timestamp"));
            }
            timestamp_ms = Some(seconds_to_ms(ts));
        }
        Ok(Exemplar { value, timestamp_ms, labels })
    }
}

/// The text from `i` up to the next space or the end, and the index where it stopped.
fn token(line: &str, i: usize) -> (&str, usize) {
    let b = line.as_bytes();
    let i = i.min(b.len());
    let end = memchr::memchr(b' ', &b[i..]).map_or(b.len(), |p| i + p);
    (&line[i..end], end)
}

/// Characters of a label value after decoding `\\`, `\"` and `\n`.
fn decoded_len(raw: &str) -> usize {
    let mut n = 0;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        n += 1;
        if c == '\\' {
            match chars.next() {
                Some('\\' | '"' | 'n') | None => {}
                Some(_) => n += 1,
            }
        }
    }
    n
}
