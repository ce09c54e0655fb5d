//! What the compliance pack exports: the FOCUS 1.2 CSV, savings proof,
//! realized savings and the close package; CSV formula-injection safety; the
//! streamed ZIP writer; and the pack builder with its manifest.

pub mod close;
pub mod csv_safe;
mod export;
pub mod focus;
pub mod options;
pub mod pack;
pub mod savings;
pub mod zipout;

pub use export::{ExportError, ExportRequest, Exported, URL_TTL, export_pack};
pub use options::{OptionError, PackOptions};
pub use pack::{PackError, PackRequest, PackResult, build_pack};
