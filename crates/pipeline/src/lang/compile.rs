//! AST → the runtime graph ([`crate::graph`]): plugins' options resolved and validated
//! (`args.rs`), plugins built, conditionals compiled. Every error is collected so the user
//! sees all of them at once, each with its position.

use crate::condition::{Condition, Operand};
use crate::filter_common::CommonFilterOptions;
use crate::graph::{CompiledInput, CompiledOutput, CompiledPipeline, FilterNode, Route, Step};
use crate::input_context::Decorator;
use crate::lang::args::{build_codecs, number, Resolver};
use crate::lang::ast::{self, SectionKind, Stmt};
use crate::lang::source::Diagnostic;
use crate::options::{Args, BuildError};
use crate::plugin::BuildContext;
use crate::registry::{Kind, Registry};
use logstash_mesos_core::{FieldRef, Template, Value};
use std::sync::Arc;

/// Compiles a parsed config. With `build == false` plugins are resolved and their options
/// validated but not built (nothing is opened or started).
pub fn compile(
    config: &ast::Config,
    registry: &Registry,
    ctx: &BuildContext,
) -> Result<CompiledPipeline, Vec<Diagnostic>> {
    let mut c = Compiler {
        r: Resolver {
            registry,
            diags: Vec::new(),
        },
        ctx,
        counter: 0,
    };
    let mut p = CompiledPipeline {
        inputs: Vec::new(),
        filters: Vec::new(),
        outputs: Vec::new(),
        routes: Vec::new(),
    };
    for section in &config.sections {
        match section.kind {
            SectionKind::Input => {
                for stmt in &section.body {
                    match stmt {
                        Stmt::Plugin(pl) => {
                            if let Some(i) = c.input(pl) {
                                p.inputs.push(i);
                            }
                        }
                        Stmt::If(chain) => c.r.diags.push(Diagnostic::new(
                            chain.span,
                            "conditionals are not allowed in the input section",
                        )),
                    }
                }
            }
            SectionKind::Filter => {
                let steps = c.filter_steps(&section.body);
                p.filters.extend(steps);
            }
            SectionKind::Output => {
                let routes = c.output_routes(&section.body, &mut p.outputs);
                p.routes.extend(routes);
            }
        }
    }
    if c.r.diags.is_empty() {
        Ok(p)
    } else {
        Err(c.r.diags)
    }
}

/// Validates every plugin and option without building anything: `check`/`-t` after parsing.
pub fn validate(config: &ast::Config, registry: &Registry, ctx: &BuildContext) -> Vec<Diagnostic> {
    let mut c = Compiler {
        r: Resolver {
            registry,
            diags: Vec::new(),
        },
        ctx,
        counter: 0,
    };
    fn walk(c: &mut Compiler, kind: Kind, body: &[Stmt]) {
        for stmt in body {
            match stmt {
                Stmt::Plugin(p) => {
                    let _ = c.r.args(kind, p);
                }
                Stmt::If(chain) => {
                    for b in &chain.branches {
                        let _ = c.condition(&b.condition);
                        walk(c, kind, &b.body);
                    }
                    if let Some(e) = &chain.else_body {
                        walk(c, kind, e);
                    }
                }
            }
        }
    }
    for s in &config.sections {
        let kind = match s.kind {
            SectionKind::Input => Kind::Input,
            SectionKind::Filter => Kind::Filter,
            SectionKind::Output => Kind::Output,
        };
        walk(&mut c, kind, &s.body);
    }
    c.r.diags
}

struct Compiler<'a> {
    r: Resolver<'a>,
    ctx: &'a BuildContext,
    counter: usize,
}

impl Compiler<'_> {
    fn next_id(&mut self, name: &str) -> String {
        self.counter += 1;
        format!("{name}_{}", self.counter)
    }

    /// Reports a builder's errors, each at its option's position (the plugin's otherwise).
    fn build_error(&mut self, args: &Args, kind: Kind, name: &str, e: BuildError) {
        for e in e.all() {
            let span = e
                .option
                .as_deref()
                .and_then(|o| args.span_of(o))
                .unwrap_or(args.span);
            let msg = match &e.option {
                Some(o) => format!("{} {name:?}: option {o:?}: {}", kind.as_str(), e.message),
                None => format!("{} {name:?}: {}", kind.as_str(), e.message),
            };
            self.r
                .diags
                .push(Diagnostic::new(span, msg).at_start(e.at_start));
        }
    }

    /// The plugin's validated options with its codecs built; `None` after reporting.
    fn built_args(&mut self, kind: Kind, p: &ast::Plugin) -> Option<Args> {
        let mut args = self.r.args(kind, p)?;
        match build_codecs(&mut args, self.r.registry, self.ctx) {
            Ok(()) => Some(args),
            Err(e) => {
                self.build_error(&args, kind, &p.name, e);
                None
            }
        }
    }

    fn input(&mut self, p: &ast::Plugin) -> Option<CompiledInput> {
        let args = self.built_args(Kind::Input, p)?;
        let entry = self.r.registry.input(&p.name)?;
        let id = args.string("id").unwrap_or_else(|| self.next_id(&p.name));
        let decorator = Decorator {
            type_name: args.string("type"),
            tags: args.strings("tags"),
            add_field: args
                .hash("add_field")
                .into_iter()
                .filter_map(|(k, v)| {
                    Some((
                        FieldRef::parse(&k).ok()?,
                        Template::compile(&v.to_logstash_string()),
                    ))
                })
                .collect(),
        };
        match (entry.build)(&args, self.ctx) {
            Ok(input) => Some(CompiledInput {
                name: p.name.clone(),
                id,
                input,
                decorator,
            }),
            Err(e) => {
                self.build_error(&args, Kind::Input, &p.name, e);
                None
            }
        }
    }

    fn filter_steps(&mut self, body: &[Stmt]) -> Vec<Step> {
        let mut out = Vec::new();
        for stmt in body {
            match stmt {
                Stmt::Plugin(p) => {
                    if let Some(node) = self.filter(p) {
                        out.push(Step::Filter(Arc::new(node)));
                    }
                }
                Stmt::If(chain) => {
                    let mut branches = Vec::new();
                    for b in &chain.branches {
                        let cond = self.condition(&b.condition);
                        let steps = self.filter_steps(&b.body);
                        if let Some(cond) = cond {
                            branches.push((cond, steps));
                        }
                    }
                    let otherwise = chain
                        .else_body
                        .as_deref()
                        .map(|b| self.filter_steps(b))
                        .unwrap_or_default();
                    out.push(Step::If {
                        branches,
                        otherwise,
                    });
                }
            }
        }
        out
    }

    fn filter(&mut self, p: &ast::Plugin) -> Option<FilterNode> {
        let args = self.built_args(Kind::Filter, p)?;
        let entry = self.r.registry.filter(&p.name)?;
        let id = args.string("id").unwrap_or_else(|| self.next_id(&p.name));
        let common = CommonFilterOptions {
            add_field: args
                .hash("add_field")
                .into_iter()
                .flat_map(|(k, v)| {
                    let key = Template::compile(&k);
                    // A list value adds each element, as Logstash does.
                    let vals = match v {
                        Value::Array(a) => a,
                        one => vec![one],
                    };
                    vals.into_iter()
                        .map(move |v| (key.clone(), Template::compile(&v.to_logstash_string())))
                })
                .collect(),
            remove_field: args
                .strings("remove_field")
                .iter()
                .map(|s| Template::compile(s))
                .collect(),
            add_tag: args
                .strings("add_tag")
                .iter()
                .map(|s| Template::compile(s))
                .collect(),
            remove_tag: args
                .strings("remove_tag")
                .iter()
                .map(|s| Template::compile(s))
                .collect(),
        };
        match (entry.build)(&args, self.ctx) {
            Ok(filter) => Some(FilterNode {
                name: p.name.clone(),
                id,
                filter,
                common,
            }),
            Err(e) => {
                self.build_error(&args, Kind::Filter, &p.name, e);
                None
            }
        }
    }

    fn output_routes(&mut self, body: &[Stmt], outputs: &mut Vec<CompiledOutput>) -> Vec<Route> {
        let mut out = Vec::new();
        for stmt in body {
            match stmt {
                Stmt::Plugin(p) => {
                    let Some(args) = self.built_args(Kind::Output, p) else {
                        continue;
                    };
                    let Some(entry) = self.r.registry.output(&p.name) else {
                        continue;
                    };
                    let id = args.string("id").unwrap_or_else(|| self.next_id(&p.name));
                    match (entry.build)(&args, self.ctx) {
                        Ok(o) => {
                            outputs.push(CompiledOutput {
                                name: p.name.clone(),
                                id,
                                output: Arc::from(o),
                            });
                            out.push(Route::Output(outputs.len() - 1));
                        }
                        Err(e) => self.build_error(&args, Kind::Output, &p.name, e),
                    }
                }
                Stmt::If(chain) => {
                    let mut branches = Vec::new();
                    for b in &chain.branches {
                        let cond = self.condition(&b.condition);
                        let routes = self.output_routes(&b.body, outputs);
                        if let Some(cond) = cond {
                            branches.push((cond, routes));
                        }
                    }
                    let otherwise = chain
                        .else_body
                        .as_deref()
                        .map(|b| self.output_routes(b, outputs))
                        .unwrap_or_default();
                    out.push(Route::If {
                        branches,
                        otherwise,
                    });
                }
            }
        }
        out
    }

    fn operand(&mut self, r: &ast::Rvalue) -> Option<Operand> {
        Some(match &r.kind {
            ast::RvalueKind::String(s) => Operand::Const(Value::String(s.clone())),
            ast::RvalueKind::Number(n) => Operand::Const(number(n)),
            ast::RvalueKind::Selector(s) => match FieldRef::parse(s) {
                Ok(f) => Operand::Field(f),
                Err(e) => {
                    self.r.diags.push(Diagnostic::new(r.span, e.to_string()));
                    return None;
                }
            },
            ast::RvalueKind::Array(items) => Operand::List(
                items
                    .iter()
                    .map(|i| self.operand(i))
                    .collect::<Option<Vec<_>>>()?,
            ),
            ast::RvalueKind::Regex(s) => Operand::Const(Value::String(s.clone())),
            ast::RvalueKind::MethodCall { name, .. } => {
                self.r.diags.push(Diagnostic::new(
                    r.span,
                    format!("method calls are not supported in conditions: {name}(...)"),
                ));
                return None;
            }
        })
    }

    fn condition(&mut self, e: &ast::Expr) -> Option<Condition> {
        Some(match e {
            ast::Expr::Bool { op, left, right } => {
                let l = self.condition(left);
                let r = self.condition(right);
                Condition::Bool(*op, Box::new(l?), Box::new(r?))
            }
            ast::Expr::Not(inner) => Condition::Not(Box::new(self.condition(inner)?)),
            ast::Expr::Compare { op, left, right } => {
                let l = self.operand(left);
                let r = self.operand(right);
                Condition::Compare(*op, l?, r?)
            }
            ast::Expr::Match {
                negate,
                left,
                right,
            } => {
                let l = self.operand(left);
                let pattern = match &right.kind {
                    ast::RvalueKind::Regex(s) | ast::RvalueKind::String(s) => s.clone(),
                    _ => {
                        self.r.diags.push(Diagnostic::new(
                            right.span,
                            "the right side of =~ and !~ must be a regex or a string",
                        ));
                        return None;
                    }
                };
                match crate::ruby::compile_linear(&pattern) {
                    Ok(regex) => Condition::Match {
                        negate: *negate,
                        left: l?,
                        regex,
                    },
                    Err(err) => {
                        self.r.diags.push(Diagnostic::new(
                            right.span,
                            format!("invalid regex /{pattern}/: {err}"),
                        ));
                        return None;
                    }
                }
            }
            ast::Expr::In {
                negate,
                left,
                right,
            } => {
                let l = self.operand(left);
                let r = self.operand(right);
                Condition::In {
                    negate: *negate,
                    left: l?,
                    right: r?,
                }
            }
            ast::Expr::Value(v) => Condition::Truthy(self.operand(v)?),
        })
    }
}
