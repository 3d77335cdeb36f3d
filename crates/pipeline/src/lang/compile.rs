//! AST → runnable pipeline: resolves plugins in the registry, validates and coerces their
//! options against the schemas, builds them, and compiles conditionals. Every error is
//! collected so the user sees all of them at once, each with its position.

use crate::common::CommonFilterOptions;
use crate::condition::{Condition, Operand};
use crate::input_context::Decorator;
use crate::lang::ast::{self, SectionKind, Span, Stmt, ValueKind};
use crate::lang::source::Diagnostic;
use crate::options::{ArgValue, Args, BuildError, CodecSpec, OptKind, OptSpec};
use crate::plugin::{BuildContext, Filter, Input, Output};
use crate::registry::{suggest, Kind, Registry};
use logstash_mesos_core::{FieldRef, Map, Template, Value};
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

/// Compiles a parsed config. With `build == false` plugins are resolved and their options
/// validated but not built (nothing is opened or started).
pub fn compile(
    config: &ast::Config,
    registry: &Registry,
    ctx: &BuildContext,
) -> Result<CompiledPipeline, Vec<Diagnostic>> {
    let mut c = Compiler {
        registry,
        ctx,
        diags: Vec::new(),
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
                        Stmt::If(chain) => c.diags.push(Diagnostic::new(
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
    if c.diags.is_empty() {
        Ok(p)
    } else {
        Err(c.diags)
    }
}

/// Validates every plugin and option without building anything: `check`/`-t` after parsing.
pub fn validate(config: &ast::Config, registry: &Registry, ctx: &BuildContext) -> Vec<Diagnostic> {
    let mut c = Compiler {
        registry,
        ctx,
        diags: Vec::new(),
        counter: 0,
    };
    fn walk(c: &mut Compiler, kind: Kind, body: &[Stmt]) {
        for stmt in body {
            match stmt {
                Stmt::Plugin(p) => {
                    let _ = c.args(kind, p);
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
    c.diags
}

struct Compiler<'a> {
    registry: &'a Registry,
    ctx: &'a BuildContext,
    diags: Vec<Diagnostic>,
    counter: usize,
}

impl Compiler<'_> {
    fn next_id(&mut self, name: &str) -> String {
        self.counter += 1;
        format!("{name}_{}", self.counter)
    }

    fn build_error(&mut self, args: &Args, kind: Kind, name: &str, e: BuildError) {
        let span = e
            .option
            .as_deref()
            .and_then(|o| args.span_of(o))
            .unwrap_or(args.span);
        let msg = match &e.option {
            Some(o) => format!("{} {name:?}: option {o:?}: {}", kind.as_str(), e.message),
            None => format!("{} {name:?}: {}", kind.as_str(), e.message),
        };
        self.diags.push(Diagnostic::new(span, msg));
    }

    fn input(&mut self, p: &ast::Plugin) -> Option<CompiledInput> {
        let args = self.args(Kind::Input, p)?;
        let entry = self.registry.input(&p.name)?;
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
        let args = self.args(Kind::Filter, p)?;
        let entry = self.registry.filter(&p.name)?;
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
                    let Some(args) = self.args(Kind::Output, p) else {
                        continue;
                    };
                    let Some(entry) = self.registry.output(&p.name) else {
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

    /// Resolves the plugin and validates its attributes; `None` after reporting errors.
    fn args(&mut self, kind: Kind, p: &ast::Plugin) -> Option<Args> {
        let Some((own, common)) = self.registry.options_of(kind, &p.name) else {
            let names = self.registry.names(kind);
            let mut d = Diagnostic::new(
                p.name_span,
                format!("unknown {} plugin {:?}", kind.as_str(), p.name),
            );
            d = match suggest(names.iter().copied(), &p.name) {
                Some(s) => d.with_help(format!("did you mean {s:?}?")),
                None => d.with_help(format!(
                    "known {} plugins: {}",
                    kind.as_str(),
                    names.join(", ")
                )),
            };
            self.diags.push(d);
            return None;
        };
        let before = self.diags.len();
        let mut args = Args::new(&p.name, p.span);
        for (name, name_span, value) in merge_attributes(&p.attributes) {
            let Some(spec) = own.iter().chain(common).find(|o| o.name == name) else {
                let all: Vec<&str> = own.iter().chain(common).map(|o| o.name).collect();
                let mut d = Diagnostic::new(
                    name_span,
                    format!("{} {:?}: unknown option {:?}", kind.as_str(), p.name, name),
                );
                let mut help = String::new();
                if let Some(s) = suggest(all.iter().copied(), &name) {
                    help.push_str(&format!("did you mean {s:?}? "));
                }
                help.push_str(&format!("allowed: {}", all.join(", ")));
                d = d.with_help(help);
                self.diags.push(d);
                continue;
            };
            match self.coerce(kind, &p.name, spec, &value) {
                Ok(v) => args.insert(&name, v, value.span),
                Err(d) => self.diags.push(d),
            }
        }
        for spec in own.iter().filter(|o| o.required) {
            if !args.contains(spec.name) {
                self.diags.push(
                    Diagnostic::new(
                        p.name_span,
                        format!(
                            "{} {:?}: missing required option {:?}",
                            kind.as_str(),
                            p.name,
                            spec.name
                        ),
                    )
                    .with_help(format!("{}: {}", spec.name, spec.doc)),
                );
            }
        }
        (self.diags.len() == before).then_some(args)
    }

    fn coerce(
        &mut self,
        kind: Kind,
        plugin: &str,
        spec: &OptSpec,
        v: &ast::Value,
    ) -> Result<ArgValue, Diagnostic> {
        let wrong = |what: &str| {
            Diagnostic::new(
                v.span,
                format!(
                    "{} {plugin:?}: option {:?} expects {}, got {what}",
                    kind.as_str(),
                    spec.name,
                    spec.kind.describe()
                ),
            )
        };
        if spec.kind == OptKind::Codec {
            let (name, attrs, name_span, span) = match &v.kind {
                ValueKind::String(s) | ValueKind::Bareword(s) => {
                    (s.clone(), Vec::new(), v.span, v.span)
                }
                ValueKind::Plugin(p) => (p.name.clone(), p.attributes.clone(), p.name_span, p.span),
                _ => return Err(wrong(describe(&v.kind))),
            };
            let plugin = ast::Plugin {
                name,
                name_span,
                attributes: attrs,
                span,
            };
            let before = self.diags.len();
            let args = self.args(Kind::Codec, &plugin);
            return match args {
                Some(args) => Ok(ArgValue::Codec(CodecSpec {
                    name: plugin.name,
                    args: Box::new(args),
                })),
                None => {
                    // The codec's own errors were reported; return the last one as this option's.
                    let d = self
                        .diags
                        .pop()
                        .unwrap_or_else(|| wrong("an invalid codec"));
                    debug_assert!(self.diags.len() >= before.saturating_sub(1));
                    Err(d)
                }
            };
        }
        if let ValueKind::Plugin(_) = v.kind {
            return Err(wrong("a plugin"));
        }
        let raw = to_value(v)?;
        let out = match spec.kind {
            OptKind::String | OptKind::Path | OptKind::Password | OptKind::Uri => match raw {
                Value::Array(mut a) if a.len() == 1 => match a.pop() {
                    Some(Value::String(s)) => Value::String(s),
                    Some(Value::Integer(i)) => Value::String(i.to_string()),
                    Some(Value::Float(f)) => Value::String(f.to_string()),
                    _ => return Err(wrong("an array")),
                },
                Value::String(s) => Value::String(s),
                Value::Integer(i) => Value::String(i.to_string()),
                Value::Float(f) => Value::String(logstash_mesos_core::value::format_float(f)),
                Value::Array(_) => return Err(wrong("an array")),
                Value::Object(_) => return Err(wrong("a hash")),
                other => return Err(wrong(other.type_name())),
            },
            OptKind::Number => match raw {
                Value::Integer(_) | Value::Float(_) => raw,
                Value::String(s) => match s.trim().parse::<i64>() {
                    Ok(i) => Value::Integer(i),
                    Err(_) => match s.trim().parse::<f64>() {
                        Ok(f) => Value::Float(f),
                        Err(_) => return Err(wrong(&format!("{s:?}"))),
                    },
                },
                Value::Array(a)
                    if a.len() == 1 && matches!(a[0], Value::Integer(_) | Value::Float(_)) =>
                {
                    a[0].clone()
                }
                other => return Err(wrong(other.type_name())),
            },
            OptKind::Boolean => match raw {
                Value::String(s) if s == "true" => Value::Bool(true),
                Value::String(s) if s == "false" => Value::Bool(false),
                Value::Bool(b) => Value::Bool(b),
                Value::String(s) => return Err(wrong(&format!("{s:?}"))),
                other => return Err(wrong(other.type_name())),
            },
            OptKind::Array => match raw {
                Value::Array(a) => Value::Array(a),
                other => Value::Array(vec![other]),
            },
            OptKind::Hash => match raw {
                Value::Object(m) => Value::Object(m),
                Value::Array(a) if a.len() % 2 == 0 => {
                    let mut m = Map::default();
                    let mut it = a.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        let key = k.to_logstash_string();
                        match m.get_mut(&key) {
                            // The legacy array form may repeat a key: collect the values.
                            Some(Value::Array(existing)) => existing.push(v),
                            Some(existing) => {
                                let old = std::mem::take(existing);
                                *existing = Value::Array(vec![old, v]);
                            }
                            None => {
                                m.insert(key, v);
                            }
                        }
                    }
                    Value::from(m)
                }
                other => return Err(wrong(other.type_name())),
            },
            OptKind::Enum(allowed) => {
                let s = match &raw {
                    Value::String(s) => s.clone(),
                    Value::Array(a) if a.len() == 1 => a[0].to_logstash_string(),
                    other => other.to_logstash_string(),
                };
                if !allowed.contains(&s.as_str()) {
                    let mut d = wrong(&format!("{s:?}"));
                    if let Some(sug) = suggest(allowed.iter().copied(), &s) {
                        d = d.with_help(format!("did you mean {sug:?}?"));
                    }
                    return Err(d);
                }
                Value::String(s)
            }
            OptKind::Field => {
                let s = match &raw {
                    Value::String(s) => s.clone(),
                    Value::Array(a) if a.len() == 1 => a[0].to_logstash_string(),
                    other => return Err(wrong(other.type_name())),
                };
                if let Err(e) = FieldRef::parse(&s) {
                    return Err(Diagnostic::new(
                        v.span,
                        format!("{} {plugin:?}: option {:?}: {e}", kind.as_str(), spec.name),
                    ));
                }
                Value::String(s)
            }
            OptKind::Any | OptKind::Codec => raw,
        };
        Ok(ArgValue::Value(out))
    }

    fn operand(&mut self, r: &ast::Rvalue) -> Option<Operand> {
        Some(match &r.kind {
            ast::RvalueKind::String(s) => Operand::Const(Value::String(s.clone())),
            ast::RvalueKind::Number(n) => Operand::Const(number(n)),
            ast::RvalueKind::Selector(s) => match FieldRef::parse(s) {
                Ok(f) => Operand::Field(f),
                Err(e) => {
                    self.diags.push(Diagnostic::new(r.span, e.to_string()));
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
                self.diags.push(Diagnostic::new(
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
                        self.diags.push(Diagnostic::new(
                            right.span,
                            "the right side of =~ and !~ must be a regex or a string",
                        ));
                        return None;
                    }
                };
                match regex::Regex::new(&pattern) {
                    Ok(regex) => Condition::Match {
                        negate: *negate,
                        left: l?,
                        regex,
                    },
                    Err(err) => {
                        self.diags.push(Diagnostic::new(
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

fn number(n: &str) -> Value {
    match n.parse::<i64>() {
        Ok(i) => Value::Integer(i),
        Err(_) => n
            .parse::<f64>()
            .map(Value::Float)
            .unwrap_or_else(|_| Value::String(n.to_string())),
    }
}

fn describe(k: &ValueKind) -> &'static str {
    match k {
        ValueKind::String(_) => "a string",
        ValueKind::Number(_) => "a number",
        ValueKind::Bareword(_) => "a bareword",
        ValueKind::Array(_) => "an array",
        ValueKind::Hash(_) => "a hash",
        ValueKind::Plugin(_) => "a plugin",
    }
}

/// Converts a config value (not a plugin) to a [`Value`].
fn to_value(v: &ast::Value) -> Result<Value, Diagnostic> {
    Ok(match &v.kind {
        ValueKind::String(s) | ValueKind::Bareword(s) => Value::String(s.clone()),
        ValueKind::Number(n) => number(n),
        ValueKind::Array(items) => {
            Value::Array(items.iter().map(to_value).collect::<Result<_, _>>()?)
        }
        ValueKind::Hash(entries) => {
            let mut m = Map::default();
            for e in entries {
                if m.contains_key(&e.key) {
                    return Err(Diagnostic::new(
                        e.key_span,
                        format!("duplicate key {:?} in hash", e.key),
                    ));
                }
                m.insert(e.key.clone(), to_value(&e.value)?);
            }
            Value::from(m)
        }
        ValueKind::Plugin(p) => {
            return Err(Diagnostic::new(
                p.span,
                "a plugin is only allowed as a codec",
            ))
        }
    })
}

/// Merges repeated attributes as Logstash does: hashes merge, anything else accumulates
/// into an array (`add_tag => "a" add_tag => "b"` is `["a", "b"]`).
fn merge_attributes(attrs: &[ast::Attribute]) -> Vec<(String, Span, ast::Value)> {
    let mut out: Vec<(String, Span, ast::Value)> = Vec::new();
    for a in attrs {
        if let Some(existing) = out.iter_mut().find(|(n, _, _)| *n == a.name) {
            let merged_kind = match (&existing.2.kind, &a.value.kind) {
                (ValueKind::Hash(x), ValueKind::Hash(y)) => {
                    let mut entries = x.clone();
                    for e in y {
                        match entries.iter_mut().find(|o| o.key == e.key) {
                            Some(o) => *o = e.clone(),
                            None => entries.push(e.clone()),
                        }
                    }
                    ValueKind::Hash(entries)
                }
                (ValueKind::Array(x), ValueKind::Array(y)) => {
                    ValueKind::Array(x.iter().chain(y).cloned().collect())
                }
                (ValueKind::Array(x), _) => {
                    ValueKind::Array(x.iter().cloned().chain([a.value.clone()]).collect())
                }
                (_, ValueKind::Array(y)) => ValueKind::Array(
                    [existing.2.clone()]
                        .into_iter()
                        .chain(y.iter().cloned())
                        .collect(),
                ),
                _ => ValueKind::Array(vec![existing.2.clone(), a.value.clone()]),
            };
            existing.2 = ast::Value {
                kind: merged_kind,
                span: existing.2.span,
            };
        } else {
            out.push((a.name.clone(), a.name_span, a.value.clone()));
        }
    }
    out
}
