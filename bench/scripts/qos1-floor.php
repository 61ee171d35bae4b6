<?php

declare(strict_types=1);

// Scenario 3's reference, run WITHOUT the extension: the floor of a QoS 1
// round trip from PHP on this machine. A plain blocking TCP_NODELAY socket,
// a hand-made MQTT 3.1.1 CONNECT, then per sample one hand-made PUBLISH (QoS 1)
// written and its PUBACK read. Nothing is cheaper from PHP.
// Args: host, port, topic, count, warmup.

require __DIR__ . '/common.php';

function read_exactly(Socket $socket, int $length): string
{
    $data = '';
    while (strlen($data) < $length) {
        $chunk = '';
        if (socket_recv($socket, $chunk, $length - strlen($data), MSG_WAITALL) === false || $chunk === '' || $chunk === null) {
            bench_fail('read failed: ' . socket_strerror(socket_last_error($socket)));
        }
        $data .= $chunk;
    }
    return $data;
}

$o = bench_options($argv);
$socket = socket_create(AF_INET, SOCK_STREAM, SOL_TCP);
socket_connect($socket, $o['host'], (int) $o['port']) || bench_fail('cannot connect');
socket_set_option($socket, SOL_TCP, TCP_NODELAY, 1);

socket_write($socket, bench_connect_packet('qos1-floor-' . getmypid()));
read_exactly($socket, 4) === "\x20\x02\x00\x00" || bench_fail('CONNACK refused');

$payload = bench_payload();
$warmup = (int) $o['warmup'];
$count = (int) $o['count'];
$latencies = [];
for ($i = 0; $i < $warmup + $count; $i++) {
    $packetId = $i % 65535 + 1;
    $packet = bench_publish_packet($o['topic'], $payload, $packetId);
    $start = hrtime(true);
    socket_write($socket, $packet) === strlen($packet) || bench_fail('short write');
    $ack = read_exactly($socket, 4);
    $end = hrtime(true);
    $ack === "\x40\x02" . pack('n', $packetId) || bench_fail('unexpected packet instead of PUBACK: ' . bin2hex($ack));
    if ($i >= $warmup) {
        $latencies[] = $end - $start;
    }
}
socket_write($socket, "\xe0\x00"); // DISCONNECT
socket_close($socket);
sort($latencies);
bench_result([
    'p50_us' => $latencies[(int) ceil(0.50 * $count) - 1] / 1e3,
    'p99_us' => $latencies[(int) ceil(0.99 * $count) - 1] / 1e3,
]);
