//! The development environment of `valdrix serve`: the process env, with any
//! unset secret generated once and kept in `<data-dir>/dev.env`, so a fresh
//! clone runs with no set-up and restarts keep the same keys (and tokens).

use std::io::Write;
use std::path::Path;

use base64::Engine;
use rand::RngCore;
use valdrix_shared::config::VarSet;
use valdrix_shared::config::vars::*;

const FILE: &str = "dev.env";

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn random_salt() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The development environment, and which secrets came from the data dir
/// (generated here, so they may be shown) rather than from the operator.
pub struct DevEnv {
    pub vars: VarSet,
    pub generated: Vec<&'static str>,
}

impl DevEnv {
    /// True when `name`'s value was generated for development, not supplied.
    pub fn is_generated(&self, name: &str) -> bool {
        self.generated.contains(&name)
    }
}

/// Process env, then the kept development values, then fresh ones (kept for next time).
pub fn load(data_dir: &Path) -> Result<DevEnv, String> {
    load_with(data_dir, VarSet::from_process_env())
}

/// `vars`, then the kept development values, then fresh ones. The local stack
/// passes none: its runtime secret holds generated values only.
pub fn load_with(data_dir: &Path, mut vars: VarSet) -> Result<DevEnv, String> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create data dir {}: {e}", data_dir.display()))?;
    let path = data_dir.join(FILE);
    let mut kept = if path.exists() {
        VarSet::from_dotenv_file(&path)?
    } else {
        VarSet::default()
    };
    let mut generated = Vec::new();
    let mut from_data_dir = Vec::new();
    for (name, make) in [
        (SUPABASE_JWT_SECRET, random_hex as fn() -> String),
        (ENCRYPTION_KEY, random_hex),
        (CSRF_SECRET_KEY, random_hex),
        (ADMIN_API_KEY, random_hex),
        (KDF_SALT, random_salt),
    ] {
        if vars.get(name).is_some() {
            continue;
        }
        from_data_dir.push(name);
        if kept.get(name).is_none() {
            let value = make();
            kept.set(name, value.clone());
            generated.push((name, value));
        }
    }
    if !generated.is_empty() {
        append(&path, &generated)?;
    }
    vars.fill_from(kept);
    if vars.get(ENVIRONMENT).is_none() {
        vars.set(ENVIRONMENT, "local");
    }
    if vars.get(DATABASE_URL).is_none() {
        let db = data_dir.join("valdrix.sqlite");
        vars.set(DATABASE_URL, format!("sqlite://{}", db.display()));
    }
    Ok(DevEnv {
        vars,
        generated: from_data_dir,
    })
}

fn append(path: &Path, values: &[(&str, String)]) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    for (name, value) in values {
        writeln!(file, "{name}={value}")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}
