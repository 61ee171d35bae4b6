//! The TLS listener's files, read before it listens: rmqtt reports a bad one
//! without saying which, and only once the port is bound.

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{ConfigError, TlsListener};
use crate::server::BrokerError;

pub fn check(tls: &TlsListener) -> Result<(), BrokerError> {
    certificates("tls.cert_file", &tls.cert_file)?;
    PrivateKeyDer::from_pem_file(&tls.key_file)
        .map_err(|e| unusable("tls.key_file", format!("has no private key in PEM ({e})")))?;
    if let Some(ca_file) = &tls.ca_file {
        certificates("tls.ca_file", ca_file)?;
    }
    Ok(())
}

fn certificates(option: &str, file: &Path) -> Result<(), BrokerError> {
    let certificates = CertificateDer::pem_file_iter(file)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| unusable(option, format!("is not a PEM certificate file ({e})")))?;
    if certificates.is_empty() {
        return Err(unusable(option, "has no certificate in PEM".to_owned()));
    }
    Ok(())
}

fn unusable(option: &str, problem: String) -> BrokerError {
    BrokerError::Config(ConfigError::Unusable {
        path: option.to_owned(),
        problem,
    })
}
