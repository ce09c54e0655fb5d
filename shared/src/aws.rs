//! The AWS SDK configuration, loaded at most once per process (region,
//! credentials, endpoints from the environment, as Lambda gives them) and
//! handed to every client: the runtime secret's, the store's, S3's, SQS's.

use aws_config::{BehaviorVersion, SdkConfig};
use tokio::sync::OnceCell;

#[derive(Default)]
pub struct Aws(OnceCell<SdkConfig>);

impl Aws {
    /// A configuration already loaded (tests, the local stack's tools).
    pub fn from_config(config: SdkConfig) -> Self {
        Self(OnceCell::new_with(Some(config)))
    }

    /// The configuration, loaded on first use.
    pub async fn config(&self) -> &SdkConfig {
        self.0
            .get_or_init(|| aws_config::load_defaults(BehaviorVersion::latest()))
            .await
    }
}
