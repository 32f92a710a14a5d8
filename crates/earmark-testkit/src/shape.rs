//! Checking earmark's JSON against the web client's shapes (`tests/fixtures/web-client`).

use std::path::PathBuf;

use serde_json::Value;

/// Where the shape files are.
fn shapes_dir() -> PathBuf {
    crate::fake_audible::repo_root().join("tests/fixtures/web-client")
}

fn load(file: &str) -> Value {
    let path = shapes_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the shape {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn conforms(value: &Value, shape: &Value, at: &str) -> Result<(), String> {
    match shape {
        Value::String(file) if file.ends_with(".json") => conforms(value, &load(file), at),
        Value::String(kinds) => {
            if kinds.split('|').any(|k| k == kind_of(value)) {
                Ok(())
            } else {
                Err(format!("{at}: expected {kinds}, got {value}"))
            }
        }
        Value::Object(fields) => {
            let Value::Object(object) = value else {
                return Err(format!("{at}: expected an object, got {value}"));
            };
            for (key, field) in fields {
                let here = format!("{at}.{key}");
                match object.get(key) {
                    Some(found) => conforms(found, field, &here)?,
                    None => return Err(format!("{here}: missing")),
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            let (Value::Array(values), Some(item)) = (value, items.first()) else {
                return Err(format!("{at}: expected an array, got {value}"));
            };
            for (i, found) in values.iter().enumerate() {
                conforms(found, item, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        other => Err(format!("{at}: the shape itself is not understood: {other}")),
    }
}

/// Panics, saying where, unless `value` has the shape of the web client's `file` (e.g.
/// `job.json`): every key it lists, each of an accepted type. Keys earmark adds are fine.
pub fn assert_shape(value: &Value, file: &str) {
    if let Err(why) = conforms(value, &load(file), file) {
        panic!("{why}\nin {value}");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn missing_keys_and_wrong_types_are_caught_and_extra_keys_are_not() {
        let shape = json!({"a": "string|null", "n": {"x": "number"}, "list": [{"y": "boolean"}]});
        let ok = json!({"a": null, "n": {"x": 1}, "list": [{"y": true}], "extra": 1});
        assert!(conforms(&ok, &shape, "$").is_ok());
        let missing = json!({"n": {"x": 1}, "list": []});
        assert!(
            conforms(&missing, &shape, "$")
                .unwrap_err()
                .contains("$.a: missing")
        );
        let wrong = json!({"a": "s", "n": {"x": "1"}, "list": []});
        assert!(conforms(&wrong, &shape, "$").unwrap_err().contains("$.n.x"));
        let bad_item = json!({"a": "s", "n": {"x": 1}, "list": [{"y": 3}]});
        assert!(
            conforms(&bad_item, &shape, "$")
                .unwrap_err()
                .contains("$.list[0].y")
        );
    }
}
