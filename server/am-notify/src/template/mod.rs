//! Alertmanager's notification templates: the default templates (`default.tmpl`) plus the
//! config's `templates` globs, executed over [`TemplateData`] in text or HTML mode.
//!
//! gotmpl cannot call methods, yet Alertmanager templates call `KV.SortedPairs`, `KV.Remove`,
//! `Alerts.Firing`, `Time.Format` and friends. Every parsed tree is therefore rewritten: each
//! field chain (`.CommonLabels.Remove .GroupLabels.Names`) becomes a call of an internal
//! function that resolves it with Go's method-before-key rule on typed values (see
//! [`data::TYPE_KEY`]); `KV`s stay plain maps so `len`, `range` and `index` work unchanged.
//! Printed pipelines get a print function that renders values as Go does (HTML mode escapes).

pub mod data;
pub mod funcs;
pub mod gotime;

use std::collections::BTreeSet;
use std::path::Path;

use gotmpl::parse::{CommandNode, Expr, ListNode, Node, PipeNode, Pos};
use gotmpl::{FuncMap, MissingKey, Template, Value};

pub use data::{TemplateAlert, TemplateData};
use funcs::{FIELD_FN, HTML_PRINT_FN, PRINT_FN};

/// Alertmanager's default templates (`template/default.tmpl` of Alertmanager 0.25).
pub const DEFAULT_TEMPLATE: &str = include_str!("default.tmpl");

/// Go's predefined template functions.
const GO_BUILTINS: [&str; 19] = [
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf", "println", "urlquery", "eq",
    "ge", "gt", "le", "lt", "ne",
];

/// A template that failed to load, parse or execute.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

/// The name under which executed text strings are parsed.
const TEXT_NAME: &str = "__am_text";

/// The loaded template set, ready to execute text strings in text or HTML mode.
#[derive(Clone)]
pub struct Templates {
    text: Template,
    html: Template,
    funcs: FuncMap,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").field("templates", &self.text.templates()).finish()
    }
}

fn all_funcs() -> FuncMap {
    let mut funcs = oxeye_template::engine_funcs(true);
    funcs.extend(funcs::default_funcs());
    funcs.extend(funcs::internal_funcs());
    funcs
}

impl Templates {
    /// The default templates only.
    pub fn default_only() -> Result<Self, TemplateError> {
        Self::from_sources(&[])
    }

    /// Loads `default.tmpl`, then every file matching each glob in order, as Alertmanager's
    /// `template.FromGlobs` (a later definition of a name replaces an earlier one).
    pub fn from_globs(globs: &[String]) -> Result<Self, TemplateError> {
        let mut sources = Vec::new();
        for g in globs {
            let paths = glob::glob(g).map_err(|e| TemplateError(format!("invalid template glob {g:?}: {e}")))?;
            for p in paths {
                let p = p.map_err(|e| TemplateError(e.to_string()))?;
                let text = std::fs::read_to_string(&p)
                    .map_err(|e| TemplateError(format!("reading template {}: {e}", p.display())))?;
                let name = Path::new(&p).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                sources.push((name, text));
            }
        }
        Self::from_sources(&sources)
    }

    /// Loads `default.tmpl` and then the given `(file name, text)` sources.
    pub fn from_sources(sources: &[(String, String)]) -> Result<Self, TemplateError> {
        let funcs = all_funcs();
        let base = Template::new("").missing_key(MissingKey::ZeroValue).funcs(funcs.clone());
        let mut text = base.clone();
        let mut html = base;
        let default = [("default.tmpl".to_string(), DEFAULT_TEMPLATE.to_string())];
        for (name, src) in default.iter().chain(sources) {
            for (tname, tree) in parse_trees(&funcs, name, src)? {
                let mut t_tree = tree.clone();
                rewrite(&mut t_tree, false);
                text = text.add_parse_tree(&tname, t_tree);
                let mut h_tree = tree;
                rewrite(&mut h_tree, true);
                html = html.add_parse_tree(&tname, h_tree);
            }
        }
        Ok(Templates { text, html, funcs })
    }

    /// Executes `text` as a text template (Alertmanager's `ExecuteTextString`); "" gives "".
    pub fn execute_text(&self, text: &str, data: &Value) -> Result<String, TemplateError> {
        self.execute(&self.text, text, data, false)
    }

    /// Executes `text` as an HTML template (`ExecuteHTMLString`): printed values are escaped
    /// unless they come from `safeHtml`.
    pub fn execute_html(&self, text: &str, data: &Value) -> Result<String, TemplateError> {
        self.execute(&self.html, text, data, true)
    }

    /// The names of all loaded templates.
    pub fn names(&self) -> Vec<String> {
        self.text.templates().into_iter().map(str::to_string).collect()
    }

    fn execute(&self, set: &Template, text: &str, data: &Value, html: bool) -> Result<String, TemplateError> {
        if text.is_empty() {
            return Ok(String::new());
        }
        let mut t = set.clone();
        let trees = parse_trees(&self.funcs, TEXT_NAME, text)?;
        let mut has_main = false;
        for (name, mut tree) in trees {
            rewrite(&mut tree, html);
            has_main |= name == TEXT_NAME;
            t = t.add_parse_tree(&name, tree);
        }
        if !has_main {
            // Only whitespace or definitions: Go executes the (empty) top-level text.
            return Ok(if text.contains("{{") { String::new() } else { text.to_string() });
        }
        t.execute_template_to_string(TEXT_NAME, data).map_err(|e| TemplateError(exec_message(e)))
    }
}

fn exec_message(e: gotmpl::TemplateError) -> String {
    match e {
        gotmpl::TemplateError::Exec(m) => format!("template: {TEXT_NAME}: {m}"),
        other => other.to_string(),
    }
}

/// Parses one source into its named trees (the top level under `name` when not empty, plus
/// each `{{define}}`), rejecting unknown functions as Go's parser does.
fn parse_trees(funcs: &FuncMap, name: &str, src: &str) -> Result<Vec<(String, ListNode)>, TemplateError> {
    let parsed = Template::new(name)
        .funcs(funcs.clone())
        .parse(src)
        .map_err(|e| TemplateError(format!("template: {name}: {e}")))?;
    let mut out = Vec::new();
    let mut unknown = BTreeSet::new();
    for tname in parsed.templates() {
        let Some(tree) = parsed.lookup(tname) else { continue };
        collect_unknown(tree, funcs, &mut unknown);
        out.push((tname.to_string(), tree.clone()));
    }
    if let Some(f) = unknown.into_iter().next() {
        return Err(TemplateError(format!("template: {name}: function {f:?} not defined")));
    }
    Ok(out)
}

fn collect_unknown(list: &ListNode, funcs: &FuncMap, out: &mut BTreeSet<String>) {
    fn expr(e: &Expr, funcs: &FuncMap, out: &mut BTreeSet<String>) {
        match e {
            Expr::Identifier(_, n) if !GO_BUILTINS.contains(&n.as_str()) && !funcs.contains_key(n.as_str()) => {
                out.insert(n.to_string());
            }
            Expr::Chain(_, inner, _) => expr(inner, funcs, out),
            Expr::Pipe(_, p) => pipe(p, funcs, out),
            _ => {}
        }
    }
    fn pipe(p: &PipeNode, funcs: &FuncMap, out: &mut BTreeSet<String>) {
        for c in &p.commands {
            for a in &c.args {
                expr(a, funcs, out);
            }
        }
    }
    for node in &list.nodes {
        match node {
            Node::List(l) => collect_unknown(l, funcs, out),
            Node::Action(a) => pipe(&a.pipe, funcs, out),
            Node::If(b) | Node::Range(b) | Node::With(b) => {
                pipe(&b.pipe, funcs, out);
                collect_unknown(&b.body, funcs, out);
                if let Some(e) = &b.else_body {
                    collect_unknown(e, funcs, out);
                }
            }
            Node::Template(t) => {
                if let Some(p) = &t.pipe {
                    pipe(p, funcs, out);
                }
            }
            Node::Define(d) => collect_unknown(&d.body, funcs, out),
            Node::Text(_) | Node::Break(_) | Node::Continue(_) => {}
        }
    }
}

/// Rewrites a tree: field chains become [`FIELD_FN`] calls, printed pipelines end in the print
/// function of the mode.
fn rewrite(list: &mut ListNode, html: bool) {
    for node in &mut list.nodes {
        match node {
            Node::List(l) => rewrite(l, html),
            Node::Action(a) => {
                rewrite_pipe(&mut a.pipe);
                if a.pipe.decl.is_empty() {
                    let pos = a.pipe.pos;
                    let f = if html { HTML_PRINT_FN } else { PRINT_FN };
                    a.pipe.commands.push(CommandNode { pos, args: vec![Expr::Identifier(pos, f.into())] });
                }
            }
            Node::If(b) | Node::Range(b) | Node::With(b) => {
                rewrite_pipe(&mut b.pipe);
                rewrite(&mut b.body, html);
                if let Some(e) = &mut b.else_body {
                    rewrite(e, html);
                }
            }
            Node::Template(t) => {
                if let Some(p) = &mut t.pipe {
                    rewrite_pipe(p);
                }
            }
            Node::Define(d) => rewrite(&mut d.body, html),
            Node::Text(_) | Node::Break(_) | Node::Continue(_) => {}
        }
    }
}

/// Splits a field chain into its base expression and dotted path; `None` for other expressions.
fn split_chain(e: &Expr) -> Option<(Expr, String)> {
    match e {
        Expr::Field(pos, fields) => Some((Expr::Dot(*pos), join_fields(fields))),
        Expr::Variable(pos, name, fields) if !fields.is_empty() => {
            Some((Expr::Variable(*pos, name.clone(), Vec::new()), join_fields(fields)))
        }
        Expr::Chain(_, inner, fields) => {
            let mut base = (**inner).clone();
            rewrite_expr(&mut base);
            Some((base, join_fields(fields)))
        }
        _ => None,
    }
}

fn join_fields(fields: &[gotmpl::parse::SmolStr]) -> String {
    fields.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(".")
}

fn field_call(pos: Pos, base: Expr, path: String, rest: Vec<Expr>) -> Vec<Expr> {
    let mut args = vec![Expr::Identifier(pos, FIELD_FN.into()), base, Expr::String(pos, path.into())];
    args.extend(rest);
    args
}

fn rewrite_pipe(pipe: &mut PipeNode) {
    for (ci, cmd) in pipe.commands.iter_mut().enumerate() {
        let Some(head) = cmd.args.first() else { continue };
        let head_is_func_chain = matches!(head, Expr::Chain(_, inner, _) if matches!(**inner, Expr::Identifier(..)));
        if head_is_func_chain {
            // `fn args... .Field`: call the function, then walk the fields (only without a piped
            // argument, which would otherwise land on the field access).
            if ci == 0
                && let Expr::Chain(pos, inner, fields) = head.clone()
            {
                let mut call_args: Vec<Expr> = vec![*inner];
                call_args.extend(cmd.args.drain(1..));
                for a in call_args.iter_mut().skip(1) {
                    rewrite_expr(a);
                }
                let call = Expr::Pipe(
                    pos,
                    PipeNode {
                        pos,
                        decl: Vec::new(),
                        commands: vec![CommandNode { pos, args: call_args }],
                        is_assign: false,
                    },
                );
                cmd.args = field_call(pos, call, join_fields(&fields), Vec::new());
            }
            continue;
        }
        if let Some((base, path)) = split_chain(head) {
            // A chain in command position is a method call: further arguments and a piped value
            // become the method's arguments.
            let pos = head.pos();
            let mut rest: Vec<Expr> = cmd.args.drain(1..).collect();
            for a in &mut rest {
                rewrite_expr(a);
            }
            cmd.args = field_call(pos, base, path, rest);
            continue;
        }
        for a in &mut cmd.args {
            rewrite_expr(a);
        }
    }
}

fn rewrite_expr(e: &mut Expr) {
    if let Expr::Pipe(_, p) = e {
        rewrite_pipe(p);
        return;
    }
    if let Some((base, path)) = split_chain(e) {
        let pos = e.pos();
        let commands = vec![CommandNode { pos, args: field_call(pos, base, path, Vec::new()) }];
        *e = Expr::Pipe(pos, PipeNode { pos, decl: Vec::new(), commands, is_assign: false });
    }
}

#[cfg(test)]
mod tests;
