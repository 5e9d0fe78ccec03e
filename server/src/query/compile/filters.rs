//! Functions that may stand inside a filter expression (`in()`, `test()`), compiled to filters
//! so they can join the leading filters that run on segment blocks.

use super::args::Args;
use super::err;
use crate::query::ast::Call;
use crate::query::filter::CFilter;
use crate::query::ParseError;

/// Filter functions usable inside a filter expression.
pub(super) fn filter_call(c: &Call) -> Result<CFilter, ParseError> {
    match c.name.to_ascii_lowercase().as_str() {
        "in" => {
            let a = Args::new(c, &["field", "values", "ignoreCase"], Some("field"))?;
            Ok(CFilter::In {
                field: a.req("field", true)?,
                values: a.list("values", false)?.unwrap_or_default(),
                ignore_case: a.bool("ignoreCase", false)?,
            })
        }
        "test" => {
            let a = Args::new(c, &["expression"], Some("expression"))?;
            Ok(CFilter::Test(a.expr("expression", true)?))
        }
        other => Err(err(
            c.pos,
            format!(
                "{other}() cannot be used inside a filter expression; put it in its own | stage"
            ),
        )),
    }
}
