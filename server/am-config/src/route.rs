//! The routing tree and inhibit rules. A [`Route`] comes out of loading with its matchers
//! combined (`matchers`, legacy `match` and `match_re`, sorted as Alertmanager's `NewRoute`
//! sorts them) and its options resolved: children inherit `receiver`, `group_by`,
//! `group_wait`, `group_interval` and `repeat_interval` from their parent.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::error::Issue;
use crate::matcher::{MatchOp, Matcher, is_valid_label_name, parse_matchers};
use crate::values::{
    ScalarString, null_as_default, opt_duration, opt_yaml11_bool, scalar_map, string_field, string_list,
};

pub const DEFAULT_GROUP_WAIT: Duration = Duration::from_secs(30);
pub const DEFAULT_GROUP_INTERVAL: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_REPEAT_INTERVAL: Duration = Duration::from_secs(4 * 60 * 60);

/// How a route groups alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    /// By these label names (empty: one group for all alerts).
    Labels(Vec<String>),
    /// By all labels (`group_by: ['...']`).
    All,
}

impl Default for GroupBy {
    fn default() -> Self {
        GroupBy::Labels(Vec::new())
    }
}

/// A node of the routing tree, fully resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub receiver: String,
    pub group_by: GroupBy,
    /// All of the route's matchers, sorted by name, value, operator.
    pub matchers: Vec<Matcher>,
    /// YAML `continue`: keep matching siblings after this route matched.
    pub continue_matching: bool,
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
    pub routes: Vec<Route>,
}

impl Default for Route {
    fn default() -> Self {
        Route {
            receiver: String::new(),
            group_by: GroupBy::default(),
            matchers: Vec::new(),
            continue_matching: false,
            group_wait: DEFAULT_GROUP_WAIT,
            group_interval: DEFAULT_GROUP_INTERVAL,
            repeat_interval: DEFAULT_REPEAT_INTERVAL,
            mute_time_intervals: Vec::new(),
            active_time_intervals: Vec::new(),
            routes: Vec::new(),
        }
    }
}

impl Route {
    /// Every route of the tree, depth first, this one first.
    pub fn walk(&self) -> Vec<&Route> {
        let mut out = vec![self];
        for r in &self.routes {
            out.extend(r.walk());
        }
        out
    }
}

/// The YAML form of a route.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawRoute {
    #[serde(deserialize_with = "string_field")]
    pub receiver: String,
    #[serde(deserialize_with = "opt_string_list")]
    pub group_by: Option<Vec<String>>,
    #[serde(rename = "match", deserialize_with = "scalar_map")]
    pub match_eq: BTreeMap<String, String>,
    #[serde(deserialize_with = "match_re_map")]
    pub match_re: BTreeMap<String, Option<String>>,
    #[serde(deserialize_with = "string_list")]
    pub matchers: Vec<String>,
    #[serde(rename = "continue", deserialize_with = "opt_yaml11_bool")]
    pub continue_matching: Option<bool>,
    #[serde(deserialize_with = "null_as_default")]
    pub routes: Vec<RawRoute>,
    #[serde(deserialize_with = "opt_duration")]
    pub group_wait: Option<Duration>,
    #[serde(deserialize_with = "opt_duration")]
    pub group_interval: Option<Duration>,
    #[serde(deserialize_with = "opt_duration")]
    pub repeat_interval: Option<Duration>,
    #[serde(deserialize_with = "string_list")]
    pub mute_time_intervals: Vec<String>,
    #[serde(deserialize_with = "string_list")]
    pub active_time_intervals: Vec<String>,
}

fn opt_string_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let v: Option<Vec<ScalarString>> = Option::deserialize(d)?;
    Ok(v.map(|v| v.into_iter().map(|s| s.0).collect()))
}

/// `match_re` values may be null in YAML; Alertmanager rejects that with its own message.
fn match_re_map<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Option<String>>, D::Error> {
    let m: Option<BTreeMap<ScalarString, Option<ScalarString>>> = Option::deserialize(d)?;
    Ok(m.unwrap_or_default().into_iter().map(|(k, v)| (k.0, v.map(|v| v.0))).collect())
}

/// Builds the `match` / `match_re` / `matchers` matchers of a route or inhibit rule side.
/// `paths` are the YAML paths of the three fields, for errors.
pub(crate) fn legacy_and_new_matchers(
    match_eq: &BTreeMap<String, String>,
    match_re: &BTreeMap<String, Option<String>>,
    matchers: &[String],
    paths: [&str; 3],
) -> Result<Vec<Matcher>, Issue> {
    let mut out = Vec::new();
    for (k, v) in match_eq {
        if !is_valid_label_name(k) {
            return Err(Issue::invalid(format!("{}.{k}", paths[0]), format!("invalid label name {k:?}")));
        }
        out.push(Matcher::new(k, MatchOp::Equal, v).map_err(|e| Issue::invalid(paths[0], e))?);
    }
    for (k, v) in match_re {
        let at = format!("{}.{k}", paths[1]);
        if !is_valid_label_name(k) {
            return Err(Issue::invalid(at, format!("invalid label name {k:?}")));
        }
        let Some(v) = v else {
            return Err(Issue::invalid(at, format!("invalid regexp value for {k:?}")));
        };
        out.push(Matcher::new(k, MatchOp::Regexp, v).map_err(|e| Issue::invalid(at, e))?);
    }
    for (i, m) in matchers.iter().enumerate() {
        out.extend(parse_matchers(m).map_err(|e| Issue::invalid(format!("{}[{i}]", paths[2]), e))?);
    }
    Ok(out)
}

impl RawRoute {
    /// `Route.UnmarshalYAML` checks, then inheritance from `parent` (None for the root, which
    /// inherits the defaults). `path` is the route's YAML path.
    pub(crate) fn resolve(&self, parent: Option<&Route>, path: &str) -> Result<Route, Issue> {
        let at = |f: &str| format!("{path}.{f}");
        let matchers = legacy_and_new_matchers(
            &self.match_eq,
            &self.match_re,
            &self.matchers,
            [&at("match"), &at("match_re"), &at("matchers")],
        )?;
        let group_by = match &self.group_by {
            None => parent.map(|p| p.group_by.clone()).unwrap_or_default(),
            Some(list) => {
                let mut labels: Vec<String> = Vec::new();
                let mut all = false;
                for (i, l) in list.iter().enumerate() {
                    if l == "..." {
                        all = true;
                    } else if !is_valid_label_name(l) {
                        return Err(Issue::invalid(
                            format!("{path}.group_by[{i}]"),
                            format!("invalid label name {l:?} in group_by list"),
                        ));
                    } else {
                        if labels.contains(l) {
                            return Err(Issue::invalid(
                                format!("{path}.group_by[{i}]"),
                                format!("duplicated label {l:?} in group_by"),
                            ));
                        }
                        labels.push(l.clone());
                    }
                }
                if all && !labels.is_empty() {
                    return Err(Issue::invalid(
                        at("group_by"),
                        "cannot have wildcard group_by (`...`) and other other labels at the same time",
                    ));
                }
                if all { GroupBy::All } else { GroupBy::Labels(labels) }
            }
        };
        if self.group_interval == Some(Duration::ZERO) {
            return Err(Issue::invalid(at("group_interval"), "group_interval cannot be zero"));
        }
        if self.repeat_interval == Some(Duration::ZERO) {
            return Err(Issue::invalid(at("repeat_interval"), "repeat_interval cannot be zero"));
        }
        let inherited = parent.cloned().unwrap_or_default();
        let mut matchers = matchers;
        matchers.sort();
        let mut route = Route {
            receiver: if self.receiver.is_empty() { inherited.receiver } else { self.receiver.clone() },
            group_by,
            matchers,
            continue_matching: self.continue_matching.unwrap_or(false),
            group_wait: self.group_wait.unwrap_or(inherited.group_wait),
            group_interval: self.group_interval.unwrap_or(inherited.group_interval),
            repeat_interval: self.repeat_interval.unwrap_or(inherited.repeat_interval),
            mute_time_intervals: self.mute_time_intervals.clone(),
            active_time_intervals: self.active_time_intervals.clone(),
            routes: Vec::new(),
        };
        let mut children = Vec::with_capacity(self.routes.len());
        for (i, child) in self.routes.iter().enumerate() {
            children.push(child.resolve(Some(&route), &format!("{path}.routes[{i}]"))?);
        }
        route.routes = children;
        Ok(route)
    }

    /// Whether the route sets any matcher (the root must not).
    pub(crate) fn has_matchers(&self) -> bool {
        !self.match_eq.is_empty() || !self.match_re.is_empty() || !self.matchers.is_empty()
    }
}

/// An inhibit rule: alerts matching `target_matchers` are muted while an alert matching
/// `source_matchers` fires with the same values for the `equal` labels.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InhibitRule {
    pub source_matchers: Vec<Matcher>,
    pub target_matchers: Vec<Matcher>,
    pub equal: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawInhibitRule {
    #[serde(deserialize_with = "scalar_map")]
    source_match: BTreeMap<String, String>,
    #[serde(deserialize_with = "match_re_map")]
    source_match_re: BTreeMap<String, Option<String>>,
    #[serde(deserialize_with = "string_list")]
    source_matchers: Vec<String>,
    #[serde(deserialize_with = "scalar_map")]
    target_match: BTreeMap<String, String>,
    #[serde(deserialize_with = "match_re_map")]
    target_match_re: BTreeMap<String, Option<String>>,
    #[serde(deserialize_with = "string_list")]
    target_matchers: Vec<String>,
    #[serde(deserialize_with = "string_list")]
    equal: Vec<String>,
}

impl RawInhibitRule {
    pub(crate) fn resolve(&self, path: &str) -> Result<InhibitRule, Issue> {
        let at = |f: &str| format!("{path}.{f}");
        let source = legacy_and_new_matchers(
            &self.source_match,
            &self.source_match_re,
            &self.source_matchers,
            [&at("source_match"), &at("source_match_re"), &at("source_matchers")],
        )?;
        let target = legacy_and_new_matchers(
            &self.target_match,
            &self.target_match_re,
            &self.target_matchers,
            [&at("target_match"), &at("target_match_re"), &at("target_matchers")],
        )?;
        for (i, l) in self.equal.iter().enumerate() {
            if !is_valid_label_name(l) {
                return Err(Issue::invalid(format!("{path}.equal[{i}]"), format!("{l:?} is not a valid label name")));
            }
        }
        Ok(InhibitRule { source_matchers: source, target_matchers: target, equal: self.equal.clone() })
    }
}
