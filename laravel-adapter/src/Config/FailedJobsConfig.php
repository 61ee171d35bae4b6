<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Config;

/** `mqtt-broadcast.failed_jobs`: where publishes that failed for good are kept (MqttBroadcast\Laravel\Models\FailedMqttJob). */
final class FailedJobsConfig
{
    public function __construct(
        /** database connection name; null is the application's default */
        public readonly ?string $connection,
        public readonly string $table,
    ) {
    }

    public static function read(Section $section): self
    {
        return new self(
            connection: $section->nonEmptyString('connection', null),
            table: $section->nonEmptyString('table', 'mqtt_failed_jobs'),
        );
    }
}
