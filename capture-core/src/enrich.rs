//! Facts added to rows when `project.enrich_messages` is on.
//!
//! Task rows get the host name, login name, node name, private IP and the adapter id;
//! workflow rows get the user, the operating system, the git state of the working
//! directory and the library version. The facts are computed once per process, on first
//! use, and shared after that: nothing here runs per row. Nothing contacts the network:
//! the private IP is read from the machine's interfaces, and no public IP is looked up.

use std::net::IpAddr;
use std::process::Command;
use std::sync::{Arc, OnceLock};

use serde_json::{Value, json};

/// The adapter id written on enriched task rows.
pub const ADAPTER_ID: &str = "capture-core";

/// Facts about this machine and process, computed once.
#[derive(Clone, Debug)]
pub struct HostFacts {
    /// Host name of the machine.
    pub hostname: Arc<str>,
    /// Login name of the user running the process.
    pub login_name: Arc<str>,
    /// Network node name (the host name, as Python's `platform.node()` gives it).
    pub node_name: Arc<str>,
    /// First private address of a non-loopback interface, when there is one.
    pub private_ip: Option<Arc<str>>,
    /// Operating system name (`Linux`).
    pub sys_name: Arc<str>,
    /// Git facts of the working directory, when it is in a repository.
    pub code_repository: Option<Value>,
}

impl HostFacts {
    /// Returns the facts of this process, computing them on first call.
    pub fn get() -> &'static HostFacts {
        static FACTS: OnceLock<HostFacts> = OnceLock::new();
        FACTS.get_or_init(HostFacts::compute)
    }

    fn compute() -> HostFacts {
        let hostname = sysinfo::System::host_name().unwrap_or_else(|| "unknown".into());
        let facts = HostFacts {
            login_name: Arc::from(login_name()),
            node_name: Arc::from(hostname.as_str()),
            hostname: Arc::from(hostname),
            private_ip: private_ip().map(|ip| Arc::from(ip.to_string())),
            sys_name: Arc::from(sys_name()),
            code_repository: git_facts(),
        };
        tracing::debug!(?facts, "computed host facts for enrichment");
        facts
    }

    /// Returns the `extra_metadata` written on enriched workflow rows.
    pub fn extra_metadata() -> Value {
        json!({ "library": "capture-core", "library_version": env!("CARGO_PKG_VERSION") })
    }
}

fn login_name() -> String {
    for var in ["USER", "LOGNAME", "USERNAME"] {
        if let Ok(name) = std::env::var(var)
            && !name.is_empty()
        {
            return name;
        }
    }
    // Without the usual variables, look the user up by the uid of this process.
    let users = sysinfo::Users::new_with_refreshed_list();
    sysinfo::get_current_pid()
        .ok()
        .and_then(|pid| {
            let mut system = sysinfo::System::new();
            system.refresh_processes_specifics(
                sysinfo::ProcessesToUpdate::Some(&[pid]),
                false,
                sysinfo::ProcessRefreshKind::nothing().with_user(sysinfo::UpdateKind::Always),
            );
            let uid = system.process(pid)?.user_id()?.clone();
            users
                .get_user_by_id(&uid)
                .map(|user| user.name().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn sys_name() -> String {
    match std::env::consts::OS {
        "linux" => "Linux".into(),
        "macos" => "Darwin".into(),
        "windows" => "Windows".into(),
        other => other.into(),
    }
}

/// Returns the first private (RFC 1918 or unique-local) address of an interface.
fn private_ip() -> Option<IpAddr> {
    let networks = sysinfo::Networks::new_with_refreshed_list();
    let mut names: Vec<&String> = networks.list().keys().collect();
    names.sort();
    let addresses = names.into_iter().flat_map(|name| {
        networks.list()[name]
            .ip_networks()
            .iter()
            .map(|net| net.addr)
    });
    let mut fallback = None;
    for addr in addresses {
        match addr {
            IpAddr::V4(v4) if v4.is_private() => return Some(addr),
            IpAddr::V6(v6) if (v6.segments()[0] & 0xfe00) == 0xfc00 => {
                fallback.get_or_insert(addr);
            }
            _ => {}
        }
    }
    fallback
}

/// Returns `{sha, short_sha, branch, root, remote, dirty}` as Flowcept writes them,
/// from the `git` command run in the working directory; `None` outside a repository or
/// without git. A remote URL is written without any credentials it carries.
fn git_facts() -> Option<Value> {
    let sha = git(&["rev-parse", "HEAD"])?;
    let short_sha = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_default();
    let branch = git(&["rev-parse", "--abbrev-ref", "HEAD"]).unwrap_or_default();
    let root = git(&["rev-parse", "--show-toplevel"]).unwrap_or_default();
    let remote = git(&["remote", "get-url", "origin"]).map(|url| strip_userinfo(&url));
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
        .map(|out| if out.is_empty() { "clean" } else { "dirty" });
    Some(json!({
        "sha": sha, "short_sha": short_sha, "branch": branch, "root": root,
        "remote": remote, "dirty": dirty,
    }))
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn strip_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((userinfo, host)) if !userinfo.contains('/') => format!("{scheme}://{host}"),
            _ => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_are_computed_once_and_name_the_host() {
        let first = HostFacts::get();
        let second = HostFacts::get();
        assert!(std::ptr::eq(first, second));
        assert!(!first.hostname.is_empty());
        assert!(!first.login_name.is_empty());
    }

    #[test]
    fn remote_urls_lose_their_credentials() {
        assert_eq!(
            strip_userinfo("https://bob:tok@host/r.git"),
            "https://host/r.git"
        );
        assert_eq!(strip_userinfo("git@host:r.git"), "git@host:r.git");
        assert_eq!(strip_userinfo("https://host/r.git"), "https://host/r.git");
    }
}
