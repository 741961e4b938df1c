//! Positions in the YAML source. `SourceMap` walks the document's events once and records where
//! every key and sequence item starts, under the path spelling serde_yaml_ng uses in its errors
//! (`receivers[2].webhook_configs[0].url`), so checks made after deserialization can name a
//! line, and so the loader can tell an absent key from a default value.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser};

use crate::error::Position;

#[derive(Debug, Default)]
pub(crate) struct SourceMap {
    positions: HashMap<String, Position>,
    scalars: HashMap<String, String>,
    /// The first key that appears twice in one mapping (Go's yaml.v2 rejects it in strict
    /// mode; serde would keep the last value of a map silently).
    pub duplicate_key: Option<(String, String, Position)>,
}

enum Frame {
    Map { prefix: String, key: Option<String> },
    Seq { prefix: String, index: usize },
}

impl SourceMap {
    /// Indexes `src`. A document the event parser cannot read yields a partial map.
    pub fn new(src: &str) -> SourceMap {
        let mut map = SourceMap::default();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(src) {
            let Ok((event, span)) = item else { break };
            let pos = Position { line: span.start.line(), column: span.start.col() + 1 };
            match event {
                Event::Scalar(value, ..) => {
                    if let Some(path) = map.node(&mut stack, pos, Some(&value)) {
                        map.scalars.insert(path, value.into_owned());
                    }
                }
                Event::Alias(_) => {
                    map.node(&mut stack, pos, Some(""));
                }
                Event::MappingStart(..) => {
                    let prefix = map.node(&mut stack, pos, None).unwrap_or_default();
                    stack.push(Frame::Map { prefix, key: None });
                }
                Event::SequenceStart(..) => {
                    let prefix = map.node(&mut stack, pos, None).unwrap_or_default();
                    stack.push(Frame::Seq { prefix, index: 0 });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                    match stack.last_mut() {
                        Some(Frame::Map { key, .. }) => *key = None,
                        Some(Frame::Seq { index, .. }) => *index += 1,
                        None => {}
                    }
                }
                Event::DocumentEnd => stack.clear(),
                _ => {}
            }
        }
        map
    }

    /// Handles the start of a node; returns its path when it is a value (not a key).
    fn node(&mut self, stack: &mut [Frame], pos: Position, scalar: Option<&str>) -> Option<String> {
        match stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Map { prefix, key }) => match key.take() {
                None => {
                    let name = scalar.unwrap_or("?").to_string();
                    let path = join_key(prefix, &name);
                    if self.positions.contains_key(&path) {
                        if scalar.is_some() && name != "<<" && self.duplicate_key.is_none() {
                            self.duplicate_key = Some((path.clone(), name.clone(), pos));
                        }
                    } else {
                        self.positions.insert(path.clone(), pos);
                    }
                    *key = Some(name);
                    // A container used as a key: its contents get a placeholder path.
                    if scalar.is_none() { Some(format!("{prefix}.?")) } else { None }
                }
                Some(k) => {
                    let path = join_key(prefix, &k);
                    if scalar.is_none() {
                        // Keep the key until the container ends.
                        *key = Some(k);
                    }
                    Some(path)
                }
            },
            Some(Frame::Seq { prefix, index }) => {
                let path = format!("{prefix}[{index}]");
                self.positions.entry(path.clone()).or_insert(pos);
                if scalar.is_some() {
                    *index += 1;
                }
                Some(path)
            }
        }
    }

    /// Where `path` (or its nearest recorded ancestor) starts.
    pub fn position(&self, path: &str) -> Option<Position> {
        let mut p = path;
        loop {
            if let Some(pos) = self.positions.get(p) {
                return Some(*pos);
            }
            p = parent(p)?;
        }
    }

    /// Where exactly `path` starts, without falling back to an ancestor.
    pub fn exact_position(&self, path: &str) -> Option<Position> {
        self.positions.get(path).copied()
    }

    /// Whether the key at `path` is present with a non-null value: Go's yaml.v2 leaves a
    /// pointer field nil for both an absent key and `key:` / `key: null`.
    pub fn is_set(&self, path: &str) -> bool {
        if !self.positions.contains_key(path) {
            return false;
        }
        !matches!(self.scalars.get(path).map(String::as_str), Some("" | "~" | "null" | "Null" | "NULL"))
    }

    /// The direct scalar child of the mapping at `path` whose value appears in `message`
    /// (longest value wins, then the earliest).
    pub fn child_with_value_in(&self, path: &str, message: &str) -> Option<String> {
        let prefix = if path.is_empty() { String::new() } else { format!("{path}.") };
        self.scalars
            .iter()
            .filter(|(p, v)| {
                p.strip_prefix(prefix.as_str()).is_some_and(|rest| !rest.contains(['.', '[']))
                    && v.len() > 1
                    && message.contains(v.as_str())
            })
            .max_by_key(|(p, v)| {
                let pos = self.positions.get(p.as_str()).map(|p| (p.line, p.column)).unwrap_or_default();
                (v.len(), std::cmp::Reverse(pos))
            })
            .map(|(p, _)| p.clone())
    }
}

fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") }
}

/// `a.b[2].c` -> `a.b[2]` -> `a.b` -> `a` -> None.
pub(crate) fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '['])?;
    Some(&path[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
route:
  receiver: a
  routes:
    - receiver: b
      matchers: ['x=y', 'z=~w']
receivers:
  - name: a
    webhook_configs:
      - url: http://x
        http_config:
  - name: b
";

    #[test]
    fn positions_and_presence() {
        let m = SourceMap::new(DOC);
        let pos = |p: &str| m.position(p).map(|p| (p.line, p.column));
        assert_eq!(pos("route.receiver"), Some((2, 3)));
        assert_eq!(pos("route.routes[0]"), Some((4, 7)));
        assert_eq!(pos("route.routes[0].matchers[1]"), Some((5, 25)));
        assert_eq!(pos("receivers[1].name"), Some((11, 5)));
        assert_eq!(pos("receivers[0].webhook_configs[0].url"), Some((9, 9)));
        assert!(m.is_set("receivers[0].webhook_configs[0].url"));
        assert!(!m.is_set("receivers[0].webhook_configs[0].http_config"));
        assert!(!m.is_set("receivers[0].webhook_configs[0].max_alerts"));
        assert!(m.duplicate_key.is_none());
        let m = SourceMap::new("a:\n  b: 1\n  c: [{d: 1, d: 2}]\n");
        let (path, key, pos) = m.duplicate_key.unwrap();
        assert_eq!((path.as_str(), key.as_str(), pos.line, pos.column), ("a.c[0].d", "d", 3, 14));
    }
}
