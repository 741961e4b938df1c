//! Email (`notify/email`): renders headers, text and HTML bodies, builds a MIME
//! `multipart/alternative` message (quoted-printable parts, RFC 2047 headers) and delivers it
//! over SMTP with Alertmanager's TLS and authentication rules (see [`crate::smtp`]).

use std::sync::Arc;

use futures::future::BoxFuture;
use oxeye_am_config::EmailConfig;
use oxeye_am_core::NotifyError;

use super::Sender;
use crate::notification::{Notification, Tmpl, secret_value};
use crate::smtp::{self, Auth, SmtpSettings};
use crate::template::Templates;

/// A rendered message ready for SMTP.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedEmail {
    /// The envelope sender (the `From` header's address).
    pub from: String,
    /// The envelope recipients (the `To` header's addresses).
    pub to: Vec<String>,
    /// The full message (headers and body), CRLF line endings, without the final dot.
    pub message: String,
}

/// Go's `mime.QEncoding.Encode("utf-8", s)`: unchanged when printable ASCII, else encoded words.
pub fn q_encode(s: &str) -> String {
    if s.bytes().all(|b| (b' '..=b'~').contains(&b) || b == b'\t') {
        return s.to_string();
    }
    const MAX: usize = 75 - "=?utf-8?q?".len() - "?=".len();
    let mut words = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        let mut enc = String::new();
        let mut buf = [0u8; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            match b {
                b' ' => enc.push('_'),
                b'!'..=b'~' if b != b'=' && b != b'?' && b != b'_' => enc.push(b as char),
                _ => enc.push_str(&format!("={b:02X}")),
            }
        }
        if cur.len() + enc.len() > MAX {
            words.push(std::mem::take(&mut cur));
        }
        cur.push_str(&enc);
    }
    words.push(cur);
    words.iter().map(|w| format!("=?utf-8?q?{w}?=")).collect::<Vec<_>>().join(" ")
}

/// Go's `mime/quotedprintable` writer in text mode: CRLF line breaks, soft breaks at 76.
pub fn quoted_printable(s: &str) -> String {
    let mut out = String::new();
    let normalized = s.replace("\r\n", "\n");
    let lines: Vec<&str> = normalized.split('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let bytes = line.as_bytes();
        let mut col = 0;
        for (j, &b) in bytes.iter().enumerate() {
            let last = j + 1 == bytes.len();
            let enc = if (b == b' ' || b == b'\t') && last {
                format!("={b:02X}")
            } else if (b' '..=b'~').contains(&b) && b != b'=' || b == b'\t' {
                (b as char).to_string()
            } else {
                format!("={b:02X}")
            };
            if col + enc.len() > 75 {
                out.push_str("=\r\n");
                col = 0;
            }
            col += enc.len();
            out.push_str(&enc);
        }
        if i + 1 < lines.len() {
            out.push_str("\r\n");
        }
    }
    out
}

/// Extracts the addresses of an RFC 5322 address list (`Name <a@b>, c@d`), as Go's
/// `mail.ParseAddressList` does for the common forms.
pub fn parse_address_list(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut depth_quote = false;
    let mut cur = String::new();
    let mut parts = Vec::new();
    for c in s.chars() {
        match c {
            '"' => {
                depth_quote = !depth_quote;
                cur.push(c);
            }
            ',' if !depth_quote => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    for p in parts {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        let addr = match (p.rfind('<'), p.rfind('>')) {
            (Some(a), Some(b)) if a < b => p[a + 1..b].trim(),
            _ => p,
        };
        if !addr.contains('@') || addr.contains(char::is_whitespace) {
            return Err(format!("mail: missing @ in addr-spec {addr:?}"));
        }
        out.push(addr.to_string());
    }
    if out.is_empty() {
        return Err("mail: no address".into());
    }
    Ok(out)
}

/// Renders the message as Alertmanager's email notifier does. `boundary`, `message_id` and
/// `date` are passed in so tests are deterministic.
pub fn render(
    conf: &EmailConfig,
    tmpl: &Templates,
    n: &Notification,
    boundary: &str,
    message_id: &str,
    date: &str,
) -> Result<RenderedEmail, NotifyError> {
    let data = n.data();
    let mut t = Tmpl::new(tmpl, &data);
    let mut head = String::new();
    let mut from = String::new();
    let mut to = String::new();
    for (k, v) in &conf.headers {
        let value = t.text(v);
        match k.as_str() {
            "From" => from = value.clone(),
            "To" => to = value.clone(),
            _ => {}
        }
        head.push_str(&format!("{k}: {}\r\n", q_encode(&value)));
    }
    let text = if conf.text.is_empty() { String::new() } else { t.text(&conf.text) };
    let html = if conf.html.is_empty() { String::new() } else { t.html(&conf.html) };
    t.finish()?;
    let from_addr = parse_address_list(&from)
        .map_err(|e| NotifyError::permanent(format!("parse 'from' addresses: {e}")))?
        .remove(0);
    let to_addrs = parse_address_list(&to).map_err(|e| NotifyError::permanent(format!("parse 'to' addresses: {e}")))?;

    let mut m = head;
    m.push_str(&format!("Message-Id: {message_id}\r\n"));
    m.push_str(&format!("Date: {date}\r\n"));
    m.push_str(&format!("Content-Type: multipart/alternative;  boundary={boundary}\r\n"));
    m.push_str("MIME-Version: 1.0\r\n\r\n");
    let mut first = true;
    for (body, kind) in [(&text, "text/plain"), (&html, "text/html")] {
        if body.is_empty() {
            continue;
        }
        m.push_str(if first { "" } else { "\r\n" });
        first = false;
        m.push_str(&format!("--{boundary}\r\n"));
        m.push_str("Content-Transfer-Encoding: quoted-printable\r\n");
        m.push_str(&format!("Content-Type: {kind}; charset=UTF-8\r\n\r\n"));
        m.push_str(&quoted_printable(body));
    }
    m.push_str(&format!("\r\n--{boundary}--\r\n"));
    Ok(RenderedEmail { from: from_addr, to: to_addrs, message: m })
}

pub struct Email {
    conf: EmailConfig,
    tmpl: Arc<Templates>,
}

impl Email {
    pub fn new(conf: &EmailConfig, tmpl: Arc<Templates>) -> Result<Self, String> {
        if conf.smarthost.host.is_empty() {
            return Err("email: no smarthost configured".into());
        }
        Ok(Email { conf: conf.clone(), tmpl })
    }

    fn random_hex() -> String {
        let mut b = [0u8; 16];
        // Only uniqueness matters for boundaries and message ids.
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let mix = ring::digest::digest(&ring::digest::SHA256, format!("{nanos}{:p}", &b).as_bytes());
        b.copy_from_slice(&mix.as_ref()[..16]);
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}

impl Sender for Email {
    fn send<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(async move {
            let c = &self.conf;
            let host = hostname();
            let id = format!("<{}.{}@{host}>", Self::random_hex(), n.now.timestamp_nanos_opt().unwrap_or_default());
            let date = chrono::Local::now().format("%a, %d %b %Y %H:%M:%S %z").to_string();
            let mail = render(c, &self.tmpl, n, &Self::random_hex(), &id, &date)?;
            let password = secret_value(c.auth_password.expose(), &c.auth_password_file, "SMTP password")?;
            let settings = SmtpSettings {
                host: c.smarthost.host.clone(),
                port: c.smarthost.port.clone(),
                hello: if c.hello.is_empty() { "localhost".into() } else { c.hello.clone() },
                require_tls: c.require_tls.unwrap_or(true),
                tls: c.tls_config.clone(),
                auth: Auth {
                    username: c.auth_username.clone(),
                    password,
                    identity: c.auth_identity.clone(),
                    secret: c.auth_secret.expose().to_string(),
                },
            };
            smtp::deliver(&settings, &mail.from, &mail.to, &mail.message).await
        })
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_encoding() {
        assert_eq!(q_encode("[FIRING:1] x"), "[FIRING:1] x");
        assert_eq!(q_encode("héllo wörld"), "=?utf-8?q?h=C3=A9llo_w=C3=B6rld?=");
    }

    #[test]
    fn quoted_printable_lines() {
        assert_eq!(quoted_printable("a=b\nc "), "a=3Db\r\nc=20");
        let long = "x".repeat(80);
        assert_eq!(quoted_printable(&long), format!("{}=\r\n{}", "x".repeat(75), "x".repeat(5)));
    }

    #[test]
    fn address_lists() {
        assert_eq!(
            parse_address_list("Alert Manager <am@example.com>, ops@example.com"),
            Ok(vec!["am@example.com".to_string(), "ops@example.com".to_string()])
        );
        assert!(parse_address_list("nobody").is_err());
    }
}
