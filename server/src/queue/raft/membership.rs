//! Membership changes of the raft group (add a learner, promote it to voter, remove a member),
//! a report of the current membership, and the read barrier that makes a follower's reads of
//! `global-events` see every write the leader had applied. Changes run on the leader only: on a follower they
//! fail with `MembershipError::NotLeader` naming the leader's id and URL, so the caller (the
//! GraphQL API, an operator) retries there. Why not forward: a membership change blocks until
//! the learner caught up, possibly minutes, which an internal RPC's timeout would cut short and
//! leave the caller not knowing whether it happened; the leader's URL is an honest answer.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::{BasicNode, ChangeMembers};

use super::RaftQueue;

/// A membership change that did not happen.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    #[error("raft node {id} is not the leader; ask the leader {leader:?} at {url:?}")]
    NotLeader {
        id: u64,
        leader: Option<u64>,
        url: Option<String>,
    },
    #[error("raft membership change refused: {0}")]
    Refused(String),
}

/// One member of the group as this replica sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: u64,
    pub url: String,
    /// A voter (counts for the majority) or a learner (only replicated to).
    pub voter: bool,
    /// The member's last replicated log index as the leader knows it; `None` on a follower.
    pub matched: Option<u64>,
}

/// The group's membership as this replica sees it.
#[derive(Debug, Clone)]
pub struct Membership {
    pub members: Vec<Member>,
    pub leader: Option<u64>,
    /// This replica's id, last log index and last applied index.
    pub this_node: u64,
    pub last_log_index: Option<u64>,
    pub last_applied: Option<u64>,
}

impl RaftQueue {
    /// The current membership, leader and (on the leader) each member's replication progress.
    pub fn membership(&self) -> Membership {
        let m = self.raft().metrics().borrow().clone();
        let mem = m.membership_config.membership();
        let voters: BTreeSet<u64> = mem.voter_ids().collect();
        let matched: BTreeMap<u64, Option<u64>> = m
            .replication
            .as_ref()
            .map(|r| {
                r.iter()
                    .map(|(id, l)| (*id, l.as_ref().map(|l| l.index)))
                    .collect()
            })
            .unwrap_or_default();
        let members = mem
            .nodes()
            .map(|(id, node)| Member {
                id: *id,
                url: node.addr.clone(),
                voter: voters.contains(id),
                matched: matched.get(id).copied().flatten(),
            })
            .collect();
        Membership {
            members,
            leader: m.current_leader,
            this_node: m.id,
            last_log_index: m.last_log_index,
            last_applied: m.last_applied.map(|l| l.index),
        }
    }

    fn not_leader(&self) -> MembershipError {
        let m = self.membership();
        let url = m
            .leader
            .and_then(|l| m.members.iter().find(|x| x.id == l))
            .map(|x| x.url.clone());
        MembershipError::NotLeader {
            id: self.id(),
            leader: m.leader,
            url,
        }
    }

    async fn on_leader(&self) -> Result<(), MembershipError> {
        if self.raft().current_leader().await == Some(self.id()) {
            Ok(())
        } else {
            Err(self.not_leader())
        }
    }

    /// Adds node `id` at `url` as a learner; returns once it has caught up with the log (by
    /// entries, or by a snapshot when the leader purged what it lacks).
    pub async fn add_learner(&self, id: u64, url: &str) -> Result<(), MembershipError> {
        self.on_leader().await?;
        let url = url.trim().trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(MembershipError::Refused(format!(
                "the learner's URL {url:?} must start with http://"
            )));
        }
        self.raft()
            .add_learner(id, BasicNode::new(url), true)
            .await
            .map(|_| ())
            .map_err(|e| self.refused(e))
    }

    /// Makes learner `id` a voter (joint consensus; returns once committed).
    pub async fn promote(&self, id: u64) -> Result<(), MembershipError> {
        self.on_leader().await?;
        let ids = BTreeSet::from([id]);
        self.raft()
            .change_membership(ChangeMembers::AddVoterIds(ids), false)
            .await
            .map(|_| ())
            .map_err(|e| self.refused(e))
    }

    /// Removes member `id` (voter or learner) from the group; the leader stops replicating to
    /// it. Removing the leader itself makes it step down once the change is committed.
    pub async fn remove(&self, id: u64) -> Result<(), MembershipError> {
        self.on_leader().await?;
        let m = self.membership();
        let Some(member) = m.members.iter().find(|x| x.id == id) else {
            return Err(MembershipError::Refused(format!(
                "raft node {id} is not a member"
            )));
        };
        let ids = BTreeSet::from([id]);
        let change = if member.voter {
            if m.members.iter().filter(|x| x.voter).count() <= 1 {
                return Err(MembershipError::Refused(
                    "the last voter cannot be removed".into(),
                ));
            }
            ChangeMembers::RemoveVoters(ids)
        } else {
            ChangeMembers::RemoveNodes(ids)
        };
        self.raft()
            .change_membership(change, false)
            .await
            .map(|_| ())
            .map_err(|e| self.refused(e))
    }

    fn refused<E: std::fmt::Display>(&self, e: E) -> MembershipError {
        let msg = e.to_string();
        if msg.contains("forward") || msg.contains("ForwardToLeader") {
            self.not_leader()
        } else {
            MembershipError::Refused(msg)
        }
    }
}

/// How long a read barrier waits for this replica to apply what the leader had applied.
const READ_BARRIER: Duration = Duration::from_secs(2);

impl RaftQueue {
    /// Waits (bounded by [`READ_BARRIER`]) until this replica has applied everything the leader
    /// had applied when asked, so a read that follows a write acknowledged on another node sees
    /// it (a token created on node 1 works on node 3 at once). On the leader, openraft's
    /// linearizable-read check; on a follower, the leader's last applied index over the
    /// internal API. Best effort: without a leader, or when it does not answer, returns at once
    /// and the caller reads what this replica has.
    pub async fn read_barrier(&self) {
        let m = self.membership();
        let Some(leader) = m.leader else { return };
        let target = if leader == self.id() {
            match self.raft().ensure_linearizable().await {
                Ok(Some(l)) => l.index,
                _ => return,
            }
        } else {
            let Some(url) = m
                .members
                .iter()
                .find(|x| x.id == leader)
                .map(|x| x.url.clone())
            else {
                return;
            };
            match self.net.peer_applied(&url).await {
                Some(i) => i,
                None => return,
            }
        };
        let mut rx = self.raft().metrics();
        let deadline = tokio::time::Instant::now() + READ_BARRIER;
        loop {
            if rx.borrow().last_applied.map(|l| l.index) >= Some(target) {
                return;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return,
            }
        }
    }
}
