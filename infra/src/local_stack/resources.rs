//! The template's data resources created on the emulators, with the names
//! CloudFormation would give them: the table (keys, TTL, stream) on DynamoDB
//! Local, the buckets, queues and KMS keys on moto; and what `Ref`/`Fn::GetAtt` of each
//! resolve to. Bucket notifications to a function go to a queue of the local
//! stack's own (moto delivers S3 events to SQS, not to a Lambda it cannot run).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
    QueueConfiguration, S3KeyFilter,
};
use serde_json::Value;

use super::aws::{ACCOUNT, Clients, REGION};
use super::resolve::Values;
use super::template::{BucketNotification, Transformed};

/// CloudFormation's name for an unnamed resource: `<stack>-<LogicalId>-<SUFFIX>`.
pub fn generated_name(stack: &str, id: &str, suffix: &str, max: usize) -> String {
    let mut name = format!("{stack}-{id}-{suffix}");
    name.truncate(max);
    name
}

/// A queue the local stack polls for one bucket notification.
pub struct NotificationQueue {
    pub url: String,
    pub function: String,
}

fn e(what: &str, err: impl std::fmt::Display) -> String {
    format!("{what}: {err}")
}

/// Creates the table, buckets and queues; returns the notification queues.
pub async fn create(
    t: &Transformed,
    clients: &Clients,
    values: &mut Values,
    stack: &str,
    suffix: &str,
) -> Result<Vec<NotificationQueue>, String> {
    for (id, r) in t.of_type("AWS::DynamoDB::Table") {
        create_table(clients, values, id, &r["Properties"], stack, suffix).await?;
    }
    // Names and ARNs first: a queue's RedrivePolicy names its dead-letter queue's ARN.
    let queues: Vec<(&str, &Value)> = t.of_type("AWS::SQS::Queue").collect();
    for (id, r) in &queues {
        let name = match r["Properties"]["QueueName"].as_str() {
            Some(n) => n.to_owned(),
            None => generated_name(stack, id, suffix, 80),
        };
        values.set_attr(id, "QueueName", &name);
        values.set_attr(id, "Arn", format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"));
    }
    for (id, r) in queues {
        let props = values.resolve(&r["Properties"])?;
        let name = values.resolve_string(&serde_json::json!({"Fn::GetAtt": [id, "QueueName"]}))?;
        let url = clients
            .sqs
            .create_queue()
            .queue_name(&name)
            .set_attributes(Some(queue_attributes(&props)))
            .send()
            .await
            .map_err(|x| {
                e(
                    &format!("create queue {name}"),
                    aws_sdk_sqs::error::DisplayErrorContext(x),
                )
            })?
            .queue_url
            .unwrap_or_default();
        values.set(id, url);
    }
    for (id, r) in t.of_type("AWS::S3::Bucket") {
        let name = match &r["Properties"]["BucketName"] {
            Value::Null => generated_name(stack, id, suffix, 63).to_ascii_lowercase(),
            v => values.resolve_string(v)?,
        };
        clients
            .s3
            .create_bucket()
            .bucket(&name)
            .send()
            .await
            .map_err(|x| {
                e(
                    &format!("create bucket {name}"),
                    aws_sdk_s3::error::DisplayErrorContext(x),
                )
            })?;
        values.set(id, &name);
        values.set_attr(id, "Arn", format!("arn:aws:s3:::{name}"));
        values.set_attr(id, "DomainName", format!("{name}.s3.amazonaws.com"));
    }
    for (id, r) in t.of_type("AWS::KMS::Key") {
        create_key(clients, values, id, &r["Properties"]).await?;
    }
    // One configuration per bucket (a put replaces the bucket's whole set).
    let mut queues = Vec::new();
    let mut configs: std::collections::BTreeMap<String, Vec<QueueConfiguration>> =
        Default::default();
    for (i, n) in t.bucket_notifications().into_iter().enumerate() {
        let (config, queue) =
            notify_through_queue(clients, values, &n, &format!("{stack}-s3-{i}-{suffix}")).await?;
        configs.entry(n.bucket.clone()).or_default().push(config);
        queues.push(queue);
    }
    for (id, configs) in configs {
        let bucket = values.resolve_string(&serde_json::json!({ "Ref": id }))?;
        clients
            .s3
            .put_bucket_notification_configuration()
            .bucket(&bucket)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .set_queue_configurations(Some(configs))
                    .build(),
            )
            .send()
            .await
            .map_err(|x| {
                e(
                    &format!("notification of {bucket}"),
                    aws_sdk_s3::error::DisplayErrorContext(x),
                )
            })?;
    }
    Ok(queues)
}

/// A KMS key of the template's spec and usage on moto (the audit signing
/// key); its key policy is held by infra/tests/signing_key.rs, not here.
async fn create_key(
    clients: &Clients,
    values: &mut Values,
    id: &str,
    props: &Value,
) -> Result<(), String> {
    let spec = props["KeySpec"].as_str().unwrap_or("SYMMETRIC_DEFAULT");
    let usage = props["KeyUsage"].as_str().unwrap_or("ENCRYPT_DECRYPT");
    let out = clients
        .kms
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::from(spec))
        .key_usage(aws_sdk_kms::types::KeyUsageType::from(usage))
        .description(id)
        .send()
        .await
        .map_err(|x| {
            e(
                &format!("create key {id}"),
                aws_sdk_kms::error::DisplayErrorContext(x),
            )
        })?;
    let meta = out
        .key_metadata
        .ok_or_else(|| format!("create key {id}: no metadata"))?;
    values.set(id, meta.key_id());
    values.set_attr(id, "Arn", meta.arn().unwrap_or_default());
    Ok(())
}

async fn create_table(
    clients: &Clients,
    values: &mut Values,
    id: &str,
    props: &Value,
    stack: &str,
    suffix: &str,
) -> Result<(), String> {
    for key in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
        if !props[key].is_null() {
            return Err(format!("{id}: {key} is not created by the local stack yet"));
        }
    }
    let name = match props["TableName"].as_str() {
        Some(n) => n.to_owned(),
        None => generated_name(stack, id, suffix, 255),
    };
    let mut create = clients.dynamodb.create_table().table_name(&name);
    for a in props["AttributeDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        create = create.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(a["AttributeName"].as_str().unwrap_or_default())
                .attribute_type(ScalarAttributeType::from(
                    a["AttributeType"].as_str().unwrap_or("S"),
                ))
                .build()
                .map_err(|x| e(id, x))?,
        );
    }
    for k in props["KeySchema"].as_array().into_iter().flatten() {
        create = create.key_schema(
            KeySchemaElement::builder()
                .attribute_name(k["AttributeName"].as_str().unwrap_or_default())
                .key_type(KeyType::from(k["KeyType"].as_str().unwrap_or("HASH")))
                .build()
                .map_err(|x| e(id, x))?,
        );
    }
    create = create.billing_mode(BillingMode::from(
        props["BillingMode"].as_str().unwrap_or("PROVISIONED"),
    ));
    if props["BillingMode"].as_str() != Some("PAY_PER_REQUEST") {
        return Err(format!(
            "{id}: only PAY_PER_REQUEST tables are created locally"
        ));
    }
    if let Some(view) = props["StreamSpecification"]["StreamViewType"].as_str() {
        create = create.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view))
                .build()
                .map_err(|x| e(id, x))?,
        );
    }
    if let Some(on) = props["DeletionProtectionEnabled"].as_bool() {
        create = create.deletion_protection_enabled(on);
    }
    let out = create.send().await.map_err(|x| {
        e(
            &format!("create table {name}"),
            aws_sdk_dynamodb::error::DisplayErrorContext(x),
        )
    })?;
    let description = out
        .table_description
        .ok_or_else(|| format!("create table {name}: no description"))?;
    let ttl = &props["TimeToLiveSpecification"];
    if ttl["Enabled"].as_bool() == Some(true) {
        clients
            .dynamodb
            .update_time_to_live()
            .table_name(&name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(ttl["AttributeName"].as_str().unwrap_or("ttl"))
                    .build()
                    .map_err(|x| e(id, x))?,
            )
            .send()
            .await
            .map_err(|x| {
                e(
                    &format!("TTL of {name}"),
                    aws_sdk_dynamodb::error::DisplayErrorContext(x),
                )
            })?;
    }
    values.set(id, &name);
    values.set_attr(id, "Arn", description.table_arn.unwrap_or_default());
    if let Some(stream) = description.latest_stream_arn {
        values.set_attr(id, "StreamArn", stream);
    }
    Ok(())
}

/// A new queue of ours and the bucket's configuration that sends it `n`'s events.
async fn notify_through_queue(
    clients: &Clients,
    values: &Values,
    n: &BucketNotification,
    queue: &str,
) -> Result<(QueueConfiguration, NotificationQueue), String> {
    let url = clients
        .sqs
        .create_queue()
        .queue_name(queue)
        .send()
        .await
        .map_err(|x| {
            e(
                &format!("create queue {queue}"),
                aws_sdk_sqs::error::DisplayErrorContext(x),
            )
        })?
        .queue_url
        .unwrap_or_default();
    let mut rules = Vec::new();
    for r in n.filter["S3Key"]["Rules"].as_array().into_iter().flatten() {
        rules.push(
            FilterRule::builder()
                .name(FilterRuleName::from(
                    r["Name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_ascii_lowercase()
                        .as_str(),
                ))
                .value(values.resolve_string(&r["Value"])?)
                .build(),
        );
    }
    let config = QueueConfiguration::builder()
        .queue_arn(format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"))
        .events(Event::from(n.event.as_str()))
        .filter(
            NotificationConfigurationFilter::builder()
                .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
                .build(),
        )
        .build()
        .map_err(|x| e(queue, x))?;
    let queue = NotificationQueue {
        url,
        function: n.function.clone(),
    };
    Ok((config, queue))
}

/// The queue's properties SQS acts on locally: its visibility timeout,
/// retention and redrive to a dead-letter queue (moto moves a message after
/// `maxReceiveCount` receives, as SQS does).
pub(super) fn queue_attributes(
    props: &Value,
) -> std::collections::HashMap<aws_sdk_sqs::types::QueueAttributeName, String> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let mut out = std::collections::HashMap::new();
    let number = |v: &Value| {
        v.as_i64()
            .map(|n| n.to_string())
            .or_else(|| v.as_str().map(str::to_owned))
    };
    if let Some(v) = number(&props["VisibilityTimeout"]) {
        out.insert(A::VisibilityTimeout, v);
    }
    if let Some(v) = number(&props["MessageRetentionPeriod"]) {
        out.insert(A::MessageRetentionPeriod, v);
    }
    if props["RedrivePolicy"].is_object() {
        out.insert(A::RedrivePolicy, props["RedrivePolicy"].to_string());
    }
    out
}
