//! `valdrix redrive-deliveries --stack-outputs outputs.json`: the consumer of
//! the dead-delivery queue. For each message (a dead delivery), redrive it in
//! the table (shared::policy::redrive: due again, a fresh attempt budget,
//! audited) and delete the message; a delivery that is no longer dead, or is
//! not in this table, needs nothing and its message is deleted too. A store
//! failure keeps the message for the next run. Run it once the targets are
//! fixed (docs/deploy.md, "Dead letters").

use std::path::PathBuf;
use std::process::ExitCode;

use aws_sdk_sqs::error::DisplayErrorContext;
use valdrix_shared::audit::{AuditLog, Redactor};
use valdrix_shared::config::{self, VarSet};
use valdrix_shared::policy::Delivery;
use valdrix_shared::policy::redrive::{Redrive, redrive};
use valdrix_shared::store;

use crate::stack_outputs;

pub const QUEUE_OUTPUT: &str = "DeliveryDeadLetterQueueUrl";

#[derive(clap::Args)]
pub struct Args {
    /// The stack's outputs (`aws cloudformation describe-stacks --query
    /// "Stacks[0].Outputs"`): TableName and DeliveryDeadLetterQueueUrl.
    #[arg(long, value_name = "FILE")]
    stack_outputs: PathBuf,
    /// Stop after this many messages.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    max: usize,
}

pub async fn run(args: Args) -> ExitCode {
    let outputs = match stack_outputs::read(&args.stack_outputs) {
        Ok(outputs) => outputs,
        Err(e) => return usage(&e),
    };
    let (Some(table), Some(queue)) = (
        outputs.get(stack_outputs::TABLE_NAME),
        outputs.get(QUEUE_OUTPUT),
    ) else {
        return usage(&format!(
            "{} needs the {} and {QUEUE_OUTPUT} outputs",
            args.stack_outputs.display(),
            stack_outputs::TABLE_NAME
        ));
    };
    let url = match config::parse_store_url(
        &format!("dynamodb://{table}"),
        &VarSet::from_process_env(),
    ) {
        Ok(url) => url,
        Err(v) => return usage(&v.to_string()),
    };
    let store = match store::open(&url).await {
        Ok(store) => store,
        Err(e) => return usage(&e.to_string()),
    };
    let audit = AuditLog::new(store.clone(), Redactor::default());
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);

    let (mut seen, mut failed) = (0, 0);
    while seen < args.max {
        let page = match sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .send()
            .await
        {
            Ok(page) => page,
            Err(e) => {
                eprintln!("error: cannot read the queue: {}", DisplayErrorContext(&e));
                return ExitCode::FAILURE;
            }
        };
        let messages = page.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for message in messages {
            seen += 1;
            let body = message.body.as_deref().unwrap_or("");
            let Ok(delivery) = serde_json::from_str::<Delivery>(body) else {
                // Not a delivery: left for a person to read.
                eprintln!(
                    "skipped message {}: not a dead delivery",
                    message.message_id.as_deref().unwrap_or("?")
                );
                failed += 1;
                continue;
            };
            let now = chrono::Utc::now().timestamp();
            let line = match redrive(
                store.as_ref(),
                &audit,
                &delivery.event_id,
                delivery.channel,
                now,
            )
            .await
            {
                Ok(Redrive::Redriven) => format!("redriven {}", delivery.delivery_id),
                Ok(Redrive::NotDead(status)) => format!(
                    "not dead {} ({status:?}): nothing to do",
                    delivery.delivery_id
                ),
                Ok(Redrive::Missing) => {
                    format!("missing {}: not in table {table}", delivery.delivery_id)
                }
                Err(e) => {
                    eprintln!(
                        "error: {}: {e} (the message stays queued)",
                        delivery.delivery_id
                    );
                    failed += 1;
                    continue;
                }
            };
            println!("{line}");
            let deleted = sqs
                .delete_message()
                .queue_url(queue)
                .set_receipt_handle(message.receipt_handle)
                .send()
                .await;
            if let Err(e) = deleted {
                eprintln!(
                    "error: {} redriven but its message stays: {}",
                    delivery.delivery_id,
                    DisplayErrorContext(&e)
                );
                failed += 1;
            }
        }
    }
    println!("redrive: {seen} message(s), {failed} left in the queue");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}
