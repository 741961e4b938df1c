//! `alertmanager.yml`: the types of an Alertmanager 0.25 configuration file, its defaults,
//! its validation (Alertmanager's rules and messages), label matchers and time intervals, and
//! its loading with errors that name the file, line and column. Integrations Alertmanager has
//! but Oxeye does not are refused by name. It knows nothing about dispatching, notifying or
//! serving HTTP: consumers read a fully resolved [`Config`].

mod check;
mod error;
mod global;
mod http;
mod matcher;
mod receiver;
mod redact;
mod route;
mod source;
mod timeinterval;
mod values;

use std::path::Path;

use serde::Deserialize;

pub use check::{CheckReport, check_config};
pub use error::{ConfigError, ConfigErrorDetail, ErrorKind, Position, Result};
pub use global::{
    DEFAULT_OPSGENIE_API_URL, DEFAULT_PAGERDUTY_URL, DEFAULT_RESOLVE_TIMEOUT, DEFAULT_TELEGRAM_API_URL,
    DEFAULT_VICTOROPS_API_URL, DEFAULT_WEBEX_API_URL, DEFAULT_WECHAT_API_URL, GlobalConfig,
};
pub use matcher::{
    MatchOp, Matcher, go_quote, is_valid_label_name, matchers_string, matches_all, parse_matcher, parse_matchers,
};
pub use oxeye_config::{Authorization, BasicAuth, HttpClientConfig, Secret, TlsConfig, TlsVersion};
pub use receiver::{
    DEFAULT_EMAIL_SUBJECT, DEFAULT_PAGERDUTY_DETAILS, DiscordConfig, EmailConfig, MsTeamsConfig, OpsGenieConfig,
    OpsGenieResponder, PagerdutyConfig, PagerdutyImage, PagerdutyLink, Receiver, SlackAction, SlackConfig,
    SlackConfirmationField, SlackField, TelegramConfig, WebexConfig, WebhookConfig, canonical_mime_header_key,
};
pub use redact::{SECRET_PLACEHOLDER, redact_secrets};
pub use route::{DEFAULT_GROUP_INTERVAL, DEFAULT_GROUP_WAIT, DEFAULT_REPEAT_INTERVAL, GroupBy, InhibitRule, Route};
pub use timeinterval::{InclusiveRange, TimeInterval, TimeIntervalSpec, TimeRange, Tz, parse_location};
pub use values::{HostPort, go_duration, parse_url};

use crate::error::{Issue, from_serde};
use crate::receiver::RawReceiver;
use crate::route::{RawInhibitRule, RawRoute};
use crate::source::SourceMap;
use crate::timeinterval::RawTimeInterval;
use crate::values::{null_as_default, string_list};

/// A whole configuration file. After [`load_file`] / [`load_str`] every default and inherited
/// value is filled in and relative paths are resolved.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    pub global: GlobalConfig,
    /// The root route; defaults resolved, children inherit.
    pub route: Route,
    pub inhibit_rules: Vec<InhibitRule>,
    pub receivers: Vec<Receiver>,
    /// Template file globs, absolute after `load_file`.
    pub templates: Vec<String>,
    /// `time_intervals` and the legacy `mute_time_intervals`, merged.
    pub time_intervals: Vec<TimeInterval>,
    /// The file text as loaded.
    pub original: String,
}

impl Config {
    /// The receiver named `name`.
    pub fn receiver(&self, name: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.name == name)
    }

    /// The time interval named `name`.
    pub fn time_interval(&self, name: &str) -> Option<&TimeInterval> {
        self.time_intervals.iter().find(|t| t.name == name)
    }
}

/// The YAML form of the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    #[serde(deserialize_with = "null_as_default")]
    global: GlobalConfig,
    route: Option<RawRoute>,
    #[serde(deserialize_with = "null_as_default")]
    inhibit_rules: Vec<RawInhibitRule>,
    #[serde(deserialize_with = "null_as_default")]
    receivers: Vec<RawReceiver>,
    #[serde(deserialize_with = "string_list")]
    templates: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    mute_time_intervals: Vec<RawTimeInterval>,
    #[serde(deserialize_with = "null_as_default")]
    time_intervals: Vec<RawTimeInterval>,
}

/// Parses, defaults and validates a configuration. `origin` names it in errors; relative paths
/// are left as written (use [`load_file`] to resolve them against the file's directory).
pub fn load_str(src: &str, origin: &str) -> Result<Config> {
    load(src, origin, None)
}

/// Reads, parses, defaults and validates a configuration file, resolving relative paths
/// (templates, `*_file` fields, TLS files) against the file's directory.
pub fn load_file(path: &Path) -> Result<Config> {
    let file = path.display().to_string();
    let src = std::fs::read_to_string(path).map_err(|e| ConfigError::io(&file, format!("reading {file}: {e}")))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    load(&src, &file, Some(dir))
}

fn load(src: &str, origin: &str, dir: Option<&Path>) -> Result<Config> {
    let map = SourceMap::new(src);
    // A document without content never reaches Alertmanager's `Config.UnmarshalYAML`; its
    // `Load` reports the missing route in its own words.
    let empty = matches!(serde_yaml_ng::from_str::<serde_yaml_ng::Value>(src), Ok(serde_yaml_ng::Value::Null));
    if empty {
        return Err(Issue::invalid("", "no route provided in config").locate(origin, &map));
    }
    if let Some((path, key, pos)) = &map.duplicate_key {
        return Err(ConfigErrorDetail {
            file: origin.to_string(),
            position: Some(*pos),
            path: path.clone(),
            kind: ErrorKind::DuplicateKey,
            message: format!("key {key:?} already set in map"),
        }
        .into());
    }
    let raw: RawConfig = serde_yaml_ng::from_str(src).map_err(|e| from_serde(origin, &map, &e))?;
    let mut cfg = resolve(raw, &map).map_err(|issue| issue.locate(origin, &map))?;
    cfg.original = src.to_string();
    if let Some(dir) = dir {
        set_directory(&mut cfg, dir);
    }
    Ok(cfg)
}

/// Alertmanager's `Config.UnmarshalYAML` and the nested unmarshalers' checks, plus global
/// inheritance.
fn resolve(raw: RawConfig, map: &SourceMap) -> Result<Config, Issue> {
    let global = raw.global;
    let g = &global;
    if g.slack_api_url.is_some() && !g.slack_api_url_file.is_empty() {
        return Err(Issue::invalid("global", "at most one of slack_api_url & slack_api_url_file must be configured"));
    }
    if !g.opsgenie_api_key.is_empty() && !g.opsgenie_api_key_file.is_empty() {
        return Err(Issue::invalid(
            "global",
            "at most one of opsgenie_api_key & opsgenie_api_key_file must be configured",
        ));
    }
    if !g.victorops_api_key.is_empty() && !g.victorops_api_key_file.is_empty() {
        return Err(Issue::invalid(
            "global",
            "at most one of victorops_api_key & victorops_api_key_file must be configured",
        ));
    }
    if !g.smtp_auth_password.is_empty() && !g.smtp_auth_password_file.is_empty() {
        return Err(Issue::invalid(
            "global",
            "at most one of smtp_auth_password & smtp_auth_password_file must be configured",
        ));
    }

    // Time intervals (parsed first: routes refer to them).
    let mut time_intervals = Vec::new();
    for (key, list) in [("mute_time_intervals", &raw.mute_time_intervals), ("time_intervals", &raw.time_intervals)] {
        let what = if key == "time_intervals" { "time interval" } else { "mute time interval" };
        for (i, ti) in list.iter().enumerate() {
            let path = format!("{key}[{i}]");
            if ti.name.is_empty() {
                return Err(Issue::invalid(&path, format!("missing name in {what}")));
            }
            let mut specs = Vec::new();
            for (j, spec) in ti.time_intervals.iter().enumerate() {
                specs
                    .push(spec.parse().map_err(|(f, e)| Issue::invalid(format!("{path}.time_intervals[{j}].{f}"), e))?);
            }
            time_intervals.push((path, what, TimeInterval { name: ti.name.clone(), intervals: specs }));
        }
    }

    // Receivers.
    let mut receivers: Vec<Receiver> = Vec::with_capacity(raw.receivers.len());
    for (i, rr) in raw.receivers.into_iter().enumerate() {
        let path = format!("receivers[{i}]");
        if rr.name.is_empty() {
            return Err(Issue::invalid(path, "missing name in receiver"));
        }
        if let Some(kind) = rr.unsupported() {
            return Err(Issue::unsupported(
                format!("{path}.{kind}"),
                format!("{kind} (in receiver {:?}) is not supported by Oxeye yet", rr.name),
            ));
        }
        if receivers.iter().any(|r| r.name == rr.name) {
            return Err(Issue::invalid(
                format!("{path}.name"),
                format!("notification config name {:?} is not unique", rr.name),
            ));
        }
        let mut rcv = rr.into_receiver();
        resolve_receiver(&mut rcv, g, map, &path)?;
        receivers.push(rcv);
    }

    // Route.
    let Some(raw_route) = raw.route else {
        return Err(Issue::invalid("", "no routes provided"));
    };
    if raw_route.receiver.is_empty() {
        return Err(Issue::invalid("route", "root route must specify a default receiver"));
    }
    if raw_route.continue_matching == Some(true) {
        return Err(Issue::invalid("route.continue", "cannot have continue in root route"));
    }
    if raw_route.has_matchers() {
        return Err(Issue::invalid("route", "root route must not have any matchers"));
    }
    if !raw_route.mute_time_intervals.is_empty() {
        return Err(Issue::invalid("route.mute_time_intervals", "root route must not have any mute time intervals"));
    }
    if !raw_route.active_time_intervals.is_empty() {
        return Err(Issue::invalid(
            "route.active_time_intervals",
            "root route must not have any active time intervals",
        ));
    }
    let route = raw_route.resolve(None, "route")?;
    check_receivers(&raw_route, &receivers, "route")?;

    let mut seen: Vec<&str> = Vec::new();
    for (path, what, ti) in &time_intervals {
        if seen.contains(&ti.name.as_str()) {
            return Err(Issue::invalid(format!("{path}.name"), format!("{what} {:?} is not unique", ti.name)));
        }
        seen.push(&ti.name);
    }
    check_time_intervals(&raw_route, &seen, "route")?;

    let mut inhibit_rules = Vec::with_capacity(raw.inhibit_rules.len());
    for (i, r) in raw.inhibit_rules.iter().enumerate() {
        inhibit_rules.push(r.resolve(&format!("inhibit_rules[{i}]"))?);
    }
    for (i, t) in raw.templates.iter().enumerate() {
        glob::Pattern::new(t)
            .map_err(|e| Issue::invalid(format!("templates[{i}]"), format!("invalid template glob {t:?}: {e}")))?;
    }

    Ok(Config {
        global,
        route,
        inhibit_rules,
        receivers,
        templates: raw.templates,
        time_intervals: time_intervals.into_iter().map(|(_, _, ti)| ti).collect(),
        original: String::new(),
    })
}

/// `checkReceiver`: every receiver named in the tree is defined (children first, as upstream).
fn check_receivers(r: &RawRoute, receivers: &[Receiver], path: &str) -> Result<(), Issue> {
    for (i, child) in r.routes.iter().enumerate() {
        check_receivers(child, receivers, &format!("{path}.routes[{i}]"))?;
    }
    if !r.receiver.is_empty() && !receivers.iter().any(|x| x.name == r.receiver) {
        return Err(Issue::invalid(
            format!("{path}.receiver"),
            format!("undefined receiver {:?} used in route", r.receiver),
        ));
    }
    Ok(())
}

/// `checkTimeInterval`: every time interval named in the tree is defined.
fn check_time_intervals(r: &RawRoute, names: &[&str], path: &str) -> Result<(), Issue> {
    for (i, child) in r.routes.iter().enumerate() {
        check_time_intervals(child, names, &format!("{path}.routes[{i}]"))?;
    }
    for (key, list) in
        [("active_time_intervals", &r.active_time_intervals), ("mute_time_intervals", &r.mute_time_intervals)]
    {
        for (i, ti) in list.iter().enumerate() {
            if !names.contains(&ti.as_str()) {
                return Err(Issue::invalid(
                    format!("{path}.{key}[{i}]"),
                    format!("undefined time interval {ti:?} used in route"),
                ));
            }
        }
    }
    Ok(())
}

/// Per-integration checks (their `UnmarshalYAML`s) and inheritance from `global`.
fn resolve_receiver(rcv: &mut Receiver, g: &GlobalConfig, map: &SourceMap, path: &str) -> Result<(), Issue> {
    let inherit_http = |list: &str, i: usize, h: &mut HttpClientConfig| {
        if !map.is_set(&format!("{path}.{list}[{i}].http_config")) {
            *h = g.http_config.clone();
        }
    };
    for (i, c) in rcv.webhook_configs.iter_mut().enumerate() {
        let at = format!("{path}.webhook_configs[{i}]");
        if c.url.is_empty() && c.url_file.is_empty() {
            return Err(Issue::invalid(at, "missing URL in webhook config"));
        }
        if !c.url.is_empty() && !c.url_file.is_empty() {
            return Err(Issue::invalid(at, "at most one of url & url_file must be configured"));
        }
        inherit_http("webhook_configs", i, &mut c.http_config);
    }
    for (i, c) in rcv.email_configs.iter_mut().enumerate() {
        let at = format!("{path}.email_configs[{i}]");
        if c.to.is_empty() {
            return Err(Issue::invalid(at, "missing to address in email config"));
        }
        let mut headers = std::collections::BTreeMap::new();
        for (k, v) in std::mem::take(&mut c.headers) {
            let key = canonical_mime_header_key(&k);
            if headers.insert(key.clone(), v).is_some() {
                return Err(Issue::invalid(
                    format!("{at}.headers"),
                    format!("duplicate header {key:?} in email config"),
                ));
            }
        }
        c.headers = headers;
        if c.smarthost.is_empty() {
            match &g.smtp_smarthost {
                Some(h) => c.smarthost = h.clone(),
                None => return Err(Issue::invalid(at, "no global SMTP smarthost set")),
            }
        }
        if c.from.is_empty() {
            match &g.smtp_from {
                Some(f) => c.from = f.clone(),
                None => return Err(Issue::invalid(at, "no global SMTP from set")),
            }
        }
        if c.hello.is_empty() {
            c.hello = g.smtp_hello.clone();
        }
        if c.auth_username.is_empty() {
            c.auth_username = g.smtp_auth_username.clone();
        }
        if c.auth_password.is_empty() && c.auth_password_file.is_empty() {
            c.auth_password = g.smtp_auth_password.clone();
            c.auth_password_file = g.smtp_auth_password_file.clone();
        }
        if c.auth_secret.is_empty() {
            c.auth_secret = g.smtp_auth_secret.clone();
        }
        if c.auth_identity.is_empty() {
            c.auth_identity = g.smtp_auth_identity.clone();
        }
        if c.require_tls.is_none() {
            c.require_tls = Some(g.smtp_require_tls);
        }
        // The notifier's defaults (notify/email.New), filled here so consumers see them.
        c.headers.entry("Subject".to_string()).or_insert_with(|| DEFAULT_EMAIL_SUBJECT.to_string());
        c.headers.entry("To".to_string()).or_insert_with(|| c.to.clone());
        c.headers.entry("From".to_string()).or_insert_with(|| c.from.clone());
    }
    for (i, c) in rcv.slack_configs.iter_mut().enumerate() {
        let at = format!("{path}.slack_configs[{i}]");
        if !c.api_url.is_empty() && !c.api_url_file.is_empty() {
            return Err(Issue::invalid(at, "at most one of api_url & api_url_file must be configured"));
        }
        for (j, f) in c.fields.iter().enumerate() {
            if f.title.is_empty() {
                return Err(Issue::invalid(format!("{at}.fields[{j}]"), "missing title in Slack field configuration"));
            }
            if f.value.is_empty() {
                return Err(Issue::invalid(format!("{at}.fields[{j}]"), "missing value in Slack field configuration"));
            }
        }
        for (j, a) in c.actions.iter_mut().enumerate() {
            let at = format!("{at}.actions[{j}]");
            if a.kind.is_empty() {
                return Err(Issue::invalid(at, "missing type in Slack action configuration"));
            }
            if a.text.is_empty() {
                return Err(Issue::invalid(at, "missing text in Slack action configuration"));
            }
            if let Some(conf) = &a.confirm
                && conf.text.is_empty()
            {
                return Err(Issue::invalid(
                    format!("{at}.confirm"),
                    "missing text in Slack confirmation configuration",
                ));
            }
            if !a.url.is_empty() {
                // A link button: message action fields do not apply.
                a.name.clear();
                a.value.clear();
                a.confirm = None;
            } else if a.name.is_empty() {
                return Err(Issue::invalid(at, "missing name or url in Slack action configuration"));
            }
        }
        inherit_http("slack_configs", i, &mut c.http_config);
        if c.api_url.is_empty() && c.api_url_file.is_empty() {
            if g.slack_api_url.is_none() && g.slack_api_url_file.is_empty() {
                return Err(Issue::invalid(at, "no global Slack API URL set either inline or in a file"));
            }
            c.api_url = g.slack_api_url.clone().unwrap_or_default();
            c.api_url_file = g.slack_api_url_file.clone();
        }
    }
    for (i, c) in rcv.pagerduty_configs.iter_mut().enumerate() {
        let at = format!("{path}.pagerduty_configs[{i}]");
        if c.routing_key.is_empty()
            && c.service_key.is_empty()
            && c.routing_key_file.is_empty()
            && c.service_key_file.is_empty()
        {
            return Err(Issue::invalid(at, "missing service or routing key in PagerDuty config"));
        }
        if !c.routing_key.is_empty() && !c.routing_key_file.is_empty() {
            return Err(Issue::invalid(at, "at most one of routing_key & routing_key_file must be configured"));
        }
        if !c.service_key.is_empty() && !c.service_key_file.is_empty() {
            return Err(Issue::invalid(at, "at most one of service_key & service_key_file must be configured"));
        }
        if c.source.is_empty() {
            c.source = c.client.clone();
        }
        for (k, v) in DEFAULT_PAGERDUTY_DETAILS {
            c.details.entry(k.to_string()).or_insert_with(|| v.to_string());
        }
        inherit_http("pagerduty_configs", i, &mut c.http_config);
        if c.url.is_empty() {
            c.url = g.pagerduty_url.clone();
        }
    }
    for (i, c) in rcv.opsgenie_configs.iter_mut().enumerate() {
        let at = format!("{path}.opsgenie_configs[{i}]");
        if !c.api_key.is_empty() && !c.api_key_file.is_empty() {
            return Err(Issue::invalid(at, "at most one of api_key & api_key_file must be configured"));
        }
        for (j, r) in c.responders.iter_mut().enumerate() {
            let shown = format!("{{{} {} {} {}}}", r.id, r.name, r.username, r.kind);
            if r.id.is_empty() && r.username.is_empty() && r.name.is_empty() {
                return Err(Issue::invalid(
                    format!("{at}.responders[{j}]"),
                    format!(
                        "opsGenieConfig responder {shown} has to have at least one of id, username or name specified"
                    ),
                ));
            }
            if !r.kind.contains("{{") {
                r.kind = r.kind.to_lowercase();
                if !matches!(r.kind.as_str(), "team" | "teams" | "user" | "escalation" | "schedule") {
                    return Err(Issue::invalid(
                        format!("{at}.responders[{j}].type"),
                        format!(
                            "opsGenieConfig responder {shown} type does not match valid options ^(team|teams|user|escalation|schedule)$"
                        ),
                    ));
                }
            }
        }
        inherit_http("opsgenie_configs", i, &mut c.http_config);
        if c.api_url.is_empty() {
            c.api_url = g.opsgenie_api_url.clone();
        }
        if !url_path_ends_with_slash(&c.api_url) {
            c.api_url = add_trailing_slash_to_path(&c.api_url);
        }
        if c.api_key.is_empty() && c.api_key_file.is_empty() {
            if g.opsgenie_api_key.is_empty() && g.opsgenie_api_key_file.is_empty() {
                return Err(Issue::invalid(at, "no global OpsGenie API Key set either inline or in a file"));
            }
            c.api_key = g.opsgenie_api_key.clone();
            c.api_key_file = g.opsgenie_api_key_file.clone();
        }
    }
    for (i, c) in rcv.msteams_configs.iter_mut().enumerate() {
        let at = format!("{path}.msteams_configs[{i}]");
        if c.webhook_url.is_empty() && c.webhook_url_file.is_empty() {
            return Err(Issue::invalid(at, "one of webhook_url or webhook_url_file must be configured"));
        }
        if !c.webhook_url.is_empty() && !c.webhook_url_file.is_empty() {
            return Err(Issue::invalid(at, "at most one of webhook_url & webhook_url_file must be configured"));
        }
        inherit_http("msteams_configs", i, &mut c.http_config);
    }
    for (i, c) in rcv.telegram_configs.iter_mut().enumerate() {
        let at = format!("{path}.telegram_configs[{i}]");
        if c.bot_token.is_empty() {
            return Err(Issue::invalid(at, "missing bot_token on telegram_config"));
        }
        if c.chat_id == 0 {
            return Err(Issue::invalid(at, "missing chat_id on telegram_config"));
        }
        if !matches!(c.parse_mode.as_str(), "" | "Markdown" | "MarkdownV2" | "HTML") {
            return Err(Issue::invalid(
                format!("{at}.parse_mode"),
                "unknown parse_mode on telegram_config, must be Markdown, MarkdownV2, HTML or empty string",
            ));
        }
        inherit_http("telegram_configs", i, &mut c.http_config);
        if c.api_url.is_empty() {
            c.api_url = g.telegram_api_url.clone();
        }
    }
    for (i, c) in rcv.discord_configs.iter_mut().enumerate() {
        if c.webhook_url.is_empty() {
            return Err(Issue::invalid(format!("{path}.discord_configs[{i}]"), "no discord webhook URL provided"));
        }
        inherit_http("discord_configs", i, &mut c.http_config);
    }
    for (i, c) in rcv.webex_configs.iter_mut().enumerate() {
        let at = format!("{path}.webex_configs[{i}]");
        if c.room_id.is_empty() {
            return Err(Issue::invalid(at, "missing room_id on webex_config"));
        }
        if !map.is_set(&format!("{at}.http_config")) || c.http_config.authorization.is_none() {
            return Err(Issue::invalid(at, "missing webex_configs.http_config.authorization"));
        }
        if c.api_url.is_empty() {
            c.api_url = g.webex_api_url.clone();
        }
    }
    Ok(())
}

/// Whether the path of `url` ends in `/` (Alertmanager appends one to OpsGenie's API URL).
fn url_path_ends_with_slash(u: &str) -> bool {
    match url::Url::parse(u) {
        Ok(p) => p.path().ends_with('/') && !(p.path() == "/" && !u.ends_with('/') && !u.contains("/?")),
        Err(_) => u.ends_with('/'),
    }
}

fn add_trailing_slash_to_path(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(mut p) => {
            let path = format!("{}/", p.path().trim_end_matches('/'));
            p.set_path(&path);
            p.to_string()
        }
        Err(_) => format!("{u}/"),
    }
}

/// Joins relative paths with the config file's directory: templates and every `*_file` field.
fn set_directory(cfg: &mut Config, dir: &Path) {
    use crate::http::{join_dir, set_directory as http_dir};
    for t in &mut cfg.templates {
        join_dir(dir, t);
    }
    let g = &mut cfg.global;
    http_dir(&mut g.http_config, dir);
    join_dir(dir, &mut g.smtp_auth_password_file);
    join_dir(dir, &mut g.slack_api_url_file);
    join_dir(dir, &mut g.opsgenie_api_key_file);
    join_dir(dir, &mut g.victorops_api_key_file);
    for r in &mut cfg.receivers {
        for c in &mut r.webhook_configs {
            http_dir(&mut c.http_config, dir);
            join_dir(dir, &mut c.url_file);
        }
        for c in &mut r.email_configs {
            join_dir(dir, &mut c.auth_password_file);
            join_dir(dir, &mut c.tls_config.ca_file);
            join_dir(dir, &mut c.tls_config.cert_file);
            join_dir(dir, &mut c.tls_config.key_file);
        }
        for c in &mut r.slack_configs {
            http_dir(&mut c.http_config, dir);
            join_dir(dir, &mut c.api_url_file);
        }
        for c in &mut r.pagerduty_configs {
            http_dir(&mut c.http_config, dir);
            join_dir(dir, &mut c.routing_key_file);
            join_dir(dir, &mut c.service_key_file);
        }
        for c in &mut r.opsgenie_configs {
            http_dir(&mut c.http_config, dir);
            join_dir(dir, &mut c.api_key_file);
        }
        for c in &mut r.msteams_configs {
            http_dir(&mut c.http_config, dir);
            join_dir(dir, &mut c.webhook_url_file);
        }
        for c in &mut r.telegram_configs {
            http_dir(&mut c.http_config, dir);
        }
        for c in &mut r.discord_configs {
            http_dir(&mut c.http_config, dir);
        }
        for c in &mut r.webex_configs {
            http_dir(&mut c.http_config, dir);
        }
    }
}
