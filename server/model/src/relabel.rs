//! Relabeling (`relabel_configs`, `metric_relabel_configs`, `alert_relabel_configs`): the
//! configuration type with Prometheus's defaults and validation, and its application to label
//! sets with every Prometheus action. It knows nothing about where the rules come from (config
//! files, CRDs) or where the labels go (targets, samples, alerts).
//!
//! Label names are checked with Prometheus 3.x's default `utf8` name validation scheme (any
//! non-empty name) unless a scrape config selects `legacy` (`[a-zA-Z_][a-zA-Z0-9_]*`); see
//! [`NameValidationScheme`].

use std::fmt;

use md5::{Digest, Md5};
use serde::de::{self, Deserializer, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::labels::{Labels, LabelsBuilder};
use crate::matcher::AnchoredRegex;

/// How label and metric names are validated (`metric_name_validation_scheme`). Prometheus 3.x
/// defaults to `utf8`: any non-empty UTF-8 string is a valid name. `legacy` is the pre-3.0
/// character set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NameValidationScheme {
    #[default]
    Utf8,
    Legacy,
}

impl NameValidationScheme {
    /// Parses the config spelling (`utf8`, `legacy`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "utf8" => Some(NameValidationScheme::Utf8),
            "legacy" => Some(NameValidationScheme::Legacy),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NameValidationScheme::Utf8 => "utf8",
            NameValidationScheme::Legacy => "legacy",
        }
    }

    /// Whether `name` is a valid label name under this scheme.
    pub fn is_valid_label_name(self, name: &str) -> bool {
        match self {
            NameValidationScheme::Utf8 => !name.is_empty(),
            NameValidationScheme::Legacy => is_legacy_label_name(name),
        }
    }

    /// Like [`Self::is_valid_label_name`], but also accepts `$1`, `${1}` and `$name` templates
    /// (the `target_label` of `replace` and the `replacement` of `labelmap`). Under `utf8` any
    /// non-empty string passes, as upstream.
    fn is_valid_label_name_template(self, name: &str) -> bool {
        match self {
            NameValidationScheme::Utf8 => !name.is_empty(),
            NameValidationScheme::Legacy => is_legacy_label_name_template(name),
        }
    }
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`: Prometheus's legacy label name character set.
pub fn is_legacy_label_name(name: &str) -> bool {
    let b = name.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {}
        _ => return false,
    }
    b[1..].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Upstream's `relabelTargetLegacy`: `^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$`, i.e. a legacy
/// label name in which `$var` / `${var}` may stand for leading characters. Written as a scanner:
/// the string must start with a letter, `_` or a template, and every template must be well formed.
fn is_legacy_label_name_template(s: &str) -> bool {
    let b = s.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    let mut first = true;
    while i < b.len() {
        let c = b[i];
        if c == b'$' {
            i += 1;
            if i < b.len() && b[i] == b'{' {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && word(b[j]) {
                    j += 1;
                }
                if j == start || j >= b.len() || b[j] != b'}' {
                    return false;
                }
                i = j + 1;
            } else {
                let start = i;
                while i < b.len() && word(b[i]) {
                    i += 1;
                }
                if i == start {
                    return false;
                }
            }
        } else if (first && !(c.is_ascii_alphabetic() || c == b'_')) || !word(c) {
            return false;
        } else {
            i += 1;
        }
        first = false;
    }
    !b.is_empty()
}

/// A relabeling action. Parsed case-insensitively, as upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Action {
    #[default]
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Some(match s.to_ascii_lowercase().as_str() {
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "keepequal" => Action::KeepEqual,
            "dropequal" => Action::DropEqual,
            "hashmod" => Action::HashMod,
            "labelmap" => Action::LabelMap,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            "lowercase" => Action::Lowercase,
            "uppercase" => Action::Uppercase,
            _ => return None,
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Action::parse(&s).ok_or_else(|| de::Error::custom(format!("unknown relabel action {s:?}")))
    }
}

const DEFAULT_REGEX: &str = "(.*)";
const DEFAULT_SEPARATOR: &str = ";";
const DEFAULT_REPLACEMENT: &str = "$1";

/// The `regex` of a relabel rule: fully anchored, keeping the text the user wrote. `explicit`
/// records whether the config set it, because upstream treats an explicit `(.*)` differently
/// from the default one (it compares regex pointers): `keepequal`/`dropequal` reject any
/// explicit regex, and `replace`'s empty-value fast path only applies to the default.
#[derive(Debug, Clone)]
pub struct RelabelRegex {
    re: AnchoredRegex,
    explicit: bool,
}

impl PartialEq for RelabelRegex {
    fn eq(&self, other: &Self) -> bool {
        self.re == other.re
    }
}

impl RelabelRegex {
    /// Compiles an explicitly configured regex.
    pub fn new(pattern: &str) -> Result<Self, crate::matcher::MatcherError> {
        Ok(RelabelRegex { re: AnchoredRegex::new(pattern)?, explicit: true })
    }

    fn default_regex() -> Self {
        // A constant pattern, not input: it always compiles.
        #[allow(clippy::expect_used)]
        let re = AnchoredRegex::new(DEFAULT_REGEX).expect("the default relabel regex compiles");
        RelabelRegex { re, explicit: false }
    }

    pub fn as_str(&self) -> &str {
        self.re.as_str()
    }

    pub fn anchored(&self) -> &AnchoredRegex {
        &self.re
    }

    /// True when the rule did not set `regex` at all.
    pub fn is_default(&self) -> bool {
        !self.explicit
    }
}

impl Default for RelabelRegex {
    fn default() -> Self {
        RelabelRegex::default_regex()
    }
}

impl<'de> Deserialize<'de> for RelabelRegex {
    /// A string, or null for the empty regex (upstream: `regex:` with no value compiles `""`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RelabelRegex;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a regular expression string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RelabelRegex, E> {
                RelabelRegex::new(v).map_err(E::custom)
            }
            fn visit_unit<E: de::Error>(self) -> Result<RelabelRegex, E> {
                self.visit_str("")
            }
            fn visit_none<E: de::Error>(self) -> Result<RelabelRegex, E> {
                self.visit_str("")
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RelabelRegex, D::Error> {
                d.deserialize_str(self)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RelabelRegex, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RelabelRegex, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RelabelRegex, E> {
                self.visit_str(if v { "true" } else { "false" })
            }
        }
        d.deserialize_option(V)
    }
}

impl Serialize for RelabelRegex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Why a relabel rule is invalid. Messages are upstream's, word for word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RelabelError(pub String);

/// One relabeling rule (`<relabel_config>`), with Prometheus's defaults: `separator: ;`,
/// `regex: (.*)`, `replacement: $1`, `action: replace`.
///
/// Deserializing checks field types, the action name and that the regex compiles; the rules
/// that relate fields to each other are checked by [`RelabelConfig::validate`], which loaders
/// call with the scheme in force (and with a file position for the error).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelabelConfig {
    pub source_labels: Vec<String>,
    pub separator: String,
    pub regex: RelabelRegex,
    pub modulus: u64,
    pub target_label: String,
    pub replacement: String,
    pub action: Action,
    /// The scheme target labels are checked against when `replace` expands a template.
    #[serde(skip)]
    pub name_validation_scheme: NameValidationScheme,
}

impl Default for RelabelConfig {
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: DEFAULT_SEPARATOR.to_string(),
            regex: RelabelRegex::default(),
            modulus: 0,
            target_label: String::new(),
            replacement: DEFAULT_REPLACEMENT.to_string(),
            action: Action::Replace,
            name_validation_scheme: NameValidationScheme::Utf8,
        }
    }
}

impl Serialize for RelabelConfig {
    /// Prometheus's shape: empty fields and the default regex are left out.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if !self.source_labels.is_empty() {
            m.serialize_entry("source_labels", &self.source_labels)?;
        }
        if !self.separator.is_empty() {
            m.serialize_entry("separator", &self.separator)?;
        }
        if self.regex.explicit {
            m.serialize_entry("regex", &self.regex)?;
        }
        if self.modulus != 0 {
            m.serialize_entry("modulus", &self.modulus)?;
        }
        if !self.target_label.is_empty() {
            m.serialize_entry("target_label", &self.target_label)?;
        }
        if !self.replacement.is_empty() {
            m.serialize_entry("replacement", &self.replacement)?;
        }
        m.serialize_entry("action", &self.action)?;
        m.end()
    }
}

impl RelabelConfig {
    /// Checks the rule the way upstream's `relabel.Config.Validate` does, with the same messages.
    /// Also records `scheme` for use at apply time.
    pub fn validate(&mut self, scheme: NameValidationScheme) -> Result<(), RelabelError> {
        self.name_validation_scheme = scheme;
        let err = |m: String| Err(RelabelError(m));
        let a = self.action;
        let tl = self.target_label.as_str();
        if self.modulus == 0 && a == Action::HashMod {
            return err("relabel configuration for hashmod requires non-zero modulus".into());
        }
        let needs_target = matches!(
            a,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        if needs_target && tl.is_empty() {
            return err(format!("relabel configuration for {a} action requires 'target_label' value"));
        }
        let invalid_target = || err(format!("{tl:?} is invalid 'target_label' for {a} action"));
        if a == Action::Replace && !tl.contains('$') && !scheme.is_valid_label_name(tl) {
            return invalid_target();
        }
        if a == Action::Replace && tl.contains('$') && !scheme.is_valid_label_name_template(tl) {
            return invalid_target();
        }
        let plain_target = matches!(a, Action::Lowercase | Action::Uppercase | Action::KeepEqual | Action::DropEqual);
        if plain_target && !scheme.is_valid_label_name(tl) {
            return invalid_target();
        }
        if plain_target && self.replacement != DEFAULT_REPLACEMENT {
            return err(format!("'replacement' can not be set for {a} action"));
        }
        if a == Action::LabelMap && !scheme.is_valid_label_name_template(&self.replacement) {
            return err(format!("{:?} is invalid 'replacement' for {a} action", self.replacement));
        }
        if a == Action::HashMod && !scheme.is_valid_label_name(tl) {
            return invalid_target();
        }
        if matches!(a, Action::KeepEqual | Action::DropEqual)
            && (self.regex.explicit
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return err(format!("{a} action requires only 'source_labels' and `target_label`, and no other fields"));
        }
        if matches!(a, Action::LabelDrop | Action::LabelKeep)
            && (!self.source_labels.is_empty()
                || !tl.is_empty()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return err(format!("{a} action requires only 'regex', and no other fields"));
        }
        if let Some(bad) = self.source_labels.iter().find(|l| !scheme.is_valid_label_name(l)) {
            return err(format!("{bad:?} is not a valid label name"));
        }
        Ok(())
    }
}

/// Applies `cfgs` in order to `labels`. `None` means a rule dropped the set.
pub fn process(labels: &Labels, cfgs: &[RelabelConfig]) -> Option<Labels> {
    let mut lb = LabelsBuilder::new(labels.clone());
    if process_builder(&mut lb, cfgs) { Some(lb.labels()) } else { None }
}

/// Like [`process`] over a caller-owned builder, for hot paths that reuse it. Returns whether
/// the label set is kept; on `false` the builder's contents are unspecified.
pub fn process_builder(lb: &mut LabelsBuilder, cfgs: &[RelabelConfig]) -> bool {
    cfgs.iter().all(|cfg| relabel(cfg, lb))
}

fn relabel(cfg: &RelabelConfig, lb: &mut LabelsBuilder) -> bool {
    let val = match cfg.source_labels.as_slice() {
        [] => String::new(),
        [one] => lb.get(one).to_string(),
        many => {
            let mut v = String::new();
            for (i, name) in many.iter().enumerate() {
                if i > 0 {
                    v.push_str(&cfg.separator);
                }
                v.push_str(lb.get(name));
            }
            v
        }
    };
    let re = cfg.regex.anchored();
    match cfg.action {
        Action::Drop => return !re.is_match(&val),
        Action::Keep => return re.is_match(&val),
        Action::DropEqual => return lb.get(&cfg.target_label) != val,
        Action::KeepEqual => return lb.get(&cfg.target_label) == val,
        Action::Replace => {
            // Upstream's fast path: nothing to expand, so set (or, with an empty replacement,
            // delete) the target directly.
            if val.is_empty()
                && !cfg.regex.explicit
                && !cfg.target_label.contains('$')
                && !cfg.replacement.contains('$')
            {
                lb.set(cfg.target_label.clone(), cfg.replacement.clone());
                return true;
            }
            let Some(caps) = re.regex().captures(&val) else {
                return true;
            };
            let target = expand(re.regex(), &caps, &cfg.target_label);
            if !cfg.name_validation_scheme.is_valid_label_name(&target) {
                return true;
            }
            let res = expand(re.regex(), &caps, &cfg.replacement);
            if res.is_empty() {
                lb.del(&target);
            } else {
                lb.set(target, res);
            }
        }
        Action::Lowercase => {
            lb.set(cfg.target_label.clone(), val.to_lowercase());
        }
        Action::Uppercase => {
            lb.set(cfg.target_label.clone(), val.to_uppercase());
        }
        Action::HashMod => {
            if cfg.modulus == 0 {
                // Rejected by validate(); an unvalidated rule is a no-op rather than a panic.
                return true;
            }
            let sum = Md5::digest(val.as_bytes());
            let mut last = [0u8; 8];
            last.copy_from_slice(&sum[8..16]);
            // The last 8 bytes, big-endian, to match what earlier Prometheus versions computed.
            let m = u64::from_be_bytes(last) % cfg.modulus;
            lb.set(cfg.target_label.clone(), m.to_string());
        }
        Action::LabelMap => {
            // Upstream's Builder.Range iterates a snapshot, so renames made here are not revisited.
            for (name, value) in snapshot(lb) {
                if let Some(caps) = re.regex().captures(&name) {
                    let new_name = expand(re.regex(), &caps, &cfg.replacement);
                    lb.set(new_name, value);
                }
            }
        }
        Action::LabelDrop => {
            for (name, _) in snapshot(lb) {
                if re.is_match(&name) {
                    lb.del(&name);
                }
            }
        }
        Action::LabelKeep => {
            for (name, _) in snapshot(lb) {
                if !re.is_match(&name) {
                    lb.del(&name);
                }
            }
        }
    }
    true
}

fn snapshot(lb: &LabelsBuilder) -> Vec<(String, String)> {
    let mut out = Vec::new();
    lb.range(|n, v| out.push((n.to_string(), v.to_string())));
    out
}

/// Go's `regexp.Expand`: `$$` is a literal `$`; `$name` takes the longest run of letters,
/// digits and `_` as the name (so `$1x` is the group named `1x`, which is empty); `${name}`
/// delimits it; an all-digit name without a leading zero is a group number; anything malformed
/// leaves the `$` as text.
pub fn expand(re: &regex::Regex, caps: &regex::Captures<'_>, template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let Some((name, after)) = extract_name(rest) else {
            out.push('$');
            continue;
        };
        rest = after;
        match group_number(name) {
            Some(n) => {
                if let Some(m) = caps.get(n) {
                    out.push_str(m.as_str());
                }
            }
            None => {
                // Go takes the first group with that name; the regex crate rejects duplicate
                // names, so there is at most one.
                if re.capture_names().any(|n| n == Some(name))
                    && let Some(m) = caps.name(name)
                {
                    out.push_str(m.as_str());
                }
            }
        }
    }
    out.push_str(rest);
    out
}

/// Go's `extract`: the name after a `$`, and the text after it.
fn extract_name(s: &str) -> Option<(&str, &str)> {
    let (brace, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let end = body.char_indices().find(|(_, c)| !(c.is_alphabetic() || c.is_numeric() || *c == '_')).map(|(i, _)| i);
    let end = end.unwrap_or(body.len());
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    let mut after = &body[end..];
    if brace {
        after = after.strip_prefix('}')?;
    }
    Some((name, after))
}

fn group_number(name: &str) -> Option<usize> {
    if !name.bytes().all(|b| b.is_ascii_digit()) || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    // Go gives up on numbers of 1e8 and more, treating them as names (which never match).
    if name.len() > 8 {
        return None;
    }
    name.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(yaml: &str) -> RelabelConfig {
        let mut c: RelabelConfig = serde_yaml_ng::from_str(yaml).expect("parse");
        c.validate(NameValidationScheme::Utf8).expect("valid");
        c
    }

    fn cfgs(yaml: &str) -> Vec<RelabelConfig> {
        let mut v: Vec<RelabelConfig> = serde_yaml_ng::from_str(yaml).expect("parse");
        for c in &mut v {
            c.validate(NameValidationScheme::Utf8).expect("valid");
        }
        v
    }

    fn ls(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }

    fn invalid(yaml: &str, scheme: NameValidationScheme) -> String {
        let mut c: RelabelConfig = serde_yaml_ng::from_str(yaml).expect("parse");
        c.validate(scheme).expect_err("should be invalid").0
    }

    #[test]
    fn defaults_match_prometheus() {
        let c = RelabelConfig::default();
        assert_eq!(c.separator, ";");
        assert_eq!(c.regex.as_str(), "(.*)");
        assert_eq!(c.replacement, "$1");
        assert_eq!(c.action, Action::Replace);
        let parsed: RelabelConfig = serde_yaml_ng::from_str("target_label: x").unwrap();
        assert_eq!(parsed, RelabelConfig { target_label: "x".into(), ..RelabelConfig::default() });
    }

    #[test]
    fn unknown_fields_and_actions_are_rejected() {
        let e = serde_yaml_ng::from_str::<RelabelConfig>("target: x").unwrap_err().to_string();
        assert!(e.contains("unknown field `target`"), "{e}");
        let e = serde_yaml_ng::from_str::<RelabelConfig>("action: explode").unwrap_err().to_string();
        assert!(e.contains("unknown relabel action \"explode\""), "{e}");
        let e = serde_yaml_ng::from_str::<RelabelConfig>("regex: '('").unwrap_err().to_string();
        assert!(e.contains("invalid regular expression"), "{e}");
        // Actions are case-insensitive.
        assert_eq!(serde_yaml_ng::from_str::<RelabelConfig>("action: LabelDrop").unwrap().action, Action::LabelDrop);
    }

    #[test]
    fn regex_keeps_its_text_and_null_means_empty() {
        let c: RelabelConfig = serde_yaml_ng::from_str("regex: 'a|b'").unwrap();
        assert_eq!(c.regex.as_str(), "a|b");
        let y = serde_yaml_ng::to_string(&c).unwrap();
        assert!(y.contains("regex: a|b"), "{y}");
        let c: RelabelConfig = serde_yaml_ng::from_str("regex:\ntarget_label: x").unwrap();
        assert_eq!(c.regex.as_str(), "");
        assert!(c.regex.anchored().is_match("") && !c.regex.anchored().is_match("a"));
        // The default regex is not written back; the round trip restores it.
        let d = serde_yaml_ng::to_string(&RelabelConfig::default()).unwrap();
        assert!(!d.contains("regex"), "{d}");
        assert_eq!(serde_yaml_ng::from_str::<RelabelConfig>(&d).unwrap(), RelabelConfig::default());
    }

    #[test]
    fn validation_messages_match_upstream() {
        use NameValidationScheme::*;
        let cases = [
            ("action: hashmod\ntarget_label: x", "relabel configuration for hashmod requires non-zero modulus"),
            ("source_labels: [a]", "relabel configuration for replace action requires 'target_label' value"),
            ("action: hashmod\nmodulus: 2", "relabel configuration for hashmod action requires 'target_label' value"),
            ("action: lowercase", "relabel configuration for lowercase action requires 'target_label' value"),
            ("action: keepequal", "relabel configuration for keepequal action requires 'target_label' value"),
            ("action: uppercase\ntarget_label: x\nreplacement: y", "'replacement' can not be set for uppercase action"),
            (
                "action: keepequal\ntarget_label: x\nregex: '(.*)'",
                "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
            ),
            (
                "action: dropequal\ntarget_label: x\nseparator: ','",
                "dropequal action requires only 'source_labels' and `target_label`, and no other fields",
            ),
            ("action: labeldrop\nsource_labels: [a]", "labeldrop action requires only 'regex', and no other fields"),
            ("action: labelkeep\ntarget_label: a", "labelkeep action requires only 'regex', and no other fields"),
            ("action: labelkeep\nmodulus: 1", "labelkeep action requires only 'regex', and no other fields"),
            ("action: labeldrop\nseparator: ','", "labeldrop action requires only 'regex', and no other fields"),
            ("action: labeldrop\nreplacement: x", "labeldrop action requires only 'regex', and no other fields"),
        ];
        for (y, want) in cases {
            assert_eq!(invalid(y, Utf8), want, "{y}");
        }
        assert_eq!(invalid("target_label: 'a-b'", Legacy), "\"a-b\" is invalid 'target_label' for replace action");
        assert_eq!(invalid("target_label: '${1'", Legacy), "\"${1\" is invalid 'target_label' for replace action");
        assert_eq!(
            invalid("action: labelmap\nreplacement: 'l-$1'", Legacy),
            "\"l-$1\" is invalid 'replacement' for labelmap action"
        );
        assert_eq!(
            invalid("action: hashmod\nmodulus: 2\ntarget_label: '1x'", Legacy),
            "\"1x\" is invalid 'target_label' for hashmod action"
        );
        // UTF-8 (the Prometheus 3 default) accepts these names.
        cfg("target_label: 'a-b'");
        cfg("action: labelmap\nreplacement: 'l-$1'");
        // Templates that the legacy target pattern accepts.
        for ok in ["label${1}", "${1}label", "${1}", "$1", "asd$2asd", "_${1}_", "foo${bar}foo"] {
            assert!(is_legacy_label_name_template(ok), "{ok}");
        }
        for bad in ["-label", "${", "$", "${}", "foo${", "-foo${1}bar-", "bar.foo${1}bar", ""] {
            assert!(!is_legacy_label_name_template(bad), "{bad}");
        }
    }

    #[test]
    fn replace_with_captures_and_default_fast_path() {
        let c = cfgs(
            r#"
- source_labels: [a]
  regex: "f(.*)"
  target_label: d
  separator: ";"
  replacement: "ch${1}-ch${1}"
"#,
        );
        assert_eq!(
            process(&ls(&[("a", "foo"), ("b", "bar")]), &c).unwrap(),
            ls(&[("a", "foo"), ("b", "bar"), ("d", "choo-choo")])
        );
        // No match: nothing changes.
        assert_eq!(process(&ls(&[("a", "boo")]), &c).unwrap(), ls(&[("a", "boo")]));

        // Missing source label with the default regex sets the replacement verbatim.
        let c = cfgs("- source_labels: [missing]\n  target_label: x\n  replacement: static");
        assert_eq!(process(&ls(&[("a", "1")]), &c).unwrap(), ls(&[("a", "1"), ("x", "static")]));
        // An empty result deletes the target.
        let c = cfgs("- source_labels: [missing]\n  target_label: a");
        assert_eq!(process(&ls(&[("a", "1"), ("b", "2")]), &c).unwrap(), ls(&[("b", "2")]));
    }

    #[test]
    fn replace_joins_sources_with_separator() {
        let c = cfgs(
            "- source_labels: [a, b, c]\n  separator: ','\n  regex: '(.*),(.*),(.*)'\n  target_label: out\n  replacement: '$3$2$1'",
        );
        assert_eq!(process(&ls(&[("a", "x"), ("b", "y"), ("c", "z")]), &c).unwrap().get("out"), "zyx");
        let c = cfgs("- source_labels: [a, b]\n  target_label: out");
        assert_eq!(process(&ls(&[("a", "x"), ("b", "y")]), &c).unwrap().get("out"), "x;y");
        assert_eq!(process(&ls(&[("b", "y")]), &c).unwrap().get("out"), ";y");
    }

    #[test]
    fn replace_templated_target_and_invalid_result() {
        // From upstream's tests: the target label name comes from the match.
        let c =
            cfgs("- source_labels: [a]\n  regex: 'some-([^-]+)-(.*)'\n  target_label: '${1}'\n  replacement: '${2}'");
        assert_eq!(
            process(&ls(&[("a", "some-name-value")]), &c).unwrap(),
            ls(&[("a", "some-name-value"), ("name", "value")])
        );
        // A target that expands to an invalid name is skipped (empty under utf8).
        let c = cfgs("- source_labels: [a]\n  regex: 'x(.*)'\n  target_label: '${1}'");
        assert_eq!(process(&ls(&[("a", "x")]), &c).unwrap(), ls(&[("a", "x")]));
        let mut legacy = cfgs("- source_labels: [a]\n  regex: '(.*)'\n  target_label: '${1}'\n  replacement: v");
        legacy[0].validate(NameValidationScheme::Legacy).unwrap();
        assert_eq!(process(&ls(&[("a", "not-valid")]), &legacy).unwrap(), ls(&[("a", "not-valid")]));
    }

    #[test]
    fn go_expand_semantics() {
        let re = regex::Regex::new("^(?s:(?P<first>a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k))$").unwrap();
        let caps = re.captures("abcdefghijk").unwrap();
        let e = |t: &str| expand(&re, &caps, t);
        assert_eq!(e("$1"), "a");
        assert_eq!(e("${1}x"), "ax");
        assert_eq!(e("$1x"), "", "$1x names group `1x`, which does not exist");
        assert_eq!(e("$10"), "j");
        assert_eq!(e("$01"), "", "leading zero makes it a name");
        assert_eq!(e("$first-$2"), "a-b");
        assert_eq!(e("${first}_"), "a_");
        assert_eq!(e("$first_"), "");
        assert_eq!(e("$$1"), "$1");
        assert_eq!(e("a$"), "a$");
        assert_eq!(e("$-x"), "$-x");
        assert_eq!(e("${1"), "${1");
        assert_eq!(e("$99"), "");
    }

    #[test]
    fn keep_and_drop() {
        let keep = cfgs("- source_labels: [a]\n  regex: 'f.*'\n  action: keep");
        assert!(process(&ls(&[("a", "foo")]), &keep).is_some());
        assert!(process(&ls(&[("a", "bar")]), &keep).is_none());
        // Anchored: a partial match does not count.
        assert!(process(&ls(&[("a", "xfoo")]), &keep).is_none());
        let drop = cfgs("- source_labels: [a]\n  regex: 'f.*'\n  action: drop");
        assert!(process(&ls(&[("a", "foo")]), &drop).is_none());
        assert!(process(&ls(&[("a", "bar")]), &drop).is_some());
        // A missing label is the empty string.
        let keep_empty = cfgs("- source_labels: [a]\n  regex: ''\n  action: keep");
        assert!(process(&ls(&[("b", "x")]), &keep_empty).is_some());
        // Dot matches newline, as in Prometheus 3.
        let keep_nl = cfgs("- source_labels: [a]\n  regex: 'a.b'\n  action: keep");
        assert!(process(&ls(&[("a", "a\nb")]), &keep_nl).is_some());
    }

    #[test]
    fn keepequal_and_dropequal() {
        let ke = cfgs("- source_labels: [a]\n  target_label: b\n  action: keepequal");
        assert!(process(&ls(&[("a", "x"), ("b", "x")]), &ke).is_some());
        assert!(process(&ls(&[("a", "x"), ("b", "y")]), &ke).is_none());
        assert!(process(&ls(&[("c", "z")]), &ke).is_some(), "both missing are equal");
        let de = cfgs("- source_labels: [a]\n  target_label: b\n  action: dropequal");
        assert!(process(&ls(&[("a", "x"), ("b", "x")]), &de).is_none());
        assert!(process(&ls(&[("a", "x"), ("b", "y")]), &de).is_some());
    }

    #[test]
    fn hashmod_matches_prometheus() {
        // Upstream test: md5("foo") mod 1000 on the last 8 bytes is 976.
        let c = cfgs("- source_labels: [c]\n  target_label: d\n  action: hashmod\n  modulus: 1000");
        let out = process(&ls(&[("a", "foo"), ("b", "bar"), ("c", "baz")]), &c).unwrap();
        assert_eq!(out.get("d"), "976");
        let c = cfgs("- source_labels: [c]\n  target_label: d\n  action: hashmod\n  modulus: 1000000000000");
        let out = process(&ls(&[("c", "baz")]), &c).unwrap();
        assert_eq!(out.get("d"), "887570275976");
    }

    #[test]
    fn hashmod_without_modulus_is_a_noop_not_a_panic() {
        let c: Vec<RelabelConfig> = serde_yaml_ng::from_str("- action: hashmod\n  target_label: d").unwrap();
        assert_eq!(process(&ls(&[("a", "1")]), &c).unwrap(), ls(&[("a", "1")]));
    }

    #[test]
    fn labelmap() {
        let c = cfgs("- regex: '__meta_(my.*)'\n  replacement: '${1}'\n  action: labelmap");
        let out =
            process(&ls(&[("__meta_my_bar", "aaa"), ("__meta_my_baz", "bbb"), ("__meta_other", "ccc")]), &c).unwrap();
        assert_eq!(
            out,
            ls(&[
                ("__meta_my_bar", "aaa"),
                ("__meta_my_baz", "bbb"),
                ("__meta_other", "ccc"),
                ("my_bar", "aaa"),
                ("my_baz", "bbb")
            ])
        );
        // Upstream: labelmap onto an existing name overwrites it, iterating a snapshot.
        let c = cfgs(
            "- regex: '(b.*)'\n  replacement: 'bar_${1}'\n  action: labelmap\n- regex: '(b.*)'\n  action: labelmap\n  replacement: 'a'",
        );
        let out = process(&ls(&[("a", "foo"), ("b", "bar")]), &c).unwrap();
        assert_eq!(out.get("bar_b"), "bar");
    }

    #[test]
    fn labeldrop_and_labelkeep() {
        let c = cfgs("- regex: 'a|b'\n  action: labeldrop");
        assert_eq!(process(&ls(&[("a", "1"), ("b", "2"), ("c", "3")]), &c).unwrap(), ls(&[("c", "3")]));
        let c = cfgs("- regex: 'a|b'\n  action: labelkeep");
        assert_eq!(process(&ls(&[("a", "1"), ("b", "2"), ("c", "3")]), &c).unwrap(), ls(&[("a", "1"), ("b", "2")]));
        // Labels added by earlier rules are visible.
        let c = cfgs("- target_label: new\n  replacement: v\n- regex: 'new'\n  action: labeldrop");
        assert_eq!(process(&ls(&[("a", "1")]), &c).unwrap(), ls(&[("a", "1")]));
    }

    #[test]
    fn lowercase_and_uppercase() {
        let c = cfgs(
            "- source_labels: [foo]\n  target_label: foo_lower\n  action: lowercase\n- source_labels: [foo]\n  target_label: foo_upper\n  action: uppercase",
        );
        let out = process(&ls(&[("foo", "bAr123Foo")]), &c).unwrap();
        assert_eq!(out.get("foo_lower"), "bar123foo");
        assert_eq!(out.get("foo_upper"), "BAR123FOO");
        // An empty source deletes the target.
        let out = process(&ls(&[("foo_lower", "x")]), &c[..1]).unwrap();
        assert!(!out.has("foo_lower"));
    }

    #[test]
    fn process_builder_reports_drop_and_chains_rules() {
        let c = cfgs("- source_labels: [a]\n  target_label: b\n- source_labels: [b]\n  regex: '1'\n  action: drop");
        let mut lb = LabelsBuilder::new(ls(&[("a", "1")]));
        assert!(!process_builder(&mut lb, &c));
        let mut lb = LabelsBuilder::new(ls(&[("a", "2")]));
        assert!(process_builder(&mut lb, &c));
        assert_eq!(lb.labels(), ls(&[("a", "2"), ("b", "2")]));
    }
}
