<?php

/**
 * IDE and static analysis stubs of the mqtt_broadcast extension: every class,
 * method, property, function and constant it defines, with their real signatures.
 *
 * Never include this file where the extension is loaded (it would redeclare the
 * classes). tests/php/StubsTest.php compares it with the loaded extension's
 * reflection and fails on any difference.
 * README.md describes the behaviour behind each call.
 */

namespace Mqtt;

/** A connection to one MQTT broker, kept alive in the background across requests. */
final class Client
{
    /**
     * Never waits for the network: the connection opens in the background; the same name and options reuse the live connection.
     *
     * @param array{
     *     host?: string,
     *     port?: int|string,
     *     client_id?: string,
     *     username?: string,
     *     password?: string,
     *     keep_alive?: int|float|string,
     *     connect_timeout?: int|float|string,
     *     clean_session?: bool|string|int,
     *     prefix?: string,
     *     qos?: 0|1|2|string,
     *     retain?: bool|string|int,
     *     max_queue?: int|string,
     *     max_inflight?: int|string,
     *     max_packet_size?: int|string,
     *     flush_timeout?: int|float|string,
     *     reconnect?: array{initial_delay?: int|float|string, max_delay?: int|float|string, max_retries?: int|string},
     *     tls?: bool|array{
     *         ca_file?: string,
     *         cert_file?: string,
     *         key_file?: string,
     *         verify_peer?: bool|string|int,
     *         allow_self_signed?: bool|string|int,
     *         server_name?: string,
     *         alpn?: list<string>,
     *     },
     *     will?: array{topic: string, payload?: string, qos?: 0|1|2|string, retain?: bool|string|int, delay_interval?: int|string, properties?: array<string, mixed>},
     *     protocol?: '3.1.1'|'5'|5,
     *     session_expiry_interval?: int|string,
     *     receive_maximum?: int|string,
     *     topic_aliases?: int|string,
     *     servers?: non-empty-list<string>,
     *     url?: string,
     *     server_order?: 'in_order'|'random',
     * }|null $options
     * @param non-empty-string $name the connection's name in this process
     *
     * @throws ConfigException when an option is unknown, has the wrong type or is out of range
     * @throws \ValueError when $name is empty
     */
    public function __construct(?array $options = null, string $name = 'default') {}

    /**
     * Queues the message and returns at once; $qos and $retain default to the connection's options.
     *
     * @param 0|1|2|null $qos
     * @param array{
     *     user_properties?: array<string, string|int|float>|list<array{0: string, 1: string|int|float}>,
     *     content_type?: string,
     *     message_expiry_interval?: int,
     *     response_topic?: string,
     *     correlation_data?: string,
     *     payload_format_indicator?: 0|1,
     * }|null $properties MQTT 5 only (option protocol => '5')
     *
     * @throws QueueFullException when max_queue messages are already waiting
     * @throws ConnectionException when the connection failed for good or was closed
     * @throws MqttException when the message is larger than the maximum packet size the broker announced (MQTT 5)
     * @throws \ValueError on an invalid topic, QoS or property, a packet larger than max_packet_size, or properties on an MQTT 3.1.1 connection
     */
    public function publish(string $topic, string $payload, ?int $qos = null, ?bool $retain = null, ?array $properties = null): void {}

    /**
     * Returns once the broker acknowledged the message (PUBACK for QoS 1, PUBCOMP for QoS 2, written to the socket for QoS 0).
     *
     * @param 0|1|2|null $qos
     * @param float|null $timeout seconds; null means the flush_timeout option
     * @param array<string, mixed>|null $properties MQTT 5 only, as for publish()
     *
     * @throws TimeoutException when not acknowledged within $timeout (the message stays queued)
     * @throws QueueFullException when max_queue messages are already waiting
     * @throws ConnectionException when the connection failed for good or was closed
     * @throws MqttException when the broker refused the message with an MQTT 5 reason code (the message says which), or it is larger than the maximum packet size the broker announced
     * @throws \ValueError on an invalid topic, QoS, timeout or property
     */
    public function publishSync(string $topic, string $payload, ?int $qos = null, ?bool $retain = null, ?float $timeout = null, ?array $properties = null): void {}

    /**
     * MQTT 5 request/response: publishes with the connection's response topic ("mqttb/replies/{client id}",
     * subscribed by the first request) and new correlation data, and returns the reply carrying them.
     *
     * @param float|null $timeout seconds; null means the flush_timeout option
     * @param array<string, mixed>|null $properties as for publish(), without response_topic and correlation_data, which request() sets
     *
     * @throws TimeoutException when no reply arrived within $timeout (a later one is dropped)
     * @throws MqttException on an MQTT 3.1.1 connection, or when the broker refused the reply subscription
     * @throws QueueFullException when max_queue messages are already waiting
     * @throws ConnectionException when the connection failed for good or was closed
     * @throws \ValueError on an invalid topic, timeout or property
     */
    public function request(string $topic, string $payload, ?float $timeout = null, ?array $properties = null): Message {}

    /**
     * True once nothing is queued or in flight; false when the timeout passed first.
     *
     * @param float|null $timeout seconds; null means the flush_timeout option
     *
     * @throws \ValueError on a negative timeout
     */
    public function flush(?float $timeout = null): bool {}

    /**
     * What happened to this connection since the last call, oldest first, for code that does not loop (a web request, a queue job).
     *
     * @return list<Event>
     */
    public function events(): array {}

    /**
     * True once the connection is up (at once if it is); false when the timeout passed first or it failed for good.
     *
     * @param float $timeout seconds
     *
     * @throws \ValueError on a negative or non-finite timeout
     */
    public function waitConnected(float $timeout): bool {}

    /**
     * State and counters of this connection (README.md, "status()"). client_id is the one the broker
     * assigned, for an empty client_id option (MQTT 5); session_present what its latest CONNACK said.
     *
     * @return array{
     *     name: string,
     *     state: 'connecting'|'connected'|'reconnecting'|'failed'|'closed',
     *     connected: bool,
     *     client_id: string,
     *     host: string,
     *     port: int,
     *     reconnects: int,
     *     queued: int,
     *     in_flight: int,
     *     published: int,
     *     acknowledged: int,
     *     refused: int,
     *     last_error: string|null,
     *     connected_since: float|null,
     *     session_present: bool|null,
     *     server: string,
     *     servers: list<array{server: string, last_error: string|null}>,
     * }
     */
    public function status(): array {}

    /**
     * Flushes (bounded by flush_timeout) and disconnects; later publishes on this handle throw, close() again does nothing.
     *
     * @param array{
     *     reason_code?: 0|4|128|129|130|131|144|147|148|149|150|151|152|153,
     *     session_expiry_interval?: int,
     *     reason_string?: string,
     * }|null $options MQTT 5 only: what the DISCONNECT says. reason_code 4 makes the broker publish the will;
     *                 session_expiry_interval replaces the one of CONNECT (0 ends a persistent session now)
     *
     * @throws \ValueError on an unknown or invalid option, or any option on an MQTT 3.1.1 connection
     */
    public function close(?array $options = null): void {}

    /**
     * The counters of every process of this pool, in Prometheus' text format: the PHP-FPM workers
     * forked from one master (alive or not, for the counters; alive, for the gauges), or this process.
     * Per connection name: published (by QoS), acknowledged, refused, received, payload bytes sent and
     * received, reconnects; connections up, messages queued and in flight (sum, and _max of one process);
     * workers alive; build info.
     */
    public static function metrics(): string {}

    /**
     * status() of every live connection of this process, by connection name.
     *
     * @return array<string, array{
     *         name: string,
     *         state: 'connecting'|'connected'|'reconnecting'|'failed'|'closed',
     *         connected: bool,
     *         client_id: string,
     *         host: string,
     *         port: int,
     *         reconnects: int,
     *         queued: int,
     *         in_flight: int,
     *         published: int,
     *         acknowledged: int,
     *         last_error: string|null,
     *         connected_since: float|null,
     *         session_present: bool|null,
     *         server: string,
     *         servers: list<array{server: string, last_error: string|null}>,
     *     }>
     */
    public static function connections(): array {}
}

/** Receives the messages of its subscriptions through one or more connections. */
final class Subscriber
{
    /**
     * Subscribes through every client given; messages of all of them arrive here.
     *
     * @param non-empty-list<Client> $clients
     * @param array{max_inbox?: int|string}|null $options max_inbox: received messages waiting for PHP before the connections stop reading
     *
     * @throws ConfigException when an option is unknown, has the wrong type or is out of range
     * @throws \ValueError when $clients is empty or holds something else than Mqtt\Client
     */
    public function __construct(array $clients, ?array $options = null) {}

    /**
     * Subscribes to a filter (wildcards and $share/{group}/ allowed) and waits for the brokers to confirm.
     *
     * @param 0|1|2|null $qos null means 0
     * @param float|null $timeout seconds; null means the longest flush_timeout of the connections
     * @param array{
     *     no_local?: bool,
     *     retain_as_published?: bool,
     *     retain_handling?: 0|1|2,
     * }|null $options MQTT 5 subscription options: no_local, the connection's own publishes are not sent back;
     *     retain_as_published, live messages keep their retain flag; retain_handling, retained messages are sent
     *     at every subscribe (0), only when the subscription is new (1) or never (2)
     *
     * @throws TimeoutException when a broker did not confirm in time
     * @throws ConnectionException when a connection failed for good or was closed
     * @throws MqttException when a broker refused the subscription (the message gives its reason)
     * @throws \ValueError on an invalid filter, QoS, timeout or option, or options on an MQTT 3.1.1 connection
     */
    public function subscribe(string $filter, ?int $qos = null, ?float $timeout = null, ?array $options = null): void {}

    /**
     * Calls the handler from loop() with (Mqtt\Message $message, array $params) for every message whose topic matches the pattern ('metrics/{tenant}/{metric}', a last '{rest*}'); subscribes its filter.
     *
     * A pattern is a filter whose levels may carry names: '{name}' takes one level ('+'), a last
     * '{name*}' the remaining ones ('#'); plain levels, '+', '#' and a leading '$share/{group}/'
     * keep their meaning. A message goes to every route it matches, and is acknowledged once all
     * their handlers returned.
     *
     * @param callable(Message, array<string, string>): mixed $handler
     * @param 0|1|2|null $qos null means 0
     * @param array<string, bool|int>|null $options MQTT 5 subscription options, as for subscribe()
     *
     * @throws TimeoutException when a broker did not confirm the subscription in time
     * @throws \ValueError on a malformed pattern (the message says what is wrong), QoS or option, or options on an MQTT 3.1.1 connection
     */
    public function route(string $pattern, callable $handler, ?int $qos = null, ?array $options = null): void {}

    /** Ends a subscription made by subscribe(). */
    public function unsubscribe(string $filter): void {}

    /**
     * The next message, or null after the timeout or stop(); a null timeout waits until one arrives.
     *
     * @param float|null $timeout seconds
     */
    public function next(?float $timeout = null): ?Message {}

    /**
     * Calls the matching route handlers, or else the handler, for every message until stop(), the timeout or the limit; returns how many it handled.
     *
     * @param (callable(Message): mixed)|null $handler for messages that match no route; null: only routes handle messages
     * @param float|null $timeout seconds; null runs until stop() or the limit
     * @param int|null $limit messages to handle at most; null means no limit
     */
    public function loop(?callable $handler = null, ?float $timeout = null, ?int $limit = null): int {}

    /**
     * Calls the listener from loop() and next() with an Mqtt\Event for what happens to the connections, starting with what they kept.
     *
     * Each connection keeps its latest 256 events, so a listener misses none between two calls.
     *
     * @param callable(Event): mixed $listener
     */
    public function onEvent(callable $listener): void {}

    /** Makes a running loop() or next() return; safe to call from a signal handler. */
    public function stop(): void {}
}

/**
 * One received message. Its properties are read-only: writing one throws.
 * Subscriber::next(), Subscriber::loop() and Client::request() create messages, PHP code cannot.
 */
final class Message
{
    /** @var string the topic, without the connection's prefix */
    public $topic;

    /** @var string the payload, byte for byte */
    public $payload;

    /** @var string the name of the connection (Client) it came through */
    public $broker;

    /** @var 0|1|2 the QoS it was delivered with */
    public $qos;

    /** @var bool whether it is a retained message */
    public $retain;

    /** @var bool whether the broker says it may have been delivered before */
    public $duplicate;

    /** @var float when it arrived, in seconds since the Unix epoch */
    public $receivedAt;

    /**
     * @var array{
     *     user_properties?: array<string, string|list<string>>,
     *     content_type?: string,
     *     message_expiry_interval?: int,
     *     response_topic?: string,
     *     correlation_data?: string,
     *     payload_format_indicator?: 0|1,
     * } MQTT 5 properties it carried, only those set; [] on an MQTT 3.1.1 connection.
     * A user property name that came more than once maps to the list of its values.
     */
    public $properties;

    /** Throws: messages come from Subscriber::next(), Subscriber::loop() and Client::request(). */
    public function __construct() {}

    /**
     * Answers a request (MQTT 5): publishes $payload on its response topic, with its correlation data,
     * through the connection it came from, at that connection's default QoS.
     *
     * @param array<string, mixed>|null $properties as for Client::publish(), without response_topic and correlation_data, which reply() sets
     *
     * @throws MqttException when the message carries no response topic, or its connection speaks MQTT 3.1.1
     * @throws ConnectionException when its connection was closed
     * @throws QueueFullException when max_queue messages are already waiting
     * @throws \ValueError on an invalid property
     */
    public function reply(string $payload, ?array $properties = null): void {}
}

/**
 * Something that happened to a connection. Its properties are read-only:
 * writing one throws. Subscriber::onEvent() listeners and Client::events() get
 * them, PHP code cannot create them.
 */
final class Event
{
    /** @var 'connecting'|'connected'|'disconnected'|'reconnecting'|'failed'|'closed'|'subscribed'|'subscription_refused'|'unsubscribed' */
    public $type;

    /** @var string the name of the connection (Client) it happened to */
    public $broker;

    /** @var float when, in seconds since the Unix epoch */
    public $at;

    /** @var string|null why: the error that ended a connection, the broker's refusal */
    public $reason;

    /** @var int the connection attempt, from 1 at the start and after a connection that lasted; 0 where it does not apply */
    public $attempt;

    /** @var bool on connected: whether the broker kept the session */
    public $sessionPresent;

    /** @var string|null on subscribed, subscription_refused and unsubscribed: the filter, without the connection's prefix */
    public $filter;

    /** Throws: events come from Subscriber::onEvent() and Client::events(). */
    public function __construct() {}
}

/**
 * The built-in MQTT broker (rmqtt), in this process: started on purpose only, by start() or run().
 * The extension is built with it unless cargo's feature "broker" is left out (./build.sh builds it).
 */
final class Broker
{
    /**
     * Checks the options (files included) and starts nothing.
     *
     * @param array{
     *     listen?: string|false,
     *     tls?: array{listen: string, cert_file: string, key_file: string, ca_file?: string},
     *     users?: array<string,string>,
     *     password_file?: string,
     *     allow_anonymous?: bool|string|int,
     *     acl?: list<array{user?: string, topic: string, access: 'read'|'write'|'readwrite'|'deny'}>,
     *     persistence?: string,
     *     max_connections?: int|string,
     *     max_packet_size?: int|string,
     *     max_inflight_messages?: int|string,
     *     max_queued_messages?: int|string,
     *     log?: string,
     * }|null $options
     * @throws ConfigException naming the option
     */
    public function __construct(?array $options = null) {}

    /**
     * Listens and returns; the broker runs on threads of its own until stop().
     *
     * @throws ConfigException an address in use, a certificate or store that cannot be used
     */
    public function start(): void {}

    /** Starts unless started, then blocks until SIGTERM or SIGINT, or stop() from a signal handler; stops gracefully. */
    public function run(): void {}

    /** Disconnects every client, writes the store and stops listening; false when it was not running. */
    public function stop(): bool {}

    public function isRunning(): bool {}

    /** The port it listens on (the one picked for port 0): the plain listener's, else the TLS one's; null when stopped. */
    public function port(): ?int {}

    /**
     * Listeners, clients, sessions, subscriptions, retained messages, messages in and out, uptime.
     *
     * @return array{
     *     running: bool,
     *     listeners: list<array{name: 'mqtt'|'tls', address: string, port: int}>,
     *     clients: int,
     *     sessions: int,
     *     subscriptions: int,
     *     retained: int,
     *     messages_received: int,
     *     messages_sent: int,
     *     uptime: float,
     * }
     */
    public function status(): array {}
}

/** Base of every exception the extension throws, except \ValueError for bad arguments. */
class MqttException extends \RuntimeException {}

/** An option is unknown, has the wrong type or is out of range; the message names the option. */
class ConfigException extends MqttException {}

/** The connection failed for good (reconnect.max_retries reached) or was closed. */
class ConnectionException extends MqttException {}

/** The broker did not acknowledge in time; the message stays queued and is still delivered. */
class TimeoutException extends MqttException {}

/** The outbox already holds max_queue messages. */
class QueueFullException extends MqttException {}
