//! Where nodes of a YAML document start. Rule-file errors name the line and column of the
//! offending node the way Prometheus's rulefmt does with yaml.v3 nodes; serde does not keep
//! positions, so this module rebuilds a light node tree (positions plus structure) from the
//! event stream. It knows nothing about rules.

use saphyr_parser::{Event, Parser};

/// A 1-based line and column; `(0, 0)` stands for a node that is absent, as Go's zero
/// `yaml.Node` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Scalar(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Alias,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub pos: Pos,
    pub kind: NodeKind,
}

impl Node {
    /// The value of `key` in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => {
                entries.iter().find(|(k, _)| matches!(&k.kind, NodeKind::Scalar(s) if s == key)).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    /// Item `i` of a sequence node.
    pub fn item(&self, i: usize) -> Option<&Node> {
        match &self.kind {
            NodeKind::Seq(items) => items.get(i),
            _ => None,
        }
    }
}

enum Frame {
    Seq(Pos, Vec<Node>),
    Map(Pos, Vec<(Node, Node)>, Option<Node>),
}

/// Parses the first document of `src` into a node tree. `None` when the document is empty or
/// the event parser fails (callers then report errors without positions).
pub fn parse(src: &str) -> Option<Node> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    for item in Parser::new_from_str(src) {
        let Ok((event, span)) = item else { return None };
        let pos = Pos { line: span.start.line(), column: span.start.col() + 1 };
        let done = match event {
            Event::Scalar(value, ..) => Some(Node { pos, kind: NodeKind::Scalar(value.into_owned()) }),
            Event::Alias(_) => Some(Node { pos, kind: NodeKind::Alias }),
            Event::SequenceStart(..) => {
                stack.push(Frame::Seq(pos, Vec::new()));
                None
            }
            Event::MappingStart(..) => {
                stack.push(Frame::Map(pos, Vec::new(), None));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(p, items)) => Some(Node { pos: p, kind: NodeKind::Seq(items) }),
                Some(Frame::Map(p, entries, _)) => Some(Node { pos: p, kind: NodeKind::Map(entries) }),
                None => return None,
            },
            Event::DocumentEnd => break,
            _ => None,
        };
        if let Some(node) = done {
            match stack.last_mut() {
                None => {
                    root = Some(node);
                }
                Some(Frame::Seq(_, items)) => items.push(node),
                Some(Frame::Map(_, entries, key)) => match key.take() {
                    None => *key = Some(node),
                    Some(k) => entries.push((k, node)),
                },
            }
        }
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_values() {
        let src = "groups:\n- name: a\n  rules:\n  - {record: \"a:b\", expr: \"sum(\"}\n";
        let root = parse(src).unwrap();
        let g = root.get("groups").unwrap().item(0).unwrap();
        assert_eq!(g.pos, Pos { line: 2, column: 3 });
        let expr = g.get("rules").unwrap().item(0).unwrap().get("expr").unwrap();
        assert_eq!(expr.pos, Pos { line: 4, column: 27 });
    }
}
