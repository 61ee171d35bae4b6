<?php

declare(strict_types=1);

namespace MqttBroadcast\Bench;

/** The benchmarks' knobs (environment variables) and what they report about the machine. */
final class Env
{
    public static function int(string $name, int $default): int
    {
        $value = getenv($name);
        return $value === false || $value === '' ? $default : max(1, (int) $value);
    }

    public static function cores(): int
    {
        return max(1, (int) trim((string) shell_exec('nproc')));
    }

    public static function mosquittoVersion(): string
    {
        return 'mosquitto ' . trim((string) shell_exec("mosquitto -h 2>/dev/null | head -n1 | sed 's/^mosquitto version //'"));
    }

    public static function nginxVersion(): string
    {
        return trim((string) shell_exec("/usr/sbin/nginx -v 2>&1 | sed 's/^nginx version: nginx\\///'"));
    }

    public static function cpuModel(): string
    {
        preg_match('/^model name\s*:\s*(.+)$/m', (string) @file_get_contents('/proc/cpuinfo'), $m);
        return trim($m[1] ?? 'unknown CPU');
    }
}
