<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\App;

use MqttBroadcast\Laravel\Events\MqttMessageReceived;

/** What the test listeners saw: one JSON line per listener call in storage/received.jsonl. */
final class Received
{
    public static function file(): string
    {
        return storage_path('received.jsonl');
    }

    public static function record(string $listener, MqttMessageReceived $event, string $phase = 'handled'): void
    {
        file_put_contents(self::file(), json_encode([
            'listener' => $listener,
            'phase' => $phase,
            'topic' => $event->topic,
            'message' => $event->message,
            'hex' => bin2hex($event->message),
            'broker' => $event->broker,
            'qos' => $event->qos,
            'retain' => $event->retain,
            'properties' => array_map(static fn ($v) => is_string($v) ? bin2hex($v) : $v, $event->properties),
            'pid' => $event->pid,
            'at' => microtime(true),
        ], JSON_INVALID_UTF8_SUBSTITUTE) . "\n", FILE_APPEND | LOCK_EX);
    }
}
