//! Which objects and namespaces the operator takes, with prometheus-operator's selector
//! semantics: an object selector that is `null` selects nothing and `{}` everything; a namespace
//! selector that is `null` means the operator's own namespace only, `{}` every namespace.
//! Oxeye's default, when a selector is not configured at all, is everything everywhere.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::settings::SelectorField;

/// One parsed `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A validated Kubernetes label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMatcher {
    labels: BTreeMap<String, String>,
    requirements: Vec<Requirement>,
}

impl LabelMatcher {
    /// Validates `sel` as the apiserver does (`In`/`NotIn` need values, `Exists`/`DoesNotExist`
    /// must have none).
    pub fn new(sel: &LabelSelector) -> Result<LabelMatcher, String> {
        let mut requirements = Vec::new();
        for (i, e) in sel.match_expressions.iter().flatten().enumerate() {
            let values = e.values.clone().unwrap_or_default();
            let at = format!("matchExpressions[{i}]");
            if e.key.is_empty() {
                return Err(format!("{at}: key must not be empty"));
            }
            let r = match e.operator.as_str() {
                "In" | "NotIn" if values.is_empty() => {
                    return Err(format!("{at}: operator {} needs at least one value", e.operator));
                }
                "Exists" | "DoesNotExist" if !values.is_empty() => {
                    return Err(format!("{at}: operator {} takes no values", e.operator));
                }
                "In" => Requirement::In(e.key.clone(), values),
                "NotIn" => Requirement::NotIn(e.key.clone(), values),
                "Exists" => Requirement::Exists(e.key.clone()),
                "DoesNotExist" => Requirement::DoesNotExist(e.key.clone()),
                other => {
                    return Err(format!("{at}: operator {other:?} is not one of In, NotIn, Exists, DoesNotExist"));
                }
            };
            requirements.push(r);
        }
        Ok(LabelMatcher { labels: sel.match_labels.clone().unwrap_or_default(), requirements })
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.requirements.iter().all(|r| match r {
                Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
                Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
                Requirement::Exists(k) => labels.contains_key(k),
                Requirement::DoesNotExist(k) => !labels.contains_key(k),
            })
    }

    /// Whether this selector has no terms (and so matches every object).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.requirements.is_empty()
    }
}

/// `serviceMonitorSelector`, `podMonitorSelector`, `ruleSelector`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectSelection {
    /// `null`: no object.
    Nothing,
    /// `{}`, or not configured: every object.
    All,
    Matching(LabelMatcher),
}

impl ObjectSelection {
    pub fn from_field(f: &SelectorField) -> Result<Self, String> {
        Ok(match f {
            SelectorField::Absent => ObjectSelection::All,
            SelectorField::Null => ObjectSelection::Nothing,
            SelectorField::Selector(s) => {
                let m = LabelMatcher::new(s)?;
                if m.is_empty() { ObjectSelection::All } else { ObjectSelection::Matching(m) }
            }
        })
    }

    pub fn selects(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            ObjectSelection::Nothing => false,
            ObjectSelection::All => true,
            ObjectSelection::Matching(m) => m.matches(labels),
        }
    }
}

/// `serviceMonitorNamespaceSelector`, `podMonitorNamespaceSelector`, `ruleNamespaceSelector`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceSelection {
    /// `null`: only the operator's own namespace.
    Own(String),
    /// `{}`, or not configured: every namespace.
    All,
    /// Namespaces whose labels match.
    Matching(LabelMatcher),
}

impl NamespaceSelection {
    pub fn from_field(f: &SelectorField, own: &str) -> Result<Self, String> {
        Ok(match f {
            SelectorField::Absent => NamespaceSelection::All,
            SelectorField::Null => NamespaceSelection::Own(own.to_string()),
            SelectorField::Selector(s) => {
                let m = LabelMatcher::new(s)?;
                if m.is_empty() { NamespaceSelection::All } else { NamespaceSelection::Matching(m) }
            }
        })
    }

    /// Whether objects in `namespace` (with these labels; `None` when the Namespace object is
    /// not known) are taken.
    pub fn selects(&self, namespace: &str, labels: Option<&BTreeMap<String, String>>) -> bool {
        match self {
            NamespaceSelection::Own(own) => own == namespace,
            NamespaceSelection::All => true,
            NamespaceSelection::Matching(m) => labels.is_some_and(|l| m.matches(l)),
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn req(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn label_selector_semantics() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("team", "a")])),
            match_expressions: Some(vec![
                req("tier", "In", &["web", "api"]),
                req("canary", "DoesNotExist", &[]),
                req("env", "NotIn", &["dev"]),
                req("app", "Exists", &[]),
            ]),
        };
        let m = LabelMatcher::new(&sel).unwrap();
        assert!(m.matches(&labels(&[("team", "a"), ("tier", "web"), ("app", "x")])));
        assert!(m.matches(&labels(&[("team", "a"), ("tier", "api"), ("app", "x"), ("env", "prod")])));
        assert!(!m.matches(&labels(&[("team", "a"), ("tier", "web"), ("app", "x"), ("env", "dev")])));
        assert!(!m.matches(&labels(&[("team", "a"), ("tier", "web"), ("app", "x"), ("canary", "")])));
        assert!(!m.matches(&labels(&[("team", "a"), ("tier", "db"), ("app", "x")])));
        assert!(!m.matches(&labels(&[("team", "b"), ("tier", "web"), ("app", "x")])));
        assert!(!m.matches(&labels(&[("team", "a"), ("tier", "web")])));
    }

    #[test]
    fn invalid_selectors_are_refused() {
        for (r, want) in [
            (req("a", "In", &[]), "needs at least one value"),
            (req("a", "Exists", &["x"]), "takes no values"),
            (req("a", "Equals", &["x"]), "\"Equals\""),
            (req("", "Exists", &[]), "key must not be empty"),
        ] {
            let sel = LabelSelector { match_labels: None, match_expressions: Some(vec![r]) };
            let e = LabelMatcher::new(&sel).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn null_and_empty_differ() {
        let empty = SelectorField::Selector(LabelSelector::default());
        assert_eq!(ObjectSelection::from_field(&SelectorField::Null).unwrap(), ObjectSelection::Nothing);
        assert_eq!(ObjectSelection::from_field(&empty).unwrap(), ObjectSelection::All);
        assert_eq!(ObjectSelection::from_field(&SelectorField::Absent).unwrap(), ObjectSelection::All);
        let own = NamespaceSelection::from_field(&SelectorField::Null, "mon").unwrap();
        assert!(own.selects("mon", None) && !own.selects("other", None));
        assert!(NamespaceSelection::from_field(&empty, "mon").unwrap().selects("other", None));
        let sel = SelectorField::Selector(LabelSelector {
            match_labels: Some(labels(&[("monitoring", "on")])),
            match_expressions: None,
        });
        let m = NamespaceSelection::from_field(&sel, "mon").unwrap();
        assert!(m.selects("x", Some(&labels(&[("monitoring", "on")]))));
        assert!(!m.selects("x", Some(&labels(&[]))));
        assert!(!m.selects("x", None), "an unknown namespace is not selected by labels");
    }
}
