//! Checks shared by the fuzz targets.

use serde::Serialize;
use serde_json::Value;

/// Panics when any string in the JSON form of `value` holds a control character: text taken
/// from packets must reach reports escaped.
pub fn assert_json_strings_escaped(value: &impl Serialize) {
    fn walk(value: &Value) {
        match value {
            Value::String(text) => assert!(!text.chars().any(char::is_control), "{text:?}"),
            Value::Array(items) => items.iter().for_each(walk),
            Value::Object(fields) => fields.values().for_each(walk),
            _ => {}
        }
    }
    walk(&serde_json::to_value(value).expect("serialisable"));
}
