//! Parser tests: the precedence, stage forms and parameter rules the grammar promises, and
//! errors that point at the problem.

use super::*;

fn ft(s: &str) -> Filter {
    Filter::FreeText(s.into())
}

fn cmp(f: &str, op: CmpOp, v: &str) -> Filter {
    Filter::Compare {
        field: f.into(),
        op,
        value: v.into(),
    }
}

#[test]
fn precedence() {
    let q = parse(r#"error "disk full" or warn not status=200 | count()"#).unwrap();
    assert_eq!(
        q.stages[0],
        Stage::Filter(Filter::And(vec![
            ft("error"),
            Filter::Or(vec![ft("disk full"), ft("warn")]),
            Filter::Not(Box::new(cmp("status", CmpOp::Eq, "200"))),
        ]))
    );
    // Explicit `and` is the same level as juxtaposition.
    assert_eq!(
        parse("a or b and c").unwrap().stages[0],
        Stage::Filter(Filter::And(vec![
            Filter::Or(vec![ft("a"), ft("b")]),
            ft("c")
        ]))
    );
    assert!(matches!(&q.stages[1], Stage::Call(c) if c.name == "count" && c.args.is_empty()));
    assert!(parse("").unwrap().stages.is_empty());
    assert_eq!(
        parse("a // c\n/* x */ b").unwrap().stages[0],
        Stage::Filter(Filter::And(vec![ft("a"), ft("b")]))
    );
    assert_eq!(
        parse("latency >= 10.5 status!=500").unwrap().stages[0],
        Stage::Filter(Filter::And(vec![
            cmp("latency", CmpOp::Ge, "10.5"),
            cmp("status", CmpOp::Ne, "500")
        ]))
    );
}

#[test]
fn assignments_case_match_and_params() {
    let q = parse("x := a * 2 + b | y := lowercase(name)").unwrap();
    assert!(
        matches!(&q.stages[0], Stage::Assign { field, expr: Expr::Bin(BinOp::Add, _, _), .. } if field == "x")
    );
    assert!(
        matches!(&q.stages[1], Stage::Assign { expr: Expr::Call(c), .. } if c.name == "lowercase")
    );
    let q = parse("case { level=ERROR | s := 1; * | s := 0 }").unwrap();
    assert!(matches!(&q.stages[0], Stage::Case { branches, .. } if branches.len() == 2));
    let q = parse(r#"status match { "200" => ok := 1; 5* => bad := 1; /^4/ => c := 4 }"#).unwrap();
    assert!(matches!(&q.stages[0], Stage::Match { arms, .. } if arms.len() == 3));
    let mut params = HashMap::new();
    params.insert("svc".to_string(), "api".to_string());
    assert_eq!(
        parse_with("service=?svc", &params).unwrap().stages[0],
        Stage::Filter(cmp("service", CmpOp::Eq, "api"))
    );
    let e = parse("service=?nope").unwrap_err();
    assert!(e.message.contains("?nope"), "{e}");
    let q = parse("groupBy([a, b], function=[count(), avg(x)], limit=5)").unwrap();
    let Stage::Call(c) = &q.stages[0] else {
        panic!()
    };
    assert_eq!(c.args.len(), 3);
    assert!(matches!(&c.args[1].value, ArgValue::List(l) if l.len() == 2));
}

#[test]
fn errors_point_at_the_problem() {
    let e = parse("status=").unwrap_err();
    assert_eq!(e.position, 7);
    assert!(e.message.contains("expected a value after status="), "{e}");
    assert!(parse("(a").unwrap_err().message.contains("expected )"));
    assert!(parse("\"open")
        .unwrap_err()
        .message
        .contains("unterminated string"));
    assert!(parse("a |").unwrap_err().message.contains("after |"));
    assert!(parse("a )")
        .unwrap_err()
        .message
        .contains("expected | or the end"));
    assert!(parse("/(/").unwrap_err().message.contains("regex"));
    assert!(parse("x < abc")
        .unwrap_err()
        .message
        .contains("needs a number"));
    assert!(parse("count(").unwrap_err().message.contains("expected"));
    let deep = "(".repeat(10_000);
    assert!(parse(&deep).unwrap_err().message.contains("nests deeper"));
}

#[test]
fn field_match_compare_and_braced_params() {
    // `f =~ g(...)` alone is the stage g(field=f, ...).
    let q = parse(r#"host =~ regex("web-(?<n>\d)")"#).unwrap();
    assert!(matches!(&q.stages[0], Stage::Call(c) if c.name == "regex"
        && c.args[0].name.as_deref() == Some("field")
        && c.args[0].value == ArgValue::Str("host".into())));
    // Inside a filter expression it is a filter call.
    let q = parse(r#"host =~ in(values=["a", "b"]) or x"#).unwrap();
    assert!(
        matches!(&q.stages[0], Stage::Filter(Filter::Or(p)) if matches!(&p[0], Filter::Call(c) if c.name == "in"))
    );
    assert!(parse("host =~ nofunction").is_err());
    assert!(parse(r#"host =~ in(field=x, values=[a])"#).is_err());
    let q = parse("a <=> b").unwrap();
    assert!(matches!(&q.stages[0], Stage::Filter(Filter::Call(c)) if c.name == "test"));
    let none = HashMap::new();
    let q = parse_with("service=?{svc=api} | head(?{n=2})", &none).unwrap();
    assert_eq!(q.stages[0], Stage::Filter(cmp("service", CmpOp::Eq, "api")));
    assert!(matches!(&q.stages[1], Stage::Call(c) if c.args[0].value == ArgValue::Str("2".into())));
    let mut p = HashMap::new();
    p.insert("svc".to_string(), "db".to_string());
    let q = parse_with("service=?{svc=api}", &p).unwrap();
    assert_eq!(q.stages[0], Stage::Filter(cmp("service", CmpOp::Eq, "db")));
    assert!(parse("service=?{svc}").is_err());
    assert!(parse("service=?{svc").is_err());
    assert!(parse("x := ?{k=3} * 2").is_ok());
}
