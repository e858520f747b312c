//! Work that cannot be interrupted from inside (a dense factorization in faer runs to its end) done
//! on a thread of its own, so that the solve can give up waiting for it within a moment when it is
//! stopped or out of time.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

/// How often `interrupted` is asked while the work runs.
const POLL: Duration = Duration::from_millis(20);

/// Runs `work` on a new thread and returns its result, or `None` as soon as `interrupted` says so
/// (checked every [`POLL`]). An abandoned thread finishes on its own and its result is dropped; a
/// panic in `work` is resumed on the caller's thread.
pub(crate) fn unless_interrupted<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
    interrupted: &dyn Fn() -> bool,
) -> Option<T> {
    let (send, receive) = mpsc::channel();
    let handle = thread::spawn(move || {
        // The receiver is gone only if the caller gave up waiting.
        let _ = send.send(work());
    });
    loop {
        match receive.recv_timeout(POLL) {
            Ok(result) => return Some(result),
            Err(RecvTimeoutError::Disconnected) => std::panic::resume_unwind(
                handle
                    .join()
                    .expect_err("the worker sends its result before it ends"),
            ),
            Err(RecvTimeoutError::Timeout) if interrupted() => return None,
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn returns_the_result_of_work_that_finishes() {
        assert_eq!(unless_interrupted(|| 6 * 7, &|| false), Some(42));
    }

    #[test]
    fn gives_up_on_work_that_would_never_finish_once_interrupted() {
        // The work waits for a flag that is only set after the caller has given up, so the result
        // can only be `None` if the caller stopped waiting while the work was still running.
        let release = Arc::new(AtomicBool::new(false));
        let flag = release.clone();
        let polls = std::cell::Cell::new(0);
        let result = unless_interrupted(
            move || {
                while !flag.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(1));
                }
                1
            },
            &|| {
                polls.set(polls.get() + 1);
                polls.get() >= 3
            },
        );
        release.store(true, Ordering::SeqCst);
        assert_eq!(result, None);
        assert_eq!(polls.get(), 3);
    }

    #[test]
    #[should_panic(expected = "inside the worker")]
    fn a_panic_in_the_work_reaches_the_caller() {
        unless_interrupted(|| panic!("inside the worker"), &|| false);
    }
}
