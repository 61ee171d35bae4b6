//! A panic in a connection's task is a bug. It must not leave behind a
//! connection that says "connected" and swallows publishes until its queue
//! is full: the connection is marked failed with the panic's message, the
//! calls waiting on it fail at once, and the next client of that name
//! starts a fresh connection that takes over what was not acknowledged.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::*;

/// The connection's task, watched.
pub(super) struct Supervised<F> {
    connection: Arc<Connection>,
    task: Pin<Box<F>>,
    ended: bool,
}

impl<F: Future<Output = ()>> Supervised<F> {
    pub(super) fn new(connection: Arc<Connection>, task: F) -> Self {
        Supervised {
            connection,
            task: Box::pin(task),
            ended: false,
        }
    }
}

impl<F: Future<Output = ()>> Future for Supervised<F> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let polled = catch_unwind(AssertUnwindSafe(|| self.task.as_mut().poll(cx)));
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(())) => {
                self.ended = true;
                Poll::Ready(())
            }
            Err(panic) => {
                self.ended = true;
                self.connection.crashed(panic_message(panic.as_ref()));
                Poll::Ready(())
            }
        }
    }
}

impl<F> Drop for Supervised<F> {
    /// Dropped before it ended: the runtime that ran it is gone.
    fn drop(&mut self) {
        if !self.ended {
            self.connection
                .crashed("the background runtime stopped".to_owned());
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = panic.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

impl Connection {
    /// Fails the connection for good; `registry::connect` replaces it.
    pub(super) fn crashed(&self, message: String) {
        let mut link = self.link.lock();
        link.last_error = Some(format!("the connection's task failed: {message}"));
        let mut event = ConnectionEvent::new(EventKind::Failed, &self.broker, 0);
        event.reason = link.last_error.clone();
        self.emit(&mut link, event);
        link.crash = Some(message);
        link.state = ConnectionState::Failed;
        link.connected_since = None;
        link.task_done = true;
        let error = self.failed_error(&link);
        link.outbox.fail_receipts(&error);
        self.changed.notify_all();
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::thread;

    use bytes::BytesMut;
    use rumqttc::Packet;

    use super::*;
    use crate::config::Reconnect;
    use crate::error::ConnectionError;
    use crate::registry;

    /// Names of connections whose task is to panic, as a bug would, once woken.
    static CRASH: Mutex<Vec<String>> = Mutex::new(Vec::new());

    pub(crate) fn crash_if_asked(name: &str) {
        if CRASH.lock().iter().any(|n| n == name) {
            panic!("forced by a test");
        }
    }

    fn crash(connection: &Connection) {
        CRASH.lock().push(connection.name.clone());
        connection.close_requested.notify_one();
    }

    /// A broker for one connection at a time: CONNACK, then each PUBLISH
    /// reported on `published`; acknowledged only when `acknowledge`.
    fn broker(acknowledge: bool, listener: &TcpListener) -> crossbeam_channel::Receiver<String> {
        broker_answering(listener, move |pkid| {
            let [high, low] = pkid.to_be_bytes();
            if acknowledge {
                vec![0x40, 2, high, low]
            } else {
                Vec::new()
            }
        })
    }

    /// A broker for one connection at a time: CONNACK, then each PUBLISH
    /// reported on `published` and answered with `answer(pkid)`.
    pub(crate) fn broker_answering(
        listener: &TcpListener,
        answer: impl Fn(u16) -> Vec<u8> + Send + 'static,
    ) -> crossbeam_channel::Receiver<String> {
        let (published, topics) = crossbeam_channel::unbounded();
        let listener = listener.try_clone().unwrap();
        thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut buffer = BytesMut::new();
            loop {
                match rumqttc::mqttbytes::v4::Packet::read(&mut buffer, 1 << 20) {
                    Ok(Packet::Connect(_)) => socket.write_all(&[0x20, 2, 0, 0]).unwrap(),
                    Ok(Packet::Publish(publish)) => {
                        let _ = published.send(publish.topic);
                        socket.write_all(&answer(publish.pkid)).unwrap();
                    }
                    Ok(_) => {}
                    Err(_) => {
                        let mut chunk = [0; 4096];
                        match socket.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    }
                }
            }
        });
        topics
    }

    fn wait_for(topics: &crossbeam_channel::Receiver<String>, count: usize) -> Vec<String> {
        (0..count)
            .map(|_| topics.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect()
    }

    #[test]
    fn a_connection_whose_runtime_stops_turns_failed_instead_of_saying_connecting() {
        let runtime = crate::runtime::build().unwrap();
        let unreachable = TcpListener::bind("127.0.0.1:0").unwrap();
        let config = Config {
            port: unreachable.local_addr().unwrap().port(),
            ..Config::default()
        };
        drop(unreachable);
        let connection =
            Connection::open("orphaned", config, None, 0, runtime.handle(), Vec::new());
        connection
            .publish("pending", b"1", QoS::AtLeastOnce, false, None)
            .unwrap();

        runtime.shutdown_timeout(Duration::from_secs(5));

        let status = connection.status();
        assert_eq!(status.state, ConnectionState::Failed);
        assert_eq!(
            status.last_error.as_deref(),
            Some("the connection's task failed: the background runtime stopped")
        );
        assert_eq!(
            status.queued, 1,
            "what it held stays counted, for a replacement to take over"
        );
        assert!(
            !connection.flush(Duration::from_secs(10)),
            "flush returns at once"
        );
    }

    #[test]
    fn a_panicking_task_fails_the_connection_and_the_next_one_delivers_what_was_pending() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let config = Config {
            port: listener.local_addr().unwrap().port(),
            reconnect: Reconnect {
                initial_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(50),
                max_retries: 0,
            },
            ..Config::default()
        };
        let first_broker = broker(false, &listener);
        let first = registry::connect("supervision", config.clone()).unwrap();
        first
            .publish("pending", b"1", QoS::AtLeastOnce, false, None)
            .unwrap();
        assert_eq!(wait_for(&first_broker, 1), ["pending"]);

        let waiting = {
            let first = first.clone();
            thread::spawn(move || {
                let asked = Instant::now();
                let result = first.publish_sync(
                    "waiting",
                    b"2",
                    QoS::AtLeastOnce,
                    false,
                    None,
                    Duration::from_secs(60),
                );
                (result, asked.elapsed())
            })
        };
        assert_eq!(wait_for(&first_broker, 1), ["waiting"]);
        crash(&first);

        let (result, waited) = waiting.join().unwrap();
        assert!(
            matches!(
                result,
                Err(Error::Connection(ConnectionError::Crashed { .. }))
            ),
            "{result:?}"
        );
        assert!(
            waited < Duration::from_secs(10),
            "failed at once, not at the timeout"
        );
        let status = first.status();
        assert_eq!(status.state, ConnectionState::Failed);
        assert!(status
            .last_error
            .is_some_and(|e| e.contains("forced by a test")));
        assert!(first
            .publish("later", b"3", QoS::AtLeastOnce, false, None)
            .is_err());
        assert!(
            !first.flush(Duration::from_secs(10)),
            "flush returns at once"
        );

        let second_broker = broker(true, &listener);
        let second = registry::connect("supervision", config).unwrap();
        assert!(!Arc::ptr_eq(&first, &second), "a fresh connection");
        assert!(second.flush(Duration::from_secs(10)));
        assert_eq!(wait_for(&second_broker, 2), ["pending", "waiting"]);
        assert_eq!(second.status().acknowledged, 2);
        registry::close(&second, CloseOptions::default());
    }
}
