//! Raft membership over GraphQL: the `raftMembership` query and the `addRaftLearner`,
//! `promoteRaftLearner`, `removeRaftMember` mutations (ManageCluster). Changes run on the raft
//! leader only; asked on a follower they fail with the leader's URL (see
//! `queue/raft/membership.rs` for why they are not forwarded).

use async_graphql::{Context, Error, Object, SimpleObject};

use super::{gql_error, node, require_system};
use crate::api::ApiError;
use crate::auth::SystemPermission;
use crate::queue::raft::RaftQueue;

#[derive(SimpleObject)]
pub struct RaftMember {
    node_id: u64,
    url: String,
    /// `Voter` or `Learner`.
    role: String,
    is_leader: bool,
    /// Last log index replicated to the member, as the leader knows it (null elsewhere).
    matched_index: Option<u64>,
}

#[derive(SimpleObject)]
pub struct RaftMembership {
    members: Vec<RaftMember>,
    leader_id: Option<u64>,
    /// The leader's URL: where membership changes must be sent.
    leader_url: Option<String>,
    this_node_id: u64,
    last_log_index: Option<u64>,
    last_applied_index: Option<u64>,
}

fn raft<'a>(ctx: &'a Context<'_>) -> Result<&'a RaftQueue, Error> {
    node(ctx).queue.raft().ok_or_else(|| {
        gql_error(ApiError::bad_request(
            "this cluster does not run the raft queue",
        ))
    })
}

fn refused(e: crate::queue::raft::membership::MembershipError) -> Error {
    gql_error(ApiError::bad_request(e.to_string()))
}

#[derive(Default)]
pub struct RaftQuery;

#[Object]
impl RaftQuery {
    /// The raft group's members as the answering node sees them; null without the raft queue.
    async fn raft_membership(&self, ctx: &Context<'_>) -> Result<Option<RaftMembership>, Error> {
        require_system(ctx, SystemPermission::ReadHealthCheck)?;
        let Some(q) = node(ctx).queue.raft() else {
            return Ok(None);
        };
        let m = q.membership();
        let leader_url = m
            .leader
            .and_then(|l| m.members.iter().find(|x| x.id == l))
            .map(|x| x.url.clone());
        Ok(Some(RaftMembership {
            members: m
                .members
                .iter()
                .map(|x| RaftMember {
                    node_id: x.id,
                    url: x.url.clone(),
                    role: if x.voter { "Voter" } else { "Learner" }.into(),
                    is_leader: m.leader == Some(x.id),
                    matched_index: x.matched,
                })
                .collect(),
            leader_id: m.leader,
            leader_url,
            this_node_id: m.this_node,
            last_log_index: m.last_log_index,
            last_applied_index: m.last_applied,
        }))
    }
}

#[derive(Default)]
pub struct RaftMutation;

#[Object]
impl RaftMutation {
    /// Adds a node as a learner; returns once it caught up (log entries or a snapshot).
    async fn add_raft_learner(
        &self,
        ctx: &Context<'_>,
        node_id: u64,
        url: String,
    ) -> Result<bool, Error> {
        require_system(ctx, SystemPermission::ManageCluster)?;
        raft(ctx)?
            .add_learner(node_id, &url)
            .await
            .map_err(refused)?;
        Ok(true)
    }

    /// Makes a learner a voter.
    async fn promote_raft_learner(&self, ctx: &Context<'_>, node_id: u64) -> Result<bool, Error> {
        require_system(ctx, SystemPermission::ManageCluster)?;
        raft(ctx)?.promote(node_id).await.map_err(refused)?;
        Ok(true)
    }

    /// Removes a voter or learner from the raft group.
    async fn remove_raft_member(&self, ctx: &Context<'_>, node_id: u64) -> Result<bool, Error> {
        require_system(ctx, SystemPermission::ManageCluster)?;
        raft(ctx)?.remove(node_id).await.map_err(refused)?;
        Ok(true)
    }
}
