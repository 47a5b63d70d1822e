//! The four services as real processes (the binaries `cargo build --workspace --bins` made,
//! beside the test executables) and a FerretDB process of the test's own: what a fault test
//! kills with SIGKILL and starts again on the same ports and data.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    time::Duration,
};

use tokio::process::{Child, Command};
use tonic_health::ServingStatus;
use xir_common::testing;

/// `target/<profile>`: the directory above the test executable's `deps/`.
fn binaries_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("test executables live in target/<profile>/deps")
        .to_owned()
}

/// A process started from `program` with `env`, its output in `log`; killed when dropped.
pub struct Process {
    program: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Process {
    pub fn new(
        program: PathBuf,
        args: Vec<String>,
        env: Vec<(String, String)>,
        log: PathBuf,
    ) -> Self {
        assert!(
            program.exists(),
            "{} is missing: build it first (scripts/test runs `cargo build --workspace --bins`)",
            program.display()
        );
        Self {
            program,
            args,
            env,
            log,
            child: None,
        }
    }

    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the process log");
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env_remove("XIR_CONFIG")
            .env_remove("RUST_LOG")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .kill_on_drop(true);
        self.child = Some(command.spawn().expect("start the process"));
    }

    /// SIGTERM, as Kubernetes sends it, and waits until the process has exited.
    pub async fn terminate(&mut self, within: Duration) -> ExitStatus {
        let child = self.child.take().expect("the process is running");
        terminate(child, within).await
    }

    /// SIGKILL: no drain, no cleanup, as when a node dies.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("SIGKILL");
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// One of the four services as a process, on fixed ports across restarts.
pub struct ServiceProcess {
    pub name: &'static str,
    pub grpc: SocketAddr,
    process: Process,
}

impl ServiceProcess {
    /// `name` (`svc-auth`, ...) serving gRPC on `grpc`; `env`: its own `XIR_...` settings
    /// beyond its ports (database, peers, keys).
    pub fn new(name: &'static str, grpc: SocketAddr, dir: &Path, env: &[(&str, String)]) -> Self {
        let mut all: Vec<(String, String)> = vec![
            ("XIR_SERVER__HOST".into(), grpc.ip().to_string()),
            ("XIR_SERVER__PORT".into(), grpc.port().to_string()),
            ("XIR_SERVER__METRICS_PORT".into(), "0".into()),
            ("XIR_SERVER__SHUTDOWN_GRACE_MS".into(), "2000".into()),
            ("XIR_READINESS__CHECK_INTERVAL_MS".into(), "500".into()),
            ("XIR_READINESS__RETRY_MAX_MS".into(), "500".into()),
            ("XIR_IDENTITY__DEVELOPMENT_KEYS".into(), "true".into()),
            ("XIR_TELEMETRY__LOG_LEVEL".into(), "info".into()),
        ];
        all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        let process = Process::new(
            binaries_dir().join(name),
            Vec::new(),
            all,
            dir.join(format!("{name}.log")),
        );
        Self {
            name,
            grpc,
            process,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.grpc)
    }

    /// Starts it and waits until it reports SERVING for readiness.
    pub async fn start(&mut self) {
        self.process.start();
        self.wait_ready().await;
    }

    pub async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !self.is_ready().await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} not ready within 60 s; its log:\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn is_ready(&self) -> bool {
        let Ok(endpoint) = tonic::transport::Endpoint::from_shared(self.url()) else {
            return false;
        };
        let Ok(channel) = endpoint
            .connect_timeout(Duration::from_millis(500))
            .connect()
            .await
        else {
            return false;
        };
        tonic_health::pb::health_client::HealthClient::new(channel)
            .check(tonic_health::pb::HealthCheckRequest {
                service: "readiness".into(),
            })
            .await
            .is_ok_and(|response| response.into_inner().status == ServingStatus::Serving as i32)
    }

    pub async fn kill(&mut self) {
        self.process.kill().await;
    }

    /// SIGTERM, and waits for the drain to end and the process to exit.
    pub async fn terminate(&mut self, within: Duration) -> ExitStatus {
        self.process.terminate(within).await
    }

    pub fn log(&self) -> String {
        self.process.log()
    }
}

/// Sends SIGTERM to `child` and waits for it to exit; panics if it is still running after
/// `within`.
pub(crate) async fn terminate(mut child: Child, within: Duration) -> ExitStatus {
    let pid = child.id().expect("a running child has a pid");
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -TERM {pid} failed");
    tokio::time::timeout(within, child.wait())
        .await
        .unwrap_or_else(|_| panic!("process {pid} still running {within:?} after SIGTERM"))
        .expect("wait for the process")
}

/// FerretDB (the MongoDB protocol on SQLite) of this test alone, its data in `dir`.
pub struct FerretProcess {
    pub addr: SocketAddr,
    process: Process,
}

impl FerretProcess {
    pub fn new(dir: &Path) -> Self {
        let program = std::env::var("XIR_TEST_FERRETDB")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                panic!("XIR_TEST_FERRETDB is not set: run the tests through scripts/test")
            });
        let addr = SocketAddr::from(([127, 0, 0, 1], testing::free_port()));
        let data = dir.join("ferretdb");
        std::fs::create_dir_all(&data).expect("FerretDB data directory");
        let process = Process::new(
            program,
            vec![
                "-listen-addr".into(),
                addr.to_string(),
                "-handler".into(),
                "sqlite".into(),
                "-sqlite-url".into(),
                format!("file:{}/", data.display()),
            ],
            Vec::new(),
            dir.join("ferretdb.log"),
        );
        Self { addr, process }
    }

    pub fn url(&self) -> String {
        format!("mongodb://{}/", self.addr)
    }

    pub async fn start(&mut self) {
        self.process.start();
        let addr = self.addr;
        testing::eventually(
            Duration::from_secs(30),
            "FerretDB listening",
            || async move { tokio::net::TcpStream::connect(addr).await.ok().map(drop) },
        )
        .await;
    }

    pub async fn kill(&mut self) {
        self.process.kill().await;
    }
}
