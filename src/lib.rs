//! mqtt_broadcast: fast, reliable MQTT for PHP. The PHP binding of
//! mqtt-broadcast-core (crates/core).

mod php;

use ext_php_rs::prelude::*;

use php::client::Client;
use php::message::Message;
use php::subscriber::Subscriber;

/// Module startup: registers classes only. No thread, no runtime: PHP-FPM
/// forks its workers after this.
unsafe extern "C" fn module_startup(_type: i32, _module_number: i32) -> i32 {
    match php::exceptions::register() {
        Ok(()) => 0,
        Err(_) => -1,
    }
}

/// Module shutdown: a `publish()` made just before the process ends still arrives.
unsafe extern "C" fn module_shutdown(_type: i32, _module_number: i32) -> i32 {
    let _ = std::panic::catch_unwind(mqtt_broadcast_core::registry::shutdown);
    0
}

#[php_module]
pub fn get_module(module: ModuleBuilder) -> ModuleBuilder {
    module
        .name("mqtt_broadcast")
        .startup_function(module_startup)
        .class::<Client>()
        .class::<Subscriber>()
        .class::<Message>()
        .shutdown_function(module_shutdown)
}
