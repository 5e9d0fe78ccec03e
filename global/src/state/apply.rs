//! `State::apply`: the one place events change Global's state. It dispatches each event to the
//! handler of its object family (`repositories.rs`, `access.rs`, `teams.rs`,
//! `views.rs`, `cluster.rs`, `segment_events.rs`). Apply is deterministic: no clocks, randomness or I/O, and versions are
//! the log offsets of the events that made them.

use super::access::{NewToken, NewUser};
use super::teams::RoleSpec;
use super::{Outcome, State};
use crate::event::GlobalEvent;

impl State {
    /// Applies `event`, read at log `offset`, to the state.
    pub fn apply(&mut self, offset: u64, event: &GlobalEvent) -> Outcome {
        match event {
            GlobalEvent::AddSegment { .. } | GlobalEvent::ReplaceSegments { .. } => {
                self.apply_owned(offset, event.clone())
            }
            _ => self.apply_ref(offset, event),
        }
    }

    /// Like [`apply`](Self::apply) but consumes the event, so the hot segment events move
    /// their metadata into the state instead of copying it.
    pub fn apply_owned(&mut self, offset: u64, event: GlobalEvent) -> Outcome {
        match event {
            GlobalEvent::AddSegment {
                segment,
                safe_offset,
            } => self.add_segment(offset, segment, safe_offset),
            GlobalEvent::ReplaceSegments { remove, add } => {
                self.replace_segments(offset, &remove, add)
            }
            other => self.apply_ref(offset, &other),
        }
    }

    fn apply_ref(&mut self, offset: u64, event: &GlobalEvent) -> Outcome {
        use GlobalEvent::*;
        match event {
            CreateRepository { name, description } => {
                self.create_repository(offset, name, description)
            }
            UpdateRepository {
                name,
                expected_version,
                description,
                retention,
            } => self.update_repository(offset, name, *expected_version, description, retention),
            DeleteRepository {
                name,
                expected_version,
            } => self.delete_repository(name, *expected_version),
            CreateUser { username, is_root } => self.create_user(
                offset,
                NewUser {
                    username,
                    is_root: *is_root,
                    full_name: &None,
                    email: &None,
                },
            ),
            AddApiToken {
                username,
                token_id,
                token_hash,
            } => self.add_api_token(username, token_id, token_hash),
            RemoveApiToken { token_id } => self.remove_api_token(token_id),
            CreateIngestToken {
                repo,
                name,
                token_hash,
                parser,
            } => self.create_ingest_token(offset, repo, name, token_hash, parser),
            SetIngestTokenParser {
                repo,
                name,
                parser,
                expected_version,
            } => self.set_ingest_token_parser(offset, repo, name, parser, *expected_version),
            DeleteIngestToken { repo, name } => self.delete_ingest_token(repo, name),
            PutParser {
                repo,
                name,
                script,
                expected_version,
            } => self.put_parser(offset, repo, name, script, *expected_version),
            DeleteParser { repo, name } => self.delete_parser(repo, name),
            PutItem {
                repo,
                kind,
                id,
                name,
                body,
                expected_version,
            } => self.put_item(offset, repo, *kind, id, name, body, *expected_version),
            DeleteItem { repo, kind, id } => self.delete_item(repo, *kind, id),
            RegisterNode { id, url, zone } => self.register_node(offset, *id, url, zone),
            SetNodeState { id, state } => self.set_node_state(offset, *id, *state),
            SetPartitionNodes {
                partition,
                nodes,
                expected_version,
            } => self.set_partition_nodes(offset, *partition, nodes, *expected_version),
            SetReplicationFactor { factor } => self.set_replication_factor(*factor),
            AddSegment { .. } | ReplaceSegments { .. } => self.apply_owned(offset, event.clone()),
            AddSegmentHolder { id, node } => self.add_segment_holder(offset, id, *node),
            RemoveSegmentHolder { id, node } => self.remove_segment_holder(offset, id, *node),
            SetSegmentInBucket { id, key } => self.set_segment_in_bucket(offset, id, key),
            DeleteSegments { ids } => self.delete_segments(ids),
            SetSafeOffset {
                partition,
                offset: o,
            } => self.set_safe_offset(*partition, *o),
            SetTruncatedOffset {
                partition,
                offset: o,
            } => self.set_truncated_offset(*partition, *o),
            CreateUserV2 {
                username,
                is_root,
                full_name,
                email,
            } => self.create_user(
                offset,
                NewUser {
                    username,
                    is_root: *is_root,
                    full_name,
                    email,
                },
            ),
            UpdateUser {
                username,
                expected_version,
                is_root,
                full_name,
                email,
            } => self.update_user(
                offset,
                NewUser {
                    username,
                    is_root: *is_root,
                    full_name,
                    email,
                },
                *expected_version,
            ),
            RemoveUser { username } => self.remove_user(username),
            SetUserPassword {
                username,
                password_hash,
            } => self.set_user_password(offset, username, password_hash),
            CreateToken {
                token_id,
                name,
                username,
                scope,
                token_hash,
                created_ms,
                expires_ms,
            } => self.create_token(NewToken {
                token_id,
                name,
                username,
                scope,
                token_hash,
                created_ms: *created_ms,
                expires_ms: *expires_ms,
            }),
            AddGroup { id, name } => self.add_group(offset, id, name),
            RemoveGroup { id } => self.remove_group(id),
            AddUsersToGroup {
                group_id,
                usernames,
            } => self.change_members(offset, group_id, usernames, true),
            RemoveUsersFromGroup {
                group_id,
                usernames,
            } => self.change_members(offset, group_id, usernames, false),
            PutRole {
                id,
                name,
                view_permissions,
                organization_permissions,
                system_permissions,
                expected_version,
            } => self.put_role(
                offset,
                RoleSpec {
                    id,
                    name,
                    view_permissions,
                    organization_permissions,
                    system_permissions,
                },
                *expected_version,
            ),
            RemoveRole { id } => self.remove_role(id),
            AssignRole {
                group_id,
                role_id,
                repo,
            } => self.assign_role(offset, group_id, role_id, repo, true),
            UnassignRole {
                group_id,
                role_id,
                repo,
            } => self.assign_role(offset, group_id, role_id, repo, false),
            CreateView {
                name,
                description,
                connections,
            } => self.create_view(offset, name, description, connections),
            UpdateView {
                name,
                expected_version,
                description,
                connections,
            } => self.update_view(offset, name, *expected_version, description, connections),
            DeleteView {
                name,
                expected_version,
            } => self.delete_view(name, *expected_version),
        }
    }
}
