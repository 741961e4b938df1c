//! Request parameters as Prometheus reads them: the query string and, for POST, a
//! form-encoded body, merged; timestamps as float seconds or RFC 3339; durations as float
//! seconds or Prometheus durations.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri, header};

use crate::api::ApiError;

/// Prometheus's `minTime` / `maxTime`: the API's defaults for open-ended ranges.
pub const MIN_TIME_MS: i64 = -9_223_309_901_257_974;
pub const MAX_TIME_MS: i64 = 9_223_309_901_257_974;

/// All parameters of one request, in order, repeated keys kept (`match[]`).
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn from_parts(method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Result<Self, ApiError> {
        let mut v: Vec<(String, String)> = Vec::new();
        if let Some(q) = uri.query() {
            v.extend(form_urlencoded::parse(q.as_bytes()).into_owned());
        }
        if *method == Method::POST {
            let ct = headers.get(header::CONTENT_TYPE).and_then(|h| h.to_str().ok()).unwrap_or("");
            if ct.starts_with("application/x-www-form-urlencoded") {
                // Like Go's ParseForm, body values come before query values for the same key.
                let mut body_params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
                body_params.append(&mut v);
                v = body_params;
            } else if !body.is_empty() && !ct.is_empty() && !ct.starts_with("multipart/") {
                return Err(ApiError::bad_data(format!("unsupported content type {ct:?} for form parameters")));
            }
        }
        Ok(Params(v))
    }

    pub fn from_pairs(v: Vec<(String, String)>) -> Self {
        Params(v)
    }

    /// First value of `key`, as Go's `FormValue`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of `key` (`match[]`).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    /// A timestamp parameter, or `default` when absent or empty.
    pub fn time_or(&self, key: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(default),
            Some(s) => parse_time(s).map_err(|e| ApiError::bad_data(format!("invalid parameter \"{key}\": {e}"))),
        }
    }

    /// A non-negative integer limit; 0 (or absent) means no limit.
    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.get("limit") {
            None | Some("") => Ok(0),
            Some(s) => match s.parse::<i64>() {
                Ok(n) if n >= 0 => Ok(n as usize),
                Ok(_) => Err(ApiError::bad_data("limit must be non-negative".to_string())),
                Err(_) => Err(ApiError::bad_data(format!("cannot parse \"{s}\" to a valid limit"))),
            },
        }
    }
}

/// Parses an API timestamp into milliseconds: float Unix seconds or RFC 3339, as Prometheus's
/// `parseTime` (including its special min/max time strings).
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>()
        && f.is_finite()
    {
        // As Prometheus: the fraction is rounded to milliseconds (math.Modf + math.Round).
        let secs = f.trunc();
        let frac_ms = ((f - secs) * 1000.0).round();
        let ms = (secs as i128) * 1000 + frac_ms as i128;
        return i64::try_from(ms).map_err(|_| format!("cannot parse {s:?} to a valid timestamp"));
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    // Go's time.Time min/max formatted as RFC 3339, which clients echo back.
    match s {
        "0001-01-01T00:00:00Z" | "-292273086-05-16T16:47:06Z" => return Ok(MIN_TIME_MS),
        "292277025-08-18T07:12:54.999999999Z" => return Ok(MAX_TIME_MS),
        _ => {}
    }
    Err(format!("cannot parse {s:?} to a valid timestamp"))
}

/// Parses an API duration into milliseconds: float seconds or a Prometheus duration.
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>() {
        let ms = f * 1000.0;
        if !ms.is_finite() || ms.abs() >= i64::MAX as f64 {
            return Err(format!("cannot parse {s:?} to a valid duration. It overflows int64"));
        }
        return Ok(ms.round() as i64);
    }
    oxeye_model::parse_duration(s)
        .map(|d| d.as_millis() as i64)
        .map_err(|_| format!("cannot parse {s:?} to a valid duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1435781451.781").unwrap(), 1_435_781_451_781);
        assert_eq!(parse_time("1435781451").unwrap(), 1_435_781_451_000);
        assert_eq!(parse_time("2015-07-01T20:10:51.781Z").unwrap(), 1_435_781_451_781);
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("NaN").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("15").unwrap(), 15_000);
        assert_eq!(parse_duration_ms("0.5").unwrap(), 500);
        assert_eq!(parse_duration_ms("1m").unwrap(), 60_000);
        assert!(parse_duration_ms("1q").is_err());
    }
}
