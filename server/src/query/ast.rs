//! The syntax tree of a LogScale query, as the parser produces it. Nothing here is executable;
//! `compile` turns it into operators.

/// A parsed query: stages separated by `|`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Filter(Filter),
    /// `field := expression` (or `field := function(...)`, which is the function with `as=field`).
    Assign {
        field: String,
        expr: Expr,
        pos: usize,
    },
    Call(Call),
    /// `case { branch; branch; * | ... }`: the first branch whose leading filters accept the
    /// event handles it.
    Case {
        branches: Vec<Vec<Stage>>,
        pos: usize,
    },
    /// `field match { pattern => pipeline; ... }`.
    Match {
        field: String,
        arms: Vec<(MatchPattern, Vec<Stage>)>,
        pos: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum MatchPattern {
    /// A value or a glob with `*`; `*` alone matches everything.
    Glob(String),
    Regex(Regex),
}

/// A function call: `name(arg, name=value, ...)`. Names are kept as written; lookups ignore case.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub args: Vec<Arg>,
    pub pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: Option<String>,
    pub value: ArgValue,
    pub pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ArgValue {
    /// A bare word, number or quoted string.
    Str(String),
    List(Vec<ArgValue>),
    Call(Call),
    Regex(Regex),
    /// A `{ ... }` sub-pipeline.
    Pipeline(Vec<Stage>),
    /// An expression (the argument of `eval`, `test`, `if`).
    Expr(Expr),
}

/// `/pattern/flags` as written; compiled (and validated) by the parser.
#[derive(Debug, Clone, PartialEq)]
pub struct Regex {
    pub pattern: String,
    pub flags: String,
}

/// A boolean filter over events.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// Substring of `@rawstring`, ASCII-case-insensitive.
    FreeText(String),
    /// A regex on `@rawstring`; named groups become fields.
    FreeRegex(Regex),
    /// `field <op> value`. With `=`/`!=` the value may hold `*` globs; `field=*` means the
    /// field exists. `#tag=v` compares a tag of the datasource.
    Compare {
        field: String,
        op: CmpOp,
        value: String,
    },
    /// `field=/re/`; named groups become fields.
    FieldRegex {
        field: String,
        re: Regex,
    },
    /// A filter function used in filter position (`in(...)`, `test(...)`, ...).
    Call(Call),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Arithmetic / comparison expressions (`:=`, `eval`, `test`, `if`).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Field(String),
    Num(f64),
    Str(String),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    Call(Call),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}
