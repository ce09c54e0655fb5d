//! `valdrix migrate [--database-url URL]`: the checklist's migration step.

use std::process::ExitCode;

use valdrix_shared::audit::{AuditLog, Redactor};
use valdrix_shared::config::{self, VarSet};
use valdrix_shared::store;

#[derive(clap::Args)]
pub struct Args {
    /// The tenant store; defaults to DATABASE_URL.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

pub async fn run(args: Args) -> ExitCode {
    let vars = VarSet::from_process_env();
    let Some(raw) = args
        .database_url
        .as_deref()
        .or(vars.get(config::vars::DATABASE_URL))
    else {
        eprintln!("error: no store: pass --database-url or set DATABASE_URL");
        return ExitCode::from(2);
    };
    let url = match config::parse_store_url(raw, &vars) {
        Ok(url) => url,
        Err(v) => {
            eprintln!("error: {v}");
            return ExitCode::from(2);
        }
    };
    let result = async {
        let store = store::open(&url).await.map_err(|e| e.to_string())?;
        // Migrations write no secrets; redact nothing extra.
        let audit = AuditLog::new(store.clone(), Redactor::default());
        crate::migrate::run(&store, &url, &audit)
            .await
            .map_err(|e| e.to_string())
    };
    match result.await {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: migrate failed: {e}");
            ExitCode::FAILURE
        }
    }
}
