//! Deadlines of blocking calls. Blocking itself is in `waitq`.

use std::time::Instant;

/// When a wait gives up.
pub type Deadline = Option<Instant>;
