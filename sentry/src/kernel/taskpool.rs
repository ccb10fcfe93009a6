//! The threads that run tasks, kept for the next task when theirs ends:
//! a fork costs no host thread creation, and a new thread's setup
//! (stack, signal stack, the splice pipe it keeps) is paid once.

use parking_lot::Mutex;
use std::sync::mpsc::{sync_channel, SyncSender};

type Job = Box<dyn FnOnce() + Send>;

/// Threads waiting for a job, each behind a rendezvous channel: a send
/// either reaches the thread or fails because it is gone.
static IDLE: Mutex<Vec<SyncSender<Job>>> = Mutex::new(Vec::new());

/// How many idle threads are kept; more end with their task.
const MAX_IDLE: usize = 32;

/// A task thread's stack: deep VFS walks and signal delivery fit.
const STACK: usize = 1 << 20;

/// Runs `job` on an idle task thread, or on a new one.
pub fn run(job: Job) -> std::io::Result<()> {
    let mut job = job;
    loop {
        let Some(tx) = IDLE.lock().pop() else {
            break;
        };
        match tx.send(job) {
            Ok(()) => return Ok(()),
            Err(back) => job = back.0,
        }
    }
    std::thread::Builder::new()
        .name("task".into())
        .stack_size(STACK)
        .spawn(move || serve(job))
        .map(drop)
}

/// Runs jobs until none comes while the pool is full.
fn serve(first: Job) {
    let mut job = first;
    loop {
        job();
        let (tx, rx) = sync_channel::<Job>(0);
        {
            let mut idle = IDLE.lock();
            if idle.len() >= MAX_IDLE {
                return;
            }
            idle.push(tx);
        }
        match rx.recv() {
            Ok(next) => job = next,
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    #[test]
    fn a_finished_thread_takes_the_next_job() {
        let (tx, rx) = channel();
        let t = tx.clone();
        run(Box::new(move || {
            t.send(std::thread::current().id()).unwrap()
        }))
        .unwrap();
        let first = rx.recv().unwrap();
        // The thread parks itself after its job; wait until it has.
        for _ in 0..1000 {
            if !IDLE.lock().is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let t = tx.clone();
        run(Box::new(move || {
            t.send(std::thread::current().id()).unwrap()
        }))
        .unwrap();
        let second = rx.recv().unwrap();
        // No other test uses the pool: the idle thread was the first's.
        assert_eq!(first, second);
    }
}
