//! Set-up work (forming and factoring the u-step's core) done on a thread of its own, so that the
//! solve can give up waiting for it within a moment when it is stopped or out of time. Work done in
//! steps is told it was abandoned and ends at its next step; work that cannot be interrupted from
//! inside (faer's eigendecomposition) runs to its end and its result is dropped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// How often `interrupted` is asked while the work runs.
const POLL: Duration = Duration::from_millis(20);

/// Runs `work` on a new thread and returns its result, or `None` as soon as `interrupted` says so
/// (checked every [`POLL`]). `work` is given a test that holds once it has been abandoned, so that
/// work done in steps ends at the next one instead of keeping the cores busy for nothing; its result
/// is dropped. A panic in `work` is resumed on the caller's thread.
pub(crate) fn unless_interrupted<T: Send + 'static>(
    work: impl FnOnce(&dyn Fn() -> bool) -> T + Send + 'static,
    interrupted: &dyn Fn() -> bool,
) -> Option<T> {
    let (send, receive) = mpsc::channel();
    let abandoned = Arc::new(AtomicBool::new(false));
    let told = abandoned.clone();
    let handle = thread::spawn(move || {
        // The receiver is gone only if the caller gave up waiting.
        let _ = send.send(work(&|| told.load(Ordering::Relaxed)));
    });
    loop {
        match receive.recv_timeout(POLL) {
            Ok(result) => return Some(result),
            Err(RecvTimeoutError::Disconnected) => std::panic::resume_unwind(
                handle
                    .join()
                    .expect_err("the worker sends its result before it ends"),
            ),
            Err(RecvTimeoutError::Timeout) if interrupted() => {
                abandoned.store(true, Ordering::Relaxed);
                return None;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_result_of_work_that_finishes() {
        assert_eq!(unless_interrupted(|_| 6 * 7, &|| false), Some(42));
    }

    #[test]
    fn gives_up_on_work_that_would_never_finish_once_interrupted_and_tells_it() {
        // The work runs until it is told it was abandoned, and reports what it was told on a
        // channel of its own: the caller's result can only be `None` if it stopped waiting while
        // the work still ran, and the work only ends if it was told.
        let (send, told) = mpsc::channel();
        let polls = std::cell::Cell::new(0);
        let result = unless_interrupted(
            move |abandoned| {
                while !abandoned() {
                    thread::sleep(Duration::from_millis(1));
                }
                let _ = send.send(true);
                1
            },
            &|| {
                polls.set(polls.get() + 1);
                polls.get() >= 3
            },
        );
        assert_eq!(result, None);
        assert_eq!(polls.get(), 3);
        assert_eq!(told.recv_timeout(Duration::from_secs(10)), Ok(true));
    }

    #[test]
    #[should_panic(expected = "inside the worker")]
    fn a_panic_in_the_work_reaches_the_caller() {
        unless_interrupted(|_| panic!("inside the worker"), &|| false);
    }
}
