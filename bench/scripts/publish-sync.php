<?php

declare(strict_types=1);

// Scenario 3: publishSync() QoS 1, one at a time; the latency of each call.
// Args: host, port, topic, count, warmup.

require __DIR__ . '/common.php';

$o = bench_options($argv);
$client = new Mqtt\Client(['host' => $o['host'], 'port' => (int) $o['port'], 'qos' => 1], 'bench');
bench_connected($client);
$payload = bench_payload();
$topic = $o['topic'];

for ($i = 0; $i < (int) $o['warmup']; $i++) {
    $client->publishSync($topic, $payload, 1, false, 5.0);
}
$count = (int) $o['count'];
$latencies = [];
for ($i = 0; $i < $count; $i++) {
    $start = hrtime(true);
    $client->publishSync($topic, $payload, 1, false, 5.0);
    $latencies[] = hrtime(true) - $start;
}
sort($latencies);
bench_result([
    'p50_us' => $latencies[(int) ceil(0.50 * $count) - 1] / 1e3,
    'p99_us' => $latencies[(int) ceil(0.99 * $count) - 1] / 1e3,
]);
