<?php

/**
 * IDE and static analysis stubs of the Mosquitto-PHP compatible classes the
 * mqtt_broadcast extension defines (unless the Mosquitto-PHP extension is
 * loaded, or mqtt_broadcast.mosquitto_compat is off): the API of Mosquitto-PHP
 * 0.4 on this extension's connections.
 *
 * Never include this file where the extension is loaded. tests/php/StubsTest.php
 * compares it with the loaded extension's reflection and fails on any difference.
 * README.md, "Moving from Mosquitto-PHP", says what differs from the original.
 */

namespace Mosquitto;

/** Thrown by Mosquitto\Client: not connected, a refused option, a broker that cannot be reached. */
class Exception extends \Exception
{
}

/** A client of one broker. Callbacks run inside loop() and loopForever(), on PHP's thread. */
class Client
{
    public const LOG_INFO = 1;
    public const LOG_NOTICE = 2;
    public const LOG_WARNING = 4;
    public const LOG_ERR = 8;
    public const LOG_DEBUG = 16;
    public const SSL_VERIFY_NONE = 0;
    public const SSL_VERIFY_PEER = 1;

    /**
     * @param string|null $id the client id; null: one is generated
     * @param bool $cleanSession false keeps a persistent session on the broker (needs an id)
     *
     * @throws Exception when $id is null and $cleanSession false, or $id is unusable
     */
    public function __construct(?string $id = null, bool $cleanSession = true) {}

    /** Applies from the next connect(). */
    public function setCredentials(string $username, string $password): void {}

    /**
     * TLS from the next connect(), trusting the CA certificates of $caPath (a PEM file, or a directory of them).
     *
     * @throws Exception when a file cannot be read, only one of $certFile and $keyFile is given, or $password is (encrypted keys are not supported)
     */
    public function setTlsCertificates(string $caPath, ?string $certFile = null, ?string $keyFile = null, ?string $password = null): void {}

    /** True: the broker's certificate must still be signed by a trusted CA, but need not be valid for the host name. */
    public function setTlsInsecure(bool $value): void {}

    /**
     * @param int $certReqs self::SSL_VERIFY_NONE accepts any certificate; self::SSL_VERIFY_PEER verifies it
     * @param string|null $tlsVersion null, "tlsv1.2" or "tlsv1.3": TLS 1.2 and 1.3 are spoken either way
     * @param string|null $ciphers must be null: cipher lists are not supported
     *
     * @throws Exception on anything else
     */
    public function setTlsOptions(int $certReqs, ?string $tlsVersion = null, ?string $ciphers = null): void {}

    /** @throws Exception always: the TLS library cannot use pre-shared keys */
    public function setTlsPSK(string $psk, string $identity, ?string $ciphers = null): void {}

    /** The message the broker publishes when this client goes away without disconnect(); from the next connect(). */
    public function setWill(string $topic, string $payload, int $qos = 0, bool $retain = false): void {}

    public function clearWill(): void {}

    /** Seconds between reconnect attempts: $reconnectDelay, or with $exponentialBackoff doubling up to $exponentialDelay. */
    public function setReconnectDelay(int $reconnectDelay, int $exponentialDelay = 0, bool $exponentialBackoff = false): void {}

    /**
     * Connects, waiting for the first attempt; the connection then reconnects by itself.
     *
     * @param string|null $interface must be null: binding to a local interface is not supported
     *
     * @throws Exception when the broker cannot be reached (a refusal by the broker goes to onConnect instead)
     */
    public function connect(string $host, int $port = 1883, int $keepalive = 60, ?string $interface = null): void {}

    /**
     * Flushes what was published (bounded by mqtt_broadcast.mosquitto_flush_timeout), disconnects and calls onDisconnect(0).
     *
     * @throws Exception when not connected
     */
    public function disconnect(): void {}

    /** @param callable(int $rc, string $message): mixed $callback */
    public function onConnect(callable $callback): void {}

    /** @param callable(int $rc): mixed $callback 0 after disconnect(), non-zero when the connection was lost */
    public function onDisconnect(callable $callback): void {}

    /** @param callable(int $level, string $message): mixed $callback $level is one of the LOG_* constants */
    public function onLog(callable $callback): void {}

    /** @param callable(int $mid, int $qosCount): mixed $callback */
    public function onSubscribe(callable $callback): void {}

    /** @param callable(int $mid): mixed $callback */
    public function onUnsubscribe(callable $callback): void {}

    /** @param callable(Message $message): mixed $callback the message is acknowledged after it returns */
    public function onMessage(callable $callback): void {}

    /** @param callable(int $mid): mixed $callback once the broker acknowledged the publish (QoS 0: once written) */
    public function onPublish(callable $callback): void {}

    /** The socket's file descriptor while connected over TCP (plain or TLS), else -1; the connection's own thread reads it. */
    public function getSocket(): int {}

    /** QoS 1/2 messages in flight at once (0: no limit), from the next connect(). */
    public function setMaxInFlightMessages(int $maxInFlightMessages): void {}

    /** Accepted; unacknowledged messages are sent again after a reconnect, not on a timer. */
    public function setMessageRetry(int $messageRetryPeriod): void {}

    /**
     * @return int the message id, which onPublish gets
     *
     * @throws Exception when not connected, or the topic or QoS is invalid
     */
    public function publish(string $topic, string $payload, int $qos = 0, bool $retain = false): int {}

    /** @return int the message id, which onSubscribe gets */
    public function subscribe(string $topic, int $qos): int {}

    /** @return int the message id, which onUnsubscribe gets */
    public function unsubscribe(string $topic): int {}

    /**
     * Runs the callbacks of what happened, waiting up to $timeout milliseconds for something to happen.
     *
     * @param int $maxPackets unused, as in Mosquitto-PHP
     *
     * @throws Exception when not connected
     */
    public function loop(int $timeout = 1000, int $maxPackets = 1): void {}

    /** loop() until exitLoop() or disconnect(), through lost connections and reconnects. */
    public function loopForever(int $timeout = 1000, int $maxPackets = 1): void {}

    /** Makes loopForever() return, staying connected. */
    public function exitLoop(): void {}
}

/** A received message. */
class Message
{
    /** @var int the packet id it came with; 0 for QoS 0 */
    public $mid;

    /** @var string|null */
    public $topic;

    /** @var int */
    public $qos;

    /** @var bool */
    public $retain;

    /** @var string byte for byte */
    public $payload;

    public function __construct() {}

    /** Whether $topic matches the subscription filter $subscription; false when either is invalid. */
    public static function topicMatchesSub(?string $topic = null, ?string $subscription = null): bool {}

    /**
     * The levels of a topic or filter; an empty level is null.
     *
     * @return list<string|null>
     */
    public static function tokeniseTopic(?string $topic = null): array {}
}
