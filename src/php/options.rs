//! PHP option arrays as the core's plain value tree.

use ext_php_rs::types::{ArrayKey, ZendHashTable, Zval};

use crate::core::config::Value;

pub fn from_array(array: &ZendHashTable) -> Value {
    let entries: Vec<(ArrayKey, &Zval)> = array.iter().collect();
    if entries
        .iter()
        .all(|(key, _)| matches!(key, ArrayKey::Long(_)))
        && !entries.is_empty()
    {
        return Value::List(entries.into_iter().map(|(_, v)| from_zval(v)).collect());
    }
    Value::Map(
        entries
            .into_iter()
            .map(|(key, v)| (key.to_string(), from_zval(v)))
            .collect(),
    )
}

fn from_zval(zval: &Zval) -> Value {
    if let Some(b) = zval.bool() {
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
        from_array(array)
    } else {
        // null, and anything no option accepts (objects, resources): the
        // config names the option and says it was not what it expected.
        Value::Null
    }
}
