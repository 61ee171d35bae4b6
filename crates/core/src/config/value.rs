//! The PHP value an options array arrives as, and how messages show one.

/// A PHP value as the binding layer hands it over: an array with any string
/// key becomes `Map`, a list becomes `List`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A PHP string that is not UTF-8 text.
    Bytes(Vec<u8>),
    Map(Vec<(String, Value)>),
    List(Vec<Value>),
}

/// The entries of an array argument keyed by name (`keyed_by`: "close
/// option"); PHP's `[]` is an empty one.
pub(crate) fn keyed_entries<'v>(
    value: &'v Value,
    keyed_by: &str,
) -> Result<&'v [(String, Value)], String> {
    match value {
        Value::Map(entries) => Ok(entries),
        Value::List(items) if items.is_empty() => Ok(&[]),
        other => Err(format!(
            "must be an array keyed by {keyed_by}, got {}",
            describe(other)
        )),
    }
}

/// The given value as it would read in PHP source; long strings by length only.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Float(f) => crate::number::php_float(*f),
        Value::Str(text) if text.len() <= 64 => format!("{text:?}"),
        Value::Str(text) => format!("a string of {} bytes", text.len()),
        Value::Bytes(bytes) => format!("a binary string of {} bytes", bytes.len()),
        Value::Map(_) | Value::List(_) => type_name(value).to_owned(),
    }
}

/// A credential as messages show it: a string by its length, anything else by
/// its type, never by its content.
pub(super) fn describe_secret(value: &Value) -> String {
    match value {
        Value::Str(text) => format!("a string of {} bytes", text.len()),
        Value::Bytes(bytes) => format!("a binary string of {} bytes", bytes.len()),
        _ => type_name(value).to_owned(),
    }
}

pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float",
        Value::Str(_) | Value::Bytes(_) => "string",
        Value::Map(_) => "array",
        Value::List(_) => "list",
    }
}
