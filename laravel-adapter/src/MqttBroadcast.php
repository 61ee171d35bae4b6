<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel;

use Illuminate\Contracts\Bus\Dispatcher as Bus;
use Illuminate\Contracts\Events\Dispatcher as Events;
use Mqtt\Client;
use MqttBroadcast\Laravel\Config\ConnectionConfig;
use MqttBroadcast\Laravel\Config\MqttBroadcastConfig;
use MqttBroadcast\Laravel\Config\RateLimitingConfig;
use MqttBroadcast\Laravel\Events\MqttMessageReceived;
use MqttBroadcast\Laravel\Jobs\MqttMessageJob;
use MqttBroadcast\Laravel\Logging\MessageLog;
use MqttBroadcast\Laravel\RateLimiting\PublishLimiter;

/** What the MqttBroadcast facade calls. */
class MqttBroadcast
{
    public function __construct(
        protected readonly MqttBroadcastConfig $config,
        private readonly Connections $connections,
        private readonly MessageLog $log,
        private readonly Bus $bus,
        private readonly Events $events,
        private readonly PublishLimiter $limiter,
    ) {
    }

    /**
     * Hands the message to the connection's outbox and returns at once; the
     * extension delivers it in the background, also across a broker restart.
     * With queue.enabled (or $queued) it dispatches MqttMessageJob instead.
     *
     * Over the connection's rate limit it throws RateLimitExceededException
     * (strategy "reject"), or dispatches MqttMessageJob delayed until the
     * limit admits it (strategy "throttle").
     *
     * @param mixed $message strings are sent as they are, anything else JSON-encoded
     * @param int|null $qos null: the connection's qos
     * @param bool|null $retain null: the connection's retain
     * @param bool|null $queued null: queue.enabled
     * @param array<string, mixed>|null $properties MQTT 5 publish properties (a connection with 'protocol' => '5')
     */
    public function publish(
        string $topic,
        mixed $message,
        string $broker = 'default',
        ?int $qos = null,
        ?bool $retain = null,
        ?bool $queued = null,
        ?array $properties = null,
    ): void {
        $connection = $this->config->connection($broker);
        if ($queued ?? $this->config->queue->enabled) {
            $this->bus->dispatch(new MqttMessageJob($topic, $message, $broker, $qos, retain: $retain, properties: $properties));
            return;
        }
        $wait = $this->limiter->availableIn($connection);
        if ($wait > 0) {
            if ($this->limiter->strategy() === RateLimitingConfig::REJECT) {
                throw $this->limiter->exceeded($connection);
            }
            $this->bus->dispatch((new MqttMessageJob($topic, $message, $broker, $qos, retain: $retain, properties: $properties))->delay($wait));
            return;
        }
        $this->limiter->hit($connection);
        $payload = self::payload($message);
        $this->connections->get($broker)->publish($topic, $payload, $qos, $retain, $properties);
        $this->log->record($broker, $connection->prefix . $topic, $payload);
    }

    /**
     * Returns once the broker acknowledged the message (PUBACK for QoS 1, PUBCOMP
     * for QoS 2, written to the socket for QoS 0). Over the connection's rate
     * limit it throws RateLimitExceededException (strategy "reject") or waits
     * until the limit admits the message (strategy "throttle", at most the
     * minute of the longest window).
     *
     * @param float|null $timeout seconds; null: the extension's flush_timeout (5 s)
     * @param array<string, mixed>|null $properties MQTT 5 publish properties (a connection with 'protocol' => '5')
     *
     * @throws \Mqtt\TimeoutException not acknowledged in time (the message stays queued and is still delivered)
     * @throws \Mqtt\ConnectionException the connection failed for good
     * @throws \Mqtt\QueueFullException the connection's outbox is full
     * @throws \MqttBroadcast\Laravel\Exceptions\RateLimitExceededException over the rate limit, strategy "reject"
     */
    public function publishSync(
        string $topic,
        mixed $message,
        string $broker = 'default',
        ?int $qos = null,
        ?bool $retain = null,
        ?float $timeout = null,
        ?array $properties = null,
    ): void {
        $connection = $this->config->connection($broker);
        $this->admit($connection);
        $payload = self::payload($message);
        $this->connections->get($broker)->publishSync($topic, $payload, $qos, $retain, $timeout, $properties);
        $this->log->record($broker, $connection->prefix . $topic, $payload);
    }

    /**
     * Seconds a queued MqttMessageJob should wait, released back to its queue,
     * before the connection's rate limit admits a message; 0 when it may
     * publish now or when the strategy is "reject" (publishSync() throws then).
     */
    public function throttledFor(string $broker): int
    {
        return $this->limiter->strategy() === RateLimitingConfig::THROTTLE
            ? $this->limiter->availableIn($this->config->connection($broker))
            : 0;
    }

    /** The extension's client of the connection, for status(), flush() and the rest of its API. */
    public function connection(string $broker = 'default'): Client
    {
        return $this->connections->get($broker);
    }

    /** The topic as the broker sees it: with the connection's prefix. */
    public function getTopic(string $topic, string $broker = 'default'): string
    {
        return $this->config->connection($broker)->prefix . $topic;
    }

    /** Fires MqttMessageReceived as the daemon does (pass the topic with the prefix, as the broker has it), e.g. to try listeners without a broker. */
    public function received(string $topic, string $message, string $broker = 'default'): void
    {
        $this->events->dispatch(new MqttMessageReceived($topic, $message, $broker));
    }

    private function admit(ConnectionConfig $connection): void
    {
        while (($wait = $this->limiter->availableIn($connection)) > 0) {
            if ($this->limiter->strategy() === RateLimitingConfig::REJECT) {
                throw $this->limiter->exceeded($connection);
            }
            sleep($wait);
        }
        $this->limiter->hit($connection);
    }

    /** The bytes sent for $message: strings as they are, anything else as JSON. */
    public static function payload(mixed $message): string
    {
        if (is_string($message)) {
            return $message;
        }
        return json_encode($message, JSON_THROW_ON_ERROR | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION);
    }
}
