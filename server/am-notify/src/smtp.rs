//! A small SMTP client with Alertmanager 0.25's delivery rules: implicit TLS on port 465,
//! otherwise STARTTLS required unless `require_tls: false`, authentication picked from the
//! server's AUTH list (CRAM-MD5 with a secret, PLAIN or LOGIN with a password; PLAIN refuses an
//! unencrypted connection except to localhost, as Go's `smtp.PlainAuth`). Every SMTP failure
//! is retryable, as in Alertmanager.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use oxeye_am_core::NotifyError;
use oxeye_config::TlsConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

/// SMTP credentials; an empty username disables authentication.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    pub username: String,
    pub password: String,
    pub identity: String,
    pub secret: String,
}

/// Where and how to deliver.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: String,
    pub hello: String,
    pub require_tls: bool,
    pub tls: TlsConfig,
    pub auth: Auth,
}

const TIMEOUT: Duration = Duration::from_secs(60);

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    Closed,
}

struct Client {
    conn: Conn,
    buf: Vec<u8>,
    server: String,
    ext: BTreeMap<String, String>,
}

fn err(context: &str, e: impl std::fmt::Display) -> NotifyError {
    NotifyError::retryable(format!("{context}: {e}"))
}

impl Client {
    fn stream(&mut self) -> Result<&mut dyn Stream, String> {
        match &mut self.conn {
            Conn::Plain(s) => Ok(s),
            Conn::Tls(s) => Ok(s.as_mut()),
            Conn::Closed => Err("connection closed".into()),
        }
    }

    fn is_tls(&self) -> bool {
        matches!(self.conn, Conn::Tls(_))
    }

    async fn read_line(&mut self) -> Result<String, String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Ok(String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_string());
            }
            let mut chunk = [0u8; 1024];
            let n = self.stream()?.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("unexpected EOF".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads a (possibly multi-line) reply: code and the lines' text.
    async fn reply(&mut self) -> Result<(u16, Vec<String>), String> {
        let mut lines = Vec::new();
        loop {
            let line = self.read_line().await?;
            let code: u16 =
                line.get(..3).and_then(|c| c.parse().ok()).ok_or_else(|| format!("short response: {line}"))?;
            lines.push(line.get(4..).unwrap_or("").to_string());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok((code, lines));
            }
        }
    }

    async fn cmd(&mut self, expect: u16, line: &str) -> Result<Vec<String>, String> {
        let s = self.stream()?;
        s.write_all(format!("{line}\r\n").as_bytes()).await.map_err(|e| e.to_string())?;
        s.flush().await.map_err(|e| e.to_string())?;
        let (code, text) = self.reply().await?;
        if code != expect {
            return Err(format!("{code} {}", text.join("\n")));
        }
        Ok(text)
    }

    async fn hello(&mut self, name: &str) -> Result<(), String> {
        match self.cmd(250, &format!("EHLO {name}")).await {
            Ok(lines) => {
                self.ext.clear();
                for l in lines.iter().skip(1) {
                    let (k, v) = l.split_once(' ').unwrap_or((l.as_str(), ""));
                    self.ext.insert(k.to_ascii_uppercase(), v.to_string());
                }
                Ok(())
            }
            Err(_) => self.cmd(250, &format!("HELO {name}")).await.map(|_| ()),
        }
    }

    async fn start_tls(&mut self, tls: &TlsConfig) -> Result<(), String> {
        self.cmd(220, "STARTTLS").await?;
        let Conn::Plain(tcp) = std::mem::replace(&mut self.conn, Conn::Closed) else {
            return Err("connection is already encrypted".into());
        };
        self.conn = Conn::Tls(Box::new(tls_connect(tcp, &self.server, tls).await?));
        Ok(())
    }

    async fn auth(&mut self, auth: &Auth, mechs: &str) -> Result<(), NotifyError> {
        for mech in mechs.split_whitespace() {
            match mech.to_ascii_uppercase().as_str() {
                "CRAM-MD5" if !auth.secret.is_empty() => {
                    let challenge =
                        self.cmd(334, "AUTH CRAM-MD5").await.map_err(|e| err("*smtp.cramMD5Auth auth", e))?;
                    let raw = B64.decode(challenge.first().map(String::as_str).unwrap_or("")).unwrap_or_default();
                    let digest = hmac_md5(auth.secret.as_bytes(), &raw);
                    let resp =
                        format!("{} {}", auth.username, digest.iter().map(|b| format!("{b:02x}")).collect::<String>());
                    self.cmd(235, &B64.encode(resp)).await.map_err(|e| err("*smtp.cramMD5Auth auth", e))?;
                    return Ok(());
                }
                "PLAIN" if !auth.password.is_empty() => {
                    if !self.is_tls() && !matches!(self.server.as_str(), "localhost" | "127.0.0.1" | "::1") {
                        return Err(err("*smtp.plainAuth auth", "unencrypted connection"));
                    }
                    let resp = B64.encode(format!("{}\0{}\0{}", auth.identity, auth.username, auth.password));
                    self.cmd(235, &format!("AUTH PLAIN {resp}")).await.map_err(|e| err("*smtp.plainAuth auth", e))?;
                    return Ok(());
                }
                "LOGIN" if !auth.password.is_empty() => {
                    let ctx = "*email.loginAuth auth";
                    let mut prompt = self.cmd(334, "AUTH LOGIN").await.map_err(|e| err(ctx, e))?;
                    for _ in 0..2 {
                        let q = B64.decode(prompt.first().map(String::as_str).unwrap_or("")).unwrap_or_default();
                        let answer = match String::from_utf8_lossy(&q).to_ascii_lowercase().as_str() {
                            "username:" => auth.username.clone(),
                            "password:" => auth.password.clone(),
                            other => return Err(err(ctx, format!("unexpected server challenge: {other}"))),
                        };
                        let s = self.stream().map_err(|e| err(ctx, e))?;
                        s.write_all(format!("{}\r\n", B64.encode(answer)).as_bytes()).await.map_err(|e| err(ctx, e))?;
                        let (code, text) = self.reply().await.map_err(|e| err(ctx, e))?;
                        match code {
                            235 => return Ok(()),
                            334 => prompt = text,
                            c => return Err(err(ctx, format!("{c} {}", text.join("\n")))),
                        }
                    }
                    return Err(err(ctx, "unexpected LOGIN exchange"));
                }
                _ => {}
            }
        }
        Err(err("find auth mechanism", format!("unknown auth mechanism: {mechs}")))
    }
}

/// HMAC-MD5 (RFC 2104) for CRAM-MD5.
pub fn hmac_md5(key: &[u8], msg: &[u8]) -> [u8; 16] {
    use md5::{Digest, Md5};
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..16].copy_from_slice(&Md5::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Md5::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Md5::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn read_pem(inline: &str, file: &str, what: &str) -> Result<Vec<u8>, String> {
    if file.is_empty() {
        Ok(inline.as_bytes().to_vec())
    } else {
        std::fs::read(file).map_err(|e| format!("unable to read {what} {file}: {e}"))
    }
}

fn client_config(tls: &TlsConfig) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = if tls.insecure_skip_verify {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        let ca = read_pem(&tls.ca, &tls.ca_file, "CA cert")?;
        if ca.is_empty() {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        } else {
            for c in CertificateDer::pem_slice_iter(&ca) {
                roots.add(c.map_err(|e| format!("unable to use CA cert: {e}"))?).map_err(|e| e.to_string())?;
            }
        }
        builder.with_root_certificates(roots)
    };
    let cert = read_pem(&tls.cert, &tls.cert_file, "client cert")?;
    let key = read_pem(tls.key.expose(), &tls.key_file, "client key")?;
    if cert.is_empty() {
        return Ok(builder.with_no_client_auth());
    }
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&cert).collect();
    let certs = certs.map_err(|e| format!("unable to use client cert: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(&key).map_err(|e| format!("unable to use client key: {e}"))?;
    builder.with_client_auth_cert(certs, key).map_err(|e| e.to_string())
}

async fn tls_connect(
    tcp: TcpStream,
    host: &str,
    tls: &TlsConfig,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let config = client_config(tls)?;
    let name = if tls.server_name.is_empty() { host } else { tls.server_name.as_str() };
    let server_name = rustls::pki_types::ServerName::try_from(name.to_string()).map_err(|e| e.to_string())?;
    tokio_rustls::TlsConnector::from(Arc::new(config)).connect(server_name, tcp).await.map_err(|e| e.to_string())
}

/// Escapes lines starting with '.' (RFC 5321 4.5.2) and ensures CRLF line endings.
fn dot_stuff(message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 16);
    let message = message.strip_suffix("\r\n").unwrap_or(message);
    for line in message.split("\r\n") {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

/// Delivers one message.
pub async fn deliver(s: &SmtpSettings, from: &str, to: &[String], message: &str) -> Result<(), NotifyError> {
    tokio::time::timeout(TIMEOUT, deliver_inner(s, from, to, message))
        .await
        .map_err(|_| NotifyError::retryable("SMTP delivery timed out"))?
}

async fn deliver_inner(s: &SmtpSettings, from: &str, to: &[String], message: &str) -> Result<(), NotifyError> {
    let addr = format!("{}:{}", s.host, s.port);
    let tcp = TcpStream::connect(&addr).await.map_err(|e| err("establish connection to server", e))?;
    let conn = if s.port == "465" {
        Conn::Tls(Box::new(
            tls_connect(tcp, &s.host, &s.tls).await.map_err(|e| err("establish TLS connection to server", e))?,
        ))
    } else {
        Conn::Plain(tcp)
    };
    let mut c = Client { conn, buf: Vec::new(), server: s.host.clone(), ext: BTreeMap::new() };
    let (code, text) = c.reply().await.map_err(|e| err("create SMTP client", e))?;
    if code != 220 {
        return Err(err("create SMTP client", format!("{code} {}", text.join("\n"))));
    }
    c.hello(&s.hello).await.map_err(|e| err("send EHLO command", e))?;
    if s.require_tls {
        if !c.ext.contains_key("STARTTLS") {
            return Err(NotifyError::retryable(format!(
                "'require_tls' is true (default) but {addr:?} does not advertise the STARTTLS extension"
            )));
        }
        c.start_tls(&s.tls).await.map_err(|e| err("send STARTTLS command", e))?;
        c.hello(&s.hello).await.map_err(|e| err("send EHLO command", e))?;
    }
    if let Some(mechs) = c.ext.get("AUTH").cloned()
        && !s.auth.username.is_empty()
    {
        c.auth(&s.auth, &mechs).await?;
    }
    c.cmd(250, &format!("MAIL FROM:<{from}>")).await.map_err(|e| err("send MAIL command", e))?;
    for rcpt in to {
        c.cmd(250, &format!("RCPT TO:<{rcpt}>")).await.map_err(|e| err("send RCPT command", e))?;
    }
    c.cmd(354, "DATA").await.map_err(|e| err("send DATA command", e))?;
    let body = format!("{}.", dot_stuff(message));
    c.cmd(250, &body).await.map_err(|e| err("send .", e))?;
    let _ = c.cmd(221, "QUIT").await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_md5_rfc2104_vector() {
        let d = hmac_md5(b"Jefe", b"what do ya want for nothing?");
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "750c783e6ab0b503eaa86e310a5db738");
    }

    #[test]
    fn dot_stuffing() {
        assert_eq!(dot_stuff("a\r\n.b\r\n"), "a\r\n..b\r\n");
    }
}
