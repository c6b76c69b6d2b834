//! Real processes for the tests: redis-server and the cache-sidecar binary, each on a
//! free 127.0.0.1 port, killed when dropped (also when a test fails).

#![allow(dead_code)] // each test binary uses its own part of this module

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// A redis-server of our own: no persistence, on a free port.
pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl RedisServer {
    /// Starts redis-server with `extra` flags (e.g. `--maxmemory 4mb`).
    pub fn start(extra: &[&str]) -> RedisServer {
        for _ in 0..5 {
            let port = free_port();
            let spawned = Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .args(["--daemonize", "no", "--loglevel", "warning"])
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn();
            let mut child = match spawned {
                Ok(child) => child,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                    "redis-server is missing: these tests start a real Redis. Run scripts/setup.sh \
                     (it installs Debian's redis-server) or `apt-get install redis-server`."
                ),
                Err(e) => panic!("cannot start redis-server: {e}"),
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // lost the port race, or refused the flags: try again
                }
                if ping(port) {
                    return RedisServer { child, port };
                }
                thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            eprintln!("redis-server on {port} did not come up: {err}");
        }
        panic!("redis-server did not start (see above)");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

fn ping(port: u16) -> bool {
    use std::io::Write;
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A cache-sidecar process.
pub struct Sidecar {
    child: Child,
    pub addr: SocketAddr,
    stderr: Option<thread::JoinHandle<String>>,
}

impl Sidecar {
    /// Starts the binary with `--listen 127.0.0.1:0` and `args`; reads its address from
    /// the first stdout line.
    pub fn start(args: &[&str]) -> Sidecar {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cache-sidecar"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start cache-sidecar");
        let mut err = child.stderr.take().expect("stderr");
        let stderr = thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        // Keep draining stdout so the sidecar never blocks on a full pipe.
        thread::spawn(move || {
            let _ = std::io::copy(&mut out, &mut std::io::sink());
        });
        let Some(addr) = line.trim().strip_prefix("cache-sidecar listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            let err = stderr.join().unwrap_or_default();
            panic!("cache-sidecar did not start: first line {line:?}\nstderr:\n{err}");
        };
        Sidecar {
            addr: addr.parse().expect("address"),
            child,
            stderr: Some(stderr),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
    }

    /// Waits for the process to end (at most `limit`): its exit status and stderr.
    pub fn wait(mut self, limit: Duration) -> (Option<std::process::ExitStatus>, String) {
        let deadline = Instant::now() + limit;
        let mut status = None;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                status = Some(s);
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        if status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let err = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        (status, err)
    }

    /// Resident memory of the process, bytes (Linux /proc).
    pub fn rss_bytes(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("proc status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS");
        kib * 1024
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client to `addr` (panics with the reason when it cannot connect).
pub async fn client(addr: SocketAddr) -> cache_sidecar::client::Client {
    cache_sidecar::client::Client::connect(addr)
        .await
        .expect("connect to the sidecar")
}

/// Milliseconds since the epoch, by this machine's clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}
