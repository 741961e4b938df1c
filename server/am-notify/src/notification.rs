//! One notification as the integrations see it: the group's alerts (with their status at the
//! flush time) and context, the template data built from them, and the small helpers all
//! integrations share (templating with the first error kept, Alertmanager's truncation, the
//! group-key hash used as dedup key/alias).

use chrono::{DateTime, Utc};
use gotmpl::Value;
use oxeye_am_core::{Alert, NotifyContext, NotifyError};
use oxeye_model::Labels;

use crate::template::{TemplateAlert, TemplateData, Templates};

/// A flush of one aggregation group for one integration.
#[derive(Debug, Clone)]
pub struct Notification {
    pub receiver: String,
    pub group_key: String,
    pub group_labels: Labels,
    pub external_url: String,
    pub now: DateTime<Utc>,
    pub alerts: Vec<TemplateAlert>,
}

impl Notification {
    /// The notification for `alerts` flushed with `ctx`.
    pub fn new(ctx: &NotifyContext, alerts: &[Alert]) -> Self {
        let alerts = alerts
            .iter()
            .map(|a| TemplateAlert {
                status: a.status(ctx.now).to_string(),
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
                starts_at: a.starts_at,
                ends_at: a.ends_at,
                generator_url: a.generator_url.clone(),
                fingerprint: a.fingerprint().to_string(),
            })
            .collect();
        Notification {
            receiver: ctx.receiver.clone(),
            group_key: ctx.group_key.clone(),
            group_labels: ctx.group_labels.clone(),
            external_url: ctx.external_url.clone(),
            now: ctx.now,
            alerts,
        }
    }

    /// The template data (`notify.GetTemplateData`).
    pub fn data(&self) -> TemplateData {
        TemplateData::new(&self.receiver, &self.group_labels, self.alerts.clone(), &self.external_url)
    }

    /// Whether any alert fires (`types.Alerts.Status() == firing`).
    pub fn firing(&self) -> bool {
        self.alerts.iter().any(|a| a.status == "firing")
    }
}

/// The group key's hash as Alertmanager's `notify.Key.Hash`: SHA-256 in lower-case hex.
pub fn group_key_hash(key: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// `notify.Truncate`: at most `n` runes, the last replaced by "…" when cut.
pub fn truncate_runes(s: &str, n: usize) -> (String, bool) {
    let count = s.chars().count();
    if count <= n {
        return (s.to_string(), false);
    }
    if n <= 3 {
        return (s.chars().take(n).collect(), true);
    }
    (s.chars().take(n - 1).chain(std::iter::once('…')).collect(), true)
}

/// `notify.TruncateInBytes`: at most `n` bytes, ending in "…" when cut, never splitting a rune.
pub fn truncate_bytes(s: &str, n: usize) -> (String, bool) {
    if s.len() <= n {
        return (s.to_string(), false);
    }
    if n <= 3 {
        let mut end = n;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        return (s[..end].to_string(), true);
    }
    let mut end = n - 3;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (format!("{}…", &s[..end]), true)
}

/// Executes a notification's templates, keeping the first error (Alertmanager's `TmplText`).
pub struct Tmpl<'a> {
    templates: &'a Templates,
    data: Value,
    err: Option<String>,
}

impl<'a> Tmpl<'a> {
    pub fn new(templates: &'a Templates, data: &TemplateData) -> Self {
        Tmpl { templates, data: data.to_value(), err: None }
    }

    /// Text mode; "" after an error.
    pub fn text(&mut self, s: &str) -> String {
        self.run(s, false)
    }

    /// HTML mode; "" after an error.
    pub fn html(&mut self, s: &str) -> String {
        self.run(s, true)
    }

    fn run(&mut self, s: &str, html: bool) -> String {
        if self.err.is_some() {
            return String::new();
        }
        let r =
            if html { self.templates.execute_html(s, &self.data) } else { self.templates.execute_text(s, &self.data) };
        r.unwrap_or_else(|e| {
            self.err = Some(e.0);
            String::new()
        })
    }

    /// The first template error, as a non-retryable notification error.
    pub fn finish(self) -> Result<(), NotifyError> {
        match self.err {
            Some(e) => Err(NotifyError::permanent(e)),
            None => Ok(()),
        }
    }
}

/// Reads a secret given inline or by file (trailing whitespace trimmed, as Alertmanager does).
pub fn secret_value(inline: &str, file: &str, what: &str) -> Result<String, NotifyError> {
    if file.is_empty() {
        return Ok(inline.to_string());
    }
    std::fs::read_to_string(file)
        .map(|s| s.trim().to_string())
        .map_err(|e| NotifyError::permanent(format!("unable to read {what} file {file}: {e}")))
}

/// Splits a comma list, trimming and dropping empty items (Alertmanager's `safeSplit`).
pub fn safe_split(s: &str, sep: char) -> Vec<String> {
    s.split(sep).map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation() {
        assert_eq!(truncate_runes("abcdef", 6), ("abcdef".to_string(), false));
        assert_eq!(truncate_runes("abcdefg", 6), ("abcde…".to_string(), true));
        assert_eq!(truncate_runes("äöüäöüä", 3), ("äöü".to_string(), true));
        assert_eq!(truncate_bytes("abcdefgh", 6), ("abc…".to_string(), true));
        assert_eq!(truncate_bytes("ääää", 6), ("ä…".to_string(), true));
    }

    #[test]
    fn key_hash_is_sha256_hex() {
        assert_eq!(group_key_hash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(safe_split(" a, ,b ,", ','), vec!["a".to_string(), "b".to_string()]);
    }
}
