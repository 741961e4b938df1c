//! The routing tree (`dispatch/route.go`) built from the resolved config route: depth-first,
//! left-to-right matching with `continue`, and each route's key (`{}/{a="b"}/...`), which
//! prefixes the group keys that notifications carry.

use std::time::Duration;

use oxeye_am_config::{GroupBy, Matcher, matchers_string, matches_all};
use oxeye_model::{Label, Labels};

/// One route with its resolved options. Nodes are stored in a flat list in depth-first order;
/// `id` is the index there (unique per route, like Alertmanager's `*Route` identity).
#[derive(Debug, Clone)]
pub struct RouteNode {
    pub id: usize,
    pub parent: Option<usize>,
    pub receiver: String,
    pub group_by: GroupBy,
    pub matchers: Vec<Matcher>,
    pub continue_matching: bool,
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
    pub children: Vec<usize>,
    /// `Route.Key()`.
    pub key: String,
}

impl RouteNode {
    /// `getGroupLabels`: the alert's labels named in `group_by`, or all of them for `...`.
    pub fn group_labels(&self, labels: &Labels) -> Labels {
        match &self.group_by {
            GroupBy::All => labels.clone(),
            GroupBy::Labels(names) => {
                let v: Vec<Label> = labels.iter().filter(|l| names.contains(&l.name)).cloned().collect();
                Labels::from_sorted(v)
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct RouteTree {
    nodes: Vec<RouteNode>,
}

impl RouteTree {
    pub fn new(root: &oxeye_am_config::Route) -> RouteTree {
        let mut t = RouteTree { nodes: Vec::new() };
        t.add(root, None);
        t
    }

    fn add(&mut self, r: &oxeye_am_config::Route, parent: Option<usize>) -> usize {
        let id = self.nodes.len();
        let mut matchers = r.matchers.clone();
        matchers.sort();
        let own = matchers_string(&matchers);
        let key = match parent {
            Some(p) => format!("{}/{}", self.nodes[p].key, own),
            None => own,
        };
        self.nodes.push(RouteNode {
            id,
            parent,
            receiver: r.receiver.clone(),
            group_by: r.group_by.clone(),
            matchers,
            continue_matching: r.continue_matching,
            group_wait: r.group_wait,
            group_interval: r.group_interval,
            repeat_interval: r.repeat_interval,
            mute_time_intervals: r.mute_time_intervals.clone(),
            active_time_intervals: r.active_time_intervals.clone(),
            children: Vec::new(),
            key,
        });
        for c in &r.routes {
            let cid = self.add(c, Some(id));
            self.nodes[id].children.push(cid);
        }
        id
    }

    pub fn root(&self) -> &RouteNode {
        &self.nodes[0]
    }

    pub fn node(&self, id: usize) -> &RouteNode {
        &self.nodes[id]
    }

    pub fn nodes(&self) -> &[RouteNode] {
        &self.nodes
    }

    /// `Route.Match` from the root: the routes an alert with these labels is dispatched to.
    pub fn matches(&self, labels: &Labels) -> Vec<&RouteNode> {
        let mut out = Vec::new();
        self.match_node(0, labels, &mut out);
        out.into_iter().map(|i| &self.nodes[i]).collect()
    }

    fn match_node(&self, id: usize, labels: &Labels, out: &mut Vec<usize>) -> bool {
        let n = &self.nodes[id];
        if !matches_all(&n.matchers, labels) {
            return false;
        }
        let before = out.len();
        for &c in &n.children {
            let matched = self.match_node(c, labels, out);
            if matched && !self.nodes[c].continue_matching {
                break;
            }
        }
        if out.len() == before {
            out.push(id);
        }
        true
    }

    /// Receiver names of the matching routes, in match order (`amtool config routes test`).
    pub fn receivers_for(&self, labels: &Labels) -> Vec<String> {
        self.matches(labels).into_iter().map(|n| n.receiver.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = r#"
route:
  receiver: root
  group_by: [alertname]
  routes:
    - match: {service: api}
      receiver: api
      routes:
        - matchers: ['severity!="info"', 'env=~"prod|staging"']
          receiver: api-prod
    - matchers: [service="db"]
      receiver: db
      continue: true
      group_by: ['...']
    - matchers: [service=~"d.*"]
      receiver: d-star
receivers: [{name: root}, {name: api}, {name: api-prod}, {name: db}, {name: d-star}]
"#;

    fn tree() -> RouteTree {
        RouteTree::new(&oxeye_am_config::load_str(CFG, "t.yml").unwrap().route)
    }

    #[test]
    fn keys_are_matcher_paths() {
        let t = tree();
        let keys: Vec<&str> = t.nodes().iter().map(|n| n.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "{}",
                r#"{}/{service="api"}"#,
                r#"{}/{service="api"}/{env=~"prod|staging",severity!="info"}"#,
                r#"{}/{service="db"}"#,
                r#"{}/{service=~"d.*"}"#,
            ]
        );
    }

    #[test]
    fn depth_first_matching_with_continue() {
        let t = tree();
        let r = |pairs: &[(&str, &str)]| t.receivers_for(&Labels::from_pairs(pairs.iter().copied()));
        assert_eq!(r(&[("service", "api"), ("env", "prod")]), vec!["api-prod"]);
        // The child does not match (severity="info"): the parent itself is the match.
        assert_eq!(r(&[("service", "api"), ("env", "prod"), ("severity", "info")]), vec!["api"]);
        assert_eq!(r(&[("service", "db")]), vec!["db", "d-star"]);
        assert_eq!(r(&[("service", "dx")]), vec!["d-star"]);
        assert_eq!(r(&[("service", "other")]), vec!["root"]);
    }

    #[test]
    fn group_labels_by_names_or_all() {
        let t = tree();
        let l = Labels::from_pairs([("alertname", "A"), ("service", "db"), ("x", "1")]);
        assert_eq!(t.root().group_labels(&l), Labels::from_pairs([("alertname", "A")]));
        assert_eq!(t.node(3).group_labels(&l), l);
        assert_eq!(t.node(4).group_labels(&l), Labels::from_pairs([("alertname", "A")]), "inherited group_by");
    }
}
