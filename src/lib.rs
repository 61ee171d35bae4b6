//! mqtt_broadcast: fast, reliable MQTT for PHP. The PHP binding of
//! mqtt-broadcast-core (crates/core).

mod php;

use ext_php_rs::prelude::*;

#[cfg(feature = "broker")]
use php::broker::Broker;
use php::client::Client;
use php::event::Event;
use php::message::Message;
use php::subscriber::Subscriber;

/// Module startup: registers classes only. No thread, no runtime: PHP-FPM
/// forks its workers after this.
unsafe extern "C" fn module_startup(_type: i32, module_number: i32) -> i32 {
    let register = || {
        php::ini::register(module_number);
        // Before PHP-FPM forks its workers: they share the counters.
        if php::ini::flag(php::ini::METRICS) {
            mqtt_broadcast_core::metrics::init();
        }
        php::exceptions::register()?;
        php::mosquitto::register()
    };
    match std::panic::catch_unwind(register) {
        Ok(Ok(())) => 0,
        Ok(Err(error)) => {
            eprintln!("mqtt-broadcast: cannot register its classes: {error}");
            -1
        }
        Err(panic) => {
            eprintln!(
                "mqtt-broadcast: cannot register its classes: {}",
                panic_message(panic.as_ref())
            );
            -1
        }
    }
}

/// Module shutdown: a `publish()` made just before the process ends still arrives.
unsafe extern "C" fn module_shutdown(_type: i32, _module_number: i32) -> i32 {
    if let Err(panic) = std::panic::catch_unwind(mqtt_broadcast_core::registry::shutdown) {
        eprintln!(
            "mqtt-broadcast: flushing at process end failed: {}",
            panic_message(panic.as_ref())
        );
    }
    0
}

/// Request end: what `Mosquitto\Client`s of the request published is flushed.
unsafe extern "C" fn request_shutdown(_type: i32, _module_number: i32) -> i32 {
    if let Err(panic) = std::panic::catch_unwind(php::mosquitto::request_shutdown) {
        eprintln!(
            "mqtt-broadcast: closing Mosquitto\\Client connections at request end failed: {}",
            panic_message(panic.as_ref())
        );
    }
    0
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

#[php_module]
pub fn get_module(module: ModuleBuilder) -> ModuleBuilder {
    #[cfg(feature = "broker")]
    let module = module.class::<Broker>();
    module
        .name("mqtt_broadcast")
        .startup_function(module_startup)
        .class::<Client>()
        .class::<Subscriber>()
        .class::<Message>()
        .class::<Event>()
        .request_shutdown_function(request_shutdown)
        .shutdown_function(module_shutdown)
}
