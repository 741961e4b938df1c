//! Query-string parsing for the list endpoints: repeated `filter` values (which serde's
//! urlencoded form cannot collect) and go-swagger's boolean flags with their defaults.

/// The parameters shared by `GET /api/v2/alerts` and `GET /api/v2/alerts/groups`.
#[derive(Debug, Clone)]
pub struct ListParams {
    pub filter: Vec<String>,
    pub receiver: Option<String>,
    pub active: bool,
    pub silenced: bool,
    pub inhibited: bool,
}

impl ListParams {
    pub fn parse(query: Option<&str>) -> Self {
        let mut p = ListParams { filter: vec![], receiver: None, active: true, silenced: true, inhibited: true };
        for (k, v) in pairs(query.unwrap_or("")) {
            match k.as_str() {
                "filter" => p.filter.push(v),
                "receiver" => p.receiver = Some(v),
                "active" => p.active = parse_bool(&v, p.active),
                "silenced" => p.silenced = parse_bool(&v, p.silenced),
                "inhibited" => p.inhibited = parse_bool(&v, p.inhibited),
                // Alertmanager 0.25 accepts `unprocessed` but does not filter on it.
                _ => {}
            }
        }
        p
    }
}

/// Go's `strconv.ParseBool` spellings; anything else keeps the default, as Alertmanager 0.25
/// answers such requests as if the parameter were absent.
fn parse_bool(v: &str, default: bool) -> bool {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
        "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
        _ => default,
    }
}

/// `filter` values of `GET /api/v2/silences`.
pub fn filters(query: Option<&str>) -> Vec<String> {
    pairs(query.unwrap_or("")).into_iter().filter(|(k, _)| k == "filter").map(|(_, v)| v).collect()
}

/// Decodes `application/x-www-form-urlencoded` pairs (`+` is a space, `%XX` a byte).
pub fn pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_filters_and_flags() {
        let p = ListParams::parse(Some("filter=a%3D%22b%22&filter=c%21~d+e&silenced=false&receiver=web.*"));
        assert_eq!(p.filter, vec!["a=\"b\"", "c!~d e"]);
        assert!(!p.silenced && p.active && p.inhibited);
        assert_eq!(p.receiver.as_deref(), Some("web.*"));
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%4"), "%4");
    }
}
