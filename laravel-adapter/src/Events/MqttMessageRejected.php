<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Events;

use Illuminate\Foundation\Events\Dispatchable;
use MqttBroadcast\Laravel\Concerns\SerializesBinaryMessage;

/**
 * A message of a route that failed its constraints or its JSON decoding and
 * validation, or one below a fallback filter that matched no route. The
 * daemon acknowledged it (a poison message must not come back forever) and
 * logged it; listen to this to keep or count such messages.
 */
class MqttMessageRejected
{
    use Dispatchable;
    use SerializesBinaryMessage;

    public function __construct(
        /** as the broker delivered it: with the connection's prefix, as in MqttMessageReceived */
        public readonly string $topic,
        /** the payload, byte for byte */
        public readonly string $message,
        /** the name of the connection in mqtt-broadcast.connections */
        public readonly string $broker,
        /** why, e.g. 'level {tenant} "abc" is not a UUID', 'payload is not JSON: Syntax error' */
        public readonly string $reason,
        /** the route's pattern, or the fallback's filter */
        public readonly string $route,
    ) {
    }
}
