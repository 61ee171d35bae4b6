<?php

declare(strict_types=1);

namespace MqttBroadcast\Bench;

/** wrk (Debian's package), the HTTP load generator of the nginx rows: keep-alive connections, fixed duration. */
final class Wrk
{
    private const BINARY = '/usr/bin/wrk';

    /**
     * Loads $url for $seconds with $connections connections on $threads threads.
     * Fails on any socket error or non-2xx response.
     *
     * @return array{requests: int, per_second: float}
     */
    public static function run(string $url, int $threads, int $connections, int $seconds): array
    {
        if (!is_executable(self::BINARY)) {
            throw new \RuntimeException('no ' . self::BINARY . ': install Debian\'s wrk (./build.sh deps bench)');
        }
        $result = Command::mustRun([self::BINARY, '-t', (string) $threads, '-c', (string) $connections, '-d', "{$seconds}s", $url]);
        $out = $result['stdout'];
        if (!preg_match('/^\s*(\d+) requests in /m', $out, $requests) || !preg_match('/^Requests\/sec:\s*([\d.]+)/m', $out, $rate)) {
            throw new \RuntimeException("cannot read wrk's output:\n$out");
        }
        if (preg_match('/^\s*(Socket errors|Non-2xx or 3xx responses):.*$/m', $out, $error)) {
            throw new \RuntimeException("wrk $url: {$error[0]}\n$out");
        }
        return ['requests' => (int) $requests[1], 'per_second' => (float) $rate[1]];
    }
}
