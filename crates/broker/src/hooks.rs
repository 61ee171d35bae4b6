//! What the broker asks us about its clients, through rmqtt's hooks: who may
//! connect (passwords), publish and subscribe (ACL), the message counts
//! `status()` reports, and the lines of the `log` option.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use rmqtt::codec::v5::SubscribeAckReason;
use rmqtt::context::ServerContext;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType, Type};
use rmqtt::types::{
    AuthResult, ConnectAckReason, ConnectInfo, FromType, LastWill, PublishAclResult, Reason,
    SharedGroup, SubscribeAclResult, TopicFilter,
};

use crate::acl::Acl;
use crate::config::BrokerConfig;
use crate::log::EventLog;
use crate::passwords::Passwords;

#[derive(Debug, Default)]
pub struct Counters {
    pub received: AtomicU64,
    pub sent: AtomicU64,
}

pub async fn register(
    scx: &ServerContext,
    config: &BrokerConfig,
    counters: Arc<Counters>,
    log: Option<Arc<EventLog>>,
) {
    let register = scx.extends.hook_mgr().register();
    if !config.passwords.is_empty() {
        register
            .add(
                Type::ClientAuthenticate,
                Box::new(Authentication {
                    passwords: config.passwords.clone(),
                    log: log.clone(),
                }),
            )
            .await;
    }
    if !config.acl.is_empty() {
        let acl = Arc::new(config.acl.clone());
        register
            .add(
                Type::ClientSubscribeCheckAcl,
                Box::new(AccessControl(acl.clone())),
            )
            .await;
        register
            .add(Type::MessagePublishCheckAcl, Box::new(AccessControl(acl)))
            .await;
    }
    register
        .add(Type::MessagePublish, Box::new(Counting(counters.clone())))
        .await;
    register
        .add(Type::MessageDelivered, Box::new(Counting(counters)))
        .await;
    if let Some(log) = log {
        for event in [
            Type::ClientConnack,
            Type::ClientDisconnected,
            Type::SessionSubscribed,
            Type::SessionUnsubscribed,
            Type::MessagePublish,
        ] {
            register.add(event, Box::new(Logging(log.clone()))).await;
        }
    }
    register.start().await;
}

struct Authentication {
    passwords: Passwords,
    /// A refused client is logged here: rmqtt's CONNACK hook sees accepted ones only.
    log: Option<Arc<EventLog>>,
}

#[async_trait]
impl Handler for Authentication {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        let Parameter::ClientAuthenticate(connect) = param else {
            return (true, acc);
        };
        // rmqtt asks only for clients that give a user name, or when
        // anonymous clients are refused.
        let verified = connect.username().map(|user| {
            let password = connect.password().map(|p| p.as_ref()).unwrap_or_default();
            self.passwords.verify(user, password) == Some(true)
        });
        let (result, refusal) = match verified {
            Some(true) => (AuthResult::Allow(false, None), None),
            Some(false) => (
                AuthResult::BadUsernameOrPassword,
                Some(("bad user name or password", 4, 134)),
            ),
            None => (AuthResult::NotAuthorized, Some(("not authorized", 5, 135))),
        };
        if let (Some(log), Some((why, v3, v5))) = (&self.log, refusal) {
            let code = if matches!(connect, ConnectInfo::V5(..)) {
                v5
            } else {
                v3
            };
            log.write(format_args!(
                "refused {} from {}: CONNACK {code} ({why})",
                connect.client_id(),
                remote_address(connect)
            ));
        }
        (false, Some(HookResult::AuthResult(result)))
    }
}

struct AccessControl(Arc<Acl>);

#[async_trait]
impl Handler for AccessControl {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        match param {
            Parameter::ClientSubscribeCheckAcl(session, subscribe) => {
                let user = session.id.username.as_deref();
                let result = if self.0.may_subscribe(user, &subscribe.topic_filter) {
                    SubscribeAclResult::new_success(subscribe.opts.qos(), None)
                } else {
                    SubscribeAclResult::new_failure(SubscribeAckReason::NotAuthorized)
                };
                (false, Some(HookResult::SubscribeAclResult(result)))
            }
            Parameter::MessagePublishCheckAcl(session, publish) => {
                let user = session.id.username.as_deref();
                let result = if self.0.may_publish(user, &publish.topic) {
                    PublishAclResult::allow()
                } else {
                    // As Mosquitto: the message is dropped, the client stays.
                    PublishAclResult::rejected(false, None)
                };
                (false, Some(HookResult::PublishAclResult(result)))
            }
            _ => (true, acc),
        }
    }
}

struct Counting(Arc<Counters>);

#[async_trait]
impl Handler for Counting {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        match param {
            Parameter::MessagePublish(Some(_), _, _) => {
                self.0.received.fetch_add(1, Ordering::Relaxed);
            }
            Parameter::MessageDelivered(..) => {
                self.0.sent.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        (true, acc)
    }
}

struct Logging(Arc<EventLog>);

#[async_trait]
impl Handler for Logging {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        let log = &self.0;
        match param {
            Parameter::ClientConnack(connect, reason) => {
                let id = connect.client_id();
                let from = remote_address(connect);
                if reason.success() {
                    log.write(format_args!(
                        "connected {id} from {from} ({})",
                        connection_details(connect)
                    ));
                } else {
                    log.write(format_args!(
                        "refused {id} from {from}: CONNACK {} ({})",
                        connack_code(reason),
                        reason.reason()
                    ));
                }
            }
            Parameter::ClientDisconnected(session, reason) => {
                log.write(format_args!(
                    "disconnected {}: {}",
                    session.id.client_id,
                    disconnect_reason(reason)
                ));
            }
            Parameter::SessionSubscribed(session, subscribe) => {
                log.write(format_args!(
                    "subscribed {} to {} at QoS {}",
                    session.id.client_id,
                    filter(subscribe.opts.shared_group(), &subscribe.topic_filter),
                    subscribe.opts.qos_value()
                ));
            }
            Parameter::SessionUnsubscribed(session, unsubscribe) => {
                log.write(format_args!(
                    "unsubscribed {} from {}",
                    session.id.client_id,
                    filter(unsubscribe.shared_group.as_ref(), &unsubscribe.topic_filter)
                ));
            }
            Parameter::MessagePublish(_, from, publish)
                if matches!(from.typ(), FromType::LastWill) =>
            {
                log.write(format_args!(
                    "will of {} published on {}",
                    from.id.client_id, publish.topic
                ));
            }
            _ => {}
        }
        (true, acc)
    }
}

fn remote_address(connect: &ConnectInfo) -> String {
    connect
        .id()
        .remote_addr
        .map_or_else(|| "an unknown address".to_owned(), |a| a.to_string())
}

/// "MQTT 3.1.1, clean session, keep alive 60 s, user app"
fn connection_details(connect: &ConnectInfo) -> String {
    let protocol = match connect {
        ConnectInfo::V3(_, c) if c.protocol.level() == 3 => "MQTT 3.1",
        ConnectInfo::V3(..) => "MQTT 3.1.1",
        ConnectInfo::V5(..) => "MQTT 5",
    };
    let session = if connect.clean_start() {
        "clean session"
    } else {
        "persistent session"
    };
    let mut details = format!(
        "{protocol}, {session}, keep alive {} s",
        connect.keep_alive()
    );
    if let Some(user) = connect.username() {
        details.push_str(&format!(", user {user}"));
    }
    match connect.last_will() {
        Some(LastWill::V3(will)) => details.push_str(&format!(", will on {}", will.topic)),
        Some(LastWill::V5(will)) => details.push_str(&format!(", will on {}", will.topic)),
        None => {}
    }
    details
}

/// The filter as the client gave it: a shared one with its `$share/{group}/` head.
fn filter(group: Option<&SharedGroup>, topic_filter: &TopicFilter) -> String {
    match group {
        Some(group) => format!("$share/{group}/{topic_filter}"),
        None => topic_filter.to_string(),
    }
}

fn connack_code(reason: &ConnectAckReason) -> u8 {
    match reason {
        ConnectAckReason::V3(code) => u8::from(*code),
        ConnectAckReason::V5(code) => u8::from(*code),
    }
}

fn disconnect_reason(reason: &Reason) -> String {
    match reason {
        // A DISCONNECT, then the connection closing: the DISCONNECT says why.
        Reason::Reasons(reasons) => reasons
            .iter()
            .find(|r| matches!(r, Reason::ConnectDisconnect(_)))
            .or(reasons.first())
            .map_or_else(|| reason.to_string(), disconnect_reason),
        Reason::ConnectDisconnect(_) => "it sent DISCONNECT".to_owned(),
        Reason::ConnectRemoteClose => "the connection closed".to_owned(),
        Reason::ConnectKeepaliveTimeout => "keep alive timeout".to_owned(),
        Reason::ConnectReadWriteTimeout => "reading or writing timed out".to_owned(),
        Reason::ConnectReadWriteError => "reading or writing failed".to_owned(),
        Reason::ConnectKicked(_) => "another connection took its client id".to_owned(),
        other => other.to_string(),
    }
}
