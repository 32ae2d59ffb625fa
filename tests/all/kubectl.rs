//! The real kubectl as a test client: a fresh kubeconfig file and `--cache-dir` per instance,
//! so discovery is always fetched from the server under test.

use std::path::PathBuf;
use std::process::Command;

/// The kubectl the tests hold the emulator to. `scripts/test` installs one when the machine
/// has none; a missing kubectl fails the tests rather than skipping them.
pub fn path() -> PathBuf {
    let p = PathBuf::from(std::env::var("KUBECTL").unwrap_or_else(|_| "/usr/bin/kubectl".into()));
    assert!(
        p.exists(),
        "no kubectl at {} (set KUBECTL, or run scripts/test, which installs it)",
        p.display()
    );
    p
}

/// kubectl with one kubeconfig.
pub struct Kubectl {
    dir: tempfile::TempDir,
}

/// What one kubectl run printed.
#[derive(Debug)]
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Kubectl {
    /// kubectl using `kubeconfig` (its YAML text).
    pub fn new(kubeconfig: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kubeconfig"), kubeconfig).unwrap();
        Self { dir }
    }

    /// The kubeconfig file's path.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// A command with the kubeconfig and cache set, ready for more arguments.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(path());
        c.arg("--kubeconfig")
            .arg(self.kubeconfig())
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .env_remove("KUBECONFIG");
        c
    }

    /// Runs kubectl to completion off the async runtime.
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut c = self.command(args);
        let out = tokio::task::spawn_blocking(move || c.output().unwrap())
            .await
            .unwrap();
        Output {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs kubectl and returns its standard output, failing the test if it fails.
    pub async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            out.success,
            "kubectl {args:?} failed:\n{}\n{}",
            out.stdout, out.stderr
        );
        out.stdout
    }
}
