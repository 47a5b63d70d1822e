//! The machine a run was made on, and the services' memory (resident set size, from /proc).

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};

fn first_line_with(path: &str, prefix: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find(|line| line.starts_with(prefix))
        .map(|line| {
            line[prefix.len()..]
                .trim()
                .trim_start_matches(':')
                .trim()
                .to_owned()
        })
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let output = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

pub fn describe() -> Value {
    json!({
        "cpu": first_line_with("/proc/cpuinfo", "model name"),
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "memory": first_line_with("/proc/meminfo", "MemTotal"),
        "kernel": command_output("uname", &["-r"]),
        "rustc": command_output("rustc", &["--version"]),
        "redis": command_output("redis-server", &["--version"]),
        "commit": command_output("git", &["rev-parse", "--short", "HEAD"]),
    })
}

/// The services among `pids` (scripts/dev's processes), by name.
pub fn services(pids: &[u32]) -> BTreeMap<String, u32> {
    pids.iter()
        .filter_map(|&pid| {
            let command = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let program = command.split(|&b| b == 0).next()?;
            let name = String::from_utf8_lossy(program)
                .rsplit('/')
                .next()?
                .to_owned();
            name.starts_with("svc-").then_some((name, pid))
        })
        .collect()
}

/// Resident memory of `pid` in MiB.
pub fn rss_mib(pid: u32) -> Option<f64> {
    let kib: f64 = first_line_with(&format!("/proc/{pid}/status"), "VmRSS")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// The highest RSS of each service, sampled every 200 ms until the returned guard is dropped.
pub struct PeakRss {
    peaks: Arc<Mutex<BTreeMap<String, f64>>>,
    task: tokio::task::JoinHandle<()>,
}

impl PeakRss {
    pub fn watch(services: BTreeMap<String, u32>) -> Self {
        let peaks: Arc<Mutex<BTreeMap<String, f64>>> = Arc::new(Mutex::new(BTreeMap::new()));
        let task = tokio::spawn({
            let peaks = peaks.clone();
            async move {
                loop {
                    for (name, &pid) in &services {
                        if let Some(rss) = rss_mib(pid) {
                            let mut peaks = peaks.lock().unwrap_or_else(|p| p.into_inner());
                            let peak: &mut f64 = peaks.entry(name.clone()).or_insert(0.0);
                            *peak = peak.max(rss);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        });
        Self { peaks, task }
    }

    pub fn finish(self) -> BTreeMap<String, f64> {
        self.task.abort();
        self.peaks.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
