//! The extension's php.ini settings: registered at module startup, read
//! where they apply.

use ext_php_rs::flags::IniEntryPermission;
use ext_php_rs::zend::{ExecutorGlobals, IniEntryDef, IniEntryDefs};

/// Counters shared by the processes of a pool (Mqtt\Client::metrics()); off
/// maps no shared memory and counts nothing.
pub const METRICS: &str = "mqtt_broadcast.metrics";
/// Mosquitto\Client and its classes, unless the Mosquitto-PHP extension is loaded.
pub const MOSQUITTO_COMPAT: &str = "mqtt_broadcast.mosquitto_compat";
/// Seconds a Mosquitto\Client waits for what it published at its end.
pub const MOSQUITTO_FLUSH_TIMEOUT: &str = "mqtt_broadcast.mosquitto_flush_timeout";

static ENTRIES: IniEntryDefs<4> = IniEntryDefs::new([
    IniEntryDef::new(c"mqtt_broadcast.metrics", c"1", IniEntryPermission::System),
    IniEntryDef::new(
        c"mqtt_broadcast.mosquitto_compat",
        c"1",
        IniEntryPermission::System,
    ),
    IniEntryDef::new(
        c"mqtt_broadcast.mosquitto_flush_timeout",
        c"5",
        IniEntryPermission::All,
    ),
    IniEntryDef::end(),
]);

/// Module startup, before anything reads a setting.
pub fn register(module_number: i32) {
    IniEntryDef::register(ENTRIES.as_slice(), module_number);
}

/// A setting as a switch: "1", "on", "yes", "true" (any case) are on.
pub fn flag(name: &str) -> bool {
    value(name).is_some_and(|value| {
        matches!(
            value.trim().to_ascii_lowercase().as_str(),
            "1" | "on" | "yes" | "true"
        )
    })
}

pub fn value(name: &str) -> Option<String> {
    ExecutorGlobals::get().ini_values().remove(name).flatten()
}
