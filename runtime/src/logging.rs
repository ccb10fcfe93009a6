//! Logging setup for all husk processes.

use crate::LogFormat;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("--log {path}: {err}")]
    Open { path: String, err: std::io::Error },
}

/// The log file's fd, for reports made where tracing cannot run (signal
/// handlers).
pub static LOG_FD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// Where a fatal report made outside tracing goes: the log file, or
/// stderr when there is none.
pub fn report_fd() -> i32 {
    match LOG_FD.load(std::sync::atomic::Ordering::Relaxed) {
        fd if fd >= 0 => fd,
        _ => 2,
    }
}

/// The log file shared by every event writer.
struct LogFile(std::sync::Arc<std::fs::File>);

impl std::io::Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        (&*self.0).write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn init(debug: bool, file: Option<&Path>, fmt: LogFormat) -> Result<(), LogError> {
    // Unsupported-syscall notices are warnings: on stderr they would mix
    // with the application's output, so stderr gets errors only.
    let level = if debug {
        "debug"
    } else if file.is_some() {
        "warn"
    } else {
        "error"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("HUSK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let writer: Box<dyn Fn() -> Box<dyn std::io::Write> + Send + Sync> = match file {
        Some(p) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|err| LogError::Open {
                    path: p.display().to_string(),
                    err,
                })?;
            use std::os::fd::AsRawFd;
            LOG_FD.store(f.as_raw_fd(), std::sync::atomic::Ordering::Relaxed);
            // One fd for the life of the process (kept open across the
            // sandbox's fd cleanup): no host call but write per event.
            let f = std::sync::Arc::new(f);
            Box::new(move || Box::new(LogFile(f.clone())) as Box<dyn std::io::Write>)
        }
        None => Box::new(|| Box::new(std::io::stderr()) as Box<dyn std::io::Write>),
    };
    let r = match fmt {
        LogFormat::Json => builder.json().with_writer(writer).try_init(),
        LogFormat::Text => builder
            .with_ansi(file.is_none())
            .with_writer(writer)
            .try_init(),
    };
    let _ = r;
    Ok(())
}

/// A command's failure as runc logs it (`{"level":"error","msg":...}`),
/// in a JSON log file: containerd reads the last such line to say why a
/// runtime call failed.
pub fn runc_error(msg: &str, time: &str) {
    let fd = LOG_FD.load(std::sync::atomic::Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    let line = serde_json::json!({"level": "error", "msg": msg, "time": time}).to_string() + "\n";
    // SAFETY: the log file's fd stays open for the life of the process.
    let f = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let _ = rustix::io::write(f, line.as_bytes());
}
