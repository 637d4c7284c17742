//! Contractions and pooling called from generated code (to be written).
