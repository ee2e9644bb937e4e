//! Renderers: each reads the ledger and writes one format. Nothing else
//! in the crate writes the report.

pub mod csv;
pub mod html;
pub mod json;
pub mod table;
