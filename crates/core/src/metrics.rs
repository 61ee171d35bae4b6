//! Counters of every process of a pool, in memory shared by all of them.
//!
//! The region is mapped once, at module startup: PHP-FPM's workers are forked
//! after that, so they all write to the same pages. It has a fixed size and
//! holds only atomics, so the publish path takes no lock:
//!
//! - counters (published, acknowledged, ...) per connection name, added to by
//!   every process: a worker that exits leaves its counts in the totals;
//! - gauges (up, queued, in flight) per worker and connection name, read only
//!   for workers that are alive: a killed worker stops counting at once;
//! - one slot per worker process, claimed at its first connection; the slot
//!   of a dead process is taken over by the next one.
//!
//! More connection names than the region holds are counted together under
//! `_overflow` (said once on stderr); more processes than it holds count in
//! the counters but not in the gauges. Without the region (no `init`, or the
//! mapping failed) every call does nothing.

use std::fmt::Write as _;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, Ordering};

use rumqttc::QoS;

use crate::runtime::current_pid;

/// Connection names, the last one being the overflow's.
pub const MAX_NAMES: usize = 64;
/// Worker processes with gauges.
pub const MAX_WORKERS: usize = 256;
const NAME_BYTES: usize = 96;
const OVERFLOW: usize = MAX_NAMES - 1;
const OVERFLOW_LABEL: &str = "_overflow";

const EMPTY: u32 = 0;
const CLAIMING: u32 = 1;
const READY: u32 = 2;

#[repr(C)]
struct NameSlot {
    state: AtomicU32,
    len: AtomicU32,
    bytes: [AtomicU8; NAME_BYTES],
}

#[repr(C)]
struct Counters {
    published: [AtomicU64; 3],
    acknowledged: AtomicU64,
    refused: AtomicU64,
    received: AtomicU64,
    sent_bytes: AtomicU64,
    received_bytes: AtomicU64,
    reconnects: AtomicU64,
}

#[repr(C)]
struct Gauges {
    up: AtomicU32,
    queued: AtomicU32,
    in_flight: AtomicU32,
    _pad: AtomicU32,
}

/// Zeroed memory is its initial state: every atomic 0, every slot empty.
#[repr(C)]
struct Region {
    names: [NameSlot; MAX_NAMES],
    counters: [Counters; MAX_NAMES],
    workers: [AtomicU32; MAX_WORKERS],
    gauges: [[Gauges; MAX_NAMES]; MAX_WORKERS],
}

static REGION: AtomicPtr<Region> = AtomicPtr::new(ptr::null_mut());
/// This process's worker slot: pid << 32 | slot + 1; 0 before the first.
static WORKER: AtomicU64 = AtomicU64::new(0);
static OVERFLOW_SAID: AtomicBool = AtomicBool::new(false);

/// Maps the region; call once, before the process forks its workers. False
/// when it cannot be mapped: metrics are then off, nothing else changes.
pub fn init() -> bool {
    if !REGION.load(Ordering::Acquire).is_null() {
        return true;
    }
    match map() {
        Some(region) => {
            REGION.store(region, Ordering::Release);
            true
        }
        None => {
            eprintln!(
                "mqtt-broadcast: cannot map the shared metrics region ({}): metrics are off",
                std::io::Error::last_os_error()
            );
            false
        }
    }
}

/// A new region, never unmapped.
fn map() -> Option<*mut Region> {
    // SAFETY: a fresh anonymous shared mapping of the region's size, zeroed
    // by the kernel, which is the region's valid initial state.
    let mapped = unsafe {
        libc::mmap(
            ptr::null_mut(),
            std::mem::size_of::<Region>(),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    (mapped != libc::MAP_FAILED).then(|| mapped.cast())
}

fn region() -> Option<&'static Region> {
    // SAFETY: set once by init() to a mapping that is never unmapped.
    unsafe { REGION.load(Ordering::Acquire).as_ref() }
}

/// What one connection counts: its region and its name's slot there.
#[derive(Clone, Copy, Default)]
pub struct Meter {
    at: Option<(&'static Region, usize)>,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("name", &self.at.map(|(_, name)| name))
            .finish()
    }
}

impl Meter {
    /// The meter of connection `name`; one that counts nothing without the region.
    pub fn for_connection(name: &str) -> Meter {
        Meter::in_region(region(), name)
    }

    fn in_region(region: Option<&'static Region>, name: &str) -> Meter {
        Meter {
            at: region.map(|region| (region, name_slot(region, name))),
        }
    }

    fn counters(&self) -> Option<&'static Counters> {
        self.at.map(|(region, name)| &region.counters[name])
    }

    pub fn published(&self, qos: QoS, bytes: usize) {
        if let Some(counters) = self.counters() {
            counters.published[qos as usize].fetch_add(1, Ordering::Relaxed);
            counters
                .sent_bytes
                .fetch_add(bytes as u64, Ordering::Relaxed);
        }
    }

    pub fn acknowledged(&self) {
        if let Some(counters) = self.counters() {
            counters.acknowledged.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn refused(&self) {
        if let Some(counters) = self.counters() {
            counters.refused.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn received(&self, bytes: usize) {
        if let Some(counters) = self.counters() {
            counters.received.fetch_add(1, Ordering::Relaxed);
            counters
                .received_bytes
                .fetch_add(bytes as u64, Ordering::Relaxed);
        }
    }

    pub fn reconnected(&self) {
        if let Some(counters) = self.counters() {
            counters.reconnects.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// This process's state of the connection.
    pub fn gauges(&self, up: bool, queued: usize, in_flight: usize) {
        let Some((region, name)) = self.at else {
            return;
        };
        let Some(worker) = worker_slot(region) else {
            return;
        };
        let gauges = &region.gauges[worker][name];
        gauges.up.store(u32::from(up), Ordering::Relaxed);
        gauges.queued.store(clamp(queued), Ordering::Relaxed);
        gauges.in_flight.store(clamp(in_flight), Ordering::Relaxed);
    }
}

fn clamp(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// The slot of `name`: its own, a new one, or the overflow's.
fn name_slot(region: &Region, name: &str) -> usize {
    let bytes = name.as_bytes();
    if bytes.len() <= NAME_BYTES {
        for (index, slot) in region.names[..OVERFLOW].iter().enumerate() {
            if slot.state.load(Ordering::Acquire) == EMPTY
                && slot
                    .state
                    .compare_exchange(EMPTY, CLAIMING, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                for (cell, byte) in slot.bytes.iter().zip(bytes) {
                    cell.store(*byte, Ordering::Relaxed);
                }
                slot.len.store(bytes.len() as u32, Ordering::Relaxed);
                slot.state.store(READY, Ordering::Release);
                return index;
            }
            if ready_name(slot).is_some_and(|held| held == bytes) {
                return index;
            }
        }
    }
    if !OVERFLOW_SAID.swap(true, Ordering::Relaxed) {
        eprintln!(
            "mqtt-broadcast: more connection names than the shared metrics hold ({}), or one longer than {NAME_BYTES} bytes: \"{name}\" and later ones are counted as \"{OVERFLOW_LABEL}\"",
            MAX_NAMES - 1
        );
    }
    OVERFLOW
}

/// The name in a slot, once it is written. A process killed while writing
/// one leaves the slot unused for good, never a torn name.
fn ready_name(slot: &NameSlot) -> Option<Vec<u8>> {
    for _ in 0..1000 {
        match slot.state.load(Ordering::Acquire) {
            READY => {
                let len = (slot.len.load(Ordering::Relaxed) as usize).min(NAME_BYTES);
                return Some(
                    slot.bytes[..len]
                        .iter()
                        .map(|b| b.load(Ordering::Relaxed))
                        .collect(),
                );
            }
            CLAIMING => std::thread::yield_now(),
            _ => return None,
        }
    }
    None
}

/// This process's worker slot, claimed on first use: a free one, or one of
/// a process that no longer exists (its gauges cleared).
fn worker_slot(region: &Region) -> Option<usize> {
    let pid = current_pid();
    // The cache is the process-wide region's (tests map regions of their own).
    let global = ptr::eq(region, REGION.load(Ordering::Acquire));
    let cached = if global {
        WORKER.load(Ordering::Relaxed)
    } else {
        0
    };
    if cached >> 32 == u64::from(pid) && cached != 0 {
        return Some((cached & 0xFFFF_FFFF) as usize - 1);
    }
    for (index, slot) in region.workers.iter().enumerate() {
        let holder = slot.load(Ordering::Acquire);
        let free = holder == 0 || (holder != pid && !alive(holder));
        if free
            && slot
                .compare_exchange(holder, pid, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            for gauges in &region.gauges[index] {
                gauges.up.store(0, Ordering::Relaxed);
                gauges.queued.store(0, Ordering::Relaxed);
                gauges.in_flight.store(0, Ordering::Relaxed);
            }
            if global {
                WORKER.store(u64::from(pid) << 32 | (index as u64 + 1), Ordering::Relaxed);
            }
            return Some(index);
        }
        if holder == pid {
            if global {
                WORKER.store(u64::from(pid) << 32 | (index as u64 + 1), Ordering::Relaxed);
            }
            return Some(index);
        }
    }
    None
}

fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 || *libc::__errno_location() == libc::EPERM }
}

/// The totals of every process of the pool, in Prometheus' text format.
pub fn render() -> String {
    render_region(region())
}

fn render_region(region: Option<&Region>) -> String {
    let mut text = String::new();
    let version = env!("CARGO_PKG_VERSION");
    metric(
        &mut text,
        "build_info",
        "gauge",
        "Which build of the extension answers.",
    );
    let _ = writeln!(text, "mqtt_broadcast_build_info{{version=\"{version}\"}} 1");
    let Some(region) = region else {
        return text;
    };
    let workers: Vec<usize> = region
        .workers
        .iter()
        .enumerate()
        .filter(|(_, slot)| {
            let pid = slot.load(Ordering::Acquire);
            pid != 0 && alive(pid)
        })
        .map(|(index, _)| index)
        .collect();
    metric(
        &mut text,
        "workers_alive",
        "gauge",
        "Processes of the pool that opened a connection and are alive.",
    );
    let _ = writeln!(text, "mqtt_broadcast_workers_alive {}", workers.len());

    let names: Vec<(usize, String)> = (0..MAX_NAMES)
        .filter_map(|index| {
            let label = if index == OVERFLOW {
                let counted = region.counters[OVERFLOW]
                    .published
                    .iter()
                    .any(|c| c.load(Ordering::Relaxed) > 0)
                    || region.counters[OVERFLOW].received.load(Ordering::Relaxed) > 0;
                counted.then(|| OVERFLOW_LABEL.to_owned())?
            } else {
                String::from_utf8_lossy(&ready_name(&region.names[index])?).into_owned()
            };
            Some((index, escape(&label)))
        })
        .collect();

    metric(
        &mut text,
        "published_total",
        "counter",
        "Messages written to the broker, by QoS.",
    );
    for (index, name) in &names {
        for qos in 0..3 {
            let value = region.counters[*index].published[qos].load(Ordering::Relaxed);
            let _ = writeln!(
                text,
                "mqtt_broadcast_published_total{{connection=\"{name}\",qos=\"{qos}\"}} {value}"
            );
        }
    }
    let counters: [(&str, &str, fn(&Counters) -> &AtomicU64); 6] = [
        (
            "acknowledged_total",
            "QoS 1/2 messages the broker acknowledged.",
            |c| &c.acknowledged,
        ),
        (
            "refused_total",
            "Messages the broker refused, or that were given up.",
            |c| &c.refused,
        ),
        (
            "received_total",
            "Messages received from the broker.",
            |c| &c.received,
        ),
        (
            "sent_payload_bytes_total",
            "Payload bytes of the messages written to the broker.",
            |c| &c.sent_bytes,
        ),
        (
            "received_payload_bytes_total",
            "Payload bytes received.",
            |c| &c.received_bytes,
        ),
        (
            "reconnects_total",
            "Connections made again after one was lost.",
            |c| &c.reconnects,
        ),
    ];
    for (suffix, help, counter) in counters {
        metric(&mut text, suffix, "counter", help);
        for (index, name) in &names {
            let value = counter(&region.counters[*index]).load(Ordering::Relaxed);
            let _ = writeln!(
                text,
                "mqtt_broadcast_{suffix}{{connection=\"{name}\"}} {value}"
            );
        }
    }
    let gauges: [(&str, &str, fn(&Gauges) -> &AtomicU32); 3] = [
        ("connections_up", "Processes whose connection is up.", |g| {
            &g.up
        }),
        (
            "queued_messages",
            "Messages waiting to be written, summed over the processes.",
            |g| &g.queued,
        ),
        (
            "in_flight_messages",
            "Messages written and not yet acknowledged, summed over the processes.",
            |g| &g.in_flight,
        ),
    ];
    for (suffix, help, gauge) in gauges {
        metric(&mut text, suffix, "gauge", help);
        let mut most = Vec::new();
        for (index, name) in &names {
            let values: Vec<u64> = workers
                .iter()
                .map(|worker| {
                    u64::from(gauge(&region.gauges[*worker][*index]).load(Ordering::Relaxed))
                })
                .collect();
            let _ = writeln!(
                text,
                "mqtt_broadcast_{suffix}{{connection=\"{name}\"}} {}",
                values.iter().sum::<u64>()
            );
            most.push((name, values.into_iter().max().unwrap_or(0)));
        }
        if suffix != "connections_up" {
            metric(
                &mut text,
                &format!("{suffix}_max"),
                "gauge",
                "The most of one process.",
            );
            for (name, value) in most {
                let _ = writeln!(
                    text,
                    "mqtt_broadcast_{suffix}_max{{connection=\"{name}\"}} {value}"
                );
            }
        }
    }
    text
}

fn metric(text: &mut String, suffix: &str, kind: &str, help: &str) {
    let _ = writeln!(text, "# HELP mqtt_broadcast_{suffix} {help}");
    let _ = writeln!(text, "# TYPE mqtt_broadcast_{suffix} {kind}");
}

/// A label value as the text format writes it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'t>(text: &'t str, start: &str) -> &'t str {
        text.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line {start} in:\n{text}"))
    }

    /// A region of the test's own: tests run side by side in one process.
    fn own_region() -> &'static Region {
        // SAFETY: a fresh mapping, never unmapped.
        unsafe { &*map().expect("a shared mapping") }
    }

    #[test]
    fn forked_processes_add_to_the_same_totals_and_only_live_ones_count() {
        let region = own_region();
        let render = || render_region(Some(region));
        let meter = Meter::in_region(Some(region), "metrics-test \"quoted\"");
        meter.published(QoS::AtLeastOnce, 10);
        meter.gauges(true, 3, 1);

        // SAFETY: the child only uses atomics in the shared mapping and exits.
        let child = unsafe { libc::fork() };
        if child == 0 {
            let meter = Meter::in_region(Some(region), "metrics-test \"quoted\"");
            meter.published(QoS::AtLeastOnce, 5);
            meter.acknowledged();
            meter.gauges(true, 7, 2);
            // Stays alive until killed: its gauges count while it lives.
            loop {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        let label = "connection=\"metrics-test \\\"quoted\\\"\"";
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !render().contains(&format!("mqtt_broadcast_queued_messages{{{label}}} 10")) {
            assert!(std::time::Instant::now() < deadline, "{}", render());
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let text = render();
        assert_eq!(
            line(
                &text,
                &format!("mqtt_broadcast_published_total{{{label},qos=\"1\"}}")
            ),
            format!("mqtt_broadcast_published_total{{{label},qos=\"1\"}} 2")
        );
        assert!(text.contains(&format!(
            "mqtt_broadcast_sent_payload_bytes_total{{{label}}} 15"
        )));
        assert!(text.contains(&format!("mqtt_broadcast_queued_messages_max{{{label}}} 7")));
        assert!(text.contains(&format!("mqtt_broadcast_connections_up{{{label}}} 2")));

        // SAFETY: our own child.
        unsafe {
            libc::kill(child, libc::SIGKILL);
            libc::waitpid(child, ptr::null_mut(), 0);
        }
        let text = render();
        assert!(
            text.contains(&format!("mqtt_broadcast_queued_messages{{{label}}} 3")),
            "{text}"
        );
        assert!(
            text.contains(&format!("mqtt_broadcast_connections_up{{{label}}} 1")),
            "{text}"
        );
        assert!(
            text.contains(&format!("mqtt_broadcast_acknowledged_total{{{label}}} 1")),
            "a dead process's counts stay in the totals: {text}"
        );
    }

    #[test]
    fn names_beyond_the_region_are_counted_under_the_overflow_label() {
        let region = Some(own_region());
        let slot = |name: &str| Meter::in_region(region, name).at.map(|(_, slot)| slot);
        for n in 0..MAX_NAMES + 5 {
            Meter::in_region(region, &format!("overflow-test-{n}")).received(1);
        }
        assert_eq!(slot(&"n".repeat(NAME_BYTES + 1)), Some(OVERFLOW));
        assert_eq!(slot("overflow-test-0"), Some(0), "a name keeps its slot");
        assert_eq!(slot("overflow-test-62"), Some(62));
        assert_eq!(slot("overflow-test-63"), Some(OVERFLOW));
        let text = render_region(region);
        assert!(
            text.contains("mqtt_broadcast_received_total{connection=\"_overflow\"} 6"),
            "{text}"
        );
        assert!(text.contains("mqtt_broadcast_received_total{connection=\"overflow-test-62\"} 1"));
    }
}
