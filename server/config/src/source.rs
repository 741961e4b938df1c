//! Positions in the YAML source. `SourceMap` walks the document's events once and records where
//! every key and sequence item starts, under the same path spelling serde_yaml_ng uses in its
//! errors (`scrape_configs[2].tls_config.ca_file`), so errors found after deserialization can
//! name a line. It is built only when an error needs it.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser};

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Default)]
pub struct SourceMap {
    positions: HashMap<String, Position>,
    scalars: HashMap<String, String>,
}

enum Frame {
    Map { prefix: String, key: Option<String> },
    Seq { prefix: String, index: usize },
}

impl SourceMap {
    /// Indexes `src`. A document the event parser cannot read yields a partial map: callers
    /// then fall back to the position serde reported.
    pub fn new(src: &str) -> SourceMap {
        let mut map = SourceMap::default();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(src) {
            let Ok((event, span)) = item else { break };
            let pos = Position { line: span.start.line(), column: span.start.col() + 1 };
            match event {
                Event::Scalar(value, ..) => {
                    if let Some(path) = map.node_path(&mut stack, pos, Some(&value)) {
                        map.scalars.insert(path, value.into_owned());
                    }
                }
                Event::Alias(_) => {
                    map.node_path(&mut stack, pos, None);
                }
                Event::MappingStart(..) => {
                    let prefix = map.node_path(&mut stack, pos, None).unwrap_or_default();
                    stack.push(Frame::Map { prefix, key: None });
                }
                Event::SequenceStart(..) => {
                    let prefix = map.node_path(&mut stack, pos, None).unwrap_or_default();
                    stack.push(Frame::Seq { prefix, index: 0 });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                    finish_value(&mut stack);
                }
                Event::DocumentEnd => stack.clear(),
                _ => {}
            }
        }
        map
    }

    /// Handles the start of a node: returns its path when it is a value (not a key), and
    /// records the position of keys and items.
    fn node_path(&mut self, stack: &mut [Frame], pos: Position, scalar: Option<&str>) -> Option<String> {
        let is_container = scalar.is_none();
        match stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Map { prefix, key }) => match key.take() {
                None => {
                    // This node is a key. Complex (non-scalar) keys get a placeholder name.
                    let name = scalar.unwrap_or("?").to_string();
                    let path = join_key(prefix, &name);
                    self.positions.entry(path).or_insert(pos);
                    if is_container {
                        // A mapping or sequence used as a key: its contents have no useful path.
                        *key = Some(name);
                        return Some(format!("{prefix}.?"));
                    }
                    *key = Some(name);
                    None
                }
                Some(k) => {
                    let path = join_key(prefix, &k);
                    if is_container {
                        // Keep the key until the container ends, so the map knows a value is open.
                        *key = Some(k);
                        // Mark "value in progress" by storing a sentinel; finish_value clears it.
                        return Some(path);
                    }
                    Some(path)
                }
            },
            Some(Frame::Seq { prefix, index }) => {
                let path = format!("{prefix}[{index}]");
                self.positions.entry(path.clone()).or_insert(pos);
                if !is_container {
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

    /// The direct scalar child of the mapping at `path` whose value appears in `message`
    /// (longest value wins, then the earliest).
    pub fn child_with_value_in(&self, path: &str, message: &str) -> Option<String> {
        let prefix = if path.is_empty() { String::new() } else { format!("{path}.") };
        self.scalars
            .iter()
            .filter(|(p, v)| {
                p.strip_prefix(prefix.as_str()).is_some_and(|rest| !rest.contains(['.', '[']))
                    && !v.is_empty()
                    && message.contains(v.as_str())
            })
            .max_by_key(|(p, v)| {
                let pos = self.positions.get(p.as_str()).map(|p| (p.line, p.column)).unwrap_or_default();
                (v.len(), std::cmp::Reverse(pos))
            })
            .map(|(p, _)| p.clone())
    }

    /// The scalar value at `path`, e.g. `scrape_configs[3].job_name`.
    pub fn scalar(&self, path: &str) -> Option<&str> {
        self.scalars.get(path).map(String::as_str)
    }

    /// The job name of the scrape config that `path` lies in, if any.
    pub fn job_name(&self, path: &str) -> Option<&str> {
        let rest = path.strip_prefix("scrape_configs[")?;
        let idx = rest.split(']').next()?;
        self.scalar(&format!("scrape_configs[{idx}].job_name"))
    }
}

/// After a container value ends, its parent map expects a key again or its parent sequence
/// moves to the next item.
fn finish_value(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Map { key, .. }) => *key = None,
        Some(Frame::Seq { index, .. }) => *index += 1,
        None => {}
    }
}

fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") }
}

/// `a.b[2].c` -> `a.b[2]` -> `a.b` -> `a` -> None.
pub fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '['])?;
    Some(&path[..cut])
}

/// A serde_yaml_ng error split into its parts: `path: message at line L column C`.
pub struct SerdeMessage {
    pub path: String,
    pub message: String,
    pub position: Option<Position>,
}

pub fn split_serde_error(err: &serde_yaml_ng::Error) -> SerdeMessage {
    let position = err.location().map(|l| Position { line: l.line(), column: l.column() });
    let mut text = err.to_string();
    if let Some(p) = position {
        let suffix = format!(" at line {} column {}", p.line, p.column);
        if let Some(stripped) = text.strip_suffix(&suffix) {
            text = stripped.to_string();
        }
    }
    // A path has no spaces: `scrape_configs[0].static_configs[1]`.
    if let Some((head, tail)) = text.split_once(": ")
        && !head.is_empty()
        && head.chars().all(|c| c.is_alphanumeric() || "_.[]-".contains(c))
    {
        return SerdeMessage { path: head.to_string(), message: tail.to_string(), position };
    }
    SerdeMessage { path: String::new(), message: text, position }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: a
    static_configs:
      - targets: ['x:1', 'y:2']
  - job_name: b
    relabel_configs:
      - source_labels: [a]
        target_label: b
    tls_config: {ca_file: ca.pem}
";

    #[test]
    fn positions_of_keys_and_items() {
        let m = SourceMap::new(DOC);
        let pos = |p: &str| m.position(p).map(|p| (p.line, p.column));
        assert_eq!(pos("global"), Some((1, 1)));
        assert_eq!(pos("global.scrape_interval"), Some((2, 3)));
        assert_eq!(pos("scrape_configs[0]"), Some((4, 5)));
        assert_eq!(pos("scrape_configs[1].job_name"), Some((7, 5)));
        assert_eq!(pos("scrape_configs[1].relabel_configs[0]"), Some((9, 9)));
        assert_eq!(pos("scrape_configs[1].relabel_configs[0].target_label"), Some((10, 9)));
        assert_eq!(pos("scrape_configs[1].tls_config.ca_file"), Some((11, 18)));
        assert_eq!(pos("scrape_configs[0].static_configs[0].targets[1]"), Some((6, 26)));
        // Missing paths fall back to the nearest ancestor.
        assert_eq!(pos("scrape_configs[1].scrape_timeout"), Some((7, 5)));
        assert_eq!(m.job_name("scrape_configs[1].tls_config"), Some("b"));
        assert_eq!(m.job_name("global"), None);
    }

    #[test]
    fn parents() {
        assert_eq!(parent("a.b[2].c"), Some("a.b[2]"));
        assert_eq!(parent("a.b[2]"), Some("a.b"));
        assert_eq!(parent("a"), None);
    }
}
