//! FOCUS (FinOps Open Cost and Usage Specification) 1.2: its columns and how
//! its values are read and written. One home for both directions of the
//! cost data: ingest reads files by it, the pack's export writes by it.

mod schema;
mod values;

pub use schema::*;
pub use values::{format_time, parse_decimal, parse_time};
