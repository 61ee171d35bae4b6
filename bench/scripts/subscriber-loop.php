<?php

declare(strict_types=1);

// Scenarios 5 and 7: Subscriber::loop() with a PHP callback for `count` messages.
// Prints "ready" once subscribed, and at the end the wall clock time the last
// message was handled (bench/run.php counts from when publishing started).
// Args: host, port, topic, count; routes (scenario 7): with N > 0, messages
// are published to topic/{device} and reach the callback through N routes, one
// of which matches; with 0, through a plain subscription to topic/+.

require __DIR__ . '/common.php';

$o = bench_options($argv);
$client = new Mqtt\Client(['host' => $o['host'], 'port' => (int) $o['port']], 'bench');
$subscriber = new Mqtt\Subscriber([$client]);
$count = (int) $o['count'];
$first = $last = 0;
$bytes = 0;
$handle = static function (Mqtt\Message $message) use (&$first, &$last, &$bytes): void {
    $last = hrtime(true);
    $first = $first ?: $last;
    $bytes += strlen($message->payload);
};
$routes = (int) ($o['routes'] ?? -1);
if ($routes < 0) {
    $subscriber->subscribe($o['topic'], 0);
} elseif ($routes === 0) {
    $subscriber->subscribe($o['topic'] . '/+', 0);
} else {
    for ($i = 1; $i < $routes; $i++) {
        $subscriber->route($o['topic'] . "-other-$i/{device}", $handle);
    }
    $subscriber->route($o['topic'] . '/{device}', static fn (Mqtt\Message $m, array $params) => $handle($m));
}
echo "ready\n";

$handled = $subscriber->loop($routes > 0 ? null : $handle, 120.0, $count);
$handled === $count || bench_fail("handled $handled of $count messages within 120 s");
$bytes === $count * 64 || bench_fail("payloads of $bytes bytes, expected " . $count * 64);

bench_result([
    'ended_at' => microtime(true) - (hrtime(true) - $last) / 1e9,
    // From the first message handled to the last.
    'first_to_last_per_second' => ($count - 1) / (($last - $first) / 1e9),
]);
