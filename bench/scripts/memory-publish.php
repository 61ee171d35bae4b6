<?php

declare(strict_types=1);

// Resident memory of `count` publish() calls at QoS `qos`, after `warmup`
// calls (what the first messages allocate for good, PHP's engine, the runtime,
// the queues at their working size, is not growth).
//
// Scenario 6 (batch > 0): flushed every `batch` calls, so the queue stays
// bounded: VmRSS before and after, which should not grow.
// Scenario 9 (batch = 0): a burst, nothing flushed until the last call, so the
// whole burst may be queued at once: the peak resident memory over the burst
// (VmHWM, reset before it through /proc/self/clear_refs) against the bytes of
// the payloads published; the extension allocates outside PHP's allocator, so
// memory_get_peak_usage() sees only PHP's side.
// Args: host, port, topic, count, batch, warmup, qos, max_inflight.

require __DIR__ . '/common.php';

$o = bench_options($argv);
$count = (int) $o['count'];
$batch = (int) $o['batch'];
$warmup = (int) $o['warmup'];
$qos = (int) $o['qos'];
$client = new Mqtt\Client([
    'host' => $o['host'],
    'port' => (int) $o['port'],
    'qos' => $qos,
    'max_inflight' => (int) $o['max_inflight'],
    'max_queue' => $batch > 0 ? 2 * $batch : $count + $warmup,
    'flush_timeout' => 120,
], 'bench');
bench_connected($client);
$payload = bench_payload();
$topic = $o['topic'];

$publish = static function (int $messages) use ($client, $topic, $payload, $batch): void {
    for ($i = 0; $i < $messages; $i++) {
        $client->publish($topic, $payload);
        if ($batch > 0 && ($i + 1) % $batch === 0) {
            $client->flush(30.0) || bench_fail('not flushed: ' . json_encode($client->status()));
        }
    }
    $client->flush(120.0) || bench_fail('not flushed: ' . json_encode($client->status()));
};

$publish($warmup);
$before = bench_rss();
$phpBefore = memory_get_usage();
// Writing 5 to clear_refs resets VmHWM to the current VmRSS (Linux 4.0 and later).
$peakReset = @file_put_contents('/proc/self/clear_refs', '5') !== false;
if (function_exists('memory_reset_peak_usage')) { // PHP 8.2
    memory_reset_peak_usage();
}
$publish($count);
$after = bench_rss();
$status = $client->status();
$qos === 0 || $status['acknowledged'] === $count + $warmup || bench_fail('acknowledged: ' . json_encode($status));

bench_result([
    'before' => $before,
    'after' => $after,
    // Since the burst began when clear_refs reset it; else since the process started.
    'peak' => bench_rss('VmHWM'),
    'peak_reset' => $peakReset,
    'php_peak_growth' => memory_get_peak_usage() - $phpBefore,
    'payload_bytes' => $count * strlen($payload),
    // One copy of each message as it goes on the wire: the PUBLISH packets (QoS 1: with a packet id).
    'packet_bytes' => $count * strlen(bench_publish_packet($topic, $payload, $qos > 0 ? 1 : null)),
]);
