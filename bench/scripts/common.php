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

/** MQTT's variable-length "remaining length" (for the hand-made packets of the floors). */
function bench_remaining_length(int $length): string
{
    $bytes = '';
    do {
        $byte = $length % 128;
        $length = intdiv($length, 128);
        $bytes .= chr($length > 0 ? $byte | 0x80 : $byte);
    } while ($length > 0);
    return $bytes;
}

/** A hand-made MQTT 3.1.1 CONNECT: clean session; keep-alive 0 turns the broker's timeout off. */
function bench_connect_packet(string $clientId, int $keepAliveSeconds = 60): string
{
    $body = "\x00\x04MQTT\x04\x02" . pack('n', $keepAliveSeconds) . pack('n', strlen($clientId)) . $clientId;
    return "\x10" . bench_remaining_length(strlen($body)) . $body;
}

/** A hand-made PUBLISH; QoS 1 with $packetId. */
function bench_publish_packet(string $topic, string $payload, ?int $packetId = null): string
{
    $body = pack('n', strlen($topic)) . $topic . ($packetId === null ? '' : pack('n', $packetId)) . $payload;
    return ($packetId === null ? "\x30" : "\x32") . bench_remaining_length(strlen($body)) . $body;
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
