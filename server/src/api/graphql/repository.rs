//! Repositories over GraphQL: list, create, delete, description and retention, ingest tokens
//! (created once with the clear token in the answer, stored hashed), and parsers (the
//! built-ins plus repository scripts, with a test run over sample lines; their rules are in
//! `parsers.rs`, the resolvers here delegate).

use async_graphql::{Context, Error, InputObject, Object, SimpleObject};
use strata_global::{hash_token, GlobalEvent, Retention};

use super::items::{Dashboard, SavedQuery};
use super::parsers::{
    self, check_parser_exists, CreateParserInput, DeleteParserInput, Parser, ParserRef,
    ParserTestResult,
};
use super::{node, publish, require_org, require_user, require_view, require_visible, valid_name};
use crate::auth::{OrganizationPermission, ViewPermission, AUDIT_REPO};

const GB: f64 = 1e9;

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
    pub(crate) name: String,
    /// Set when this caller just created the repository (`createRepository` answers with it
    /// before any role gives the creator access).
    granted: bool,
    /// Storage figures, computed once per object however many size fields are asked for.
    sizes: std::sync::OnceLock<Sizes>,
}

/// Events, stored bytes, raw bytes and count of one repository's segments.
#[derive(Clone, Copy, Default)]
struct Sizes {
    events: u64,
    stored: u64,
    raw: u64,
    segments: usize,
}

impl Repository {
    pub(crate) fn new(name: String) -> Self {
        Repository {
            name,
            granted: false,
            sizes: std::sync::OnceLock::new(),
        }
    }

    /// Every field but the name needs `ReadAccess` on the repository.
    fn readable(&self, ctx: &Context<'_>) -> Result<(), Error> {
        if self.granted {
            return Ok(());
        }
        require_view(ctx, &self.name, ViewPermission::ReadAccess)
    }

    /// One pass over Global's segments for all the size fields of this repository.
    fn sizes(&self, ctx: &Context<'_>) -> Sizes {
        *self.sizes.get_or_init(|| {
            node(ctx).global.read(|s| {
                let mut acc = Sizes::default();
                for x in s.segments.values().filter(|x| x.repo == self.name) {
                    acc.events += x.event_count;
                    acc.stored += x.file_bytes;
                    acc.raw += x.raw_bytes;
                    acc.segments += 1;
                }
                acc
            })
        })
    }

    fn read<R>(&self, ctx: &Context<'_>, f: impl FnOnce(&strata_global::Repository) -> R) -> R
    where
        R: Default,
    {
        node(ctx)
            .global
            .read(|s| s.repositories.get(&self.name).map(f).unwrap_or_default())
    }
}

#[Object]
impl Repository {
    pub(crate) async fn name(&self) -> &str {
        &self.name
    }
    /// The repository's id: its name (names are unique and stable here).
    pub(crate) async fn id(&self) -> &str {
        &self.name
    }
    /// LogScale's repository type: `SYSTEM` for `humio-*` repositories, else `DEFAULT`.
    #[graphql(name = "type")]
    async fn repo_type(&self) -> &'static str {
        repository_type(&self.name)
    }
    /// The caller's permissions on this repository (what the UI may offer).
    async fn permissions(&self, ctx: &Context<'_>) -> Vec<ViewPermission> {
        super::caller_access(ctx)
            .map(|a| a.view_permissions(&self.name))
            .unwrap_or_default()
    }
    pub(crate) async fn description(&self, ctx: &Context<'_>) -> Result<String, Error> {
        self.readable(ctx)?;
        Ok(self.read(ctx, |r| r.description.clone()))
    }
    /// Retention by age, in days (null keeps forever).
    async fn time_based_retention(&self, ctx: &Context<'_>) -> Result<Option<f64>, Error> {
        self.readable(ctx)?;
        Ok(self.read(ctx, |r| r.retention.max_age_days.map(|d| d as f64)))
    }
    /// Retention by ingested (uncompressed) size, in GB.
    async fn ingest_size_based_retention(&self, ctx: &Context<'_>) -> Result<Option<f64>, Error> {
        self.readable(ctx)?;
        Ok(self.read(ctx, |r| {
            r.retention.max_uncompressed_bytes.map(|b| b as f64 / GB)
        }))
    }
    /// Retention by stored (compressed) size, in GB.
    async fn storage_size_based_retention(&self, ctx: &Context<'_>) -> Result<Option<f64>, Error> {
        self.readable(ctx)?;
        Ok(self.read(ctx, |r| {
            r.retention.max_compressed_bytes.map(|b| b as f64 / GB)
        }))
    }
    async fn ingest_tokens(&self, ctx: &Context<'_>) -> Result<Vec<IngestToken>, Error> {
        self.readable(ctx)?;
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
    /// Built-in parsers, then the repository's own.
    async fn parsers(&self, ctx: &Context<'_>) -> Result<Vec<Parser>, Error> {
        self.readable(ctx)?;
        Ok(node(ctx)
            .global
            .read(|s| parsers::all_parsers(s.repositories.get(&self.name))))
    }
    async fn saved_queries(&self, ctx: &Context<'_>) -> Result<Vec<SavedQuery>, Error> {
        self.readable(ctx)?;
        super::items::saved_queries(ctx, &self.name)
    }
    async fn dashboards(&self, ctx: &Context<'_>) -> Result<Vec<Dashboard>, Error> {
        self.readable(ctx)?;
        super::items::dashboards(ctx, &self.name)
    }
    async fn dashboard(&self, ctx: &Context<'_>, id: String) -> Result<Dashboard, Error> {
        self.readable(ctx)?;
        super::items::dashboards(ctx, &self.name)?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or_else(|| Error::new(format!("dashboard {id:?} does not exist")))
    }
    /// Events stored in the repository's segments.
    async fn event_count(&self, ctx: &Context<'_>) -> Result<u64, Error> {
        self.readable(ctx)?;
        Ok(self.sizes(ctx).events)
    }
    /// Bytes of the repository's segment files.
    async fn compressed_byte_size(&self, ctx: &Context<'_>) -> Result<u64, Error> {
        self.readable(ctx)?;
        Ok(self.sizes(ctx).stored)
    }
    /// Raw bytes ingested into the repository's segments.
    async fn uncompressed_byte_size(&self, ctx: &Context<'_>) -> Result<u64, Error> {
        self.readable(ctx)?;
        Ok(self.sizes(ctx).raw)
    }
    async fn segment_count(&self, ctx: &Context<'_>) -> Result<usize, Error> {
        self.readable(ctx)?;
        Ok(self.sizes(ctx).segments)
    }
}

#[derive(Default)]
pub struct RepositoryQuery;

#[Object]
impl RepositoryQuery {
    /// The repositories the caller holds a permission on.
    ///
    /// `humio-audit` is left out (reach it by name or in `searchDomains`), so listing
    /// repositories does not change with the first audited change.
    async fn repositories(&self, ctx: &Context<'_>) -> Result<Vec<Repository>, Error> {
        Ok(visible_repositories(ctx)?
            .into_iter()
            .filter(|n| n != AUDIT_REPO)
            .map(Repository::new)
            .collect())
    }

    async fn repository(&self, ctx: &Context<'_>, name: String) -> Result<Repository, Error> {
        require_visible(ctx, &name)?;
        Ok(Repository::new(name))
    }

    /// Runs a parser (a script, or a parser by name) over sample lines without ingesting.
    async fn test_parser(
        &self,
        ctx: &Context<'_>,
        repository_name: String,
        script: Option<String>,
        parser: Option<String>,
        test_data: Vec<String>,
    ) -> Result<Vec<ParserTestResult>, Error> {
        require_view(ctx, &repository_name, ViewPermission::ChangeParsers)?;
        parsers::test_parser(ctx, repository_name, script, parser, test_data)
    }
}

#[derive(SimpleObject)]
pub struct CreateRepositoryMutation {
    repository: Repository,
}

/// LogScale's repository type of `name`.
pub(crate) fn repository_type(name: &str) -> &'static str {
    if name.starts_with("humio") {
        "SYSTEM"
    } else {
        "DEFAULT"
    }
}

/// Names of the repositories the caller holds any permission on, sorted.
pub(crate) fn visible_repositories(ctx: &Context<'_>) -> Result<Vec<String>, Error> {
    require_user(ctx)?;
    let access = super::caller_access(ctx);
    Ok(node(ctx).global.read(|s| {
        s.repositories
            .keys()
            .filter(|n| access.is_some_and(|a| a.can_see(n)))
            .cloned()
            .collect()
    }))
}

#[derive(InputObject)]
pub struct AddIngestTokenV3Input {
    repository_name: String,
    name: String,
    parser: Option<String>,
}

#[derive(InputObject)]
pub struct AssignParserToIngestTokenInputV2 {
    repository_name: String,
    token_name: String,
    /// A parser name; empty or null removes the assignment.
    parser: Option<String>,
}

fn repo_version(ctx: &Context<'_>, name: &str) -> Result<(u64, Retention, String), Error> {
    node(ctx)
        .global
        .read(|s| {
            s.repositories
                .get(name)
                .map(|r| (r.version, r.retention.clone(), r.description.clone()))
        })
        .ok_or_else(|| Error::new(format!("repository {name:?} does not exist")))
}

/// Bytes from a GB figure; negative or non-finite values are refused.
fn gb(v: Option<f64>, what: &str) -> Result<Option<u64>, Error> {
    match v {
        None => Ok(None),
        Some(x) if x.is_finite() && x > 0.0 => Ok(Some((x * GB) as u64)),
        Some(x) => Err(Error::new(format!(
            "{what} must be a positive number, not {x}"
        ))),
    }
}

#[derive(Default)]
pub struct RepositoryMutation;

#[Object]
impl RepositoryMutation {
    async fn create_repository(
        &self,
        ctx: &Context<'_>,
        name: String,
        description: Option<String>,
    ) -> Result<CreateRepositoryMutation, Error> {
        require_org(ctx, OrganizationPermission::CreateRepository)?;
        valid_name("repository", &name)?;
        publish(
            ctx,
            GlobalEvent::CreateRepository {
                name: name.clone(),
                description: description.unwrap_or_default(),
            },
        )
        .await?;
        super::views::grant_creator(ctx, &name).await?;
        Ok(CreateRepositoryMutation {
            repository: Repository {
                granted: true,
                ..Repository::new(name)
            },
        })
    }

    /// Deletes a repository with its tokens, parsers, saved searches, dashboards and segments,
    /// or a view (only the view: the repositories it reads keep their events).
    async fn delete_search_domain(
        &self,
        ctx: &Context<'_>,
        name: String,
        delete_message: Option<String>,
    ) -> Result<bool, Error> {
        require_view(ctx, &name, ViewPermission::DeleteRepositoryOrView)?;
        if super::views::is_view(ctx, &name) {
            tracing::info!(view = %name, message = ?delete_message, "deleting view");
            return super::views::delete_view(ctx, name).await;
        }
        if name == AUDIT_REPO {
            return Err(Error::new(format!(
                "{AUDIT_REPO} holds the audit log and cannot be deleted"
            )));
        }
        let (version, _, _) = repo_version(ctx, &name)?;
        tracing::info!(repo = %name, message = ?delete_message, "deleting repository");
        publish(
            ctx,
            GlobalEvent::DeleteRepository {
                name,
                expected_version: version,
            },
        )
        .await?;
        Ok(true)
    }

    async fn update_description_for_search_domain(
        &self,
        ctx: &Context<'_>,
        name: String,
        new_description: String,
    ) -> Result<bool, Error> {
        require_view(
            ctx,
            &name,
            ViewPermission::ChangeViewOrRepositoryDescription,
        )?;
        if new_description.len() > 10_000 {
            return Err(Error::new("the description is longer than 10,000 bytes"));
        }
        if super::views::is_view(ctx, &name) {
            return super::views::describe_view(ctx, name, new_description).await;
        }
        let (version, retention, _) = repo_version(ctx, &name)?;
        publish(
            ctx,
            GlobalEvent::UpdateRepository {
                name,
                expected_version: version,
                description: new_description,
                retention,
            },
        )
        .await?;
        Ok(true)
    }

    /// Sets retention: by age (days), ingested size (GB) and stored size (GB); null removes a
    /// limit.
    async fn update_retention(
        &self,
        ctx: &Context<'_>,
        repository_name: String,
        time_based_retention: Option<f64>,
        ingest_size_based_retention: Option<f64>,
        storage_size_based_retention: Option<f64>,
    ) -> Result<bool, Error> {
        require_view(ctx, &repository_name, ViewPermission::ChangeRetention)?;
        let days = match time_based_retention {
            None => None,
            Some(d) if d.is_finite() && d >= 1.0 => Some(d as u64),
            Some(d) => {
                return Err(Error::new(format!(
                    "timeBasedRetention must be at least 1 day, not {d}"
                )))
            }
        };
        let retention = Retention {
            max_age_days: days,
            max_uncompressed_bytes: gb(ingest_size_based_retention, "ingestSizeBasedRetention")?,
            max_compressed_bytes: gb(storage_size_based_retention, "storageSizeBasedRetention")?,
        };
        let (version, _, description) = repo_version(ctx, &repository_name)?;
        publish(
            ctx,
            GlobalEvent::UpdateRepository {
                name: repository_name,
                expected_version: version,
                description,
                retention,
            },
        )
        .await?;
        Ok(true)
    }

    #[graphql(name = "addIngestTokenV3")]
    async fn add_ingest_token_v3(
        &self,
        ctx: &Context<'_>,
        input: AddIngestTokenV3Input,
    ) -> Result<IngestToken, Error> {
        require_view(
            ctx,
            &input.repository_name,
            ViewPermission::ChangeIngestTokens,
        )?;
        valid_name("ingest token", &input.name)?;
        if let Some(p) = &input.parser {
            check_parser_exists(ctx, &input.repository_name, p)?;
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

    async fn remove_ingest_token(
        &self,
        ctx: &Context<'_>,
        repository_name: String,
        name: String,
    ) -> Result<bool, Error> {
        require_view(ctx, &repository_name, ViewPermission::ChangeIngestTokens)?;
        publish(
            ctx,
            GlobalEvent::DeleteIngestToken {
                repo: repository_name,
                name,
            },
        )
        .await?;
        Ok(true)
    }

    #[graphql(name = "assignParserToIngestTokenV2")]
    async fn assign_parser_to_ingest_token_v2(
        &self,
        ctx: &Context<'_>,
        input: AssignParserToIngestTokenInputV2,
    ) -> Result<IngestToken, Error> {
        require_view(
            ctx,
            &input.repository_name,
            ViewPermission::ChangeIngestTokens,
        )?;
        let parser = input.parser.filter(|p| !p.is_empty());
        if let Some(p) = &parser {
            check_parser_exists(ctx, &input.repository_name, p)?;
        }
        let version = node(ctx)
            .global
            .read(|s| {
                s.ingest_tokens
                    .get(&format!("{}/{}", input.repository_name, input.token_name))
                    .map(|t| t.version)
            })
            .ok_or_else(|| {
                Error::new(format!(
                    "ingest token {:?} does not exist in {:?}",
                    input.token_name, input.repository_name
                ))
            })?;
        publish(
            ctx,
            GlobalEvent::SetIngestTokenParser {
                repo: input.repository_name,
                name: input.token_name.clone(),
                parser: parser.clone(),
                expected_version: version,
            },
        )
        .await?;
        Ok(IngestToken {
            name: input.token_name,
            token: None,
            parser_name: parser,
        })
    }

    /// Creates a parser script; every `testData` line must be kept by it.
    async fn create_parser(
        &self,
        ctx: &Context<'_>,
        input: CreateParserInput,
    ) -> Result<Parser, Error> {
        parsers::put_parser(ctx, input, None).await
    }

    /// Replaces a parser's script.
    async fn update_parser(
        &self,
        ctx: &Context<'_>,
        input: CreateParserInput,
    ) -> Result<Parser, Error> {
        parsers::update_parser(ctx, input).await
    }

    async fn delete_parser(
        &self,
        ctx: &Context<'_>,
        input: DeleteParserInput,
    ) -> Result<bool, Error> {
        parsers::delete_parser(ctx, input).await
    }
}
