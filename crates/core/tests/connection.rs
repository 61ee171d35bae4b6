//! A `Connection` against a scripted broker: the order of events on the
//! wire that the outbox relies on, and what `status()` and `publish_sync()`
//! make of it. Each test drives the broker's side packet by packet.

mod support;

use std::collections::HashSet;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;

use mqtt_broadcast_core::config::Config;
use mqtt_broadcast_core::connection::{Connection, ConnectionState};
use mqtt_broadcast_core::QoS;
use rumqttc::mqttbytes::v4::{Packet, Publish};

use support::{eventually, publish_sync_in_background, Broker, Session, QUIET, WAIT};

/// A session the broker may keep: the client asks for it.
fn persistent(broker: &Broker) -> Config {
    Config {
        clean_session: false,
        ..broker.config()
    }
}

#[test]
fn a_qos1_publish_is_acknowledged_only_after_the_brokers_puback() {
    let broker = Broker::start();
    let connection = broker.open("qos1_acknowledged_by_puback", broker.config());
    let mut session = broker.accept_connected(&connection);

    connection
        .publish("sensors/1", b"21.5", QoS::AtLeastOnce, false, None)
        .unwrap();
    let publish = session.expect_publish();
    assert_eq!(
        (
            publish.topic.as_str(),
            &publish.payload[..],
            publish.qos,
            publish.dup
        ),
        ("sensors/1", &b"21.5"[..], QoS::AtLeastOnce, false)
    );
    let status = eventually(&connection, "the publish is in flight", |s| {
        s.in_flight == 1
    });
    assert_eq!(
        (status.queued, status.published, status.acknowledged),
        (0, 1, 0)
    );
    session.expect_silence("nothing else is due before the PUBACK");
    assert_eq!(connection.status().acknowledged, 0);

    session.puback(publish.pkid);
    assert!(connection.flush(WAIT));
    let status = connection.status();
    assert_eq!(
        (status.in_flight, status.published, status.acknowledged),
        (0, 1, 1)
    );
    session.close(&connection);
}

#[test]
fn publish_sync_returns_only_after_the_brokers_puback() {
    let broker = Broker::start();
    let connection = broker.open("publish_sync_waits_for_puback", broker.config());
    let mut session = broker.accept_connected(&connection);

    let result = publish_sync_in_background(&connection, "sync/1", QoS::AtLeastOnce);
    let publish = session.expect_publish();
    eventually(&connection, "the publish is in flight", |s| {
        s.in_flight == 1
    });
    assert_eq!(
        result.recv_timeout(QUIET),
        Err(RecvTimeoutError::Timeout),
        "publish_sync() returned before the PUBACK"
    );

    session.puback(publish.pkid);
    assert_eq!(result.recv_timeout(WAIT), Ok(Ok(())));
    assert_eq!(connection.status().acknowledged, 1);
    session.close(&connection);
}

#[test]
fn a_message_in_flight_when_the_connection_drops_is_published_again_with_dup_and_its_packet_id_when_the_broker_kept_the_session(
) {
    let broker = Broker::start();
    let connection = broker.open("resend_with_session", persistent(&broker));
    let mut session = broker.accept_connected(&connection);
    assert!(!session.connect.clean_session);
    connection
        .publish("orders/7", b"paid", QoS::AtLeastOnce, false, None)
        .unwrap();
    let first = session.expect_publish();
    eventually(&connection, "the publish is in flight", |s| {
        s.in_flight == 1
    });
    drop(session);

    let mut session = broker.accept();
    session.connack(true);
    let again = session.expect_publish();
    assert_eq!(
        (again.topic.as_str(), &again.payload[..], again.qos),
        ("orders/7", &b"paid"[..], QoS::AtLeastOnce)
    );
    assert!(again.dup, "published again without the DUP flag: {again:?}");
    assert_eq!(
        again.pkid, first.pkid,
        "published again under another packet id"
    );

    session.puback(again.pkid);
    assert!(connection.flush(WAIT));
    session.expect_silence("the message was acknowledged, nothing is left to send");
    let status = connection.status();
    assert_eq!(
        (
            status.queued,
            status.in_flight,
            status.published,
            status.acknowledged,
            status.reconnects
        ),
        (0, 0, 1, 1, 1)
    );
    session.close(&connection);
}

#[test]
fn a_message_in_flight_when_the_connection_drops_is_published_again_when_the_broker_lost_the_session(
) {
    let broker = Broker::start();
    let connection = broker.open("resend_without_session", persistent(&broker));
    let mut session = broker.accept_connected(&connection);
    connection
        .publish("orders/8", b"shipped", QoS::AtLeastOnce, false, None)
        .unwrap();
    session.expect_publish();
    eventually(&connection, "the publish is in flight", |s| {
        s.in_flight == 1
    });
    drop(session);

    let mut session = broker.accept();
    session.connack(false);
    let again = session.expect_publish();
    assert_eq!(
        (again.topic.as_str(), &again.payload[..], again.qos),
        ("orders/8", &b"shipped"[..], QoS::AtLeastOnce)
    );

    session.puback(again.pkid);
    assert!(connection.flush(WAIT));
    session.expect_silence("the message was acknowledged, nothing is left to send");
    let status = connection.status();
    assert_eq!(
        (
            status.queued,
            status.in_flight,
            status.published,
            status.acknowledged
        ),
        (0, 0, 1, 1)
    );
    session.close(&connection);
}

#[test]
fn what_waits_when_the_connection_drops_goes_out_after_the_reconnect_in_order_each_once() {
    let broker = Broker::start();
    let config = Config {
        max_inflight: 1,
        ..persistent(&broker)
    };
    let connection = broker.open("waiting_messages_survive_a_drop", config);
    let mut session = broker.accept_connected(&connection);
    connection
        .publish("wait/a", b"x", QoS::AtLeastOnce, false, None)
        .unwrap();
    let a = session.expect_publish();
    eventually(&connection, "a is in flight", |s| s.in_flight == 1);
    // QoS 0 needs no room in the in-flight window: with nothing queued, b is
    // written at once, and lost with the connection (at most once). Behind
    // the full window c waits in the queue, and the QoS 0 d behind it.
    connection
        .publish("wait/b", b"x", QoS::AtMostOnce, false, None)
        .unwrap();
    assert_eq!(session.expect_publish().topic, "wait/b");
    connection
        .publish("wait/c", b"x", QoS::AtLeastOnce, false, None)
        .unwrap();
    connection
        .publish("wait/d", b"x", QoS::AtMostOnce, false, None)
        .unwrap();
    drop(session);
    eventually(&connection, "the drop is noticed", |s| {
        s.state == ConnectionState::Reconnecting
    });
    connection
        .publish("wait/e", b"x", QoS::AtLeastOnce, false, None)
        .unwrap();

    let mut session = broker.accept();
    session.connack(true);
    let mut sent = Vec::new();
    for _ in 0..4 {
        let publish = session.expect_publish();
        if publish.qos == QoS::AtLeastOnce {
            session.puback(publish.pkid);
        }
        sent.push((publish.topic.clone(), publish.dup));
        if publish.topic == "wait/a" {
            assert_eq!(publish.pkid, a.pkid);
        }
    }
    assert_eq!(
        sent,
        [
            ("wait/a".to_owned(), true),
            ("wait/c".to_owned(), false),
            ("wait/d".to_owned(), false),
            ("wait/e".to_owned(), false),
        ]
    );
    assert!(connection.flush(WAIT));
    session.expect_silence("every message was sent once, nothing is left to send");
    let status = connection.status();
    assert_eq!(
        (
            status.queued,
            status.in_flight,
            status.published,
            status.acknowledged
        ),
        (0, 0, 5, 3)
    );
    session.close(&connection);
}

/// The packet ids of the client's publishes whose flow has not ended: a
/// new publish must not take one of them.
#[derive(Default)]
struct OpenFlows(HashSet<u16>);

impl OpenFlows {
    fn started(&mut self, pkid: u16) {
        assert!(
            self.0.insert(pkid),
            "packet id {pkid} reused while its flow was open"
        );
    }

    fn ended(&mut self, pkid: u16) {
        assert!(self.0.remove(&pkid));
    }

    /// The third publish, which the client may send before or after `end`
    /// frees the first one's packet id (`first`): either way not under an
    /// id still in use.
    fn third_publish(
        &mut self,
        session: &mut Session,
        end: impl FnOnce(&mut Session),
        first: u16,
    ) -> Publish {
        let early = match session.next_packet_within(QUIET) {
            Some(Packet::Publish(c)) => Some(c),
            Some(other) => panic!("expected PUBLISH or nothing, the client sent {other:?}"),
            None => None,
        };
        if let Some(c) = &early {
            self.started(c.pkid);
        }
        end(session);
        self.ended(first);
        early.unwrap_or_else(|| {
            let c = session.expect_publish();
            self.started(c.pkid);
            c
        })
    }
}

/// Acknowledges the third publish: all three end acknowledged.
fn finish_third(mut session: Session, connection: &Arc<Connection>, pkid: u16) {
    session.puback(pkid);
    assert!(connection.flush(WAIT));
    let status = connection.status();
    assert_eq!((status.published, status.acknowledged), (3, 3));
    session.close(connection);
}

#[test]
fn packet_ids_are_reused_only_after_their_flow_ended() {
    let broker = Broker::start();
    let config = Config {
        max_inflight: 2,
        ..broker.config()
    };
    let connection = broker.open("packet_ids_reused_after_ack", config);
    let mut session = broker.accept_connected(&connection);
    let mut open = OpenFlows::default();

    for topic in ["ids/a", "ids/b", "ids/c"] {
        connection
            .publish(topic, b"x", QoS::AtLeastOnce, false, None)
            .unwrap();
    }
    let a = session.expect_publish();
    open.started(a.pkid);
    let b = session.expect_publish();
    open.started(b.pkid);
    assert_eq!((a.topic.as_str(), b.topic.as_str()), ("ids/a", "ids/b"));
    session.expect_silence("two publishes are in flight, the most max_inflight allows");

    // The broker acknowledges the second first: only its packet id is free.
    session.puback(b.pkid);
    open.ended(b.pkid);
    eventually(&connection, "b is acknowledged", |s| s.acknowledged == 1);
    let c = open.third_publish(&mut session, |session| session.puback(a.pkid), a.pkid);
    assert_eq!(c.topic, "ids/c");
    finish_third(session, &connection, c.pkid);
}

#[test]
fn a_qos2_packet_id_stays_taken_until_pubcomp_not_pubrec() {
    let broker = Broker::start();
    let config = Config {
        max_inflight: 2,
        ..broker.config()
    };
    let connection = broker.open("qos2_packet_id_until_pubcomp", config);
    let mut session = broker.accept_connected(&connection);
    let mut open = OpenFlows::default();

    connection
        .publish("mixed/a", b"x", QoS::ExactlyOnce, false, None)
        .unwrap();
    connection
        .publish("mixed/b", b"x", QoS::AtLeastOnce, false, None)
        .unwrap();
    let a = session.expect_publish();
    open.started(a.pkid);
    let b = session.expect_publish();
    open.started(b.pkid);

    session.pubrec(a.pkid);
    assert_eq!(session.expect_pubrel(), a.pkid);
    session.puback(b.pkid);
    open.ended(b.pkid);
    eventually(&connection, "b is acknowledged", |s| s.acknowledged == 1);

    // One slot is free, but a's packet id is taken until its PUBCOMP.
    connection
        .publish("mixed/c", b"x", QoS::AtLeastOnce, false, None)
        .unwrap();
    let c = open.third_publish(&mut session, |session| session.pubcomp(a.pkid), a.pkid);
    assert_eq!(c.topic, "mixed/c");
    finish_third(session, &connection, c.pkid);
}

#[test]
fn a_qos2_publish_is_acknowledged_only_at_pubcomp() {
    let broker = Broker::start();
    let connection = broker.open("qos2_acknowledged_by_pubcomp", broker.config());
    let mut session = broker.accept_connected(&connection);

    let result = publish_sync_in_background(&connection, "exactly/once", QoS::ExactlyOnce);
    let publish = session.expect_publish();
    assert_eq!(publish.qos, QoS::ExactlyOnce);
    session.pubrec(publish.pkid);
    assert_eq!(session.expect_pubrel(), publish.pkid);
    assert_eq!(
        result.recv_timeout(QUIET),
        Err(RecvTimeoutError::Timeout),
        "publish_sync() returned before the PUBCOMP"
    );
    let status = connection.status();
    assert_eq!((status.in_flight, status.acknowledged), (1, 0));

    session.pubcomp(publish.pkid);
    assert_eq!(result.recv_timeout(WAIT), Ok(Ok(())));
    let status = connection.status();
    assert_eq!((status.in_flight, status.acknowledged), (0, 1));
    session.close(&connection);
}

/// A QoS 2 publish of a persistent session that the broker received (PUBREC,
/// and the client's PUBREL) when the connection drops.
fn received_then_dropped(broker: &Broker, name: &str, topic: &str) -> (Arc<Connection>, Publish) {
    let connection = broker.open(name, persistent(broker));
    let mut session = broker.accept_connected(&connection);
    connection
        .publish(topic, b"x", QoS::ExactlyOnce, false, None)
        .unwrap();
    let publish = session.expect_publish();
    session.pubrec(publish.pkid);
    assert_eq!(session.expect_pubrel(), publish.pkid);
    (connection, publish)
}

#[test]
fn after_pubrec_a_reconnect_with_the_session_resumes_with_pubrel_not_a_new_publish() {
    let broker = Broker::start();
    let (connection, publish) =
        received_then_dropped(&broker, "qos2_resumes_with_pubrel", "exactly/resumed");

    let mut session = broker.accept();
    session.connack(true);
    match session.next_packet() {
        Packet::PubRel(pubrel) => assert_eq!(pubrel.pkid, publish.pkid),
        other => panic!(
            "expected PUBREL {}, the client sent {other:?}",
            publish.pkid
        ),
    }
    session.pubcomp(publish.pkid);
    assert!(connection.flush(WAIT));
    session.expect_silence("the flow ended with PUBCOMP, nothing is left to send");
    let status = connection.status();
    assert_eq!(
        (status.in_flight, status.published, status.acknowledged),
        (0, 1, 1)
    );
    session.close(&connection);
}

#[test]
fn after_pubrec_a_reconnect_without_the_session_publishes_the_message_again() {
    let broker = Broker::start();
    let (connection, _) =
        received_then_dropped(&broker, "qos2_republished_without_session", "exactly/lost");

    let mut session = broker.accept();
    session.connack(false);
    let again = session.expect_publish();
    assert_eq!(
        (again.topic.as_str(), again.qos),
        ("exactly/lost", QoS::ExactlyOnce)
    );
    session.pubrec(again.pkid);
    assert_eq!(session.expect_pubrel(), again.pkid);
    session.pubcomp(again.pkid);
    assert!(connection.flush(WAIT));
    let status = connection.status();
    assert_eq!(
        (status.in_flight, status.published, status.acknowledged),
        (0, 1, 1)
    );
    session.close(&connection);
}

#[test]
fn a_message_queued_while_disconnected_is_sent_after_connack_in_order_with_later_ones() {
    let broker = Broker::start();
    let connection = broker.open("queued_while_disconnected", broker.config());
    drop(broker.accept_connected(&connection));
    eventually(&connection, "the drop is noticed", |s| {
        s.state == ConnectionState::Reconnecting
    });

    for topic in ["queue/1", "queue/2"] {
        connection
            .publish(topic, b"x", QoS::AtLeastOnce, false, None)
            .unwrap();
    }
    let status = connection.status();
    assert_eq!(
        (status.queued, status.in_flight, status.published),
        (2, 0, 0)
    );

    let mut session = broker.accept();
    session.expect_silence("nothing is published before CONNACK");
    session.connack(false);
    connection
        .publish("queue/3", b"x", QoS::AtLeastOnce, false, None)
        .unwrap();
    let mut topics = Vec::new();
    for _ in 0..3 {
        let publish = session.expect_publish();
        session.puback(publish.pkid);
        topics.push(publish.topic);
    }
    assert_eq!(topics, ["queue/1", "queue/2", "queue/3"]);
    assert!(connection.flush(WAIT));
    let status = connection.status();
    assert_eq!((status.published, status.acknowledged), (3, 3));
    session.close(&connection);
}

#[test]
fn a_message_published_before_the_first_connack_is_sent_after_it() {
    let broker = Broker::start();
    let connection = broker.open("queued_while_connecting", broker.config());
    connection
        .publish("early/1", b"x", QoS::AtLeastOnce, false, None)
        .unwrap();
    let status = connection.status();
    assert_eq!(
        (status.state, status.queued),
        (ConnectionState::Connecting, 1)
    );

    let mut session = broker.accept();
    session.expect_silence("nothing is published before CONNACK");
    session.connack(false);
    let publish = session.expect_publish();
    assert_eq!(publish.topic, "early/1");
    session.puback(publish.pkid);
    assert!(connection.flush(WAIT));
    assert_eq!(connection.status().acknowledged, 1);
    session.close(&connection);
}

#[test]
fn a_qos0_publish_on_an_idle_connection_is_written_before_publish_returns_and_never_overtakes() {
    let broker = Broker::start();
    let connection = broker.open("qos0_written_at_once", broker.config());
    let mut session = broker.accept_connected(&connection);

    connection
        .publish("idle", b"at once", QoS::AtMostOnce, true, None)
        .unwrap();
    // Written by the caller: counted before the connection's task saw anything.
    assert_eq!(connection.status().published, 1);
    let publish = session.expect_publish();
    assert_eq!(
        (
            publish.topic.as_str(),
            &publish.payload[..],
            publish.qos,
            publish.retain
        ),
        ("idle", &b"at once"[..], QoS::AtMostOnce, true)
    );

    // Behind a message still on its way through the outbox, QoS 0 waits its turn.
    for (topic, qos) in [
        ("first", QoS::AtLeastOnce),
        ("second", QoS::AtMostOnce),
        ("third", QoS::AtMostOnce),
    ] {
        connection.publish(topic, b"", qos, false, None).unwrap();
    }
    let topics: Vec<String> = (0..3).map(|_| session.expect_publish().topic).collect();
    assert_eq!(topics, ["first", "second", "third"]);
    assert!(
        !connection.flush(QUIET),
        "the QoS 1 message waits for its PUBACK"
    );
    let status = connection.status();
    assert_eq!(
        (status.published, status.in_flight, status.queued),
        (4, 1, 0)
    );
}

#[test]
fn a_qos1_publish_written_by_the_caller_is_in_flight_at_once_and_sent_again_after_a_drop() {
    let broker = Broker::start();
    let connection = broker.open("qos1_written_at_once", persistent(&broker));
    let mut session = broker.accept_connected(&connection);

    connection
        .publish("direct/a", b"1", QoS::AtLeastOnce, false, None)
        .unwrap();
    let status = connection.status();
    assert_eq!(
        (status.published, status.in_flight, status.queued),
        (1, 1, 0)
    );
    let a = session.expect_publish();
    // While a waits for its PUBACK, b takes the outbox's way, behind it.
    connection
        .publish("direct/b", b"2", QoS::AtLeastOnce, false, None)
        .unwrap();
    let b = session.expect_publish();
    assert_eq!(b.topic, "direct/b");
    assert_ne!(b.pkid, a.pkid);
    drop(session);
    eventually(&connection, "the drop is noticed", |s| {
        s.state == ConnectionState::Reconnecting
    });

    let mut session = broker.accept();
    session.connack(true);
    for (topic, pkid) in [("direct/a", a.pkid), ("direct/b", b.pkid)] {
        let again = session.expect_publish();
        assert_eq!(
            (again.topic.as_str(), again.pkid, again.dup),
            (topic, pkid, true)
        );
        session.puback(again.pkid);
    }
    assert!(connection.flush(WAIT));
    let status = connection.status();
    assert_eq!(
        (status.published, status.acknowledged, status.in_flight),
        (2, 2, 0)
    );
    session.close(&connection);
}

#[test]
fn publish_sync_reads_its_own_puback_and_leaves_other_packets_to_the_connection() {
    let broker = Broker::start();
    let connection = broker.open("sync_reads_its_puback", broker.config());
    let mut session = broker.accept_connected(&connection);

    let alone = publish_sync_in_background(&connection, "sync/alone", QoS::AtLeastOnce);
    let publish = session.expect_publish();
    session.puback(publish.pkid);
    assert_eq!(alone.recv_timeout(WAIT).unwrap(), Ok(()));
    let status = connection.status();
    assert_eq!(
        (status.acknowledged, status.in_flight),
        (1, 0),
        "counted before returning"
    );

    // A packet ahead of the PUBACK is the connection's: it reads both.
    let behind = publish_sync_in_background(&connection, "sync/behind", QoS::AtLeastOnce);
    let publish = session.expect_publish();
    session.send(Packet::Publish(Publish::new(
        "elsewhere",
        QoS::AtMostOnce,
        "x",
    )));
    session.puback(publish.pkid);
    assert_eq!(behind.recv_timeout(WAIT).unwrap(), Ok(()));
    assert_eq!(connection.status().acknowledged, 2);

    let expected = publish_sync_in_background(&connection, "sync/dropped", QoS::AtLeastOnce);
    let publish = session.expect_publish();
    drop(session);
    // No PUBACK on this connection: re-sent on the next, and acknowledged there.
    let mut session = broker.accept();
    session.connack(false);
    let again = session.expect_publish();
    assert_eq!((again.topic.as_str(), again.dup), ("sync/dropped", true));
    assert_eq!(again.pkid, publish.pkid);
    session.puback(again.pkid);
    assert_eq!(expected.recv_timeout(WAIT).unwrap(), Ok(()));
    session.close(&connection);
}
