//! The integration tests of `triceratops`, compiled as one test binary so
//! that they link once instead of once per file. Each test file is a module
//! here and reaches the shared helpers as `crate::<name>_support`; those are
//! declared first so that `optimizer_support`'s `golden!` macro is in scope
//! for the optimizer tests.
//!
//! Insta snapshots live in `snapshots/` next to this file, named
//! `it__<test module>__<snapshot name>.snap`. Fixtures stay in
//! `tests/fixtures/`.

mod cli_support;
mod data_support;
mod keras_support;
#[macro_use]
mod optimizer_support;
mod training_support;

mod backend_seam;
mod checkpoint_compat;
mod checkpoint_integrity;
mod cli_backend;
mod cli_bad_input;
mod cli_bench;
mod cli_checkpoint_safety;
mod cli_closed_stdout;
mod cli_inspect;
mod cli_predict_image;
mod cli_resume_and_eval;
mod cli_train;
mod data_cifar;
mod data_fuzz;
mod data_idx;
mod data_npy;
mod data_npz;
mod data_specs;
mod explore_report;
mod grad_snapshots;
mod jit_differential;
mod jit_epilogue;
mod jit_pool;
mod jit_rows;
mod jit_runtime;
mod jit_support;
mod jit_threads;
mod jit_train_steps;
mod jit_training;
mod jit_vmath;
mod keras_hardening;
mod keras_init_and_dropout;
mod keras_json;
mod keras_json_refusals;
mod keras_layer_semantics;
mod keras_model_shapes;
mod losses;
mod optimizers_adam;
mod optimizers_api;
mod optimizers_rmsprop;
mod optimizers_sgd_adagrad;
mod optimizers_vs_keras;
mod passes_train_steps;
mod plot_output;
mod train_step_snapshots;
mod training_failures;
mod training_fit_semantics;
mod training_mnist;
mod training_optimizers;
