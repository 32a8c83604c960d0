//! The node's TLS certificate and key, as ProxySQL keeps them in its datadir
//! (`src/proxy_tls.cpp`, `ProxySQL_create_or_load_TLS`).
//!
//! Three files: `proxysql-ca.pem` (the CA certificate), `proxysql-cert.pem` (the server
//! certificate, signed by the CA) and `proxysql-key.pem` (the one private key of both). At
//! start, when none of them exists, they are generated; when all three exist they are loaded
//! (a DBA can drop their own in); when only some exist the node refuses to start, as ProxySQL
//! does. `PROXYSQL RELOAD TLS` loads them again: connections already in TLS keep the old
//! certificate, new ones get the new one; a failed reload keeps the old one.
//!
//! Deliberate differences from ProxySQL 2.7 (see docs/security.md):
//! * the generated key is ECDSA P-256 (ProxySQL: RSA 2048), written with mode 0600
//!   (ProxySQL: the process umask, usually 0644);
//! * the server certificate names `localhost`, `127.0.0.1`, `::1` and the host name, so
//!   `--ssl-verify-server-cert --ssl-ca=proxysql-ca.pem` works on them (ProxySQL's has no
//!   subject alternative name and fails that check).
//!
//! Keys in the files may be PKCS#8, PKCS#1 (RSA, as ProxySQL writes them) or SEC1 (EC).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use rustls::server::NoServerSessionStorage;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// File name of the CA certificate in the datadir.
pub const CA_FILE: &str = "proxysql-ca.pem";
/// File name of the server certificate in the datadir.
pub const CERT_FILE: &str = "proxysql-cert.pem";
/// File name of the private key in the datadir.
pub const KEY_FILE: &str = "proxysql-key.pem";

/// Common name of the generated CA certificate (ProxySQL's).
const CA_NAME: &str = "ProxySQL_Auto_Generated_CA_Certificate";
/// Common name of the generated server certificate (ProxySQL's).
const SERVER_NAME: &str = "ProxySQL_Auto_Generated_Server_Certificate";
/// Validity of generated certificates, ProxySQL's 3650 days.
const VALIDITY_DAYS: i64 = 3650;

/// Why the TLS files could not be generated or loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Only some of the three files exist (ProxySQL refuses to start, or to reload).
    #[error("{present} TLS files are present. Expected: 3 ({detail})")]
    Partial {
        /// How many of the three files exist.
        present: usize,
        /// `name: YES|NO` for each file, as ProxySQL logs it.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// A file holds no usable PEM certificate or key.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// rustls refused the certificate/key pair (e.g. the key does not match the certificate).
    #[error("{0}")]
    Rustls(String),
    /// The self-signed certificate could not be generated.
    #[error("generating the self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// What [`TlsState::load_or_generate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsOrigin {
    /// No file was there: a new CA, certificate and key were written.
    Generated,
    /// The three files were there and were loaded.
    Loaded,
}

/// The TLS server configuration in force, shared by the admin and traffic listeners.
#[derive(Debug, Default)]
pub struct TlsState {
    config: RwLock<Option<Arc<ServerConfig>>>,
}

impl TlsState {
    /// The configuration new connections use; `None` until the files are loaded.
    pub fn current(&self) -> Option<Arc<ServerConfig>> {
        self.config.read().clone()
    }

    /// At start: generates the three files in `datadir` when none exists, loads them when all
    /// three do, and fails when only some do.
    pub fn load_or_generate(&self, datadir: &Path) -> Result<TlsOrigin, TlsError> {
        let files = TlsFiles::in_dir(datadir);
        let origin = match files.present() {
            0 => {
                files.generate()?;
                TlsOrigin::Generated
            }
            3 => TlsOrigin::Loaded,
            _ => return Err(files.partial()),
        };
        *self.config.write() = Some(files.load()?);
        Ok(origin)
    }

    /// `PROXYSQL RELOAD TLS`: loads the three files again; on any error the configuration in
    /// force is kept.
    pub fn reload(&self, datadir: &Path) -> Result<(), TlsError> {
        let files = TlsFiles::in_dir(datadir);
        if files.present() != 3 {
            return Err(files.partial());
        }
        let config = files.load()?;
        *self.config.write() = Some(config);
        Ok(())
    }
}

/// The three paths in a datadir.
struct TlsFiles {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl TlsFiles {
    fn in_dir(datadir: &Path) -> Self {
        Self {
            ca: datadir.join(CA_FILE),
            cert: datadir.join(CERT_FILE),
            key: datadir.join(KEY_FILE),
        }
    }

    fn all(&self) -> [&PathBuf; 3] {
        [&self.key, &self.cert, &self.ca]
    }

    fn present(&self) -> usize {
        self.all().iter().filter(|p| p.exists()).count()
    }

    fn partial(&self) -> TlsError {
        let detail = self
            .all()
            .iter()
            .map(|p| {
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                format!("{name}: {}", if p.exists() { "YES" } else { "NO" })
            })
            .collect::<Vec<_>>()
            .join(", ");
        TlsError::Partial {
            present: self.present(),
            detail,
        }
    }

    /// Writes a new CA certificate, a server certificate signed by it and their one key.
    fn generate(&self) -> Result<(), TlsError> {
        let key = rcgen::KeyPair::generate()?;
        let now = chrono::Utc::now().date_naive();
        let until = now + chrono::Duration::days(VALIDITY_DAYS);
        let ymd = |d: chrono::NaiveDate| {
            use chrono::Datelike;
            rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
        };

        let mut ca = rcgen::CertificateParams::default();
        ca.distinguished_name = dn(CA_NAME);
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        ca.not_before = ymd(now);
        ca.not_after = ymd(until);
        let ca_cert = ca.self_signed(&key)?;
        let issuer = rcgen::Issuer::new(ca, &key);

        let mut server = rcgen::CertificateParams::new(server_names())?;
        server.distinguished_name = dn(SERVER_NAME);
        server.is_ca = rcgen::IsCa::ExplicitNoCa;
        server.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
        ];
        server.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        server.not_before = ymd(now);
        server.not_after = ymd(until);
        let server_cert = server.signed_by(&key, &issuer)?;

        // The key first, private from its creation: never readable by others, even briefly.
        write_file(&self.key, key.serialize_pem().as_bytes(), 0o600)?;
        write_file(&self.ca, ca_cert.pem().as_bytes(), 0o644)?;
        write_file(&self.cert, server_cert.pem().as_bytes(), 0o644)?;
        Ok(())
    }

    /// Builds the server configuration: the server certificate followed by the CA (as
    /// ProxySQL's extra chain certificate), and the key.
    fn load(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let mut chain = read_certs(&self.cert)?;
        for ca in read_certs(&self.ca)? {
            if !chain.contains(&ca) {
                chain.push(ca);
            }
        }
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|e| TlsError::Pem {
            path: self.key.clone(),
            message: format!("no usable private key: {e}"),
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Rustls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| {
                TlsError::Rustls(match e {
                    rustls::Error::InconsistentKeys(_) => {
                        "Private key does not match the public certificate".to_owned()
                    }
                    other => other.to_string(),
                })
            })?;
        // ProxySQL turns session tickets and the session cache off: clients reusing a
        // session on reconnect must get a full handshake, never a failed resumption.
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        Ok(Arc::new(config))
    }
}

fn dn(common_name: &str) -> rcgen::DistinguishedName {
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, common_name);
    dn
}

/// Names the generated server certificate is valid for: loopback and this host's name.
fn server_names() -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let host = host.trim();
        let valid = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if valid && host != "localhost" {
            names.push(host.to_owned());
        }
    }
    names
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Pem {
            path: path.to_owned(),
            message: format!("unreadable certificate: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_owned(),
            message: "no certificate in the file".to_owned(),
        });
    }
    Ok(certs)
}

fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| TlsError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io)?;
    file.write_all(contents).map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_then_reuses_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let state = TlsState::default();
        assert!(state.current().is_none());
        assert_eq!(
            state.load_or_generate(dir.path()).unwrap(),
            TlsOrigin::Generated
        );
        assert!(state.current().is_some());
        let key = dir.path().join(KEY_FILE);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the private key is readable by its owner only");
        let before = std::fs::read(dir.path().join(CERT_FILE)).unwrap();
        let again = TlsState::default();
        assert_eq!(
            again.load_or_generate(dir.path()).unwrap(),
            TlsOrigin::Loaded
        );
        assert_eq!(std::fs::read(dir.path().join(CERT_FILE)).unwrap(), before);
        again.reload(dir.path()).unwrap();
    }

    #[test]
    fn partial_files_are_refused_at_start_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let state = TlsState::default();
        state.load_or_generate(dir.path()).unwrap();
        std::fs::remove_file(dir.path().join(CA_FILE)).unwrap();
        let err = state.reload(dir.path()).unwrap_err().to_string();
        assert!(
            err.starts_with("2 TLS files are present. Expected: 3"),
            "{err}"
        );
        assert!(err.contains("proxysql-ca.pem: NO"), "{err}");
        // The configuration in force survives a failed reload.
        assert!(state.current().is_some());
        assert!(matches!(
            TlsState::default().load_or_generate(dir.path()),
            Err(TlsError::Partial { present: 2, .. })
        ));
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        TlsState::default().load_or_generate(a.path()).unwrap();
        TlsState::default().load_or_generate(b.path()).unwrap();
        std::fs::remove_file(a.path().join(KEY_FILE)).unwrap();
        std::fs::copy(b.path().join(KEY_FILE), a.path().join(KEY_FILE)).unwrap();
        let err = TlsState::default()
            .reload(a.path())
            .unwrap_err()
            .to_string();
        assert_eq!(err, "Private key does not match the public certificate");
    }

    #[test]
    fn garbage_files_give_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        for f in [CA_FILE, CERT_FILE, KEY_FILE] {
            std::fs::write(dir.path().join(f), "not pem").unwrap();
        }
        let err = TlsState::default()
            .load_or_generate(dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("no certificate in the file"), "{err}");
    }
}
