//! `valdrix migrate [--database-url URL | --table NAME | --stack-outputs FILE]`:
//! the checklist's migration step.

use std::path::PathBuf;
use std::process::ExitCode;

use valdrix_shared::audit::{AuditLog, Redactor};
use valdrix_shared::config::{self, VarSet};
use valdrix_shared::store;

#[derive(clap::Args)]
pub struct Args {
    /// The tenant store; defaults to DATABASE_URL.
    #[arg(long, value_name = "URL", group = "store")]
    database_url: Option<String>,
    /// The stack's DynamoDB table (its TableName output), in the AWS region
    /// of the environment (AWS_REGION).
    #[arg(long, value_name = "NAME", group = "store")]
    table: Option<String>,
    /// The stack's outputs (`aws cloudformation describe-stacks --query
    /// "Stacks[0].Outputs"`): the table is its TableName.
    #[arg(long, value_name = "FILE", group = "store")]
    stack_outputs: Option<PathBuf>,
}

pub async fn run(args: Args) -> ExitCode {
    let vars = VarSet::from_process_env();
    let table = match (&args.table, &args.stack_outputs) {
        (Some(table), _) => Some(table.clone()),
        (None, Some(path)) => {
            match crate::stack_outputs::get(path, crate::stack_outputs::TABLE_NAME) {
                Ok(table) => Some(table),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        (None, None) => None,
    };
    let from_table = table.map(|t| format!("dynamodb://{t}"));
    let Some(raw) = from_table
        .as_deref()
        .or(args.database_url.as_deref())
        .or(vars.get(config::vars::DATABASE_URL))
    else {
        eprintln!(
            "error: no store: pass --database-url, --table or --stack-outputs, or set DATABASE_URL"
        );
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
