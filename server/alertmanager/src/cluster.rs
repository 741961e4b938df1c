//! The cluster section of `/api/v2/status` for a single instance. Gossip is not implemented:
//! with the default `--cluster.listen-address` Oxeye reports what a one-member Alertmanager
//! cluster reports (its own peer, status "ready"); with an empty address, "disabled".

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};

use crate::api::ClusterStatusSource;
use crate::flags::Flags;

pub fn status_source(flags: &Flags) -> ClusterStatusSource {
    if flags.cluster_listen_address.is_empty() {
        return ClusterStatusSource::Disabled;
    }
    ClusterStatusSource::SingleMember { name: new_ulid(), address: advertise_address(flags) }
}

/// The address Alertmanager would advertise: `--cluster.advertise-address`, else the listen
/// address when it names a host, else this machine's outbound interface address.
fn advertise_address(flags: &Flags) -> String {
    if let Some(a) = flags.cluster_advertise_address.as_deref().filter(|a| !a.is_empty()) {
        return a.to_string();
    }
    let listen = &flags.cluster_listen_address;
    let (host, port) = listen.rsplit_once(':').unwrap_or((listen.as_str(), "9094"));
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let unspecified = host.is_empty() || host == "0.0.0.0" || host == "::";
    let ip = if unspecified {
        outbound_ip().unwrap_or_else(|| "127.0.0.1".parse().unwrap_or(std::net::IpAddr::from([127, 0, 0, 1])))
    } else {
        match (host, 0).to_socket_addrs().ok().and_then(|mut a| a.next()) {
            Some(a) => a.ip(),
            None => return listen.clone(),
        }
    };
    let port: u16 = port.parse().unwrap_or(9094);
    SocketAddr::new(ip, port).to_string()
}

/// The local address the kernel would use to reach the outside (no packet is sent).
fn outbound_ip() -> Option<std::net::IpAddr> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("198.51.100.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

/// A ULID (as Alertmanager names its cluster peer): 48 bits of milliseconds and 80 random
/// bits in Crockford base32.
pub fn new_ulid() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let ms = chrono::Utc::now().timestamp_millis().max(0) as u128;
    let mut random = [0u8; 10];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut random);
    }
    let mut v: u128 = ms << 80;
    for (i, b) in random.iter().enumerate() {
        v |= (*b as u128) << (8 * (9 - i));
    }
    (0..26).rev().map(|i| ALPHABET[((v >> (5 * i)) & 31) as usize] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn ulid_shape() {
        let u = new_ulid();
        assert_eq!(u.len(), 26);
        assert!(u.starts_with('0'), "{u}");
        assert_ne!(u, new_ulid());
    }

    #[test]
    fn disabled_without_listen_address() {
        let f = Flags::try_parse_from(["x", "--cluster.listen-address="]).unwrap();
        assert_eq!(status_source(&f).status().status, "disabled");
        let f = Flags::try_parse_from(["x", "--cluster.advertise-address=10.1.2.3:9094"]).unwrap();
        let st = status_source(&f).status();
        assert_eq!(st.status, "ready");
        assert_eq!(st.peers[0].address, "10.1.2.3:9094");
    }
}
