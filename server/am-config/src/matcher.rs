//! Label matchers with Alertmanager 0.25's syntax and semantics: `labels.ParseMatchers`
//! (`{a="b", c=~d}` or `a=b,c!=d`, quoted or bare values, `\"` `\\` `\n` escapes), regexes
//! anchored as `^(?:...)$`, and `String()` output (`name="value"` with Go's `%q` quoting).
//! Routing, silences, inhibition and amtool all share these.

use std::cmp::Ordering;
use std::fmt;
use std::sync::LazyLock;

use oxeye_model::Labels;
use regex::Regex;

/// A matcher's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regexp,
    NotRegexp,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regexp => "=~",
            MatchOp::NotRegexp => "!~",
        }
    }

    /// Whether the operator is `=~` or `!~`.
    pub fn is_regex(self) -> bool {
        matches!(self, MatchOp::Regexp | MatchOp::NotRegexp)
    }

    /// Whether the operator is `!=` or `!~`.
    pub fn is_negative(self) -> bool {
        matches!(self, MatchOp::NotEqual | MatchOp::NotRegexp)
    }
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One label matcher. Equality and ordering ignore the compiled regex (it follows from the
/// value).
#[derive(Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    regex: Option<Regex>,
}

impl Matcher {
    /// Builds a matcher, compiling `^(?:value)$` for the regex operators (`labels.NewMatcher`).
    pub fn new(name: impl Into<String>, op: MatchOp, value: impl Into<String>) -> Result<Matcher, String> {
        let name = name.into();
        let value = value.into();
        let regex = if op.is_regex() {
            let anchored = format!("^(?:{value})$");
            Some(Regex::new(&anchored).map_err(|e| regex_error(&e, &anchored))?)
        } else {
            None
        };
        Ok(Matcher { name, op, value, regex })
    }

    /// Whether the label value `v` (`""` when the label is missing) satisfies the matcher.
    pub fn matches(&self, v: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::Regexp, Some(re)) => re.is_match(v),
            (MatchOp::NotRegexp, Some(re)) => !re.is_match(v),
            // Unreachable through `new`; a regex matcher without a regex matches nothing.
            (MatchOp::Regexp, None) => false,
            (MatchOp::NotRegexp, None) => true,
        }
    }

    /// Whether the matcher matches the empty string (and so labels that are absent).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }
}

/// Go's `regexp` error shape on one line: `error parsing regexp: REASON: `EXPR``.
fn regex_error(e: &regex::Error, expr: &str) -> String {
    let text = e.to_string();
    let reason = text.lines().find_map(|l| l.strip_prefix("error: ")).unwrap_or(text.lines().last().unwrap_or(""));
    format!("error parsing regexp: {reason}: `{expr}`")
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

impl std::hash::Hash for Matcher {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.op.hash(state);
        self.value.hash(state);
    }
}

impl PartialOrd for Matcher {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Matcher {
    /// `labels.Matchers.Less`: by name, then value, then operator.
    fn cmp(&self, other: &Self) -> Ordering {
        self.name.cmp(&other.name).then_with(|| self.value.cmp(&other.value)).then_with(|| self.op.cmp(&other.op))
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Matcher({self})")
    }
}

impl fmt::Display for Matcher {
    /// `labels.Matcher.String`: `name`, operator, `strconv.Quote(value)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.name, self.op, go_quote(&self.value))
    }
}

/// `labels.Matchers.String`: `{a="b",c=~"d"}`.
pub fn matchers_string(ms: &[Matcher]) -> String {
    let parts: Vec<String> = ms.iter().map(Matcher::to_string).collect();
    format!("{{{}}}", parts.join(","))
}

/// Whether every matcher matches `labels` (a missing label has the value `""`).
pub fn matches_all(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| m.matches(labels.get(&m.name)))
}

/// Go's `strconv.Quote`: printable runes as is, the usual short escapes, `\xNN` for other
/// control bytes and `\uNNNN` / `\UNNNNNNNN` for non-printable runes.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() || is_go_unprintable(c) => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The non-control runes Go's `strconv.IsPrint` rejects that are common enough to matter:
/// format characters and separators other than the ASCII space.
fn is_go_unprintable(c: char) -> bool {
    matches!(c as u32, 0xad | 0x2028 | 0x2029 | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0xfeff)
        || (c.is_whitespace() && c != ' ')
}

/// `model.LabelName.IsValid` in Alertmanager 0.25: `^[a-zA-Z_][a-zA-Z0-9_]*$`.
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

static MATCHER_RE: LazyLock<Regex> = LazyLock::new(|| {
    // `labels.ParseMatcher`'s expression; a compile failure is a bug in this constant.
    Regex::new(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s).*?)\s*$").unwrap_or_else(|e| panic!("{e}"))
});

/// `labels.ParseMatchers`: a comma-separated list of matchers, optionally in braces. Commas
/// inside double quotes do not split. An empty string yields no matchers.
pub fn parse_matchers(s: &str) -> Result<Vec<Matcher>, String> {
    let s = s.strip_prefix('{').unwrap_or(s);
    let s = s.strip_suffix('}').unwrap_or(s);
    let mut tokens = Vec::new();
    let mut token = String::new();
    let (mut inside_quotes, mut escaped) = (false, false);
    for c in s.chars() {
        match c {
            ',' if !inside_quotes => {
                tokens.push(std::mem::take(&mut token));
                continue;
            }
            ',' => {}
            '"' => {
                if escaped {
                    escaped = false;
                } else {
                    inside_quotes = !inside_quotes;
                }
            }
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
        token.push(c);
    }
    let last = token.trim();
    if !last.is_empty() {
        tokens.push(last.to_string());
    }
    tokens.iter().map(|t| parse_matcher(t)).collect()
}

/// `labels.ParseMatcher`: one `name op value` matcher.
pub fn parse_matcher(s: &str) -> Result<Matcher, String> {
    let Some(caps) = MATCHER_RE.captures(s) else {
        return Err(format!("bad matcher format: {s}"));
    };
    let (name, op, raw) = (&caps[1], &caps[2], &caps[3]);
    let op = match op {
        "=" => MatchOp::Equal,
        "!=" => MatchOp::NotEqual,
        "=~" => MatchOp::Regexp,
        _ => MatchOp::NotRegexp,
    };
    let (body, mut expect_trailing_quote) = match raw.strip_prefix('"') {
        Some(rest) => (rest, true),
        None => (raw, false),
    };
    let unescaped_quote = || format!("matcher value contains unescaped double quote: {raw}");
    let mut value = String::with_capacity(body.len());
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        let is_last = i + c.len_utf8() == body.len();
        if escaped {
            escaped = false;
            match c {
                'n' => value.push('\n'),
                '"' | '\\' => value.push(c),
                // A spurious escape: the backslash is literal.
                _ => {
                    value.push('\\');
                    value.push(c);
                }
            }
            continue;
        }
        match c {
            '\\' if !is_last => escaped = true,
            '"' => {
                if !expect_trailing_quote || !is_last {
                    return Err(unescaped_quote());
                }
                expect_trailing_quote = false;
            }
            c => value.push(c),
        }
    }
    if expect_trailing_quote {
        return Err(unescaped_quote());
    }
    Matcher::new(name, op, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, op: MatchOp, value: &str) -> Matcher {
        Matcher::new(name, op, value).unwrap()
    }

    #[test]
    fn parses_like_alertmanager() {
        let cases: &[(&str, Vec<Matcher>)] = &[
            ("foo=bar", vec![m("foo", MatchOp::Equal, "bar")]),
            ("{foo=\"bar\"}", vec![m("foo", MatchOp::Equal, "bar")]),
            ("foo=~bar.*, baz!~\"x,y\"", vec![m("foo", MatchOp::Regexp, "bar.*"), m("baz", MatchOp::NotRegexp, "x,y")]),
            ("foo!=", vec![m("foo", MatchOp::NotEqual, "")]),
            ("foo = \"ba\\\"r\"", vec![m("foo", MatchOp::Equal, "ba\"r")]),
            ("foo=\"a\\nb\"", vec![m("foo", MatchOp::Equal, "a\nb")]),
            ("foo=a\\qb", vec![m("foo", MatchOp::Equal, "a\\qb")]),
            ("foo=bar\\", vec![m("foo", MatchOp::Equal, "bar\\")]),
            ("foo=bar,", vec![m("foo", MatchOp::Equal, "bar")]),
            ("", vec![]),
            ("{}", vec![]),
            ("job:x=y", vec![m("job:x", MatchOp::Equal, "y")]),
            ("foo=  bar baz  ", vec![m("foo", MatchOp::Equal, "bar baz")]),
        ];
        for (input, want) in cases {
            assert_eq!(&parse_matchers(input).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn rejects_like_alertmanager() {
        for (input, want) in [
            ("foo", "bad matcher format: foo"),
            ("1foo=bar", "bad matcher format: 1foo=bar"),
            (",foo=bar", "bad matcher format: "),
            ("foo=\"bar", "matcher value contains unescaped double quote: \"bar"),
            ("foo=ba\"r", "matcher value contains unescaped double quote: ba\"r"),
        ] {
            assert_eq!(parse_matchers(input).unwrap_err(), want, "{input}");
        }
        assert!(parse_matchers("foo=~(").unwrap_err().starts_with("error parsing regexp"));
    }

    #[test]
    fn regexes_are_anchored() {
        let r = m("foo", MatchOp::Regexp, "b.r|baz");
        assert!(r.matches("bar") && r.matches("baz"));
        assert!(!r.matches("xbar") && !r.matches("barx") && !r.matches(""));
        let n = m("foo", MatchOp::NotRegexp, "b.*");
        assert!(n.matches("") && !n.matches("bb"));
        // No `s` flag: `.` does not match a newline, as in Go without `(?s)`.
        assert!(!m("foo", MatchOp::Regexp, ".*").matches("a\nb"));
    }

    #[test]
    fn displays_with_go_quoting() {
        assert_eq!(m("foo", MatchOp::Regexp, "bar.*").to_string(), "foo=~\"bar.*\"");
        assert_eq!(m("a", MatchOp::NotEqual, "x\"y\\\n\t").to_string(), "a!=\"x\\\"y\\\\\\n\\t\"");
        assert_eq!(m("a", MatchOp::Equal, "\u{1}é").to_string(), "a=\"\\x01é\"");
        let ms = vec![m("a", MatchOp::Equal, "1"), m("b", MatchOp::NotRegexp, "2")];
        assert_eq!(matchers_string(&ms), "{a=\"1\",b!~\"2\"}");
    }

    #[test]
    fn matches_all_treats_missing_as_empty() {
        let labels = Labels::from_pairs([("a", "1")]);
        assert!(matches_all(&parse_matchers("a=1,b=\"\"").unwrap(), &labels));
        assert!(!matches_all(&parse_matchers("a=1,b!=\"\"").unwrap(), &labels));
    }

    #[test]
    fn label_names() {
        assert!(is_valid_label_name("foo_1") && is_valid_label_name("_x"));
        assert!(!is_valid_label_name("1a") && !is_valid_label_name("a:b") && !is_valid_label_name(""));
    }
}
