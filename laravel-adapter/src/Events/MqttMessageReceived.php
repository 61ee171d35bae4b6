<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Events;

use Illuminate\Foundation\Events\Dispatchable;
use MqttBroadcast\Laravel\Concerns\SerializesBinaryMessage;

/**
 * A message the daemon received, dispatched through Laravel's event dispatcher:
 * listeners, queued listeners and Event::listen() all get it.
 *
 * The first four arguments are those of the pure-PHP package's event, in its
 * order (topic, message, broker, pid); what this package adds comes after them.
 */
class MqttMessageReceived
{
    use Dispatchable;
    use SerializesBinaryMessage;

    /** The process that received the message. */
    public readonly int $pid;

    /**
     * @param ?int $pid null: this process
     * @param array<string, mixed> $properties MQTT 5 properties (Mqtt\Message::$properties); [] over MQTT 3.1.1
     */
    public function __construct(
        /** as the broker delivered it: with the connection's prefix, as the pure-PHP package gave it */
        public readonly string $topic,
        /** the payload, byte for byte */
        public readonly string $message,
        /** the name of the connection in mqtt-broadcast.connections ("local": the pure-PHP package's default) */
        public readonly string $broker = 'local',
        ?int $pid = null,
        public readonly int $qos = 0,
        public readonly bool $retain = false,
        public readonly array $properties = [],
    ) {
        $this->pid = $pid ?? (int) getmypid();
    }

    public function getTopic(): string
    {
        return $this->topic;
    }

    public function getMessage(): string
    {
        return $this->message;
    }

    public function getBroker(): string
    {
        return $this->broker;
    }

    public function getPid(): int
    {
        return $this->pid;
    }
}
