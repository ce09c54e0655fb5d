//! Which stream records start a delivery, from the events/ samples: the two
//! triggers are told apart by their shape (`Trigger`).

use notification_dispatcher::{Trigger, pending_from_stream};
use valdrix_shared::policy::Channel;

fn sample(name: &str) -> Trigger {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn only_new_pending_deliveries_are_picked() {
    let Trigger::Stream(event) = sample("dynamodb-stream-delivery.json") else {
        panic!("a stream batch")
    };
    assert_eq!(
        pending_from_stream(&event),
        [("evt-123".to_string(), Channel::Slack)]
    );
}

#[test]
fn a_schedule_is_a_schedule() {
    let Trigger::Schedule(event) = sample("schedule-dispatcher-sweep.json") else {
        panic!("a schedule")
    };
    assert_eq!(event.source.as_deref(), Some("aws.events"));
}
