<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Config;

/** `mqtt-broadcast.queue`: publishing through a queued job instead of directly. */
final class QueueConfig
{
    public function __construct(
        /** publish() dispatches MqttMessageJob instead of publishing itself */
        public readonly bool $enabled,
        /** queue name; null is the queue connection's default queue */
        public readonly ?string $name,
        /** queue connection; null is the application's default */
        public readonly ?string $connection,
    ) {
    }

    public static function read(Section $queue): self
    {
        return new self(
            enabled: $queue->bool('enabled', false),
            name: $queue->nonEmptyString('name', null),
            connection: $queue->nonEmptyString('connection', null),
        );
    }
}
