//! GraphQL API (`/graphql`, async-graphql), the UI's API for metadata and administration, with
//! LogScale's names. Every field checks the caller: the request must carry a valid API token,
//! and changes need a root user.

use std::sync::Arc;

use async_graphql::{Context, EmptySubscription, Error, InputObject, Object, Schema, SimpleObject};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use strata_global::{hash_token, GlobalEvent, Outcome};

use super::{ApiError, Caller};
use crate::node::NodeCtx;

pub type StrataSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

pub fn schema() -> StrataSchema {
    Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .limit_depth(16)
        .limit_complexity(2000)
        .finish()
}

fn node<'a>(ctx: &'a Context<'_>) -> &'a Arc<NodeCtx> {
    ctx.data_unchecked::<Arc<NodeCtx>>()
}

fn require_user(ctx: &Context<'_>) -> Result<(), Error> {
    match ctx.data_opt::<Caller>() {
        Some(Caller::User { .. }) => Ok(()),
        _ => Err(Error::new("unauthorized: an API token is required")),
    }
}

fn require_root(ctx: &Context<'_>) -> Result<(), Error> {
    match ctx.data_opt::<Caller>() {
        Some(Caller::User { is_root: true, .. }) => Ok(()),
        Some(Caller::User { username, .. }) => Err(Error::new(format!(
            "forbidden: user {username} may not change this"
        ))),
        _ => Err(Error::new("unauthorized: an API token is required")),
    }
}

async fn publish(ctx: &Context<'_>, ev: GlobalEvent) -> Result<(), Error> {
    match node(ctx).global.publish(ev).await {
        Ok((_, Outcome::Applied)) => Ok(()),
        Ok((_, Outcome::Rejected(r))) => Err(Error::new(r)),
        Err(e) => Err(Error::new(format!("metadata store unavailable: {e}"))),
    }
}

#[derive(SimpleObject, Clone)]
pub struct ParserRef {
    pub name: String,
}

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct IngestToken {
    pub name: String,
    /// Only set when the token was just created; tokens are stored hashed.
    pub token: Option<String>,
    #[graphql(skip)]
    pub parser_name: Option<String>,
}

#[async_graphql::ComplexObject]
impl IngestToken {
    async fn parser(&self) -> Option<ParserRef> {
        self.parser_name.clone().map(|name| ParserRef { name })
    }
}

pub struct Repository {
    name: String,
}

#[Object]
impl Repository {
    async fn name(&self) -> &str {
        &self.name
    }
    async fn description(&self, ctx: &Context<'_>) -> Result<String, Error> {
        require_user(ctx)?;
        Ok(node(ctx).global.read(|s| {
            s.repositories
                .get(&self.name)
                .map(|r| r.description.clone())
                .unwrap_or_default()
        }))
    }
    async fn ingest_tokens(&self, ctx: &Context<'_>) -> Result<Vec<IngestToken>, Error> {
        require_user(ctx)?;
        Ok(node(ctx).global.read(|s| {
            s.ingest_tokens
                .values()
                .filter(|t| t.repo == self.name)
                .map(|t| IngestToken {
                    name: t.name.clone(),
                    token: None,
                    parser_name: t.parser.clone(),
                })
                .collect()
        }))
    }
    /// Events stored in the repository's segments.
    async fn event_count(&self, ctx: &Context<'_>) -> Result<u64, Error> {
        require_user(ctx)?;
        Ok(node(ctx).global.read(|s| {
            s.segments
                .values()
                .filter(|x| x.repo == self.name)
                .map(|x| x.event_count)
                .sum()
        }))
    }
}

pub struct QueryRoot;

#[Object]
impl QueryRoot {
    async fn repositories(&self, ctx: &Context<'_>) -> Result<Vec<Repository>, Error> {
        require_user(ctx)?;
        Ok(node(ctx).global.read(|s| {
            s.repositories
                .keys()
                .map(|n| Repository { name: n.clone() })
                .collect()
        }))
    }

    async fn repository(&self, ctx: &Context<'_>, name: String) -> Result<Repository, Error> {
        require_user(ctx)?;
        if node(ctx)
            .global
            .read(|s| s.repositories.contains_key(&name))
        {
            Ok(Repository { name })
        } else {
            Err(Error::new(format!("repository {name:?} does not exist")))
        }
    }
}

#[derive(SimpleObject)]
pub struct CreateRepositoryMutation {
    repository: RepositoryName,
}

#[derive(SimpleObject)]
pub struct RepositoryName {
    name: String,
}

#[derive(InputObject)]
pub struct AddIngestTokenV3Input {
    repository_name: String,
    name: String,
    parser: Option<String>,
}

fn valid_name(what: &str, name: &str) -> Result<(), Error> {
    if name.is_empty() || name.len() > 200 || name.chars().any(|c| c.is_control() || c == '/') {
        return Err(Error::new(format!(
            "{what} name {name:?} must be 1-200 characters without '/' or control characters"
        )));
    }
    Ok(())
}

pub struct MutationRoot;

#[Object]
impl MutationRoot {
    async fn create_repository(
        &self,
        ctx: &Context<'_>,
        name: String,
        description: Option<String>,
    ) -> Result<CreateRepositoryMutation, Error> {
        require_root(ctx)?;
        valid_name("repository", &name)?;
        publish(
            ctx,
            GlobalEvent::CreateRepository {
                name: name.clone(),
                description: description.unwrap_or_default(),
            },
        )
        .await?;
        Ok(CreateRepositoryMutation {
            repository: RepositoryName { name },
        })
    }

    #[graphql(name = "addIngestTokenV3")]
    async fn add_ingest_token_v3(
        &self,
        ctx: &Context<'_>,
        input: AddIngestTokenV3Input,
    ) -> Result<IngestToken, Error> {
        require_root(ctx)?;
        valid_name("ingest token", &input.name)?;
        if let Some(p) = &input.parser {
            if !crate::ingest::parsers::BUILTIN.contains(&p.as_str()) {
                return Err(Error::new(format!(
                    "unknown parser {p:?} (built-in parsers: {})",
                    crate::ingest::parsers::BUILTIN.join(", ")
                )));
            }
        }
        let token = format!(
            "{:032x}{:032x}",
            rand::random::<u128>(),
            rand::random::<u128>()
        );
        publish(
            ctx,
            GlobalEvent::CreateIngestToken {
                repo: input.repository_name,
                name: input.name.clone(),
                token_hash: hash_token(&token),
                parser: input.parser.clone(),
            },
        )
        .await?;
        Ok(IngestToken {
            name: input.name,
            token: Some(token),
            parser_name: input.parser,
        })
    }
}

pub async fn handler(
    State(node): State<Arc<NodeCtx>>,
    headers: HeaderMap,
    req: async_graphql_axum::GraphQLRequest,
) -> Response {
    let caller = match node.authenticate(&headers) {
        Ok(c @ Caller::User { .. }) => c,
        Ok(Caller::Ingest { .. }) => {
            return ApiError::forbidden("an ingest token cannot use the GraphQL API")
                .into_response()
        }
        Err(e) => return e.into_response(),
    };
    let req = req.into_inner().data(node.clone()).data(caller);
    async_graphql_axum::GraphQLResponse::from(node.schema.execute(req).await).into_response()
}

pub async fn playground() -> impl IntoResponse {
    Html(
        async_graphql::http::GraphiQLSource::build()
            .endpoint("/graphql")
            .finish(),
    )
}
