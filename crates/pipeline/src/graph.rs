//! The runtime graph a config compiles to: inputs with their decorators, filter steps
//! (filters and conditionals, in order), outputs and the routes that pick them. Built by
//! `lang::compile`, run by `runner`.

use crate::condition::Condition;
use crate::filter_common::CommonFilterOptions;
use crate::input_context::Decorator;
use crate::plugin::{Filter, Input, Output};
use std::sync::Arc;

/// A filter with its common options.
pub struct FilterNode {
    pub name: String,
    pub id: String,
    pub filter: Box<dyn Filter>,
    pub common: CommonFilterOptions,
}

/// The filter section, compiled: filters and conditionals in order.
pub enum Step {
    Filter(Arc<FilterNode>),
    If {
        branches: Vec<(Condition, Vec<Step>)>,
        otherwise: Vec<Step>,
    },
}

/// The output section, compiled: which outputs an event goes to.
pub enum Route {
    Output(usize),
    If {
        branches: Vec<(Condition, Vec<Route>)>,
        otherwise: Vec<Route>,
    },
}

pub struct CompiledInput {
    pub name: String,
    pub id: String,
    pub input: Box<dyn Input>,
    pub decorator: Decorator,
}

pub struct CompiledOutput {
    pub name: String,
    pub id: String,
    pub output: Arc<dyn Output>,
}

/// A runnable pipeline definition.
pub struct CompiledPipeline {
    pub inputs: Vec<CompiledInput>,
    pub filters: Vec<Step>,
    pub outputs: Vec<CompiledOutput>,
    pub routes: Vec<Route>,
}
