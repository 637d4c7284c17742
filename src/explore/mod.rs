//! `triceratops explore`: every compiler stage of one model side by side,
//! with provenance links between them. `report.rs` is the data,
//! `build.rs` fills it from a model, `layout.rs` draws the dataflow graph,
//! `html.rs` (with `page/`) renders the self-contained page.

mod build;
pub mod html;
pub mod layout;
mod profile;
pub mod report;
mod text;

pub use build::{explore, ExploreOptions};
pub use text::provenance_text;
