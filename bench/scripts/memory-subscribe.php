<?php

declare(strict_types=1);

// Scenario 6, subscribing: resident memory before and after `count` messages
// through Subscriber::loop(), after a warm-up of `warmup` messages.
// Prints "ready" once subscribed. Args: host, port, topic, count, warmup.

require __DIR__ . '/common.php';

$o = bench_options($argv);
$client = new Mqtt\Client(['host' => $o['host'], 'port' => (int) $o['port']], 'bench');
$subscriber = new Mqtt\Subscriber([$client]);
$subscriber->subscribe($o['topic'], 0);
echo "ready\n";

$bytes = 0;
$handler = static function (Mqtt\Message $message) use (&$bytes): void {
    $bytes += strlen($message->payload);
};
$warmup = (int) $o['warmup'];
$count = (int) $o['count'];
$subscriber->loop($handler, 60.0, $warmup) === $warmup || bench_fail('warm-up messages missing');
$before = bench_rss();
$subscriber->loop($handler, 120.0, $count) === $count || bench_fail('messages missing');
$after = bench_rss();
$bytes === ($warmup + $count) * 64 || bench_fail("payloads of $bytes bytes");

bench_result(['before' => $before, 'after' => $after, 'peak' => bench_rss('VmHWM')]);
