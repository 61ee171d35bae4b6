<?php

declare(strict_types=1);

// Scenarios 1 and 2: `count` publish() calls in a tight loop, then flush().
// Args: host, port, topic, count, qos, max_inflight, broker_pid (for how busy
// the broker was from the first call until flush() returned).

require __DIR__ . '/common.php';

use MqttBroadcast\Bench\ProcessCpu;

$o = bench_options($argv);
$count = (int) $o['count'];
$qos = (int) $o['qos'];
$client = new Mqtt\Client([
    'host' => $o['host'],
    'port' => (int) $o['port'],
    'max_inflight' => (int) $o['max_inflight'],
    // The whole burst fits: publish() outruns the network.
    'max_queue' => $count + 10_000,
    'flush_timeout' => 120,
], 'bench');
bench_connected($client);
$payload = bench_payload();

// Warm-up on another topic (the subscriber does not see it): the connection,
// the queues and PHP's engine are at full speed when the measured loop starts.
for ($i = 0; $i < 10_000; $i++) {
    $client->publish($o['topic'] . '/warm-up', $payload, $qos);
}
$client->flush() || bench_fail('warm-up not flushed');
$before = $client->status();

$topic = $o['topic'];
$brokerPid = (int) $o['broker_pid'];
$brokerCpu = ProcessCpu::seconds($brokerPid);
$startedAt = microtime(true);
$start = hrtime(true);
for ($i = 0; $i < $count; $i++) {
    $client->publish($topic, $payload, $qos);
}
$called = hrtime(true);
$client->flush() || bench_fail('not flushed within 120 s: ' . json_encode($client->status()));
$flushed = hrtime(true);
$brokerCpu = ProcessCpu::seconds($brokerPid) - $brokerCpu;
$after = $client->status();

bench_result([
    // The wall clock at the first call, for the subscriber's rate.
    'started_at' => $startedAt,
    'calls_per_second' => $count / (($called - $start) / 1e9),
    // QoS 0: written to the socket; QoS 1: acknowledged by the broker.
    'flushed_per_second' => $count / (($flushed - $start) / 1e9),
    'published' => $after['published'] - $before['published'],
    'acknowledged' => $after['acknowledged'] - $before['acknowledged'],
    'peak_rss' => bench_rss('VmHWM'),
    // The broker's CPU time over the same interval: 1.0 is one core, all the time.
    'broker_busy' => $brokerCpu / (($flushed - $start) / 1e9),
]);
