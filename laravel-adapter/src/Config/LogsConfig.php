<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Config;

/** `mqtt-broadcast.logs`: database logging of received and published messages. */
final class LogsConfig
{
    public function __construct(
        public readonly bool $enabled,
        /** database connection name; null is the application's default */
        public readonly ?string $connection,
        public readonly string $table,
    ) {
    }

    public static function read(Section $logs): self
    {
        return new self(
            enabled: $logs->bool('enable', false),
            connection: $logs->nonEmptyString('connection', null),
            table: $logs->nonEmptyString('table', 'mqtt_loggers'),
        );
    }
}
