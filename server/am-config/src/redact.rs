//! The configuration as `/api/v2/status` shows it: Alertmanager serves its loaded config with
//! every secret replaced by `<secret>` (its `Secret` and `SecretURL` types), so anyone who can
//! read the API cannot read passwords, keys or tokens. This module masks the same fields in the
//! file's own YAML.

use serde_yaml_ng::Value;

/// The placeholder Alertmanager prints for a secret.
pub const SECRET_PLACEHOLDER: &str = "<secret>";

/// Keys whose values are secrets wherever they appear.
const SECRET_KEYS: &[&str] = &[
    "smtp_auth_password",
    "smtp_auth_secret",
    "slack_api_url",
    "victorops_api_key",
    "opsgenie_api_key",
    "wechat_api_secret",
    "password",
    "credentials",
    "bearer_token",
    "client_secret",
    "auth_password",
    "auth_secret",
    "routing_key",
    "service_key",
    "api_key",
    "user_key",
    "api_secret",
    "bot_token",
];

/// Keys that are secrets only inside the named receiver lists (`api_url` is a secret for Slack
/// but a plain URL for Telegram and Webex; `token` for Pushover; `webhook_url` for Discord and
/// Teams).
const CONTEXT_SECRET_KEYS: &[(&str, &str)] = &[
    ("slack_configs", "api_url"),
    ("pushover_configs", "token"),
    ("discord_configs", "webhook_url"),
    ("msteams_configs", "webhook_url"),
];

/// Returns `original` (a config that loaded) re-serialized with every secret value replaced by
/// `<secret>`. Text that does not parse as YAML is returned as a one-line note rather than
/// leaking it.
pub fn redact_secrets(original: &str) -> String {
    let mut value: Value = match serde_yaml_ng::from_str(original) {
        Ok(v) => v,
        Err(_) => return "# configuration could not be re-read for display\n".to_string(),
    };
    redact(&mut value, None);
    serde_yaml_ng::to_string(&value).unwrap_or_else(|_| "# configuration could not be serialized\n".to_string())
}

fn redact(v: &mut Value, list_key: Option<&str>) {
    match v {
        Value::Mapping(map) => {
            for (k, child) in map.iter_mut() {
                let key = k.as_str().unwrap_or("");
                let secret = SECRET_KEYS.contains(&key)
                    || list_key.is_some_and(|lk| CONTEXT_SECRET_KEYS.iter().any(|(l, s)| *l == lk && *s == key));
                if secret && !child.is_null() {
                    *child = Value::String(SECRET_PLACEHOLDER.to_string());
                } else if key.ends_with("_configs") {
                    redact(child, Some(key));
                } else {
                    redact(child, list_key);
                }
            }
        }
        Value::Sequence(items) => {
            for item in items {
                redact(item, list_key);
            }
        }
        Value::Tagged(t) => redact(&mut t.value, list_key),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_secrets_alertmanager_masks() {
        let src = r#"
global:
  smtp_auth_password: zz-s1
  slack_api_url: https://hooks.slack.com/services/zz-s2
  opsgenie_api_key: zz-s3
  telegram_api_url: https://api.telegram.org
route:
  receiver: r
receivers:
  - name: r
    webhook_configs:
      - url: http://127.0.0.1:1/hook
        http_config:
          basic_auth: {username: u, password: zz-s4}
          authorization: {credentials: zz-s5}
    slack_configs:
      - api_url: https://hooks.slack.com/services/zz-s6
        channel: '#c'
    telegram_configs:
      - bot_token: zz-s7
        chat_id: 1
        api_url: https://api.telegram.org
    discord_configs:
      - webhook_url: http://127.0.0.1:1/zz-s8
    pagerduty_configs:
      - routing_key: zz-s9
    email_configs:
      - to: a@b.c
        auth_password: zz-s10
        auth_password_file: /etc/pw
"#;
        let out = redact_secrets(src);
        assert!(!out.contains("zz-s"), "a secret leaked:\n{out}");
        for kept in ["http://127.0.0.1:1/hook", "username: u", "'#c'", "api_url: https://api.telegram.org", "/etc/pw"] {
            assert!(out.contains(kept), "{kept} missing:\n{out}");
        }
        assert_eq!(out.matches(SECRET_PLACEHOLDER).count(), 10, "{out}");
    }

    #[test]
    fn unparseable_text_is_not_echoed() {
        assert!(!redact_secrets("password: [unclosed").contains("unclosed"));
    }
}
