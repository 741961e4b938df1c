//! Scalar value types of `alertmanager.yml` with Go's yaml.v2 spelling: durations
//! (`model.Duration`), YAML 1.1 booleans, any scalar read as a string, http(s) URLs validated
//! like Alertmanager's `parseURL`, and `host:port` addresses (`smtp_smarthost`).

use std::fmt;
use std::time::Duration;

use oxeye_model::{format_duration, parse_duration};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, Visitor};

/// Any YAML scalar read as its text: Go's yaml.v2 fills string fields from numbers and
/// booleans too (`days_of_month: [1, 5]`, `room_id: 12`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ScalarString(pub String);

impl<'de> Deserialize<'de> for ScalarString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        scalar_string(d).map(ScalarString)
    }
}

/// Deserializes any scalar as a string (see [`ScalarString`]).
pub(crate) fn scalar_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_unit<E: de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }
    }
    d.deserialize_any(V)
}

/// Like [`scalar_string`] for string maps (`match`, `headers`, `details`): null values are
/// empty strings, as Go leaves them.
pub(crate) fn scalar_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<std::collections::BTreeMap<String, String>, D::Error> {
    let m: Option<std::collections::BTreeMap<ScalarString, ScalarString>> = Option::deserialize(d)?;
    Ok(m.unwrap_or_default().into_iter().map(|(k, v)| (k.0, v.0)).collect())
}

impl PartialOrd for ScalarString {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ScalarString {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

/// A string field that yaml.v2 would also fill from a number or boolean, or leave empty on null.
pub(crate) fn string_field<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    scalar_string(d)
}

/// A list of strings where null means empty.
pub(crate) fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v: Option<Vec<ScalarString>> = Option::deserialize(d)?;
    Ok(v.unwrap_or_default().into_iter().map(|s| s.0).collect())
}

/// `null` (an empty block) means the type's default, as with Go's yaml.v2.
pub(crate) fn null_as_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// A `model.Duration` (`30s`, `1h30m`).
pub(crate) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = scalar_string(d)?;
    parse_duration(&s).map_err(|_| de::Error::custom(format!("not a valid duration string: {s:?}")))
}

/// An optional `model.Duration`: absent or null is `None`.
pub(crate) fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s: Option<ScalarString> = Option::deserialize(d)?;
    match s {
        None => Ok(None),
        Some(s) => parse_duration(&s.0)
            .map(Some)
            .map_err(|_| de::Error::custom(format!("not a valid duration string: {:?}", s.0))),
    }
}

/// Formats a duration the way `model.Duration.String` does (`5m`, `1h30m`).
pub fn go_duration(d: Duration) -> String {
    format_duration(d)
}

/// A boolean with YAML 1.1 spellings (`yes`, `on`, `y`, ...), which Go's yaml.v2 accepts.
pub(crate) fn yaml11_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a boolean")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            match v {
                "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => Ok(true),
                "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => Ok(false),
                _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
            }
        }
    }
    d.deserialize_any(V)
}

/// An optional YAML 1.1 boolean (Go `*bool`).
pub(crate) fn opt_yaml11_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    struct B(#[serde(deserialize_with = "yaml11_bool")] bool);
    Ok(Option::<B>::deserialize(d)?.map(|b| b.0))
}

/// Alertmanager's `parseURL`: an absolute http or https URL with a host.
pub fn parse_url(s: &str) -> Result<String, String> {
    let (scheme, rest) = match s.split_once(':') {
        // Go's url.Parse reads a scheme only when it starts with a letter and holds only
        // letters, digits, `+`, `-`, `.`.
        Some((scheme, rest))
            if scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (scheme.to_ascii_lowercase(), rest)
        }
        _ => (String::new(), s),
    };
    if scheme != "http" && scheme != "https" {
        return Err(format!("unsupported scheme {scheme:?} for URL"));
    }
    let Some(after) = rest.strip_prefix("//") else {
        return Err("missing host for URL".to_string());
    };
    let authority = after.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() {
        return Err("missing host for URL".to_string());
    }
    url::Url::parse(s).map_err(|e| format!("parse {s:?}: {e}"))?;
    Ok(s.to_string())
}

/// A URL field (`url`, `api_url`): validated with [`parse_url`].
pub(crate) fn url_field<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = scalar_string(d)?;
    parse_url(&s).map_err(de::Error::custom)
}

/// A secret URL field (`slack api_url`, webhook `url`): validated, then kept as a secret.
pub(crate) fn secret_url_field<'de, D: Deserializer<'de>>(d: D) -> Result<oxeye_config::Secret, D::Error> {
    let s = scalar_string(d)?;
    parse_url(&s).map(oxeye_config::Secret::new).map_err(de::Error::custom)
}

/// A secret string field.
pub(crate) fn secret_field<'de, D: Deserializer<'de>>(d: D) -> Result<oxeye_config::Secret, D::Error> {
    scalar_string(d).map(oxeye_config::Secret::new)
}

/// A `host:port` network address (`smtp_smarthost`, email `smarthost`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostPort {
    pub host: String,
    pub port: String,
}

impl HostPort {
    /// `net.SplitHostPort` plus Alertmanager's non-empty port rule; `""` is the empty address.
    pub fn parse(s: &str) -> Result<HostPort, String> {
        if s.is_empty() {
            return Ok(HostPort::default());
        }
        let missing_port = || format!("address {s}: missing port in address");
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let Some((host, after)) = rest.split_once(']') else {
                return Err(format!("address {s}: missing ']' in address"));
            };
            let Some(port) = after.strip_prefix(':') else {
                return Err(missing_port());
            };
            (host, port)
        } else {
            let Some((host, port)) = s.rsplit_once(':') else {
                return Err(missing_port());
            };
            if host.contains(':') {
                return Err(format!("address {s}: too many colons in address"));
            }
            (host, port)
        };
        if host.contains(['[', ']']) || port.contains(['[', ']']) {
            return Err(format!("address {s}: unexpected '[' or ']' in address"));
        }
        if port.is_empty() {
            return Err(format!("address {s:?}: port cannot be empty"));
        }
        Ok(HostPort { host: host.to_string(), port: port.to_string() })
    }

    pub fn is_empty(&self) -> bool {
        self.host.is_empty() && self.port.is_empty()
    }
}

impl fmt::Display for HostPort {
    /// `net.JoinHostPort`, or `""` for the empty address.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return Ok(());
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl<'de> Deserialize<'de> for HostPort {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = scalar_string(d)?;
        HostPort::parse(&s).map_err(de::Error::custom)
    }
}

/// A field Alertmanager knows that Oxeye refuses by name: accepts any value so the loader can
/// report it instead of calling it unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unsupported;

impl<'de> Deserialize<'de> for Unsupported {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(d).map(|_| Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_like_parse_url() {
        assert!(parse_url("http://example.com/hook").is_ok());
        assert!(parse_url("https://user:pw@example.com:8443").is_ok());
        assert_eq!(parse_url("ftp://x").unwrap_err(), "unsupported scheme \"ftp\" for URL");
        assert_eq!(parse_url("example.com/x").unwrap_err(), "unsupported scheme \"\" for URL");
        assert_eq!(parse_url("").unwrap_err(), "unsupported scheme \"\" for URL");
        assert_eq!(parse_url("http:///path").unwrap_err(), "missing host for URL");
        assert_eq!(parse_url("http:x").unwrap_err(), "missing host for URL");
    }

    #[test]
    fn host_ports() {
        assert_eq!(HostPort::parse("smtp.example.org:587").unwrap().to_string(), "smtp.example.org:587");
        assert_eq!(HostPort::parse("[::1]:25").unwrap(), HostPort { host: "::1".into(), port: "25".into() });
        assert_eq!(HostPort::parse("[::1]:25").unwrap().to_string(), "[::1]:25");
        assert_eq!(HostPort::parse("x:").unwrap_err(), "address \"x:\": port cannot be empty");
        assert!(HostPort::parse("x").is_err());
        assert!(HostPort::parse("a:b:c").is_err());
        assert!(HostPort::parse("").unwrap().is_empty());
    }
}
