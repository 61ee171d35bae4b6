//! The conversions every method shares: PHP's loose argument values into
//! the core's typed ones, each refusal naming the parameter.

use std::time::Duration;

use ext_php_rs::exception::PhpException;
use ext_php_rs::types::ZendHashTable;

use mqtt_broadcast_core::config::{ConfigError, Value};
use mqtt_broadcast_core::error::Error;
use mqtt_broadcast_core::number::php_float;
use mqtt_broadcast_core::QoS;

use super::exceptions::Signature;
use super::options;

/// A timeout in seconds. Any finite, non-negative number works; one too long
/// for the clock waits as long as the clock can count.
pub fn seconds(
    signature: &Signature,
    value: Option<f64>,
    default: Duration,
) -> Result<Duration, PhpException> {
    match value {
        None => Ok(default),
        Some(seconds) if seconds.is_finite() && seconds >= 0.0 => {
            Ok(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX))
        }
        Some(seconds) => Err(signature.invalid(
            "timeout",
            format!(
                "must be a finite number of seconds >= 0, got {}",
                php_float(seconds)
            ),
        )),
    }
}

pub fn qos(signature: &Signature, level: i64) -> Result<QoS, PhpException> {
    match level {
        0 => Ok(QoS::AtMostOnce),
        1 => Ok(QoS::AtLeastOnce),
        2 => Ok(QoS::ExactlyOnce),
        other => Err(signature.invalid("qos", format!("must be 0, 1 or 2, got {other}"))),
    }
}

/// Topics and filters are UTF-8 strings in MQTT.
pub fn text<'a>(
    signature: &Signature,
    parameter: &str,
    bytes: &'a [u8],
) -> Result<&'a str, PhpException> {
    std::str::from_utf8(bytes).map_err(|_| {
        signature.invalid(
            parameter,
            "must be valid UTF-8: MQTT topics and filters are UTF-8 strings",
        )
    })
}

/// An array of options, as the core's value tree; a malformed one is a
/// `Mqtt\ConfigException` naming the option it was found in.
pub fn options(
    signature: &Signature,
    options: Option<&ZendHashTable>,
) -> Result<Value, PhpException> {
    let Some(options) = options else {
        return Ok(Value::Map(Vec::new()));
    };
    options::from_array(options).map_err(|problem| {
        let error = if problem.keys.is_empty() {
            ConfigError::NotOptions {
                got: format!("an array that {}", problem.problem),
            }
        } else {
            ConfigError::Unusable {
                path: problem.path(),
                problem: problem.problem,
            }
        };
        signature.error(Error::from(error))
    })
}

/// An array argument such as a publish's properties, as the core's value tree.
pub fn array(
    signature: &Signature,
    parameter: &str,
    array: &ZendHashTable,
) -> Result<Value, PhpException> {
    options::from_array(array).map_err(|problem| {
        let place = match problem.keys.first() {
            None => String::new(),
            Some(_) => format!("entry \"{}\" ", problem.path()),
        };
        signature.invalid(parameter, format!("{place}{}", problem.problem))
    })
}
