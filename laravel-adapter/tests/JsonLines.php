<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests;

/**
 * Reads the JSON-lines files the test application's processes append to
 * (Tests\App\Received, Tests\App\Routed) while they may be writing: under a
 * shared lock, since each line is written under an exclusive one
 * (file_put_contents with LOCK_EX), so a line is never read half-written.
 */
final class JsonLines
{
    /** @return list<array<string, mixed>> one array per line, in order; [] while the file does not exist */
    public static function read(string $file): array
    {
        $handle = @fopen($file, 'r');
        if ($handle === false) {
            return [];
        }
        try {
            flock($handle, LOCK_SH);
            $text = (string) stream_get_contents($handle);
        } finally {
            fclose($handle);
        }
        $records = [];
        foreach (explode("\n", $text) as $line) {
            if ($line !== '') {
                $records[] = json_decode($line, true, flags: JSON_THROW_ON_ERROR);
            }
        }
        return $records;
    }
}
