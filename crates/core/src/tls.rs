//! TLS for broker connections: rustls with the ring provider, configured from
//! the `tls` option, and plain words for what went wrong in a handshake.

use std::error::Error as StdError;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore,
    SignatureScheme,
};

use super::config::{ConfigError, Tls};

/// The rustls client configuration for `tls`; certificate files are read
/// here, so a bad one fails when the client is made, naming the option.
pub fn client_config(tls: &Tls) -> Result<Arc<ClientConfig>, ConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(Verifier {
        trusted: trusted_roots(tls, &provider)?,
        server_name: tls
            .server_name
            .as_ref()
            .map(|name| {
                ServerName::try_from(name.clone()).map_err(|_| {
                    invalid("tls.server_name", "must be a valid host name or IP address")
                })
            })
            .transpose()?,
        verify_peer: tls.verify_peer,
        allow_self_signed: tls.allow_self_signed,
        verify_hostname: tls.verify_hostname,
        provider: provider.clone(),
    });
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("tls", &format!("cannot be set up: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(certificates("tls.cert_file", cert)?, private_key(key)?)
            .map_err(|e| invalid("tls.key_file", &format!("does not fit tls.cert_file: {e}")))?,
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = tls.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Ok(Arc::new(config))
}

/// The CAs from `ca_file`, else the system's. None when nothing is verified.
fn trusted_roots(
    tls: &Tls,
    provider: &Arc<CryptoProvider>,
) -> Result<Option<Arc<WebPkiServerVerifier>>, ConfigError> {
    if !tls.verify_peer {
        return Ok(None);
    }
    let mut roots = RootCertStore::empty();
    match &tls.ca_file {
        Some(file) => {
            for certificate in ca_certificates(file)? {
                roots.add(certificate).map_err(|e| {
                    invalid(
                        "tls.ca_file",
                        &format!("holds an unusable CA certificate: {e}"),
                    )
                })?;
            }
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    if roots.is_empty() {
        return Err(invalid(
            "tls",
            "found no trusted CA certificates: set tls.ca_file",
        ));
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map(Some)
        .map_err(|e| invalid("tls.ca_file", &format!("cannot be used: {e}")))
}

/// The certificates of a PEM file, or of every PEM file of a directory
/// (such as /etc/ssl/certs, or one made by `openssl rehash`).
fn ca_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    if !path.is_dir() {
        return certificates("tls.ca_file", path);
    }
    let entries = std::fs::read_dir(path)
        .map_err(|e| invalid("tls.ca_file", &format!("cannot be read: {e}")))?;
    let mut files: Vec<_> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|file| file.is_file())
        .collect();
    files.sort();
    let mut all = Vec::new();
    for file in files {
        let Ok(mut reader) = File::open(&file).map(BufReader::new) else {
            continue;
        };
        // Other files may sit beside them: only what reads as certificates counts.
        all.extend(rustls_pemfile::certs(&mut reader).filter_map(Result::ok));
    }
    if all.is_empty() {
        return Err(invalid(
            "tls.ca_file",
            "is a directory without PEM certificates",
        ));
    }
    Ok(all)
}

fn certificates(
    option: &'static str,
    file: &Path,
) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certificates = rustls_pemfile::certs(&mut reader(option, file)?)
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| invalid(option, &format!("is not a readable PEM file: {e}")))?;
    if certificates.is_empty() {
        return Err(invalid(option, "holds no PEM certificate"));
    }
    Ok(certificates)
}

fn private_key(file: &Path) -> Result<PrivateKeyDer<'static>, ConfigError> {
    rustls_pemfile::private_key(&mut reader("tls.key_file", file)?)
        .map_err(|e| invalid("tls.key_file", &format!("is not a readable PEM file: {e}")))?
        .ok_or_else(|| invalid("tls.key_file", "holds no PEM private key"))
}

fn reader(option: &'static str, file: &Path) -> Result<BufReader<File>, ConfigError> {
    File::open(file)
        .map(BufReader::new)
        .map_err(|e| invalid(option, &format!("cannot be read: {e}")))
}

fn invalid(path: &str, problem: &str) -> ConfigError {
    ConfigError::Unusable {
        path: path.to_string(),
        problem: problem.to_string(),
    }
}

/// WebPKI verification, with the `tls` switches: another name to check,
/// self-signed certificates accepted on request, or no verification at all.
#[derive(Debug)]
struct Verifier {
    trusted: Option<Arc<WebPkiServerVerifier>>,
    server_name: Option<ServerName<'static>>,
    verify_peer: bool,
    allow_self_signed: bool,
    verify_hostname: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(trusted) = self.trusted.as_ref().filter(|_| self.verify_peer) else {
            return Ok(ServerCertVerified::assertion());
        };
        let name = self.server_name.as_ref().unwrap_or(server_name);
        match trusted.verify_server_cert(end_entity, intermediates, name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(problem))
                if self.allow_self_signed && is_unknown_ca(&problem) =>
            {
                Ok(ServerCertVerified::assertion())
            }
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.verify_hostname => Ok(ServerCertVerified::assertion()),
            verified => verified,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            certificate,
            signature,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            certificate,
            signature,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// No trusted CA vouches for the certificate: signed by an unknown CA, or
/// self-signed (a self-signed certificate is usually a CA certificate, which
/// WebPKI will not accept as a server's).
fn is_unknown_ca(problem: &CertificateError) -> bool {
    match problem {
        CertificateError::UnknownIssuer => true,
        CertificateError::Other(other) => {
            matches!(
                other.0.downcast_ref::<webpki::Error>(),
                Some(webpki::Error::CaUsedAsEndEntity)
            )
        }
        _ => false,
    }
}

/// The TLS problem behind a connection error, in words a user can act on.
pub fn describe_failure(error: &(dyn StdError + 'static)) -> Option<String> {
    let tls = find_rustls_error(error)?;
    let what = match tls {
        rustls::Error::InvalidCertificate(problem) => match problem {
            problem if is_unknown_ca(problem) => {
                "the broker's certificate is not signed by a trusted CA (unknown CA); set tls.ca_file, or tls.allow_self_signed for a self-signed one".to_string()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "the broker's certificate is not valid for this host (hostname mismatch); connect by a name it lists or set tls.server_name".to_string()
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the broker's certificate has expired".to_string()
            }
            other => format!("the broker's certificate was rejected: {other:?}"),
        },
        rustls::Error::AlertReceived(
            AlertDescription::BadCertificate
            | AlertDescription::CertificateRequired
            | AlertDescription::UnknownCA
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::HandshakeFailure,
        ) => {
            "the broker refused the TLS handshake (client certificate rejected or missing); check tls.cert_file and tls.key_file".to_string()
        }
        other => other.to_string(),
    };
    Some(format!("TLS: {what}"))
}

fn find_rustls_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // io::Error hides its payload from source() in some wrappers.
        if let Some(tls) = error
            .downcast_ref::<io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(tls);
        }
        current = error.source();
    }
    None
}
