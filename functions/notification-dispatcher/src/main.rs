use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;
use valdrix_shared::audit::checkpoint::{self, kms::KmsSigner};
use valdrix_shared::policy::dispatch::Dispatcher;
use valdrix_shared::policy::send::NotifySender;
use valdrix_shared::{startup, state::AppState, telemetry};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = startup::load_runtime_config(env!("CARGO_PKG_NAME")).await?;
    let state = AppState::init(config).await?;
    let queue_url = std::env::var("VALDRIX_DEAD_LETTER_QUEUE_URL")
        .map_err(|_| "VALDRIX_DEAD_LETTER_QUEUE_URL is not set")?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dead = notification_dispatcher::SqsDeadLetters {
        client: aws_sdk_sqs::Client::new(&sdk),
        queue_url,
    };
    // The sweep also signs the audit checkpoints that came due (every N events).
    let signer = KmsSigner::from_env().await?;
    let signer = &signer;
    let sender = NotifySender(state.clone());
    let state_ref = &state;
    let (sender, dead) = (&sender, &dead);
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Every minute at least (the sweep): the waiver's time left as a metric.
        valdrix_shared::waiver::watch(&state_ref.config, chrono::Utc::now());
        let dispatcher = Dispatcher {
            store: state_ref.store.as_ref(),
            audit: &state_ref.audit,
            sender,
            dead_letters: dead,
        };
        let answer = notification_dispatcher::handle(&dispatcher, &event.payload).await;
        if notification_dispatcher::is_schedule(&event.payload)
            && let Err(e) = checkpoint::sweep_due(&state_ref.audit, signer).await
        {
            tracing::error!(error = %e, "audit checkpoint sweep failed");
        }
        answer.map_err(Error::from)
    }))
    .await
}
