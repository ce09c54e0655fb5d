//! What the compliance pack exports: the FOCUS 1.2 CSV, savings proof,
//! realized savings and the close package; CSV formula-injection safety; the
//! streamed ZIP writer; the pack builder with its manifest; the pack's proof
//! (signed checkpoints, VERIFY.md), its report (index.html) and its verifier.

pub mod close;
pub mod csv_safe;
mod export;
pub mod focus;
mod job_run;
pub mod jobs;
#[cfg(feature = "invoke")]
pub mod lambda_queue;
pub mod options;
pub mod pack;
pub mod proof;
pub mod queue;
pub mod report;
pub mod savings;
pub mod verify;
mod verify_derived;
pub mod verify_md;
pub mod zipout;
mod zipwrite;

pub use export::{Delivered, ExportError, ExportRequest, Exported, URL_TTL, export_pack};
pub use job_run::run_job;
pub use options::{OptionError, PackOptions};
pub use pack::{PackError, PackRequest, PackResult, Progress, build_pack};
pub use verify::{Failure, Verified, verify_pack};
