//! audible-cli's profiles read natively: `config.toml` and the non-secret fields of each
//! profile's auth file, so that listing them starts no Python (it took seconds under load).
//!
//! The shapes are audible-cli 0.6.0's: `config.toml` holds `[APP] primary_profile` and one
//! `[profile.<name>]` table per profile with `auth_file` and `country_code`; an unencrypted
//! auth file is audible's JSON, with `device_info.device_name` and `activation_bytes`.

use std::path::Path;

use earmark_core::ports::{AccountsError, AudibleProfile};
use serde_json::Value;

/// The profiles of the audible-cli config in `config_dir`, by name; none without a config.
///
/// # Errors
/// A config that exists but cannot be read or parsed.
pub async fn read_profiles(config_dir: &Path) -> Result<Vec<AudibleProfile>, AccountsError> {
    let path = config_dir.join("config.toml");
    let text = match tokio::fs::read_to_string(&path).await {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(AccountsError::Tool(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let config: toml::Table = toml::from_str(&text).map_err(|e| {
        AccountsError::Tool(format!("{} is not a readable config: {e}", path.display()))
    })?;
    let primary = config
        .get("APP")
        .and_then(|app| app.get("primary_profile"))
        .and_then(toml::Value::as_str);
    let Some(profiles) = config.get("profile").and_then(toml::Value::as_table) else {
        return Ok(Vec::new());
    };
    let mut described = Vec::with_capacity(profiles.len());
    // A toml table is ordered by key: the helper's sorted order.
    for (name, profile) in profiles {
        let text = |key: &str| {
            profile
                .get(key)
                .and_then(toml::Value::as_str)
                .map(str::to_owned)
        };
        let auth_file = text("auth_file");
        let auth = match &auth_file {
            Some(file) => auth_facts(&config_dir.join(file)).await,
            None => AuthFacts::default(),
        };
        described.push(AudibleProfile {
            name: name.clone(),
            country_code: text("country_code"),
            auth_file,
            auth_file_present: auth.present,
            device_name: auth.device_name,
            activation_bytes_cached: auth.activation_bytes_cached,
            primary: primary == Some(name.as_str()),
        });
    }
    Ok(described)
}

/// What an auth file says without its secrets.
#[derive(Debug, Default)]
struct AuthFacts {
    present: bool,
    device_name: Option<String>,
    activation_bytes_cached: bool,
}

async fn auth_facts(path: &Path) -> AuthFacts {
    let Ok(raw) = tokio::fs::read(path).await else {
        return AuthFacts::default();
    };
    // An encrypted auth file is present, its details unknown.
    let doc: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    AuthFacts {
        present: true,
        device_name: doc
            .pointer("/device_info/device_name")
            .and_then(Value::as_str)
            .map(str::to_owned),
        activation_bytes_cached: doc
            .get("activation_bytes")
            .is_some_and(|b| !b.is_null() && b.as_str() != Some("")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn profiles_are_read_from_the_config_and_auth_files() {
        let dir = std::env::temp_dir().join(format!("earmark-profiles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(read_profiles(&dir).await.unwrap().is_empty(), "no config");
        std::fs::write(
            dir.join("config.toml"),
            "title = \"Audible Config File\"\n\n[APP]\nprimary_profile = \"b\"\n\n\
             [profile.b]\nauth_file = \"b.json\"\ncountry_code = \"de\"\n\n\
             [profile.a]\nauth_file = \"a.json\"\ncountry_code = \"us\"\n\n\
             [profile.c]\nauth_file = \"c.json\"\ncountry_code = \"uk\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("b.json"),
            r#"{"device_info": {"device_name": "Phone"}, "activation_bytes": "1ceb00da", "adp_token": "secret"}"#,
        )
        .unwrap();
        std::fs::write(dir.join("a.json"), b"encrypted bytes").unwrap();
        let profiles = read_profiles(&dir).await.unwrap();
        let names: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let b = &profiles[1];
        assert!(b.primary && b.auth_file_present && b.activation_bytes_cached);
        assert_eq!(b.device_name.as_deref(), Some("Phone"));
        assert_eq!(b.country_code.as_deref(), Some("de"));
        assert!(profiles[0].auth_file_present && profiles[0].device_name.is_none());
        assert!(!profiles[2].auth_file_present, "c.json does not exist");
        std::fs::write(dir.join("config.toml"), "[APP\n").unwrap();
        assert!(read_profiles(&dir).await.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
