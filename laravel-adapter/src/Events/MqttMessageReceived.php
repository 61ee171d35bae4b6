<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Events;

use Illuminate\Foundation\Events\Dispatchable;
use MqttBroadcast\Laravel\Concerns\SerializesBinaryMessage;

/**
 * A message the daemon received, dispatched through Laravel's event dispatcher:
 * listeners, queued listeners and Event::listen() all get it.
 */
class MqttMessageReceived
{
    use Dispatchable;
    use SerializesBinaryMessage;

    /** The process that received the message. */
    public readonly int $pid;

    public function __construct(
        /** without the connection's prefix, as it was published with the facade */
        public readonly string $topic,
        /** the payload, byte for byte */
        public readonly string $message,
        /** the name of the connection in mqtt-broadcast.connections */
        public readonly string $broker = 'default',
        public readonly int $qos = 0,
        public readonly bool $retain = false,
        /** MQTT 5 properties (Mqtt\Message::$properties); [] over MQTT 3.1.1 */
        public readonly array $properties = [],
    ) {
        $this->pid = (int) getmypid();
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
