<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Events;

/** A connection of the daemon is up: at the start and after every reconnect. */
class MqttConnected extends MqttConnectionEvent
{
    public function __construct(
        string $broker,
        float $at,
        ?string $reason = null,
        int $attempt = 0,
        /** whether the broker kept the session (a persistent one: clientId with clean_session false) */
        public readonly bool $sessionPresent = false,
    ) {
        parent::__construct($broker, $at, $reason, $attempt);
    }
}
