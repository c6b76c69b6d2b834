//! mock-provider: a deterministic OpenAI and Anthropic provider for tests and load tests.
//!
//! HTTP/1.1 on `std::net`, one thread per connection, keep-alive. What it answers is
//! chosen per request by `x-mock-*` headers (see README.md), so a test states what the
//! upstream does right beside what it asserts. Failure injection that does not depend on
//! the client (a seeded failure rate, a slow first byte, a down switch) is set per
//! instance by flags and `/__mock/*` endpoints, so several instances can play several
//! providers.

mod answer;
mod anthropic;
mod behaviour;
mod embeddings;
mod faults;
mod gzip;
mod http;
mod log;
mod openai;
mod provider;
mod responses;
mod stream;

use std::io::{BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;

use faults::{DownMode, FaultConfig};
use provider::MockProvider;

const DEFAULT_LISTEN: &str = "127.0.0.1:10001";
const USAGE: &str = "usage: mock-provider [--listen HOST:PORT] [--name NAME] [--failure-rate F] \
[--failure-status N] [--seed N] [--ttft-ms N] [--down-mode status|reset|hang]
  --listen HOST:PORT   default 127.0.0.1:10001; port 0 picks a free one
  --name NAME          reported in x-mock-name and the request log (default mock)
  --failure-rate F     0.0..=1.0: that fraction of provider requests fail (default 0)
  --failure-status N   status of injected failures and of down, 400..=599 (default 503)
  --seed N             seed of the failure draws, for reproducible runs (default 0)
  --ttft-ms N          wait N ms before the first byte of every provider request
  --down-mode MODE     while down (POST /__mock/down): status, reset or hang (default status)";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
struct Options {
    listen: String,
    faults: FaultConfig,
}

fn main() -> ExitCode {
    let Options { listen, faults } = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("mock-provider: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    llm_gateway::tokens::warm_up();
    let listener = match TcpListener::bind(&listen) {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("mock-provider: cannot listen on {listen}: {err}");
            return ExitCode::from(1);
        }
    };
    let bound = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or(listen);
    println!("mock-provider listening on {bound}");
    let _ = std::io::stdout().flush();

    let provider = Arc::new(MockProvider::with_faults(faults));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let provider = Arc::clone(&provider);
        thread::spawn(move || serve_connection(&provider, stream));
    }
    ExitCode::SUCCESS
}

fn parse<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} got {value:?}, not a number of the right kind"))
}

/// `--flag VALUE` or `--flag=VALUE`; `Ok(None)` asks for the usage text.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        listen: DEFAULT_LISTEN.to_string(),
        faults: FaultConfig::default(),
    };
    while let Some(arg) = args.next() {
        if arg == "--help" || arg == "-h" {
            return Ok(None);
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let known = [
            "--listen",
            "--name",
            "--failure-rate",
            "--failure-status",
            "--seed",
            "--ttft-ms",
            "--down-mode",
        ];
        if !known.contains(&flag.as_str()) {
            return Err(format!("unknown argument {arg:?}"));
        }
        let value = match inline {
            Some(value) => value,
            None => args.next().ok_or(format!("{flag} needs a value"))?,
        };
        let faults = &mut options.faults;
        match flag.as_str() {
            "--listen" => options.listen = value,
            "--name" => faults.name = value,
            "--failure-rate" => {
                faults.failure_rate = faults::check_rate(parse(&flag, &value)?)
                    .map_err(|e| format!("--{}", e.replace('_', "-")))?
            }
            "--failure-status" => {
                faults.failure_status = faults::check_status(parse(&flag, &value)?)
                    .map_err(|e| format!("--{}", e.replace('_', "-")))?
            }
            "--seed" => faults.seed = parse(&flag, &value)?,
            "--ttft-ms" => faults.ttft_ms = parse(&flag, &value)?,
            _ => faults.down_mode = DownMode::parse(&value)?,
        }
    }
    Ok(Some(options))
}

/// Answers requests on one connection until the client closes it, asks to close it, or
/// a behaviour (drop, cut) ends it.
fn serve_connection(provider: &MockProvider, stream: TcpStream) {
    // Every SSE event must leave as its own segment, not wait for Nagle.
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    loop {
        match http::read_request(&mut reader, &mut writer) {
            Ok(Some(request)) => {
                let keep_alive = request.keep_alive();
                let (reply, delivery) = provider.handle(&request);
                match http::deliver(&mut writer, reply, &delivery, keep_alive) {
                    Ok(true) => continue,
                    _ => break,
                }
            }
            Ok(None) => break,
            Err(http::ReadError::Malformed(message)) => {
                let _ = http::deliver(
                    &mut writer,
                    provider::malformed_http(&message),
                    &Default::default(),
                    false,
                );
                break;
            }
            Err(http::ReadError::Io) => break,
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> impl Iterator<Item = String> {
        list.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .into_iter()
    }

    fn options(list: &[&str]) -> Options {
        parse_args(args(list)).unwrap().unwrap()
    }

    #[test]
    fn listen_address_forms() {
        assert_eq!(options(&[]).listen, DEFAULT_LISTEN);
        assert_eq!(options(&["--listen", "127.0.0.1:0"]).listen, "127.0.0.1:0");
        assert_eq!(options(&["--listen=0.0.0.0:9"]).listen, "0.0.0.0:9");
        assert!(parse_args(args(&["--listen"])).is_err());
        assert!(parse_args(args(&["--port", "1"])).is_err());
        assert!(parse_args(args(&["--help"])).unwrap().is_none());
    }

    #[test]
    fn failure_injection_flags() {
        assert_eq!(options(&[]).faults, FaultConfig::default());
        let o = options(&[
            "--name",
            "openai",
            "--failure-rate=0.3",
            "--failure-status",
            "429",
            "--seed",
            "42",
            "--ttft-ms",
            "250",
            "--down-mode=hang",
        ]);
        assert_eq!(
            o.faults,
            FaultConfig {
                name: "openai".into(),
                failure_rate: 0.3,
                failure_status: 429,
                seed: 42,
                ttft_ms: 250,
                down_mode: DownMode::Hang,
            }
        );
        let err = |list: &[&str]| parse_args(args(list)).unwrap_err();
        assert_eq!(
            err(&["--failure-rate", "1.5"]),
            "--failure-rate must be 0.0..=1.0 (got 1.5)"
        );
        assert_eq!(
            err(&["--failure-status", "200"]),
            "--failure-status must be 400..=599 (got 200)"
        );
        assert!(err(&["--seed", "-1"]).starts_with("--seed got"));
        assert!(err(&["--down-mode", "off"]).contains("status, reset or hang"));
        assert_eq!(err(&["--name"]), "--name needs a value");
    }
}
