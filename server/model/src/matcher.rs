//! Label matchers (`=`, `!=`, `=~`, `!~`) and `AnchoredRegex`, a regex with Go RE2 semantics
//! fully anchored the way Prometheus anchors (`^(?s:expr)$`, so `.` matches newline as in
//! Prometheus 3.x). Go's Perl classes (`\d`, `\w`, `\s`, `\b`) are ASCII-only; Rust's are
//! Unicode-aware, so the pattern is translated before compiling.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regular expression {pattern:?}: {reason}")]
pub struct MatcherError {
    pub pattern: String,
    pub reason: String,
}

/// A compiled, fully anchored regular expression with Go RE2 semantics.
#[derive(Clone)]
pub struct AnchoredRegex {
    source: String,
    re: regex::Regex,
    /// Set when the pattern is a plain literal: matching is then a string comparison.
    literal: Option<String>,
    /// `.*`: matches everything.
    match_all: bool,
}

impl fmt::Debug for AnchoredRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AnchoredRegex({:?})", self.source)
    }
}

impl PartialEq for AnchoredRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl AnchoredRegex {
    pub fn new(pattern: &str) -> Result<Self, MatcherError> {
        let translated = translate_go_regex(pattern);
        let anchored = format!("^(?s:{translated})$");
        let re = regex::Regex::new(&anchored)
            .map_err(|e| MatcherError { pattern: pattern.to_string(), reason: e.to_string() })?;
        let literal = if regex_syntax_is_literal(pattern) { Some(pattern.to_string()) } else { None };
        Ok(AnchoredRegex { source: pattern.to_string(), re, literal, match_all: pattern == ".*" })
    }

    /// The pattern as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn is_match(&self, s: &str) -> bool {
        if self.match_all {
            return true;
        }
        if let Some(l) = &self.literal {
            return l == s;
        }
        self.re.is_match(s)
    }

    /// The underlying anchored regex, for capture groups (relabeling's `$1`).
    pub fn regex(&self) -> &regex::Regex {
        &self.re
    }

    /// When the regex is an alternation of literals (`a|b|c`), those literals; used by the
    /// index to look values up directly instead of scanning.
    pub fn set_matches(&self) -> Option<Vec<String>> {
        if self.source.is_empty() {
            return None;
        }
        let parts: Vec<&str> = self.source.split('|').collect();
        if parts.iter().all(|p| !p.is_empty() && regex_syntax_is_literal(p)) {
            Some(parts.iter().map(|p| p.to_string()).collect())
        } else {
            None
        }
    }
}

fn regex_syntax_is_literal(p: &str) -> bool {
    !p.chars().any(|c| "\\.+*?()|[]{}^$".contains(c))
}

/// Rewrites Go RE2 syntax into the equivalent for Rust's `regex` crate: ASCII-only Perl classes
/// and word boundaries, and `\Q...\E` literal spans.
fn translate_go_regex(p: &str) -> String {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 8);
    let mut i = 0;
    let mut class_depth = 0usize;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            let n = chars[i + 1];
            let inside = class_depth > 0;
            let rep: Option<&str> = match (n, inside) {
                ('d', false) => Some("[0-9]"),
                ('d', true) => Some("0-9"),
                ('D', _) => Some("[^0-9]"),
                ('w', false) => Some("[0-9A-Za-z_]"),
                ('w', true) => Some("0-9A-Za-z_"),
                ('W', _) => Some("[^0-9A-Za-z_]"),
                ('s', false) => Some("[\\t\\n\\f\\r ]"),
                ('s', true) => Some("\\t\\n\\f\\r "),
                ('S', _) => Some("[^\\t\\n\\f\\r ]"),
                ('b', false) => Some("(?-u:\\b)"),
                ('B', false) => Some("(?-u:\\B)"),
                _ => None,
            };
            if let Some(r) = rep {
                out.push_str(r);
                i += 2;
                continue;
            }
            if n == 'Q' && !inside {
                let mut j = i + 2;
                let mut lit = String::new();
                while j < chars.len() {
                    if chars[j] == '\\' && j + 1 < chars.len() && chars[j + 1] == 'E' {
                        j += 2;
                        break;
                    }
                    lit.push(chars[j]);
                    j += 1;
                }
                out.push_str(&regex::escape(&lit));
                i = j;
                continue;
            }
            out.push(c);
            out.push(n);
            i += 2;
            continue;
        }
        if c == '[' {
            // `[:alpha:]` style classes inside a class do not open a new depth level.
            if class_depth > 0
                && i + 1 < chars.len()
                && chars[i + 1] == ':'
                && let Some(end) =
                    (i + 2..chars.len().saturating_sub(1)).find(|&j| chars[j] == ':' && chars[j + 1] == ']')
            {
                out.extend(&chars[i..end + 2]);
                i = end + 2;
                continue;
            }
            class_depth += 1;
            out.push(c);
            i += 1;
            // A leading `]` or `^]` is literal inside a class.
            if i < chars.len() && chars[i] == '^' {
                out.push('^');
                i += 1;
            }
            if i < chars.len() && chars[i] == ']' {
                out.push_str("\\]");
                i += 1;
            }
            continue;
        }
        if c == ']' && class_depth > 0 {
            class_depth -= 1;
        }
        out.push(c);
        i += 1;
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    Equal,
    NotEqual,
    RegexMatch,
    RegexNoMatch,
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::RegexMatch => "=~",
            MatchOp::RegexNoMatch => "!~",
        })
    }
}

/// A label matcher as in PromQL selectors and the API's `match[]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    regex: Option<AnchoredRegex>,
}

impl Matcher {
    pub fn new(op: MatchOp, name: impl Into<String>, value: impl Into<String>) -> Result<Self, MatcherError> {
        let value = value.into();
        let regex = match op {
            MatchOp::RegexMatch | MatchOp::RegexNoMatch => Some(AnchoredRegex::new(&value)?),
            _ => None,
        };
        Ok(Matcher { name: name.into(), op, value, regex })
    }

    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher { name: name.into(), op: MatchOp::Equal, value: value.into(), regex: None }
    }

    /// Whether `v` (the label's value, "" when absent) satisfies the matcher.
    pub fn matches(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Equal => self.value == v,
            MatchOp::NotEqual => self.value != v,
            MatchOp::RegexMatch => self.regex.as_ref().is_some_and(|r| r.is_match(v)),
            MatchOp::RegexNoMatch => !self.regex.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }

    pub fn regex(&self) -> Option<&AnchoredRegex> {
        self.regex.as_ref()
    }

    /// True when the matcher accepts the empty string, i.e. it also selects series that lack
    /// the label entirely.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.name, self.op, crate::labels::go_quote(&self.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_fully_anchored() {
        let r = AnchoredRegex::new("foo|bar").unwrap();
        assert!(r.is_match("foo") && r.is_match("bar"));
        assert!(!r.is_match("foobar") && !r.is_match("xfoo"));
    }

    #[test]
    fn dot_matches_newline_as_in_prometheus_3() {
        assert!(AnchoredRegex::new("a.b").unwrap().is_match("a\nb"));
    }

    #[test]
    fn perl_classes_are_ascii_only_as_in_go() {
        let d = AnchoredRegex::new(r"\d+").unwrap();
        assert!(d.is_match("123"));
        assert!(!d.is_match("١٢٣"), "Arabic-Indic digits are not \\d in RE2");
        let w = AnchoredRegex::new(r"[\w.]+").unwrap();
        assert!(w.is_match("a_b.c"));
        assert!(!w.is_match("é"));
        assert!(AnchoredRegex::new(r"\Qa.b\E").unwrap().is_match("a.b"));
        assert!(!AnchoredRegex::new(r"\Qa.b\E").unwrap().is_match("axb"));
    }

    #[test]
    fn set_matches_for_alternations_of_literals() {
        assert_eq!(AnchoredRegex::new("a|b").unwrap().set_matches(), Some(vec!["a".into(), "b".into()]));
        assert_eq!(AnchoredRegex::new("a.*").unwrap().set_matches(), None);
    }

    #[test]
    fn matchers() {
        let m = Matcher::new(MatchOp::RegexNoMatch, "job", "a.*").unwrap();
        assert!(m.matches("b") && !m.matches("abc") && m.matches_empty());
        assert!(Matcher::new(MatchOp::RegexMatch, "x", "(").is_err());
        assert_eq!(m.to_string(), r#"job!~"a.*""#);
    }
}
