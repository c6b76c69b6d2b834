//! mock-provider: a deterministic OpenAI and Anthropic provider for tests and load tests.
//!
//! HTTP/1.1 on `std::net`, one thread per connection, keep-alive. What it answers is
//! chosen per request by `x-mock-*` headers (see README.md), so a test states what the
//! upstream does right beside what it asserts.

mod answer;
mod anthropic;
mod behaviour;
mod http;
mod log;
mod openai;
mod provider;
mod stream;

use std::io::{BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;

use provider::MockProvider;

const DEFAULT_LISTEN: &str = "127.0.0.1:10001";
const USAGE: &str = "usage: mock-provider [--listen HOST:PORT]   (default 127.0.0.1:10001; port 0 picks a free one)";

fn main() -> ExitCode {
    let listen = match listen_address(std::env::args().skip(1)) {
        Ok(Some(listen)) => listen,
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

    let provider = Arc::new(MockProvider::new());
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let provider = Arc::clone(&provider);
        thread::spawn(move || serve_connection(&provider, stream));
    }
    ExitCode::SUCCESS
}

/// `--listen ADDR` or `--listen=ADDR`; `Ok(None)` asks for the usage text.
fn listen_address(mut args: impl Iterator<Item = String>) -> Result<Option<String>, String> {
    let mut listen = DEFAULT_LISTEN.to_string();
    while let Some(arg) = args.next() {
        if arg == "--listen" {
            listen = args
                .next()
                .ok_or("--listen needs an address, e.g. 127.0.0.1:10001")?;
        } else if let Some(value) = arg.strip_prefix("--listen=") {
            listen = value.to_string();
        } else if arg == "--help" || arg == "-h" {
            return Ok(None);
        } else {
            return Err(format!("unknown argument {arg:?}"));
        }
    }
    Ok(Some(listen))
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

    #[test]
    fn listen_address_forms() {
        assert_eq!(listen_address(args(&[])).unwrap().unwrap(), DEFAULT_LISTEN);
        assert_eq!(
            listen_address(args(&["--listen", "127.0.0.1:0"]))
                .unwrap()
                .unwrap(),
            "127.0.0.1:0"
        );
        assert_eq!(
            listen_address(args(&["--listen=0.0.0.0:9"]))
                .unwrap()
                .unwrap(),
            "0.0.0.0:9"
        );
        assert!(listen_address(args(&["--listen"])).is_err());
        assert!(listen_address(args(&["--port", "1"])).is_err());
        assert!(listen_address(args(&["--help"])).unwrap().is_none());
    }
}
