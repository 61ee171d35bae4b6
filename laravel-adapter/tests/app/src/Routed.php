<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\App;

/** What the routes of routes/mqtt.php got: one JSON line per call in storage/routed.jsonl. */
final class Routed
{
    public static function file(): string
    {
        return storage_path('routed.jsonl');
    }

    /** @param array<string, mixed> $data */
    public static function record(string $route, array $data): void
    {
        file_put_contents(self::file(), json_encode(['route' => $route, 'pid' => getmypid()] + $data) . "\n", FILE_APPEND | LOCK_EX);
    }
}
