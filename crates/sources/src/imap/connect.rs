//! Connections to an IMAP server: implicit TLS (`imaps://`), STARTTLS
//! (`imap://`), or plaintext when explicitly allowed; then LOGIN.

use super::{ImapAccount, ImapError, Security};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// A byte stream to the server, encrypted or not.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stream::Plain(_) => f.write_str("Stream::Plain"),
            Stream::Tls(_) => f.write_str("Stream::Tls"),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(stream) => stream.read(buffer),
            Stream::Tls(stream) => stream.read(buffer),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(stream) => stream.write(buffer),
            Stream::Tls(stream) => stream.write(buffer),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(stream) => stream.flush(),
            Stream::Tls(stream) => stream.flush(),
        }
    }
}

/// An authenticated session.
pub type Session = imap::Session<Stream>;

/// Builds the TLS configuration: the system's trust store, or only the
/// certificates of `--ca-cert` when given.
pub fn tls_config(
    ca_cert: Option<&std::path::Path>,
) -> Result<Arc<rustls::ClientConfig>, ImapError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_cert {
        Some(path) => {
            let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
                .map_err(|err| ImapError::Certificate {
                    path: path.to_path_buf(),
                    message: err.to_string(),
                })?;
            if certificates.is_empty() {
                return Err(ImapError::Certificate {
                    path: path.to_path_buf(),
                    message: "no PEM certificate found".into(),
                });
            }
            for certificate in certificates {
                roots
                    .add(certificate)
                    .map_err(|err| ImapError::Certificate {
                        path: path.to_path_buf(),
                        message: err.to_string(),
                    })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for error in &found.errors {
                tracing::warn!(%error, "a system trust store certificate could not be loaded");
            }
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(ImapError::NoTrustStore);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| ImapError::Tls(err.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Connects, secures the connection and logs in.
pub fn open(
    account: &ImapAccount,
    tls: &Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<Session, ImapError> {
    let url = &account.url;
    let address = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|err| ImapError::Connect(format!("cannot resolve {}: {err}", url.host)))?
        .next()
        .ok_or_else(|| ImapError::Connect(format!("no address for {}", url.host)))?;
    let tcp = TcpStream::connect_timeout(&address, timeout)
        .map_err(|err| ImapError::Connect(format!("cannot connect to {address}: {err}")))?;
    tcp.set_read_timeout(Some(timeout)).map_err(ImapError::Io)?;
    tcp.set_write_timeout(Some(timeout))
        .map_err(ImapError::Io)?;

    let (stream, greeting_read) = match url.security {
        Security::Tls => (Stream::Tls(Box::new(wrap_tls(tcp, &url.host, tls)?)), false),
        Security::StartTls => {
            let tcp = start_tls(tcp)?;
            (Stream::Tls(Box::new(wrap_tls(tcp, &url.host, tls)?)), true)
        }
        Security::Plaintext => (Stream::Plain(tcp), false),
    };
    let mut client = imap::Client::new(stream);
    if !greeting_read {
        client
            .read_greeting()
            .map_err(|err| ImapError::Protocol(format!("no valid greeting: {err}")))?;
    }
    client
        .login(&url.user, account.password.expose())
        .map_err(|(err, _)| match err {
            imap::Error::No(_) | imap::Error::Bad(_) => ImapError::Login(url.user.clone()),
            other => ImapError::Protocol(format!("login failed: {other}")),
        })
}

fn wrap_tls(
    tcp: TcpStream,
    host: &str,
    config: &Arc<rustls::ClientConfig>,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, ImapError> {
    let name = ServerName::try_from(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
    .map_err(|_| ImapError::Tls(format!("invalid server name {host:?}")))?;
    let connection = rustls::ClientConnection::new(config.clone(), name)
        .map_err(|err| ImapError::Tls(err.to_string()))?;
    let mut stream = rustls::StreamOwned::new(connection, tcp);
    // Finish the handshake now, so certificate errors are reported as such.
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .map_err(|err| {
                let text = err.to_string();
                // A practice's own mail server may have a certificate from a
                // private CA, which the system trust store does not list.
                let hint = if text.contains("certificate") {
                    "; if the server's certificate comes from a private or self-signed CA, pass that CA's PEM file with --ca-cert FILE"
                } else {
                    ""
                };
                ImapError::Tls(format!("TLS handshake failed: {text}{hint}"))
            })?;
    }
    Ok(stream)
}

/// Reads the greeting, sends STARTTLS and returns the socket ready for the
/// TLS handshake. Nothing but these two lines is sent in plaintext.
fn start_tls(tcp: TcpStream) -> Result<TcpStream, ImapError> {
    let mut reader = BufReader::new(tcp.try_clone().map_err(ImapError::Io)?);
    let mut writer = tcp;
    let mut line = String::new();
    reader.read_line(&mut line).map_err(ImapError::Io)?;
    if !line.starts_with("* OK") {
        return Err(ImapError::Protocol(
            "no valid greeting before STARTTLS".into(),
        ));
    }
    writer
        .write_all(b"p0 STARTTLS\r\n")
        .map_err(ImapError::Io)?;
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(ImapError::Io)? == 0 {
            return Err(ImapError::Protocol(
                "connection closed during STARTTLS".into(),
            ));
        }
        if line.starts_with("p0 OK") {
            break;
        }
        if line.starts_with("p0 ") {
            return Err(ImapError::StartTls);
        }
    }
    if !reader.buffer().is_empty() {
        // Bytes sent before the handshake could be injected by an attacker.
        return Err(ImapError::Protocol("unexpected data after STARTTLS".into()));
    }
    Ok(writer)
}
