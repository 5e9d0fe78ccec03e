//! Parsers over GraphQL: the built-ins and a repository's scripts as `Parser` objects,
//! creating and replacing scripts (each must compile and keep its test lines), and test runs
//! over sample lines. Kept apart from the repository resolvers, which only delegate here, so
//! the parser rules sit in one place next to what `ingest::script` compiles.

use async_graphql::{Context, Error, InputObject, SimpleObject};
use strata_global::GlobalEvent;

use super::{node, publish, require_view, valid_name};
use crate::auth::ViewPermission;
use crate::ingest::parsers;
use crate::ingest::script::{ParserSpec, ScriptParser};

#[derive(SimpleObject, Clone)]
pub struct ParserRef {
    pub name: String,
}

/// A parser: a built-in (`json`, `kv`, `accesslog`, `none`) or a repository script.
#[derive(SimpleObject, Clone)]
pub struct Parser {
    /// The name is the id: ingest tokens refer to parsers by name.
    pub id: String,
    pub name: String,
    /// The script (empty for built-ins, which are native code).
    pub script: String,
    pub is_built_in: bool,
}

fn builtin_description(name: &str) -> &'static str {
    match name {
        "json" => "// built-in: the line is a JSON object; nested keys become dotted fields",
        "kv" => "// built-in: key=value pairs (values may be quoted)",
        "accesslog" => "// built-in: Apache/NGINX combined access log",
        _ => "// built-in: keeps @rawstring only",
    }
}

/// Built-in parsers, then the repository's own.
pub(super) fn all_parsers(repo: Option<&strata_global::Repository>) -> Vec<Parser> {
    let mut out: Vec<Parser> = parsers::BUILTIN
        .iter()
        .map(|n| Parser {
            id: n.to_string(),
            name: n.to_string(),
            script: builtin_description(n).to_string(),
            is_built_in: true,
        })
        .collect();
    out.extend(repo.into_iter().flat_map(|r| {
        r.parsers.values().map(|p| Parser {
            id: p.name.clone(),
            name: p.name.clone(),
            script: p.script.clone(),
            is_built_in: false,
        })
    }));
    out
}

/// One sample line's result in a parser test.
#[derive(SimpleObject)]
pub struct ParserTestResult {
    input: String,
    /// False when the script filtered the line out.
    kept: bool,
    /// The event's `@timestamp` (epoch ms) when the parser found one.
    timestamp: Option<i64>,
    fields: Vec<Field>,
    error: Option<String>,
}

#[derive(SimpleObject)]
pub struct Field {
    name: String,
    value: String,
}

/// Runs a parser (a script, or a parser by name) over sample lines without ingesting.
pub(super) fn test_parser(
    ctx: &Context<'_>,
    repository_name: String,
    script: Option<String>,
    parser: Option<String>,
    test_data: Vec<String>,
) -> Result<Vec<ParserTestResult>, Error> {
    if test_data.len() > 1000 {
        return Err(Error::new("at most 1000 test lines"));
    }
    let spec = match (script, parser) {
        (Some(s), _) => {
            ParserSpec::Script(Box::new(ScriptParser::compile(&s).map_err(Error::new)?))
        }
        (None, Some(p)) => node(ctx)
            .global
            .read(|s| ParserSpec::resolve(s, &repository_name, &p))
            .map_err(Error::new)?,
        (None, None) => return Err(Error::new("give a script or a parser name")),
    };
    Ok(test_data
        .into_iter()
        .map(|line| match spec.parse(&line) {
            Ok(Some(p)) => {
                let mut fields: Vec<Field> = p
                    .tags
                    .into_iter()
                    .map(|(k, v)| Field {
                        name: format!("#{k}"),
                        value: v,
                    })
                    .collect();
                fields.extend(
                    p.fields
                        .into_iter()
                        .map(|(name, value)| Field { name, value }),
                );
                ParserTestResult {
                    input: line,
                    kept: true,
                    timestamp: p.timestamp.map(|t| t.0),
                    fields,
                    error: None,
                }
            }
            Ok(None) => ParserTestResult {
                input: line,
                kept: false,
                timestamp: None,
                fields: vec![],
                error: None,
            },
            Err(e) => ParserTestResult {
                input: line,
                kept: false,
                timestamp: None,
                fields: vec![],
                error: Some(e.to_string()),
            },
        })
        .collect())
}

#[derive(InputObject)]
pub struct CreateParserInput {
    repository_name: String,
    name: String,
    script: String,
    /// Sample lines that must all parse (as in LogScale's parser test cases).
    #[graphql(default)]
    test_data: Vec<String>,
}

#[derive(InputObject)]
pub struct DeleteParserInput {
    repository_name: String,
    /// The parser's name (its id).
    id: String,
}

pub(super) fn check_parser_exists(
    ctx: &Context<'_>,
    repo: &str,
    parser: &str,
) -> Result<(), Error> {
    let custom = node(ctx).global.read(|s| {
        s.repositories
            .get(repo)
            .is_some_and(|r| r.parsers.contains_key(parser))
    });
    if custom || parsers::BUILTIN.contains(&parser) {
        Ok(())
    } else {
        Err(Error::new(format!(
            "unknown parser {parser:?} (built-in parsers: {}; or a parser of the repository)",
            parsers::BUILTIN.join(", ")
        )))
    }
}

/// Replaces a parser's script; the parser must exist (its version guards the change).
pub(super) async fn update_parser(
    ctx: &Context<'_>,
    input: CreateParserInput,
) -> Result<Parser, Error> {
    require_view(ctx, &input.repository_name, ViewPermission::ChangeParsers)?;
    let version = node(ctx)
        .global
        .read(|s| {
            s.repositories
                .get(&input.repository_name)
                .and_then(|r| r.parsers.get(&input.name))
                .map(|p| p.version)
        })
        .ok_or_else(|| {
            Error::new(format!(
                "parser {:?} does not exist in {:?}",
                input.name, input.repository_name
            ))
        })?;
    put_parser(ctx, input, Some(version)).await
}

pub(super) async fn delete_parser(
    ctx: &Context<'_>,
    input: DeleteParserInput,
) -> Result<bool, Error> {
    require_view(ctx, &input.repository_name, ViewPermission::ChangeParsers)?;
    publish(
        ctx,
        GlobalEvent::DeleteParser {
            repo: input.repository_name,
            name: input.id,
        },
    )
    .await?;
    Ok(true)
}

pub(super) async fn put_parser(
    ctx: &Context<'_>,
    input: CreateParserInput,
    expected_version: Option<u64>,
) -> Result<Parser, Error> {
    require_view(ctx, &input.repository_name, ViewPermission::ChangeParsers)?;
    valid_name("parser", &input.name)?;
    if parsers::BUILTIN.contains(&input.name.as_str()) {
        return Err(Error::new(format!(
            "{:?} is a built-in parser's name",
            input.name
        )));
    }
    let compiled = ScriptParser::compile(&input.script)
        .map_err(|e| Error::new(format!("the parser script does not compile: {e}")))?;
    for (i, line) in input.test_data.iter().enumerate() {
        if compiled.parse(line).is_none() {
            return Err(Error::new(format!(
                "test line {} is dropped by the parser: {line:?}",
                i + 1
            )));
        }
    }
    publish(
        ctx,
        GlobalEvent::PutParser {
            repo: input.repository_name,
            name: input.name.clone(),
            script: input.script.clone(),
            expected_version,
        },
    )
    .await?;
    Ok(Parser {
        id: input.name.clone(),
        name: input.name,
        script: input.script,
        is_built_in: false,
    })
}
