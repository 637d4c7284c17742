//! The integration tests of `triceratops-passes`, one binary.

mod support;

mod fusion;
mod lineage;
mod roundtrip;
mod rules_algebra;
mod rules_layout;
mod rules_numerics;
