//! Opening a PostgreSQL connection the way libpq users expect: URL first, then the `PG*`
//! environment variables (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`,
//! `PGSSLMODE`, `PGSSLROOTCERT`, `PGCONNECT_TIMEOUT`, `PGAPPNAME`), then `~/.pgpass`, then
//! libpq's defaults. `sslmode` takes libpq's values; `verify-ca` and `verify-full` check the
//! server certificate against `sslrootcert` (or the web PKI roots).

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use postgres::config::{Host, SslMode};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Error, Result};
use crate::target::redact_url;

/// How strictly the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verification {
    /// Encrypt if asked to, but accept any certificate (libpq's `prefer`/`require`).
    None,
    /// Certificate chain must be valid; host name not checked (`verify-ca`).
    Chain,
    /// Chain and host name (`verify-full`).
    Full,
}

/// A parsed, defaulted connection request.
#[derive(Clone)]
pub struct ConnectionSpec {
    pub config: tokio_postgres::Config,
    verification: Verification,
    root_cert: Option<PathBuf>,
    /// The URL with its password removed, for messages.
    pub display: String,
}

impl ConnectionSpec {
    /// Parses a `postgres://` URL and fills in what it leaves out from the environment.
    pub fn from_url(url: &str) -> Result<ConnectionSpec> {
        let display = redact_url(url);
        let bad = |reason: String| Error::BadTarget {
            input: display.clone(),
            reason,
        };
        // tokio-postgres knows only disable/prefer/require and rejects unknown parameters,
        // so libpq's TLS parameters are taken out here and handled below.
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut sslmode = std::env::var("PGSSLMODE").ok();
        let mut root_cert = std::env::var("PGSSLROOTCERT").ok().map(PathBuf::from);
        let mut passthrough = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned();
            match key {
                "sslmode" => sslmode = Some(value),
                "sslrootcert" => root_cert = Some(PathBuf::from(value)),
                "sslcert" | "sslkey" | "sslcrl" | "sslcompression" | "gssencmode" => {}
                _ => passthrough.push(pair.to_string()),
            }
        }
        let rebuilt = if passthrough.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", passthrough.join("&"))
        };
        let mut config = tokio_postgres::Config::from_str(&rebuilt)
            .map_err(|e| bad(format!("malformed PostgreSQL URL: {e}")))?;

        let (ssl_mode, verification) = match sslmode.as_deref().unwrap_or("prefer") {
            "disable" => (SslMode::Disable, Verification::None),
            "allow" | "prefer" => (SslMode::Prefer, Verification::None),
            "require" => (SslMode::Require, Verification::None),
            "verify-ca" => (SslMode::Require, Verification::Chain),
            "verify-full" => (SslMode::Require, Verification::Full),
            other => {
                return Err(bad(format!(
                    "unknown sslmode '{other}' — use disable, allow, prefer, require, verify-ca or verify-full"
                )))
            }
        };
        config.ssl_mode(ssl_mode);
        apply_environment_defaults(&mut config);
        Ok(ConnectionSpec {
            config,
            verification,
            root_cert,
            display,
        })
    }

    /// Connects, turning failures into messages that say what to do.
    pub fn connect(&self) -> Result<postgres::Client> {
        let tls = self.tls()?;
        postgres::Config::from(self.config.clone())
            .connect(tls)
            .map_err(|e| connect_error(&self.display, &self.config, &e))
    }

    /// Connects an asynchronous client whose connection runs on `runtime` (it makes progress
    /// while the caller awaits on that runtime). For hot paths where the blocking client's
    /// per-message runtime entry costs more than the work itself (streaming COPY).
    pub fn connect_async(
        &self,
        runtime: &tokio::runtime::Runtime,
    ) -> Result<tokio_postgres::Client> {
        let tls = self.tls()?;
        let (client, connection) = runtime
            .block_on(self.config.connect(tls))
            .map_err(|e| connect_error(&self.display, &self.config, &e))?;
        // A connection error surfaces on the client's next request, so this result is not
        // needed here.
        runtime.spawn(connection);
        Ok(client)
    }

    fn tls(&self) -> Result<MakeRustlsConnect> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Unsupported(format!("TLS setup failed: {e}")))?;
        let config = match self.verification {
            Verification::None => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
                .with_no_client_auth(),
            Verification::Chain | Verification::Full => {
                let roots = self.root_store()?;
                let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|e| Error::Unsupported(format!("TLS setup failed: {e}")))?;
                let verifier: Arc<dyn ServerCertVerifier> =
                    if self.verification == Verification::Chain {
                        Arc::new(IgnoreHostName(webpki))
                    } else {
                        webpki
                    };
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(verifier)
                    .with_no_client_auth()
            }
        };
        Ok(MakeRustlsConnect::new(config))
    }

    fn root_store(&self) -> Result<rustls::RootCertStore> {
        use rustls::pki_types::pem::PemObject;
        let mut store = rustls::RootCertStore::empty();
        let default = home_dir().map(|h| h.join(".postgresql/root.crt"));
        let path = self
            .root_cert
            .clone()
            .or_else(|| default.filter(|p| p.exists()));
        match path {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(&path).map_err(|e| {
                    Error::Unsupported(format!(
                        "could not read root certificate {}: {e}",
                        path.display()
                    ))
                })?;
                for cert in certs {
                    let cert = cert.map_err(|e| {
                        Error::Unsupported(format!("bad certificate in {}: {e}", path.display()))
                    })?;
                    store.add(cert).map_err(|e| {
                        Error::Unsupported(format!("bad certificate in {}: {e}", path.display()))
                    })?;
                }
            }
            None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        Ok(store)
    }
}

/// Fills in host, port, user, database, password, timeout and application name the way libpq
/// does when the URL leaves them out.
fn apply_environment_defaults(config: &mut tokio_postgres::Config) {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if config.get_hosts().is_empty() {
        match env("PGHOST") {
            Some(hosts) => {
                for h in hosts.split(',') {
                    config.host(h);
                }
            }
            None if std::path::Path::new("/var/run/postgresql").exists() => {
                config.host_path("/var/run/postgresql");
            }
            None => {
                config.host("localhost");
            }
        }
    }
    if config.get_ports().is_empty() {
        if let Some(port) = env("PGPORT").and_then(|p| p.parse().ok()) {
            config.port(port);
        }
    }
    if config.get_user().is_none() {
        let user = env("PGUSER")
            .or_else(|| env("USER"))
            .unwrap_or_else(|| "postgres".into());
        config.user(&user);
    }
    if config.get_dbname().is_none() {
        let db = env("PGDATABASE").unwrap_or_else(|| config.get_user().unwrap_or("").to_string());
        config.dbname(&db);
    }
    if config.get_password().is_none() {
        if let Some(pw) = env("PGPASSWORD").or_else(|| pgpass_lookup(config)) {
            config.password(pw);
        }
    }
    if config.get_connect_timeout().is_none() {
        let secs = env("PGCONNECT_TIMEOUT")
            .and_then(|s| s.parse().ok())
            .unwrap_or(10);
        config.connect_timeout(Duration::from_secs(secs));
    }
    if config.get_application_name().is_none() {
        config.application_name(env("PGAPPNAME").unwrap_or_else(|| "strata".into()));
    }
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

/// Finds a password in the password file (`PGPASSFILE` or `~/.pgpass`), matching
/// `host:port:database:user` with `*` wildcards, as libpq does.
fn pgpass_lookup(config: &tokio_postgres::Config) -> Option<String> {
    let path = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| home_dir().map(|h| h.join(".pgpass")))?;
    let text = std::fs::read_to_string(path).ok()?;
    let host = match config.get_hosts().first()? {
        Host::Tcp(h) => h.clone(),
        Host::Unix(_) => "localhost".to_string(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let db = config.get_dbname().unwrap_or_default();
    let user = config.get_user().unwrap_or_default();
    let wanted = [host.as_str(), port.as_str(), db, user];
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let fields = split_pgpass_line(line);
            if fields.len() != 5 {
                return None;
            }
            let matches = fields[..4]
                .iter()
                .zip(wanted)
                .all(|(f, w)| f == "*" || f == w);
            matches.then(|| fields[4].clone())
        })
}

/// Splits a `.pgpass` line on unescaped colons, resolving `\:` and `\\`.
fn split_pgpass_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().expect("never empty").push(next);
                }
            }
            ':' => fields.push(String::new()),
            _ => fields.last_mut().expect("never empty").push(c),
        }
    }
    fields
}

/// Turns a connection failure into "what failed — what to do".
fn connect_error(display: &str, config: &tokio_postgres::Config, e: &postgres::Error) -> Error {
    let user = config.get_user().unwrap_or("?");

    if let Some(db_error) = e.as_db_error() {
        let hint = match db_error.code().code() {
            "28P01" | "28000" => {
                format!(" — check the password for role \"{user}\" (URL, PGPASSWORD or ~/.pgpass)")
            }
            "3D000" => " — create it or fix the name".to_string(),
            "53300" => " — the server has no free connection slots; try again later".into(),
            _ => String::new(),
        };
        return Error::Connect {
            target: display.to_string(),
            cause: db_error.message().to_string(),
            hint,
        };
    }
    let cause = error_chain(e);
    let lower = cause.to_lowercase();
    let hint = if lower.contains("refused") {
        " — is the server running and accepting connections on that host and port?"
    } else if lower.contains("lookup")
        || lower.contains("resolve")
        || lower.contains("name or service")
    {
        " — check the host name"
    } else if lower.contains("timed out") || lower.contains("timeout") {
        " — the server did not answer in time; check the host, port and firewall"
    } else if lower.contains("tls") || lower.contains("ssl") || lower.contains("certificate") {
        " — check sslmode and the server's certificate"
    } else if lower.contains("password missing") {
        " — give a password in the URL, PGPASSWORD or ~/.pgpass"
    } else {
        ""
    };
    Error::Connect {
        target: display.to_string(),
        cause,
        hint: hint.to_string(),
    }
}

/// The error and its sources on one line, without repeating identical parts.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// libpq's `require`: encrypted, certificate not checked.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// libpq's `verify-ca`: chain checked, host name not.
#[derive(Debug)]
struct IgnoreHostName(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for IgnoreHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_lines_split_on_unescaped_colons() {
        assert_eq!(
            split_pgpass_line(r"db\:1:5432:*:app:pa\:ss"),
            vec!["db:1", "5432", "*", "app", "pa:ss"]
        );
    }

    #[test]
    fn libpq_sslmodes_are_accepted_and_unknown_ones_rejected() {
        for mode in [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ] {
            assert!(ConnectionSpec::from_url(&format!("postgres://u@h/db?sslmode={mode}")).is_ok());
        }
        let err = ConnectionSpec::from_url("postgres://u:pw@h/db?sslmode=sometimes")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("unknown sslmode"), "{err}");
        assert!(!err.contains("pw@"), "password leaked: {err}");
    }
}
