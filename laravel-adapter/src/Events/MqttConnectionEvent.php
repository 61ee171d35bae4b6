<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Events;

use Illuminate\Foundation\Events\Dispatchable;

/**
 * What happened to one of the daemon's connections, from the extension's
 * Mqtt\Event: MqttConnected, MqttConnectionLost, MqttReconnecting, MqttConnectionFailed.
 */
abstract class MqttConnectionEvent
{
    use Dispatchable;

    public function __construct(
        /** the name of the connection in mqtt-broadcast.connections */
        public readonly string $broker,
        /** when, in seconds since the Unix epoch */
        public readonly float $at,
        /** why: the error that ended the connection; null where there is none */
        public readonly ?string $reason = null,
        /** the connection attempt, from 1 at the start and after a connection that lasted; 0 where it does not apply */
        public readonly int $attempt = 0,
    ) {
    }
}
