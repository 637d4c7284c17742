//! The integration tests of `triceratops-ir`, compiled as one test binary so
//! that they link once instead of once per file. Each test file is a module
//! here and reaches the shared helpers (`grad_support`, `interp_support`)
//! through `crate::`; random graphs come from `triceratops_ir::testing`.
//!
//! Insta snapshots live in `snapshots/` next to this file, named
//! `it__<test module>__<snapshot name>.snap`.

mod grad_support;
mod interp_support;

mod analysis;
mod builder_broadcasting;
mod canonicalize;
mod conv_pool_reference;
mod fused_op;
mod grad_check_contractions;
mod grad_check_edge_cases;
mod grad_check_elementwise;
mod grad_check_networks;
mod grad_check_reused_values;
mod grad_check_second_order;
mod grad_check_shape_ops;
mod graph_api;
mod graph_dce_and_dot;
mod interpreter_contract;
mod interpreter_contractions;
mod interpreter_elementwise;
mod interpreter_fused;
mod interpreter_pooling;
mod interpreter_reduce_order;
mod interpreter_shape_ops;
mod matmul_transposed;
mod op_table;
mod print_snapshots;
mod shape_inference_contractions;
mod shape_inference_elementwise;
mod shape_inference_pooling;
mod shape_inference_shape_ops;
mod shape_inference_types_and_errors;
mod text_fuzz;
mod text_hand_written;
mod text_parse_errors;
mod text_round_trip;
mod verifier;
