//! The function's state in Lambda: the core, the pack bucket's download
//! links and the pack worker export jobs are handed to.

use std::sync::Arc;

use axum::extract::FromRef;
use valdrix_shared::exports::lambda_queue::LambdaQueue;
use valdrix_shared::exports::queue::JobQueue;
use valdrix_shared::objects::DynLinks;
use valdrix_shared::state::{Core, PackLinks};

#[derive(Clone)]
pub struct Deployed {
    pub core: Core,
    pub links: DynLinks,
    pub queue: Arc<LambdaQueue>,
}

impl FromRef<Deployed> for Core {
    fn from_ref(s: &Deployed) -> Self {
        s.core.clone()
    }
}

impl FromRef<Deployed> for PackLinks {
    fn from_ref(s: &Deployed) -> Self {
        PackLinks(Some(s.links.clone()))
    }
}

impl FromRef<Deployed> for JobQueue {
    fn from_ref(s: &Deployed) -> Self {
        JobQueue(s.queue.clone())
    }
}
