//! The general template expander: parses Go text/template source with gotmpl, checks function
//! names at parse time as Go does, rewrites the tree so printed values and missing map keys
//! behave as in Go (see [`MissingKey`]), executes it, and words errors like Prometheus.
//! It knows no Prometheus data shapes; callers bring the data and the function map.

use std::collections::BTreeMap;

use gotmpl::parse::{CommandNode, Expr, ListNode, Node, PipeNode, Pos};
use gotmpl::{FuncMap, Template, Value};

use crate::TemplateError;
use crate::functions::engine_funcs;

/// Go text/template's predefined functions; together with the expander's own map they are the
/// names a template may call (anything else fails to parse, as in Go).
const GO_BUILTINS: [&str; 19] = [
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf", "println", "urlquery", "eq",
    "ge", "gt", "le", "lt", "ne",
];

/// Internal function appended to printed pipelines: renders floats, lists and maps as Go's
/// `fmt` would (gotmpl prints floats in Rust's form: `1000000` instead of `1e+06`).
const PRINT_FN: &str = "__oxeye_print";
/// Internal function wrapped around field chains under [`MissingKey::ZeroString`].
const ZERO_FN: &str = "__oxeye_zero";

/// What a missing map key evaluates to (Go's `missingkey` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingKey {
    /// Go's default: no value, printed as `<no value>`.
    Default,
    /// Prometheus's `missingkey=zero` on its `map[string]string` data: the zero string `""`, so
    /// `{{ $labels.absent }}` prints nothing and `eq $labels.absent ""` holds.
    #[default]
    ZeroString,
    /// `missingkey=error`: executing the template fails.
    Error,
}

/// Expands one template: text, name, data and functions, as Prometheus's `template.Expander`.
#[derive(Clone)]
pub struct Expander {
    name: String,
    text: String,
    data: Value,
    funcs: FuncMap,
    missing_key: MissingKey,
}

impl Expander {
    /// An expander for `text` named `name` over `data` with `funcs` (on top of Go's builtins).
    /// Missing keys default to [`MissingKey::ZeroString`], Prometheus's `missingkey=zero`.
    pub fn new(name: impl Into<String>, text: impl Into<String>, data: Value, funcs: FuncMap) -> Self {
        Expander { name: name.into(), text: text.into(), data, funcs, missing_key: MissingKey::default() }
    }

    /// Sets the missing-key behaviour.
    #[must_use]
    pub fn missing_key(mut self, mk: MissingKey) -> Self {
        self.missing_key = mk;
        self
    }

    /// Adds functions, replacing any of the same name (Prometheus's `Expander.Funcs`).
    #[must_use]
    pub fn funcs(mut self, funcs: FuncMap) -> Self {
        self.funcs.extend(funcs);
        self
    }

    /// The template name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Parses and executes the template in text mode.
    /// Errors read `error parsing template NAME: ...` or `error executing template NAME: ...`.
    pub fn expand(&self) -> Result<String, TemplateError> {
        let prepared =
            self.prepare().map_err(|e| TemplateError(format!("error parsing template {}: {}", self.name, e.0)))?;
        prepared
            .execute(&self.data)
            .map_err(|e| TemplateError(format!("error executing template {}: {}", self.name, e.0)))
    }

    /// Parses without executing (Prometheus's `ParseTest`); the error is the bare parse error,
    /// e.g. `template: NAME:1: function "foo" not defined`.
    pub fn parse_test(&self) -> Result<(), TemplateError> {
        self.prepare().map(|_| ())
    }

    fn all_funcs(&self) -> FuncMap {
        let zero = self.missing_key == MissingKey::ZeroString;
        let mut funcs = engine_funcs(zero);
        funcs.extend(self.funcs.clone());
        funcs.insert(
            PRINT_FN.into(),
            std::sync::Arc::new(|args: &[Value]| -> gotmpl::Result<Value> {
                Ok(match args.last() {
                    Some(v @ (Value::Float(_) | Value::List(_) | Value::Map(_))) => {
                        Value::from(crate::format::sprint_value(v))
                    }
                    Some(v) => v.clone(),
                    None => Value::Nil,
                })
            }),
        );
        funcs.insert(
            ZERO_FN.into(),
            std::sync::Arc::new(|args: &[Value]| -> gotmpl::Result<Value> {
                Ok(match args.last() {
                    Some(Value::Nil) | None => Value::from(""),
                    Some(v) => v.clone(),
                })
            }),
        );
        funcs
    }

    fn prepare(&self) -> Result<Prepared, TemplateError> {
        crate::structure::check_structure(&self.name, &self.text)?;
        let funcs = self.all_funcs();
        let gmk = match self.missing_key {
            MissingKey::Default => gotmpl::MissingKey::Invalid,
            MissingKey::ZeroString => gotmpl::MissingKey::ZeroValue,
            MissingKey::Error => gotmpl::MissingKey::Error,
        };
        let base = Template::new(&self.name).missing_key(gmk).funcs(funcs.clone());
        let parsed = base.clone().parse(&self.text).map_err(|e| parse_error(&self.name, e))?;

        let mut rw = Rewriter {
            zero: self.missing_key == MissingKey::ZeroString,
            known: |n: &str| GO_BUILTINS.contains(&n) || (funcs.contains_key(n) && n != PRINT_FN && n != ZERO_FN),
            undefined: None,
            func_pos: BTreeMap::new(),
            vars: Vec::new(),
        };
        let mut rewritten = base;
        let mut has_main = false;
        for tname in parsed.templates() {
            let Some(tree) = parsed.lookup(tname) else { continue };
            let mut tree = tree.clone();
            rw.vars = vec!["$".to_string()];
            rw.list(&mut tree);
            has_main |= tname == self.name;
            rewritten = rewritten.add_parse_tree(tname, tree);
        }
        if let Some((pos, msg)) = rw.undefined {
            return Err(TemplateError(format!("template: {}:{}: {msg}", self.name, pos.line)));
        }
        Ok(Prepared {
            name: self.name.clone(),
            text: self.text.clone(),
            // A main template that is only whitespace is not registered under its name by
            // gotmpl; it has no actions to rewrite, so the parsed original runs as is.
            template: if has_main { rewritten } else { parsed },
            has_main,
            func_pos: rw.func_pos,
        })
    }
}

struct Prepared {
    name: String,
    text: String,
    template: Template,
    has_main: bool,
    func_pos: BTreeMap<String, Pos>,
}

impl Prepared {
    fn execute(&self, data: &Value) -> Result<String, TemplateError> {
        let out = if self.has_main {
            self.template.execute_template_to_string(&self.name, data)
        } else {
            self.template.execute_to_string(data)
        };
        out.map_err(|e| self.exec_error(e))
    }

    /// Words an execution error like Go: `template: NAME:LINE:COL: executing "NAME" at <fn>: ...`.
    /// gotmpl carries no position for execution errors; for a failing function call the first
    /// call site of that function is reported.
    fn exec_error(&self, e: gotmpl::TemplateError) -> TemplateError {
        let msg = match e {
            gotmpl::TemplateError::Exec(m) => m,
            gotmpl::TemplateError::MissingKey { key } => format!("map has no entry for key {key:?}"),
            other => other.to_string(),
        };
        let func = msg.strip_prefix("error calling ").and_then(|rest| rest.split_once(':')).map(|(f, _)| f.to_string());
        if let Some(f) = func
            && let Some(pos) = self.func_pos.get(&f)
        {
            let line_start = self.text[..pos.offset.min(self.text.len())].rfind('\n').map_or(0, |i| i + 1);
            let col = pos.offset.saturating_sub(line_start);
            return TemplateError(format!(
                "template: {n}:{}:{col}: executing {n:?} at <{f}>: {msg}",
                pos.line,
                n = self.name
            ));
        }
        TemplateError(format!("template: {n}: executing {n:?}: {msg}", n = self.name))
    }
}

/// gotmpl reports `name:line:col`; Go's parse errors carry only `name:line`.
fn parse_error(name: &str, e: gotmpl::TemplateError) -> TemplateError {
    match e {
        gotmpl::TemplateError::Parse { line, message, .. } | gotmpl::TemplateError::Lex { line, message, .. } => {
            TemplateError(format!("template: {name}:{line}: {message}"))
        }
        other => TemplateError(other.to_string()),
    }
}

/// Walks parse trees: records calls to unknown functions and each function's first call site,
/// appends [`PRINT_FN`] to printed pipelines and wraps field chains in [`ZERO_FN`].
struct Rewriter<F: Fn(&str) -> bool> {
    zero: bool,
    known: F,
    /// The first (by source offset) name Go's parser would reject: an unknown function or an
    /// undeclared variable, with the message.
    undefined: Option<(Pos, String)>,
    func_pos: BTreeMap<String, Pos>,
    /// Variables in scope, as Go's parser tracks them (`$` always).
    vars: Vec<String>,
}

impl<F: Fn(&str) -> bool> Rewriter<F> {
    fn list(&mut self, list: &mut ListNode) {
        for node in &mut list.nodes {
            match node {
                Node::List(l) => self.list(l),
                Node::Action(a) => {
                    self.declare(&a.pipe);
                    self.pipe(&mut a.pipe);
                    if a.pipe.decl.is_empty() {
                        let pos = a.pipe.pos;
                        a.pipe.commands.push(CommandNode { pos, args: vec![Expr::Identifier(pos, PRINT_FN.into())] });
                    }
                }
                Node::If(b) | Node::Range(b) | Node::With(b) => {
                    // Go pops a control structure's variables at its {{end}}.
                    let mark = self.vars.len();
                    self.declare(&b.pipe);
                    self.pipe(&mut b.pipe);
                    self.list(&mut b.body);
                    if let Some(e) = &mut b.else_body {
                        self.list(e);
                    }
                    self.vars.truncate(mark);
                }
                Node::Template(t) => {
                    if let Some(p) = &mut t.pipe {
                        self.pipe(p);
                    }
                }
                Node::Define(d) => {
                    let saved = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
                    self.list(&mut d.body);
                    self.vars = saved;
                }
                Node::Text(_) | Node::Break(_) | Node::Continue(_) => {}
            }
        }
    }

    /// Declares a pipeline's `$x :=` variables; `$x =` must name a declared one.
    fn declare(&mut self, pipe: &PipeNode) {
        for v in &pipe.decl {
            let name = var_name(v);
            if pipe.is_assign {
                self.check_var(pipe.pos, &name);
            } else {
                self.vars.push(name);
            }
        }
    }

    fn check_var(&mut self, pos: Pos, name: &str) {
        if !self.vars.iter().any(|v| v == name) {
            self.reject(pos, format!("undefined variable {name:?}"));
        }
    }

    fn reject(&mut self, pos: Pos, msg: String) {
        if self.undefined.as_ref().is_none_or(|(p, _)| pos.offset < p.offset) {
            self.undefined = Some((pos, msg));
        }
    }

    fn pipe(&mut self, pipe: &mut PipeNode) {
        for cmd in &mut pipe.commands {
            let n = cmd.args.len();
            for (i, arg) in cmd.args.iter_mut().enumerate() {
                self.expr(arg);
                // A chain in command position with arguments, or rooted at a function, is a call.
                let head_call = i == 0
                    && (n > 1 || matches!(arg, Expr::Chain(_, inner, _) if matches!(**inner, Expr::Identifier(..))));
                if self.zero && is_field_chain(arg) && !head_call {
                    let pos = arg.pos();
                    let inner = std::mem::replace(arg, Expr::Nil(pos));
                    *arg = Expr::Pipe(
                        pos,
                        PipeNode {
                            pos,
                            decl: Vec::new(),
                            commands: vec![CommandNode {
                                pos,
                                args: vec![Expr::Identifier(pos, ZERO_FN.into()), inner],
                            }],
                            is_assign: false,
                        },
                    );
                }
            }
        }
    }

    fn expr(&mut self, e: &mut Expr) {
        match e {
            Expr::Identifier(pos, name) => {
                let name = name.as_str();
                if !(self.known)(name) {
                    self.reject(*pos, format!("function {name:?} not defined"));
                }
                let slot = self.func_pos.entry(name.to_string()).or_insert(*pos);
                if pos.offset < slot.offset {
                    *slot = *pos;
                }
            }
            Expr::Variable(pos, name, _) => {
                let name = var_name(name);
                self.check_var(*pos, &name);
            }
            Expr::Chain(_, inner, _) => self.expr(inner),
            Expr::Pipe(_, p) => self.pipe(p),
            _ => {}
        }
    }
}

fn var_name(v: &str) -> String {
    if v.starts_with('$') { v.to_string() } else { format!("${v}") }
}

fn is_field_chain(e: &Expr) -> bool {
    match e {
        Expr::Field(..) => true,
        Expr::Variable(_, _, fields) => !fields.is_empty(),
        Expr::Chain(..) => true,
        _ => false,
    }
}
