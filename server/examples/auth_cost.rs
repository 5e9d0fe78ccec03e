//! What the permission check costs next to a small query. The check is what every request
//! pays: SHA-256 of the presented token, the token's lookup in Global, and the caller's
//! `Access` (the union of their groups' roles) with one `Access::check`; measured here over a
//! Global holding many users, groups, roles and tokens. With `STRATA_URL` and `STRATA_TOKEN`
//! set it also times a small query against that node's streaming endpoint
//! (`STRATA_REPO`, default `web`) and prints the ratio.
//!
//! `cargo run --release --example auth_cost` (figures on stdout).

use std::time::{Duration, Instant};

use strata::auth::{Access, Scope, ViewPermission};
use strata_global::{hash_token, GlobalEvent, State, TokenScope};

fn build_state(users: usize, groups: usize, tokens_per_user: usize) -> State {
    let mut s = State::default();
    let mut o = 0u64;
    let mut apply = |s: &mut State, e: GlobalEvent| {
        s.apply(o, &e);
        o += 1;
    };
    for r in 0..50 {
        apply(
            &mut s,
            GlobalEvent::CreateRepository {
                name: format!("repo-{r}"),
                description: String::new(),
            },
        );
    }
    for g in 0..groups {
        apply(
            &mut s,
            GlobalEvent::AddGroup {
                id: format!("g{g}"),
                name: format!("group {g}"),
            },
        );
        apply(
            &mut s,
            GlobalEvent::PutRole {
                id: format!("r{g}"),
                name: format!("role {g}"),
                view_permissions: vec!["ReadAccess".into(), "ChangeDashboards".into()],
                organization_permissions: vec![],
                system_permissions: vec![],
                expected_version: None,
            },
        );
        apply(
            &mut s,
            GlobalEvent::AssignRole {
                group_id: format!("g{g}"),
                role_id: format!("r{g}"),
                repo: Some(format!("repo-{}", g % 50)),
            },
        );
    }
    for u in 0..users {
        let name = format!("user-{u}");
        apply(
            &mut s,
            GlobalEvent::CreateUser {
                username: name.clone(),
                is_root: false,
            },
        );
        apply(
            &mut s,
            GlobalEvent::AddUsersToGroup {
                group_id: format!("g{}", u % groups),
                usernames: vec![name.clone()],
            },
        );
        for t in 0..tokens_per_user {
            apply(
                &mut s,
                GlobalEvent::CreateToken {
                    token_id: format!("t{u}-{t}"),
                    name: "personal".into(),
                    username: name.clone(),
                    scope: TokenScope::Personal,
                    token_hash: hash_token(&format!("secret-{u}-{t}")),
                    created_ms: 0,
                    expires_ms: None,
                },
            );
        }
    }
    s
}

/// The request path's permission work for one presented token.
fn check(s: &State, token: &str, repo: &str) -> bool {
    let hash = hash_token(token);
    let Some(t) = s.api_token_by_hash(&hash) else {
        return false;
    };
    let Some(access) = Access::of_token(s, t) else {
        return false;
    };
    access
        .check(Scope::Repository(repo), ViewPermission::ReadAccess.into())
        .is_ok()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let (users, groups, per_user) = (1_000, 100, 2);
    let s = build_state(users, groups, per_user);
    let token = format!("secret-{}-1", users - 1);
    let repo = format!("repo-{}", (users - 1) % groups % 50);
    assert!(check(&s, &token, &repo), "the benchmark token must pass");
    let mut samples = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        for _ in 0..100 {
            std::hint::black_box(check(&s, std::hint::black_box(&token), &repo));
        }
        samples.push(t.elapsed() / 100);
    }
    let check_time = median(samples);
    println!(
        "permission check: {check_time:?} per request (median; {users} users, {groups} groups and roles, {} tokens, the last token)",
        users * per_user
    );

    let (Ok(url), Ok(tok)) = (std::env::var("STRATA_URL"), std::env::var("STRATA_TOKEN")) else {
        println!("set STRATA_URL and STRATA_TOKEN to compare with a small query on a node");
        return;
    };
    let repo = std::env::var("STRATA_REPO").unwrap_or_else(|_| "web".into());
    let client = reqwest::blocking::Client::new();
    let body = serde_json::json!({"queryString": "count()", "start": "1h"}).to_string();
    let mut samples = Vec::new();
    for i in 0..60 {
        let t = Instant::now();
        let r = client
            .post(format!("{url}/api/v1/repositories/{repo}/query"))
            .bearer_auth(&tok)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.text());
        if let Err(e) = r {
            eprintln!("query failed: {e}");
            return;
        }
        if i >= 10 {
            samples.push(t.elapsed());
        }
    }
    let q = median(samples);
    println!(
        "small query (count() over 1h, HTTP round trip on the same host): {q:?} median; the check is {:.3}% of it",
        check_time.as_secs_f64() / q.as_secs_f64() * 100.0
    );
}
