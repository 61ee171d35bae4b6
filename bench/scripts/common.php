<?php

declare(strict_types=1);

// Shared by the scripts bench/run.php runs in child PHP processes: each
// measures one thing in a fresh process and prints its result as one JSON line.

require dirname(__DIR__) . '/lib/bootstrap.php';

/** The arguments given as key=value. */
function bench_options(array $argv): array
{
    parse_str(implode('&', array_slice($argv, 1)), $options);
    return $options;
}

/** 64 bytes, the payload of every benchmark message (the lines mosquitto_pub -l sends are as long). */
function bench_payload(): string
{
    return str_pad('mqtt-broadcast benchmark payload', 64, '.');
}

function bench_connected(Mqtt\Client $client, float $timeout = 10.0): void
{
    $deadline = microtime(true) + $timeout;
    while (!$client->status()['connected']) {
        if (microtime(true) >= $deadline) {
            bench_fail('not connected within ' . $timeout . ' s: ' . json_encode($client->status()));
        }
        usleep(1_000);
    }
}

/** Resident memory of this process in bytes: VmRSS, or VmHWM (the peak so far). */
function bench_rss(string $field = 'VmRSS'): int
{
    preg_match('/^' . $field . ':\s+(\d+) kB/m', (string) file_get_contents('/proc/self/status'), $m);
    return (int) ($m[1] ?? 0) * 1024;
}

function bench_result(array $result): void
{
    echo json_encode($result, JSON_THROW_ON_ERROR), "\n";
}

function bench_fail(string $message): never
{
    fwrite(STDERR, basename($_SERVER['SCRIPT_FILENAME']) . ": $message\n");
    exit(1);
}
