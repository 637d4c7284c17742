//! The parser (to be written).

use crate::error::Result;
use crate::graph::Graph;

pub fn parse(_text: &str) -> Result<Graph> {
    unimplemented!()
}
