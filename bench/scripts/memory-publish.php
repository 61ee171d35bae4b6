<?php

declare(strict_types=1);

// Scenario 6, publishing: resident memory before and after `count` publish()
// calls (QoS 1: queue, write, acknowledgement), flushed every `batch` so the
// queue stays bounded. Args: host, port, topic, count, batch.

require __DIR__ . '/common.php';

$o = bench_options($argv);
$count = (int) $o['count'];
$batch = (int) $o['batch'];
$client = new Mqtt\Client(['host' => $o['host'], 'port' => (int) $o['port'], 'qos' => 1, 'max_inflight' => 100, 'max_queue' => 2 * $batch], 'bench');
bench_connected($client);
$payload = bench_payload();
$topic = $o['topic'];

$publish = static function (int $messages) use ($client, $topic, $payload, $batch): void {
    for ($i = 0; $i < $messages; $i++) {
        $client->publish($topic, $payload);
        if (($i + 1) % $batch === 0) {
            $client->flush(30.0) || bench_fail('not flushed: ' . json_encode($client->status()));
        }
    }
    $client->flush(30.0) || bench_fail('not flushed: ' . json_encode($client->status()));
};

// One batch first: what the first messages allocate for good (PHP's engine, the
// runtime, the queues at their working size) is not growth.
$publish($batch);
$before = bench_rss();
$publish($count);
$after = bench_rss();
$status = $client->status();
$status['acknowledged'] === $count + $batch || bench_fail('acknowledged: ' . json_encode($status));

bench_result(['before' => $before, 'after' => $after, 'peak' => bench_rss('VmHWM')]);
