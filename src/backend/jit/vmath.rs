//! Vectorized exp, log, tanh and sigmoid emitted as CLIF (to be written).
