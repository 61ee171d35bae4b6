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
        /** rows older than this many days are removed by `php artisan model:prune` (MqttLogger is Prunable) */
        public readonly int $pruneAfterDays,
    ) {
    }

    public static function read(Section $logs): self
    {
        return new self(
            enabled: $logs->bool('enable', false),
            connection: $logs->nonEmptyString('connection', null),
            table: $logs->nonEmptyString('table', 'mqtt_loggers'),
            pruneAfterDays: $logs->int('prune_after_days', 30, 1, PHP_INT_MAX),
        );
    }
}
