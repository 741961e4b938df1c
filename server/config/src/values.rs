//! Scalar value types of `prometheus.yml` with Prometheus's YAML spelling: durations
//! (`model.Duration`), byte sizes (`units.Base2Bytes`), secrets that print as `<secret>`,
//! YAML 1.1 booleans (`yes`/`no`, which Go's yaml.v2 accepts), and the marker for fields that
//! Prometheus knows but Oxeye does not support yet.

use std::fmt;
use std::time::Duration;

use oxeye_model::{format_duration, parse_duration};
use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A Prometheus duration (`15s`, `1h30m`). Zero means "not set" where a default or the global
/// value applies, as in Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PromDuration(pub Duration);

impl PromDuration {
    pub const fn from_secs(s: u64) -> Self {
        PromDuration(Duration::from_secs(s))
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl Serialize for PromDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).map(PromDuration).map_err(de::Error::custom)
    }
}

/// A byte size as Prometheus's `units.Base2Bytes`: `512KB`, `10MiB`, `1.5GB`, `0`. Every unit
/// is a power of 1024 (`KB` = `KiB` = 1024), a bare number without unit is rejected, and
/// components add up (`1GB512MB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn is_zero(&self) -> bool {
        self.0 == 0
    }

    /// Parses like `units.ParseBase2Bytes`, returning upstream's error text.
    pub fn parse(orig: &str) -> Result<ByteSize, String> {
        let invalid = || format!("units: invalid {orig}");
        let mut s = orig;
        let mut neg = false;
        if let Some(rest) = s.strip_prefix('-') {
            neg = true;
            s = rest;
        } else if let Some(rest) = s.strip_prefix('+') {
            s = rest;
        }
        if s == "0" {
            return Ok(ByteSize(0));
        }
        if s.is_empty() {
            return Err(invalid());
        }
        let mut total = 0f64;
        while !s.is_empty() {
            let bytes = s.as_bytes();
            if !(bytes[0] == b'.' || bytes[0].is_ascii_digit()) {
                return Err(invalid());
            }
            let int_end = bytes.iter().position(|c| !c.is_ascii_digit()).unwrap_or(bytes.len());
            let mut value: f64 = if int_end > 0 { s[..int_end].parse().map_err(|_| invalid())? } else { 0.0 };
            let mut rest = &s[int_end..];
            let mut frac_digits = 0;
            if let Some(after_dot) = rest.strip_prefix('.') {
                let frac_end = after_dot.bytes().position(|c| !c.is_ascii_digit()).unwrap_or(after_dot.len());
                frac_digits = frac_end;
                if frac_end > 0 {
                    let frac: f64 = after_dot[..frac_end].parse().map_err(|_| invalid())?;
                    value += frac / 10f64.powi(frac_end as i32);
                }
                rest = &after_dot[frac_end..];
            }
            if int_end == 0 && frac_digits == 0 {
                return Err(invalid());
            }
            let unit_end = rest.bytes().position(|c| c == b'.' || c.is_ascii_digit()).unwrap_or(rest.len());
            let unit = &rest[..unit_end];
            let Some(scale) = unit_scale(unit) else {
                return Err(format!("units: unknown unit {unit} in {orig}"));
            };
            total += value * scale;
            s = &rest[unit_end..];
        }
        if neg && total > 0.0 {
            return Err(format!("units: negative size {orig} is not allowed"));
        }
        if total > u64::MAX as f64 / 2.0 {
            return Err("units: overflow parsing unit".to_string());
        }
        Ok(ByteSize(total as u64))
    }
}

/// Both of upstream's unit maps: `B`, `KiB`/`kiB`/`KB`/`kB`, `MiB`/`MB`, ... `EiB`/`EB`.
fn unit_scale(unit: &str) -> Option<f64> {
    let k = 1024f64;
    Some(match unit {
        "B" => 1.0,
        "KiB" | "kiB" | "KB" | "kB" => k,
        "MiB" | "MB" => k * k,
        "GiB" | "GB" => k.powi(3),
        "TiB" | "TB" => k.powi(4),
        "PiB" | "PB" => k.powi(5),
        "EiB" | "EB" => k.powi(6),
        _ => return None,
    })
}

impl fmt::Display for ByteSize {
    /// `units.Base2Bytes.String`: `10MiB`, `1GiB512MiB`, `0B`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut n = self.0;
        if n == 0 {
            return f.write_str("0B");
        }
        for (suffix, shift) in [("EiB", 60), ("PiB", 50), ("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] {
            let m = 1u64 << shift;
            if n >= m {
                write!(f, "{}{suffix}", n / m)?;
                n %= m;
            }
        }
        if n > 0 {
            write!(f, "{n}B")?;
        }
        Ok(())
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ByteSize::parse(&s).map_err(de::Error::custom)
    }
}

/// A secret (password, credentials, private key). Compared by value, so a changed password is
/// a changed config; printed and serialized as `<secret>`.
#[derive(Clone, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for the code that authenticates.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<secret>")
    }
}

/// Deserializes a boolean the way Go's yaml.v2 does: YAML 1.1 spellings (`yes`, `on`, `y`, ...)
/// are booleans too, so configs that Prometheus accepts load here.
pub fn yaml11_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
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

/// A field Prometheus knows but Oxeye does not support yet: accepts any value so the loader can
/// report it by name and position instead of as an unknown field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsupported;

impl<'de> Deserialize<'de> for Unsupported {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(d).map(|_| Unsupported)
    }
}

/// Declares a struct's known-but-unsupported fields: adds one `Option<Unsupported>` field per
/// name and an `unsupported_fields()` that lists those present. Supporting a field later means
/// moving its name out of the list and giving it a real type.
macro_rules! with_unsupported_fields {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident { $($body:tt)* }
        unsupported: [$($field:ident),* $(,)?]
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $($body)*
            $(
                #[serde(default, skip_serializing)]
                $field: Option<$crate::values::Unsupported>,
            )*
        }

        impl $name {
            /// The known-but-unsupported fields present in the input.
            #[allow(dead_code)]
            pub(crate) fn unsupported_fields(&self) -> Vec<&'static str> {
                let mut present = Vec::new();
                $( if self.$field.is_some() { present.push(stringify!($field)); } )*
                present
            }
        }
    };
}
pub(crate) use with_unsupported_fields;

pub(crate) fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_parse_like_base2bytes() {
        assert_eq!(ByteSize::parse("0"), Ok(ByteSize(0)));
        assert_eq!(ByteSize::parse("10MB"), Ok(ByteSize(10 << 20)));
        assert_eq!(ByteSize::parse("10MiB"), Ok(ByteSize(10 << 20)));
        assert_eq!(ByteSize::parse("1KB"), Ok(ByteSize(1024)));
        assert_eq!(ByteSize::parse("1kB"), Ok(ByteSize(1024)));
        assert_eq!(ByteSize::parse("1.5KB"), Ok(ByteSize(1536)));
        assert_eq!(ByteSize::parse("1GB512MB"), Ok(ByteSize((1 << 30) + (512 << 20))));
        assert_eq!(ByteSize::parse("100B"), Ok(ByteSize(100)));
        assert_eq!(ByteSize::parse("1000").unwrap_err(), "units: unknown unit  in 1000");
        assert_eq!(ByteSize::parse("1XB").unwrap_err(), "units: unknown unit XB in 1XB");
        assert_eq!(ByteSize::parse("").unwrap_err(), "units: invalid ");
        assert_eq!(ByteSize::parse("MB").unwrap_err(), "units: invalid MB");
        assert!(ByteSize::parse("-1MB").is_err());
    }

    #[test]
    fn byte_sizes_format_and_round_trip() {
        for n in [0u64, 1, 1024, 10 << 20, (1 << 30) + (512 << 20) + 3] {
            let s = ByteSize(n).to_string();
            assert_eq!(ByteSize::parse(&s), Ok(ByteSize(n)), "{s}");
        }
        assert_eq!(ByteSize(10 << 20).to_string(), "10MiB");
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "<secret>");
        assert_eq!(serde_yaml_ng::to_string(&s).unwrap().trim(), "<secret>");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn yaml11_booleans() {
        #[derive(Deserialize)]
        struct B {
            #[serde(deserialize_with = "yaml11_bool")]
            b: bool,
        }
        for (y, want) in [("b: yes", true), ("b: off", false), ("b: true", true), ("b: N", false)] {
            assert_eq!(serde_yaml_ng::from_str::<B>(y).unwrap().b, want, "{y}");
        }
        assert!(serde_yaml_ng::from_str::<B>("b: maybe").is_err());
    }
}
