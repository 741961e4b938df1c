//! A structural check of a template's control actions (`if`, `range`, `with`, `define`,
//! `block`, `else`, `end`), done before gotmpl parses the text: gotmpl 0.6 accepts an
//! unterminated `{{ range }}` and stops silently at a stray `{{ end }}`, where Go's parser
//! fails with `unexpected EOF` / `unexpected {{end}}`. Only the nesting is checked here;
//! everything else is gotmpl's parser.

use crate::TemplateError;

/// Which block an `{{ end }}` closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opener {
    If,
    Range,
    With,
    Define,
    Block,
}

/// Checks that control actions nest; errors read like Go's (`template: NAME:LINE: ...`).
pub fn check_structure(name: &str, text: &str) -> Result<(), TemplateError> {
    let mut stack: Vec<Opener> = Vec::new();
    let err = |line: usize, msg: &str| TemplateError(format!("template: {name}:{line}: {msg}"));
    let mut rest = text;
    let mut line = 1usize;
    while let Some(open) = rest.find("{{") {
        line += rest[..open].matches('\n').count();
        let after = &rest[open + 2..];
        let Some(len) = action_len(after) else {
            // An unclosed action is gotmpl's to report with its own message.
            return Ok(());
        };
        let body = &after[..len];
        line += body.matches('\n').count();
        rest = &after[len + 2..];
        let inner = body.strip_prefix('-').unwrap_or(body);
        let inner = inner.strip_suffix('-').unwrap_or(inner).trim();
        if inner.starts_with("/*") {
            continue;
        }
        let keyword = inner.split(|c: char| c.is_whitespace() || c == '(').next().unwrap_or("");
        match keyword {
            "if" => stack.push(Opener::If),
            "range" => stack.push(Opener::Range),
            "with" => stack.push(Opener::With),
            "define" => stack.push(Opener::Define),
            "block" => stack.push(Opener::Block),
            "else" if !matches!(stack.last(), Some(Opener::If | Opener::Range | Opener::With)) => {
                return Err(err(line, "unexpected {{else}}"));
            }
            "end" if stack.pop().is_none() => return Err(err(line, "unexpected {{end}}")),
            _ => {}
        }
    }
    if !stack.is_empty() {
        line += rest.matches('\n').count();
        return Err(err(line, "unexpected EOF"));
    }
    Ok(())
}

/// The length of an action's body up to its closing `}}`, skipping quoted strings, raw strings
/// and comments; None when it never closes.
fn action_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' => {
                let q = b[i];
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = s[i + 2..].find("*/")?;
                i += 2 + end + 1;
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(t: &str) -> Result<(), String> {
        check_structure("t", t).map_err(|e| e.0)
    }

    #[test]
    fn balanced_templates_pass() {
        assert!(check("{{ range .Labels }}{{ . }}{{ end }}").is_ok());
        assert!(check("{{ if .A }}a{{ else if .B }}b{{ else }}c{{ end }}").is_ok());
        assert!(check("{{- with .X -}}{{ . }}{{- end -}}").is_ok());
        assert!(check("{{ define \"x\" }}{{ if 1 }}{{ end }}{{ end }}{{ template \"x\" }}").is_ok());
        assert!(check("{{ \"}}{{end}}\" }}{{/* {{ end }} */}}").is_ok());
        assert!(check("{{ `{{ if` }} plain text }} {{ printf \"%s\" \"end\" }}").is_ok());
    }

    #[test]
    fn unbalanced_templates_fail_like_go() {
        assert_eq!(check("{{ range .Labels }}").unwrap_err(), "template: t:1: unexpected EOF");
        assert_eq!(check("a\n{{ if 1 }}\nb").unwrap_err(), "template: t:3: unexpected EOF");
        assert_eq!(check("x {{ end }} y").unwrap_err(), "template: t:1: unexpected {{end}}");
        assert_eq!(check("{{ else }}").unwrap_err(), "template: t:1: unexpected {{else}}");
        assert_eq!(check("{{ define \"a\" }}{{ else }}{{ end }}").unwrap_err(), "template: t:1: unexpected {{else}}");
    }
}
