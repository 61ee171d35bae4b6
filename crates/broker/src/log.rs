//! The broker's log (the `log` option): one line per client event, appended
//! to a file that can be read while the broker runs.
//!
//! ```text
//! 2026-11-30T08:30:00.123Z connected app-1 from 127.0.0.1:40312 (MQTT 3.1.1, clean session, keep alive 60 s, user app)
//! 2026-11-30T08:30:00.125Z subscribed app-1 to metrics/# at QoS 1
//! 2026-11-30T08:30:00.126Z unsubscribed app-1 from metrics/#
//! 2026-11-30T08:30:01.002Z disconnected app-1: it sent DISCONNECT
//! 2026-11-30T08:30:01.950Z connected app-2 from 127.0.0.1:40316 (MQTT 5, persistent session, keep alive 30 s, will on status/app-2)
//! 2026-11-30T08:30:02.417Z disconnected app-2: the connection closed
//! 2026-11-30T08:30:02.418Z will of app-2 published on status/app-2
//! 2026-11-30T08:30:03.001Z refused app-3 from 127.0.0.1:40320: CONNACK 5 (not authorized)
//! ```
//!
//! Passwords never appear; user names do. Each line is one write, so a
//! reader never sees half of one.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use chrono::{SecondsFormat, Utc};

pub struct EventLog {
    file: Mutex<File>,
}

impl EventLog {
    pub fn open(path: &Path) -> std::io::Result<EventLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(EventLog {
            file: Mutex::new(file),
        })
    }

    /// Appends one line, prefixed with the UTC time. A failed write is
    /// dropped: the broker serves its clients whether or not its log can be written.
    pub fn write(&self, event: std::fmt::Arguments<'_>) {
        let line = format!(
            "{} {event}\n",
            Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = file.write_all(line.as_bytes());
    }
}
