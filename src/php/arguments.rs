//! The conversions every method shares: PHP's loose argument values into
//! the core's typed ones, each refusal naming the parameter.

use std::time::Duration;

use ext_php_rs::exception::PhpException;
use ext_php_rs::types::ZendHashTable;

use mqtt_broadcast_core::config::Value;
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

/// An array argument as the core's value tree.
pub fn array(
    signature: &Signature,
    parameter: &str,
    array: Option<&ZendHashTable>,
) -> Result<Value, PhpException> {
    match array {
        None => Ok(Value::Map(Vec::new())),
        Some(array) => {
            options::from_array(array).map_err(|problem| signature.invalid(parameter, problem))
        }
    }
}
