//! `Mosquitto\Client`, `Mosquitto\Message` and `Mosquitto\Exception`: the API
//! of the Mosquitto-PHP extension (0.4) on this extension's connections, so
//! that applications written for it move to PHP 8 by swapping extensions.
//!
//! Registered at module startup only when that extension is not loaded too
//! and `mqtt_broadcast.mosquitto_compat` is on, so that no class collides.

pub mod client;
pub mod message;

use std::cell::RefCell;
use std::ffi::c_char;
use std::ptr;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicPtr, Ordering};

use ext_php_rs::builders::{ClassBuilder, ClassProperty};
use ext_php_rs::class::RegisteredClass;
use ext_php_rs::exception::PhpException;
use ext_php_rs::ffi::{zend_hash_str_find_ptr_lc, HashTable};
use ext_php_rs::zend::{ce, ClassEntry};

use super::ini;
use client::{MosquittoClient, Session};
use message::MosquittoMessage;

extern "C" {
    /// PHP's table of loaded extensions, filled before any module starts.
    static module_registry: HashTable;
}

/// Set once in module startup when the classes are registered.
static EXCEPTION: AtomicPtr<ClassEntry> = AtomicPtr::new(ptr::null_mut());

/// Module startup, after the ini settings: the classes, unless the
/// Mosquitto-PHP extension is loaded or the setting is off.
pub fn register() -> ext_php_rs::error::Result<()> {
    if !ini::flag(ini::MOSQUITTO_COMPAT) || mosquitto_extension_loaded() {
        return Ok(());
    }
    ClassBuilder::new("Mosquitto\\Exception")
        .extends((ce::exception, "\\Exception"))
        .registration(|class, _| EXCEPTION.store(class, Ordering::Release))
        .register()?;
    register_class::<MosquittoClient>()?;
    register_class::<MosquittoMessage>()
}

/// Request end: connections of `Mosquitto\Client`s still open are flushed
/// (bounded by `mqtt_broadcast.mosquitto_flush_timeout`) and closed, as
/// objects of a request do not outlive it.
pub fn request_shutdown() {
    let sessions: Vec<Rc<Session>> = LIVE.with(|live| {
        live.borrow_mut()
            .drain(..)
            .filter_map(|s| s.upgrade())
            .collect()
    });
    for session in sessions {
        session.close();
    }
}

thread_local! {
    /// The open sessions of this thread's request.
    static LIVE: RefCell<Vec<Weak<Session>>> = const { RefCell::new(Vec::new()) };
}

fn remember(session: &Rc<Session>) {
    LIVE.with(|live| {
        let mut live = live.borrow_mut();
        live.retain(|s| s.strong_count() > 0);
        live.push(Rc::downgrade(session));
    });
}

/// `Mosquitto\Exception` with `message`.
pub fn exception(message: impl Into<String>) -> PhpException {
    let class = EXCEPTION.load(Ordering::Acquire);
    // SAFETY: set once in module startup, before any method can run.
    let class = unsafe { class.as_ref() }.unwrap_or_else(ce::exception);
    PhpException::new(message.into(), 0, class)
}

/// Seconds a `Mosquitto\Client` waits at disconnect, destruction or request
/// end for what it published; 5 when the setting is not a number >= 0.
pub fn flush_timeout() -> f64 {
    ini::value(ini::MOSQUITTO_FLUSH_TIMEOUT)
        .and_then(|value| value.trim().parse::<f64>().ok())
        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
        .unwrap_or(5.0)
}

fn mosquitto_extension_loaded() -> bool {
    let name = "mosquitto";
    // SAFETY: module startup runs after every extension was loaded into the
    // registry and before any can be unloaded; the lookup only reads it.
    unsafe {
        !zend_hash_str_find_ptr_lc(
            ptr::addr_of!(module_registry),
            name.as_ptr().cast::<c_char>(),
            name.len(),
        )
        .is_null()
    }
}

/// What `ModuleBuilder::class` does for a class, for one registered only
/// under a condition.
fn register_class<T: RegisteredClass>() -> ext_php_rs::error::Result<()> {
    let mut builder = ClassBuilder::new(T::CLASS_NAME);
    for (method, flags) in T::method_builders() {
        builder = builder.method(method, flags);
    }
    for (name, value, docs, flags) in T::constants() {
        builder = builder.dyn_constant(*name, *value, docs, *flags)?;
    }
    for property in T::get_metadata().all_properties() {
        builder = builder.property(ClassProperty {
            name: property.name.into(),
            flags: property.flags,
            default: None,
            docs: property.docs,
            ty: Some(property.ty),
            nullable: property.nullable,
            readonly: property.readonly,
            default_stub: property.nullable.then(|| "null".into()),
        });
    }
    builder
        .flags(T::FLAGS)
        .object_override::<T>()
        .registration(|class, arg_info| {
            T::get_metadata().set_ce(class);
            T::get_metadata().set_arg_info(arg_info);
        })
        .docs(T::DOC_COMMENTS)
        .register()
}
