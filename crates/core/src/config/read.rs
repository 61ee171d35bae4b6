//! Readers shared by the options: groups of options, flags, numbers, seconds,
//! files. Each names the option by the path it is given.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::suggest::nearest;
use super::value::describe;
use super::{ConfigError, Value};

/// Caps every timeout and delay: a day is longer than anyone means, and it keeps
/// `Instant + duration` arithmetic in the runtime far from overflowing.
pub(super) const MAX_WAIT_SECS: u32 = 86_400;

/// Reads one option into its field of `T`; `path` names the option in messages.
pub type Reader<T> = fn(&mut T, &str, &Value) -> Result<(), ConfigError>;

/// Reads each entry with the reader that `options` lists for its key, in the
/// order given, so the first bad option is the one reported. `parent` is the
/// group's dot path ("" at the top level); an unknown key is named with it and
/// gets the nearest of `suggestions`.
pub fn read_group<T>(
    group: &mut T,
    parent: &str,
    options: &[(&'static str, Reader<T>)],
    entries: &[(String, Value)],
    suggestions: impl Iterator<Item = (&'static str, String)>,
) -> Result<(), ConfigError> {
    for (key, value) in entries {
        let path = dot_path(parent, key);
        let Some((_, read)) = options.iter().find(|(name, _)| key == name) else {
            return Err(ConfigError::UnknownOption {
                suggestion: nearest(key, suggestions),
                path,
            });
        };
        read(group, &path, value)?;
    }
    Ok(())
}

/// The options of a group as suggestions: each name with its dot path.
pub fn paths<'a, T>(
    parent: &'a str,
    options: &'a [(&'static str, Reader<T>)],
) -> impl Iterator<Item = (&'static str, String)> + 'a {
    options
        .iter()
        .map(move |(name, _)| (*name, dot_path(parent, name)))
}

pub fn dot_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// An empty PHP array arrives as an empty list, and means "no options".
pub fn entries(options: &Value) -> Option<&[(String, Value)]> {
    match options {
        Value::Map(entries) => Some(entries),
        Value::List(items) if items.is_empty() => Some(&[]),
        _ => None,
    }
}

/// A PHP string as MQTT binary data: UTF-8 text or not.
pub(super) fn binary(value: &Value) -> Option<&[u8]> {
    match value {
        Value::Str(text) => Some(text.as_bytes()),
        Value::Bytes(bytes) => Some(bytes),
        _ => None,
    }
}

/// Accepts what PHP and Laravel's `env()` produce for a flag.
pub fn boolean(path: &str, value: &Value) -> Result<bool, ConfigError> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::Int(0) => Ok(false),
        Value::Int(1) => Ok(true),
        Value::Str(text) => match text.trim() {
            "true" | "1" => Ok(true),
            "false" | "0" | "" => Ok(false),
            _ => Err(invalid(path, "must be a boolean", value)),
        },
        _ => Err(invalid(path, "must be a boolean", value)),
    }
}

/// A whole number within `range`, given as an int, an integral float or a numeric string.
pub(super) fn integer<T>(
    path: &str,
    value: &Value,
    range: RangeInclusive<T>,
    rule: &str,
) -> Result<T, ConfigError>
where
    T: TryFrom<i64> + PartialOrd,
{
    let whole = match number(value) {
        Some(Number::Int(n)) => Some(n),
        // `as` saturates, so floats beyond i64 (2^63 is exact in f64) must not reach it.
        Some(Number::Float(f)) if f.fract() == 0.0 && f.abs() < 2f64.powi(63) => Some(f as i64),
        _ => None,
    };
    whole
        .and_then(|n| T::try_from(n).ok())
        .filter(|n| range.contains(n))
        .ok_or_else(|| invalid(path, rule, value))
}

pub(super) fn non_negative_seconds(path: &str, value: &Value) -> Result<Duration, ConfigError> {
    seconds(value).ok_or_else(|| {
        invalid(
            path,
            format!("must be a number of seconds between 0 and {MAX_WAIT_SECS}"),
            value,
        )
    })
}

/// Checked on the `Duration`, so a value that rounds down to zero nanoseconds counts as zero.
pub(super) fn positive_seconds(path: &str, value: &Value) -> Result<Duration, ConfigError> {
    seconds(value)
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| {
            invalid(
                path,
                format!("must be a number of seconds greater than 0 and at most {MAX_WAIT_SECS}"),
                value,
            )
        })
}

/// A number of seconds between 0 and `MAX_WAIT_SECS`, fractions allowed.
fn seconds(value: &Value) -> Option<Duration> {
    let seconds = match number(value)? {
        Number::Int(n) => n as f64,
        Number::Float(f) => f,
    };
    if (0.0..=f64::from(MAX_WAIT_SECS)).contains(&seconds) {
        Duration::try_from_secs_f64(seconds).ok()
    } else {
        None
    }
}

enum Number {
    Int(i64),
    Float(f64),
}

/// Numbers come as ints, floats, or numeric strings from the environment.
fn number(value: &Value) -> Option<Number> {
    match value {
        Value::Int(n) => Some(Number::Int(*n)),
        Value::Float(f) if f.is_finite() => Some(Number::Float(*f)),
        Value::Str(text) => {
            let text = text.trim();
            match text.parse::<i64>() {
                Ok(n) => Some(Number::Int(n)),
                Err(_) => text
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(Number::Float),
            }
        }
        _ => None,
    }
}

/// A readable directory (of PEM files), or else a readable PEM file.
pub(super) fn readable_file_or_directory(
    path: &str,
    value: &Value,
) -> Result<PathBuf, ConfigError> {
    match value {
        Value::Str(dir) if Path::new(dir).is_dir() => match std::fs::read_dir(dir) {
            Ok(_) => Ok(PathBuf::from(dir)),
            Err(e) => Err(invalid(
                path,
                format!("must be a readable directory ({e})"),
                value,
            )),
        },
        _ => readable_file(path, value),
    }
}

pub(super) fn readable_file(path: &str, value: &Value) -> Result<PathBuf, ConfigError> {
    let Value::Str(file) = value else {
        return Err(invalid(path, "must be the path of a PEM file", value));
    };
    match std::fs::File::open(file) {
        Ok(_) if Path::new(file).is_file() => Ok(PathBuf::from(file)),
        Ok(_) => Err(invalid(
            path,
            "must be the path of a PEM file, not a directory",
            value,
        )),
        Err(e) => Err(invalid(
            path,
            format!("must be a readable PEM file ({e})"),
            value,
        )),
    }
}

/// The rule to quote for a value that is not the text an option wants: a
/// binary string is told that MQTT strings are UTF-8.
pub(super) fn text_rule<'a>(value: &Value, rule: &'a str) -> &'a str {
    match value {
        Value::Bytes(_) => "must be valid UTF-8 (MQTT strings are UTF-8 text)",
        _ => rule,
    }
}

pub fn invalid(path: &str, rule: impl Into<String>, value: &Value) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_owned(),
        rule: rule.into(),
        got: describe(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::str;

    #[test]
    fn booleans_accept_env_style_strings() {
        let cases = [
            (Value::Bool(true), true),
            (Value::Bool(false), false),
            (Value::Int(1), true),
            (Value::Int(0), false),
            (str("true"), true),
            (str("false"), false),
            (str("1"), true),
            (str("0"), false),
            (str(""), false),
            (str(" true "), true),
        ];
        for (value, expected) in cases {
            assert_eq!(boolean("retain", &value), Ok(expected), "retain {value:?}");
        }
    }

    #[test]
    fn booleans_reject_anything_else() {
        let error = |value: Value| boolean("retain", &value).unwrap_err().to_string();
        assert_eq!(
            error(str("yes")),
            "option \"retain\" must be a boolean, got \"yes\""
        );
        assert_eq!(
            error(Value::Int(2)),
            "option \"retain\" must be a boolean, got 2"
        );
        assert_eq!(
            error(Value::Float(1.0)),
            "option \"retain\" must be a boolean, got 1.0"
        );
        assert_eq!(
            error(Value::Null),
            "option \"retain\" must be a boolean, got null"
        );
    }

    #[test]
    fn integral_floats_are_accepted_for_integers() {
        let port = integer("port", &Value::Float(1883.0), 1..=u16::MAX, "rule");
        assert_eq!(port, Ok(1883));
        assert_eq!(integer("qos", &str("1.0"), 0..=2u8, "rule"), Ok(1));
    }

    #[test]
    fn huge_floats_are_not_saturated_into_range() {
        for huge in [Value::Float(1e300), str("1e19")] {
            assert!(integer("max_queue", &huge, 1..=usize::MAX, "rule").is_err());
        }
    }

    #[test]
    fn seconds_reject_negative_infinite_and_absurd_values() {
        for bad in [
            Value::Int(-1),
            Value::Float(f64::INFINITY),
            Value::Float(f64::NAN),
            str("inf"),
            str("NaN"),
            Value::Float(1e300),
            Value::Int(86_401),
            Value::Int(i64::MAX),
        ] {
            assert_eq!(seconds(&bad), None, "{bad:?} was accepted");
        }
        assert_eq!(
            seconds(&Value::Int(86_400)),
            Some(Duration::from_secs(86_400))
        );
    }
}
