//! `valdrix verify-pack PACK.zip [--public-key FILE] [--format json]`: check
//! a compliance pack offline (exports::verify_pack says what is checked).
//! Exit 0 when everything holds; 1 naming the first file, event seq or
//! checkpoint that fails; 2 when the file is not a pack (or unreadable).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use serde_json::json;
use valdrix_shared::audit::checkpoint::PublicKey;
use valdrix_shared::exports::{Failure, verify_pack};

#[derive(clap::Args)]
pub struct Args {
    /// The pack (the ZIP the export handed out).
    pack: PathBuf,
    /// PEM file of the key(s) you trust (from the operator, not the pack):
    /// every signature must be by one of them.
    #[arg(long, value_name = "FILE")]
    public_key: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn usage(format: Format, message: String) -> ExitCode {
    let failure = Failure::NotAPack { reason: message };
    report(format, Err(&failure));
    ExitCode::from(2)
}

pub fn run(args: Args) -> ExitCode {
    let trusted = match &args.public_key {
        None => None,
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| PublicKey::all_from_pem(&t).map_err(|e| e.to_string()))
        {
            Ok(keys) => Some(keys),
            Err(e) => return usage(args.format, format!("--public-key {}: {e}", path.display())),
        },
    };
    let file = match std::fs::File::open(&args.pack) {
        Ok(f) => f,
        Err(e) => return usage(args.format, format!("{}: {e}", args.pack.display())),
    };
    let outcome = verify_pack(std::io::BufReader::new(file), trusted.as_deref());
    report(args.format, outcome.as_ref());
    match outcome {
        Ok(_) => ExitCode::SUCCESS,
        Err(Failure::NotAPack { .. }) => ExitCode::from(2),
        Err(_) => ExitCode::FAILURE,
    }
}

fn report(format: Format, outcome: Result<&valdrix_shared::exports::Verified, &Failure>) {
    match (format, outcome) {
        (Format::Json, Ok(v)) => {
            let mut body = serde_json::to_value(v).expect("report serializes");
            body["ok"] = json!(true);
            println!("{body}");
        }
        (Format::Json, Err(f)) => println!("{}", json!({"ok": false, "failure": f})),
        (Format::Text, Ok(v)) => println!(
            "pack_verified tenant={} events={}..{} ({} checked) checkpoints={} files={} keys={}",
            v.tenant_id,
            v.from_seq,
            v.to_seq,
            v.events_checked,
            v.checkpoints_checked,
            v.files_checked,
            v.keys.join(",")
        ),
        (Format::Text, Err(f)) => eprintln!("pack_verification_failed {f}"),
    }
}
