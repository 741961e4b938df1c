//! The `filter` query parameter of the list endpoints: one matcher per value, parsed like
//! Alertmanager 0.25's `labels.ParseMatcher` (`name="value"`, `name=~value`, Go-style escapes),
//! and applied with the API's own rules for empty values (which differ from routing matchers).

use regex::Regex;

use crate::backend::MatcherView;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    Equal,
    NotEqual,
    Regexp,
    NotRegexp,
}

#[derive(Debug, Clone)]
pub struct FilterMatcher {
    pub name: String,
    pub op: FilterOp,
    pub value: String,
    regex: Option<Regex>,
}

impl FilterMatcher {
    pub fn new(name: &str, op: FilterOp, value: &str) -> Result<Self, String> {
        let regex = match op {
            FilterOp::Regexp | FilterOp::NotRegexp => {
                Some(Regex::new(&format!("^(?:{value})$")).map_err(|e| format!("error parsing regexp: {e}"))?)
            }
            _ => None,
        };
        Ok(FilterMatcher { name: name.to_string(), op, value: value.to_string(), regex })
    }

    pub fn matches(&self, v: &str) -> bool {
        match (self.op, &self.regex) {
            (FilterOp::Equal, _) => v == self.value,
            (FilterOp::NotEqual, _) => v != self.value,
            (FilterOp::Regexp, Some(re)) => re.is_match(v),
            (FilterOp::NotRegexp, Some(re)) => !re.is_match(v),
            (_, None) => false,
        }
    }
}

fn matcher_re() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s).*?)\s*$").unwrap_or_else(|_| unreachable!())
    })
}

/// Parses one matcher as `labels.ParseMatcher` does, with its error messages.
pub fn parse_matcher(s: &str) -> Result<FilterMatcher, String> {
    let caps = matcher_re().captures(s).ok_or_else(|| format!("bad matcher format: {s}"))?;
    let (name, op, raw) = (&caps[1], &caps[2], &caps[3]);
    let (body, mut expect_quote) = match raw.strip_prefix('"') {
        Some(rest) => (rest, true),
        None => (raw, false),
    };
    let mut value = String::with_capacity(body.len());
    let mut escaped = false;
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if escaped {
            escaped = false;
            match c {
                'n' => value.push('\n'),
                '"' | '\\' => value.push(c),
                // A spurious escape keeps its backslash.
                _ => {
                    value.push('\\');
                    value.push(c);
                }
            }
            continue;
        }
        let last = chars.peek().is_none();
        match c {
            '\\' if !last => escaped = true,
            '"' => {
                if !expect_quote || !last {
                    return Err(format!("matcher value contains unescaped double quote: {raw}"));
                }
                expect_quote = false;
            }
            _ => value.push(c),
        }
    }
    if expect_quote {
        return Err(format!("matcher value contains unescaped double quote: {raw}"));
    }
    let op = match op {
        "=" => FilterOp::Equal,
        "!=" => FilterOp::NotEqual,
        "=~" => FilterOp::Regexp,
        _ => FilterOp::NotRegexp,
    };
    FilterMatcher::new(name, op, &value)
}

pub fn parse_filters(filters: &[String]) -> Result<Vec<FilterMatcher>, String> {
    filters.iter().map(|f| parse_matcher(f)).collect()
}

/// Alertmanager's `matchFilterLabels`: an empty-valued positive matcher also accepts a missing
/// label, an empty-valued negative matcher accepts any present label.
pub fn labels_match(matchers: &[FilterMatcher], labels: &oxeye_model::Labels) -> bool {
    matchers.iter().all(|m| {
        let present = labels.has(&m.name);
        let v = labels.get(&m.name);
        match m.op {
            FilterOp::NotEqual | FilterOp::NotRegexp if m.value.is_empty() && present => true,
            FilterOp::Equal | FilterOp::Regexp if m.value.is_empty() && !present => true,
            _ => m.matches(v),
        }
    })
}

/// A silence passes a filter when each filter matcher equals one of its matchers (name, type,
/// value), as `CheckSilenceMatchesFilterLabels` does.
pub fn silence_matches(matchers: &[FilterMatcher], silence: &[MatcherView]) -> bool {
    matchers.iter().all(|f| {
        silence.iter().any(|m| {
            let op = match (m.is_equal, m.is_regex) {
                (true, false) => FilterOp::Equal,
                (false, false) => FilterOp::NotEqual,
                (true, true) => FilterOp::Regexp,
                (false, true) => FilterOp::NotRegexp,
            };
            m.name == f.name && op == f.op && m.value == f.value
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_labels_parse_matcher() {
        let m = parse_matcher(r#"alertname="A b""#).unwrap();
        assert_eq!((m.name.as_str(), m.op, m.value.as_str()), ("alertname", FilterOp::Equal, "A b"));
        let m = parse_matcher("  sev =~ crit.* ").unwrap();
        assert_eq!((m.op, m.value.as_str()), (FilterOp::Regexp, "crit.*"));
        assert!(m.matches("critical") && !m.matches("xcritical"));
        let m = parse_matcher(r#"a!="x\"y\n""#).unwrap();
        assert_eq!(m.value, "x\"y\n");
        assert_eq!(parse_matcher("foo").unwrap_err(), "bad matcher format: foo");
        assert!(parse_matcher(r#"a="b"c""#).unwrap_err().contains("unescaped double quote"));
        assert!(parse_matcher(r#"a="b"#).unwrap_err().contains("unescaped double quote"));
    }

    #[test]
    fn empty_values_follow_the_api_rules() {
        let l = oxeye_model::Labels::from_pairs([("a", "1")]);
        assert!(labels_match(&[parse_matcher("b=").unwrap()], &l));
        assert!(labels_match(&[parse_matcher("a!=").unwrap()], &l));
        assert!(!labels_match(&[parse_matcher("a=").unwrap()], &l));
        assert!(!labels_match(&[parse_matcher("a=2").unwrap()], &l));
    }
}
