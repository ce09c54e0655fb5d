//! Creating the table where it is missing (`Store::ensure_table`): migrate,
//! serve and tests. Behind `provision`, so no deployed function links
//! DynamoDB's table operations (no function's role may call them either).

use std::time::Duration;

use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};

use super::{DynamoStore, built, errors};
use crate::store::{StoreError, TTL_ATTRIBUTE};

/// How long `ensure` waits for a new table to become ACTIVE.
const TABLE_ACTIVE_WAIT: Duration = Duration::from_secs(60);

impl DynamoStore {
    pub(super) async fn ensure(&self) -> Result<bool, StoreError> {
        let created = match self.table_status().await? {
            Some(TableStatus::Active) => false,
            Some(_) => {
                self.wait_active().await?;
                false
            }
            None => {
                let created = self.create_table().await?;
                self.wait_active().await?;
                created
            }
        };
        // Checked on existing tables too, so a table made by hand gets its TTL.
        self.enable_ttl().await?;
        Ok(created)
    }

    async fn table_status(&self) -> Result<Option<TableStatus>, StoreError> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(out) => Ok(out.table().and_then(|t| t.table_status()).cloned()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(DescribeTableError::ResourceNotFoundException(_))
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(errors::map("describe_table", &e)),
        }
    }

    /// True when this call created the table (false if it existed or another
    /// caller won the race).
    async fn create_table(&self) -> Result<bool, StoreError> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
        };
        let stream = StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::NewAndOldImages)
            .build();
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(built(attr("pk"))?)
            .attribute_definitions(built(attr("sk"))?)
            .key_schema(built(key("pk", KeyType::Hash))?)
            .key_schema(built(key("sk", KeyType::Range))?)
            .billing_mode(BillingMode::PayPerRequest)
            .stream_specification(built(stream)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(CreateTableError::ResourceInUseException(_))
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(errors::map("create_table", &e)),
        }
    }

    async fn wait_active(&self) -> Result<(), StoreError> {
        let deadline = tokio::time::Instant::now() + TABLE_ACTIVE_WAIT;
        loop {
            if self.table_status().await? == Some(TableStatus::Active) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StoreError::Unavailable(
                    "dynamodb: table did not become ACTIVE".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn enable_ttl(&self) -> Result<(), StoreError> {
        let current = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| errors::map("describe_time_to_live", &e))?;
        let status = current
            .time_to_live_description()
            .and_then(|d| d.time_to_live_status());
        if matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) {
            return Ok(());
        }
        let spec = TimeToLiveSpecification::builder()
            .attribute_name(TTL_ATTRIBUTE)
            .enabled(true)
            .build();
        match self
            .client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(built(spec)?)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // A concurrent ensure_table enabled it first.
            Err(e) if errors::is_ttl_already_enabled(&e) => Ok(()),
            Err(e) => Err(errors::map("update_time_to_live", &e)),
        }
    }
}
