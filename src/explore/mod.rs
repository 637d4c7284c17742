//! `triceratops explore`: every compiler stage of one model side by side,
//! with provenance links between them (`report.rs` is the data).

pub mod html;
pub mod layout;
pub mod report;
