//! PHP arrays as the core's plain value tree.
//!
//! Arrays come from the application and can be anything PHP allows: keys
//! that are not UTF-8, arrays that contain themselves through a reference,
//! nesting deeper than any option. Each becomes a clear problem, never a
//! panic or a stack overflow.

use ext_php_rs::types::{ZendHashTable, Zval};

use mqtt_broadcast_core::config::Value;

/// Far deeper than any option or property nests.
const MAX_DEPTH: usize = 32;

/// What is wrong with an array, and where: the keys leading to it.
#[derive(Debug)]
pub struct Problem {
    pub keys: Vec<String>,
    pub problem: String,
}

impl Problem {
    /// The keys as a dot path, as options are named: `tls.ca_file`.
    pub fn path(&self) -> String {
        self.keys.join(".")
    }
}

/// The array as a `Value`, or what is wrong with it.
pub fn from_array(array: &ZendHashTable) -> Result<Value, Problem> {
    let mut path = Path::default();
    convert(array, &mut path).map_err(|problem| Problem {
        keys: path.keys,
        problem,
    })
}

/// Where the conversion is: the arrays it is inside of, outermost first (to
/// find one that contains itself), and the keys that led there. On a
/// problem, it stays where the problem was.
#[derive(Default)]
struct Path {
    arrays: Vec<*const ZendHashTable>,
    keys: Vec<String>,
}

fn convert(array: &ZendHashTable, path: &mut Path) -> Result<Value, String> {
    let pointer: *const ZendHashTable = array;
    if path.arrays.contains(&pointer) {
        return Err("contains itself (a recursive array)".to_owned());
    }
    if path.arrays.len() >= MAX_DEPTH {
        return Err(format!("nests arrays more than {MAX_DEPTH} levels deep"));
    }
    path.arrays.push(pointer);
    let converted = entries(array, path)?;
    path.arrays.pop();
    Ok(converted)
}

fn entries(array: &ZendHashTable, path: &mut Path) -> Result<Value, String> {
    let mut keyed = Vec::with_capacity(array.len());
    let mut all_integer_keys = true;
    let mut iter = array.iter();
    while let Some((key, value)) = iter.next_zval() {
        let key = match key.long() {
            Some(index) => index.to_string(),
            None => {
                all_integer_keys = false;
                let bytes = key.zend_str().map(|s| s.as_bytes()).unwrap_or_default();
                std::str::from_utf8(bytes)
                    .map_err(|_| {
                        format!(
                            "has a key that is not valid UTF-8 ({} bytes): keys must be UTF-8 text",
                            bytes.len()
                        )
                    })?
                    .to_owned()
            }
        };
        path.keys.push(key);
        let value = from_zval(value, path)?;
        let key = path.keys.pop().unwrap_or_default();
        keyed.push((key, value));
    }
    if all_integer_keys && !keyed.is_empty() {
        return Ok(Value::List(keyed.into_iter().map(|(_, v)| v).collect()));
    }
    Ok(Value::Map(keyed))
}

fn from_zval(zval: &Zval, path: &mut Path) -> Result<Value, String> {
    Ok(if let Some(b) = zval.bool() {
        Value::Bool(b)
    } else if let Some(i) = zval.long() {
        Value::Int(i)
    } else if let Some(f) = zval.double() {
        Value::Float(f)
    } else if let Some(s) = zval.zend_str() {
        match s.as_str() {
            Ok(text) => Value::Str(text.to_owned()),
            Err(_) => Value::Bytes(s.as_bytes().to_vec()),
        }
    } else if let Some(array) = zval.array() {
        convert(array, path)?
    } else {
        // null, and anything no option accepts (objects, resources): the
        // config names the option and says it was not what it expected.
        Value::Null
    })
}

/// Whether `from_array` would make `value` of the array: found without
/// making anything, entry by entry, so that the options of the last handle
/// cost a comparison only (`registry::reuse`).
pub fn matches(array: &ZendHashTable, value: &Value) -> bool {
    let mut iter = array.iter();
    let mut all_integer_keys = true;
    let mut entries = 0;
    while let Some((key, zval)) = iter.next_zval() {
        let (key_matches, value) = match value {
            Value::List(items) => (key.long().is_some(), items.get(entries)),
            Value::Map(keyed) => match keyed.get(entries) {
                Some((name, value)) => (key_is(&key, name), Some(value)),
                None => (false, None),
            },
            _ => return false,
        };
        all_integer_keys &= key.long().is_some();
        if !key_matches || !value.is_some_and(|value| zval_matches(zval, value)) {
            return false;
        }
        entries += 1;
    }
    match value {
        Value::List(items) => items.len() == entries,
        // A non-empty array with integer keys only is a list.
        Value::Map(keyed) => keyed.len() == entries && (entries == 0 || !all_integer_keys),
        _ => false,
    }
}

/// Whether an array key is `name`: an integer key as `entries` writes it.
fn key_is(key: &Zval, name: &str) -> bool {
    match key.long() {
        Some(index) => {
            let mut digits = [0u8; 20];
            let mut rest = &mut digits[..];
            std::io::Write::write_fmt(&mut rest, format_args!("{index}")).is_ok() && {
                let written = 20 - rest.len();
                &digits[..written] == name.as_bytes()
            }
        }
        None => key
            .zend_str()
            .is_some_and(|s| s.as_bytes() == name.as_bytes()),
    }
}

fn zval_matches(zval: &Zval, value: &Value) -> bool {
    if let Some(b) = zval.bool() {
        *value == Value::Bool(b)
    } else if let Some(i) = zval.long() {
        *value == Value::Int(i)
    } else if let Some(f) = zval.double() {
        *value == Value::Float(f)
    } else if let Some(s) = zval.zend_str() {
        match value {
            Value::Str(text) => s.as_bytes() == text.as_bytes(),
            // Only a string that is not UTF-8 became bytes.
            Value::Bytes(bytes) => s.as_bytes() == bytes && std::str::from_utf8(bytes).is_err(),
            _ => false,
        }
    } else if let Some(array) = zval.array() {
        matches(array, value)
    } else {
        *value == Value::Null
    }
}

/// The type of a PHP value as PHP names it: `int`, `string`, `stdClass`.
pub fn type_name(zval: &Zval) -> String {
    let zval = zval.dereference();
    if zval.is_null() {
        "null".to_owned()
    } else if zval.is_bool() {
        "bool".to_owned()
    } else if zval.is_long() {
        "int".to_owned()
    } else if zval.is_double() {
        "float".to_owned()
    } else if zval.is_string() {
        "string".to_owned()
    } else if zval.is_array() {
        "array".to_owned()
    } else if let Some(object) = zval.object() {
        object
            .get_class_name()
            .unwrap_or_else(|_| "object".to_owned())
    } else if zval.is_resource() {
        "resource".to_owned()
    } else {
        "a value of unknown type".to_owned()
    }
}
