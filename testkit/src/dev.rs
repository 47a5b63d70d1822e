//! The whole platform as `scripts/dev` runs it for users: separate processes for the four
//! services, PostgreSQL, FerretDB, the Envoy edge, Jaeger and Prometheus, on free ports. Tests
//! that need what only whole processes show (each service's own traces in Jaeger, Prometheus
//! scraping every target, a clean stop) start the platform through the script itself.
//!
//! Runs the binaries `scripts/test` built (`--debug --no-build`); the benchmark starts the
//! release binaries it built (`Profile::Release`).

use std::{
    collections::HashMap,
    path::Path,
    process::{Child, Command, ExitStatus, Stdio},
    time::Duration,
};

use crate::edge::RestClient;

/// A running `scripts/dev`; stopped with SIGTERM when dropped.
pub struct DevStack {
    script: Child,
    dir: tempfile::TempDir,
    env: HashMap<String, String>,
}

fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status();
}

/// Which build of the services `scripts/dev` runs (already built: it is given `--no-build`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Debug,
    Release,
}

impl DevStack {
    /// Starts `scripts/dev` on the debug binaries, with `DIR/<service>.toml` settings for the
    /// services named in `settings`, and waits (at most five minutes) until it reports
    /// everything ready.
    pub async fn start(settings: &[(&str, &str)]) -> DevStack {
        Self::start_profile(Profile::Debug, settings).await
    }

    /// [`DevStack::start`] on the binaries of `profile`.
    pub async fn start_profile(profile: Profile, settings: &[(&str, &str)]) -> DevStack {
        let dir = tempfile::tempdir().expect("temporary directory");
        let state = dir.path().join("state");
        let config = dir.path().join("config");
        std::fs::create_dir_all(&config).expect("config directory");
        for (service, toml) in settings {
            std::fs::write(config.join(format!("{service}.toml")), toml).expect("settings file");
        }
        let log = std::fs::File::create(dir.path().join("dev.log")).expect("dev.log");
        let mut command = Command::new(crate::edge::repository().join("scripts/dev"));
        if profile == Profile::Debug {
            command.arg("--debug");
        }
        let script = command
            .args(["--no-build", "--free-ports", "--state-dir"])
            .arg(&state)
            .arg("--config-dir")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("cannot run scripts/dev");
        let mut stack = DevStack {
            script,
            dir,
            env: HashMap::new(),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        loop {
            if let Ok(text) = std::fs::read_to_string(state.join("stack.env")) {
                stack.env = parse_env(&text);
                return stack;
            }
            if let Ok(Some(status)) = stack.script.try_wait() {
                panic!("scripts/dev exited ({status}):\n{}", stack.log());
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "scripts/dev was not ready within 5 minutes:\n{}",
                stack.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// What scripts/dev printed.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dev.log")).unwrap_or_default()
    }

    /// What went wrong behind the edge, for a failing test's message: the last warnings and
    /// errors each service logged, and the last requests the edge answered with other than 200.
    pub fn problems(&self) -> String {
        const LAST: usize = 40;
        let state = self.dir.path().join("state");
        let last_lines = |file: &str, keep: &dyn Fn(&str) -> bool| {
            let text = std::fs::read_to_string(state.join(file)).unwrap_or_default();
            let kept: Vec<&str> = text.lines().filter(|line| keep(line)).collect();
            kept[kept.len().saturating_sub(LAST)..].join("\n")
        };
        let mut report = String::new();
        for service in ["svc-auth", "svc-user", "svc-tweet", "svc-timeline"] {
            let lines = last_lines(&format!("{service}.log"), &|line| {
                line.contains(r#""level":"WARN""#) || line.contains(r#""level":"ERROR""#)
            });
            report.push_str(&format!("--- {service}: warnings and errors\n{lines}\n"));
        }
        let refused = last_lines("envoy.log", &|line| {
            line.starts_with('{') && !line.contains(r#""status":200"#)
        });
        report.push_str(&format!(
            "--- the edge: requests not answered 200\n{refused}\n"
        ));
        report
    }

    /// A value of the `stack.env` scripts/dev wrote (`XIR_DEV_REST_URL`, ...).
    pub fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("scripts/dev's stack.env has no {key}"))
    }

    /// A REST client of the edge.
    pub fn rest(&self) -> RestClient {
        RestClient::with_base(self.get("XIR_DEV_REST_URL"))
    }

    /// Every process scripts/dev started (services, Envoy, Jaeger, Prometheus, databases).
    pub fn pids(&self) -> Vec<u32> {
        self.get("XIR_DEV_PIDS")
            .split_whitespace()
            .map(|pid| pid.parse().expect("a process id"))
            .collect()
    }

    /// Sends `SIGINT` (Ctrl-C) to scripts/dev and waits until it has exited.
    pub async fn interrupt(mut self) -> ExitStatus {
        signal(self.script.id(), "INT");
        self.wait_for_exit().await
    }

    async fn wait_for_exit(&mut self) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.script.try_wait().expect("scripts/dev status") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "scripts/dev did not stop within 2 minutes:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for DevStack {
    fn drop(&mut self) {
        if matches!(self.script.try_wait(), Ok(None)) {
            signal(self.script.id(), "TERM");
            let _ = self.script.wait();
        }
    }
}

/// Whether a process with this id is still alive (not gone, not a zombie).
pub fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat"))
        .ok()
        .and_then(|stat| {
            // "pid (comm) state ...": the state follows the last ')'.
            let state = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .next()?
                .to_owned();
            Some(state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

fn parse_env(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}
