pub use triceratops_ir as ir;
