use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use notification_dispatcher::{SqsDeadLetters, Trigger};
use valdrix_shared::audit::checkpoint;
use valdrix_shared::config::vars::VALDRIX_DEAD_LETTER_QUEUE_URL;
use valdrix_shared::policy::dispatch::Dispatcher;
use valdrix_shared::policy::send::NotifySender;
use valdrix_shared::startup::Boot;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let boot = Boot::start(env!("CARGO_PKG_NAME")).await?;
    let Some(queue_url) = boot.config().dead_letter_queue_url.clone() else {
        let rule = "must be set: the dispatcher parks dead deliveries there";
        return Err(boot
            .refuse(VALDRIX_DEAD_LETTER_QUEUE_URL, rule)
            .await
            .into());
    };
    let state = boot.notifying().await?;
    let dead = SqsDeadLetters {
        client: aws_sdk_sqs::Client::new(boot.aws().await),
        queue_url: queue_url.to_string(),
    };
    // The sweep also signs the audit checkpoints that came due (every N events).
    let signer = boot.audit_signer().await?;
    let signer = signer.as_ref();
    let sender = NotifySender(state.clone());
    let (state, sender, dead) = (&state, &sender, &dead);
    run(service_fn(move |event: LambdaEvent<Trigger>| async move {
        // Every minute at least (the sweep): the waiver's time left as a metric.
        valdrix_shared::waiver::watch(&state.core.config, chrono::Utc::now());
        let dispatcher = Dispatcher {
            store: state.core.store.as_ref(),
            audit: &state.core.audit,
            sender,
            dead_letters: dead,
        };
        let answer = notification_dispatcher::handle(&dispatcher, &event.payload).await;
        if event.payload.is_schedule()
            && let Err(e) = checkpoint::sweep_due(&state.core.audit, signer).await
        {
            tracing::error!(error = %e, "audit checkpoint sweep failed");
        }
        answer
    }))
    .await
}
