//! What the broker asks us about its clients, through rmqtt's hooks: who may
//! connect (passwords), publish and subscribe (ACL), and the message counts
//! `status()` reports.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use rmqtt::codec::v5::SubscribeAckReason;
use rmqtt::context::ServerContext;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType, Type};
use rmqtt::types::{AuthResult, PublishAclResult, SubscribeAclResult};

use crate::acl::Acl;
use crate::config::BrokerConfig;
use crate::passwords::Passwords;

#[derive(Debug, Default)]
pub struct Counters {
    pub received: AtomicU64,
    pub sent: AtomicU64,
}

pub async fn register(scx: &ServerContext, config: &BrokerConfig, counters: Arc<Counters>) {
    let register = scx.extends.hook_mgr().register();
    if !config.passwords.is_empty() {
        register
            .add(
                Type::ClientAuthenticate,
                Box::new(Authentication(config.passwords.clone())),
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
    register.start().await;
}

struct Authentication(Passwords);

#[async_trait]
impl Handler for Authentication {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        let Parameter::ClientAuthenticate(connect) = param else {
            return (true, acc);
        };
        // rmqtt asks only for clients that give a user name, or when
        // anonymous clients are refused.
        let Some(user) = connect.username() else {
            return (
                false,
                Some(HookResult::AuthResult(AuthResult::NotAuthorized)),
            );
        };
        let password = connect.password().map(|p| p.as_ref()).unwrap_or_default();
        let result = match self.0.verify(user, password) {
            Some(true) => AuthResult::Allow(false, None),
            Some(false) | None => AuthResult::BadUsernameOrPassword,
        };
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
