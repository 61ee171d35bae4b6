<?php

declare(strict_types=1);

// The benchmark suite: ./build.sh bench, or
//
//   MQTT_BROADCAST_EXT=target/release/libmqtt_broadcast.so php -d extension=... bench/run.php
//
// Starts its own mosquitto on a free port (quiet: bench/lib/BenchBroker), runs
// every scenario BENCH_RUNS times, taking turns, each measurement in a fresh PHP
// process (bench/scripts/), each next to its reference measured in the same run
// with the Mosquitto C clients (or, for publishSync() and the idle publish(), a
// plain PHP socket), then the PHP-FPM rows (bench/lib/FpmBench: FastCGI straight
// to the pool, and behind nginx loaded by wrk), and prints one markdown table:
// median, min and max of the runs, the reference, their ratio, the target.
//
// It prints, it does not assert: the targets are the issues' (7 and 16), stated
// as ratios to the reference of the same run, absolute only where the reference
// is a physical floor; "met?" says how this run compares. Knobs (environment):
//   BENCH_RUNS             runs of each scenario (3)
//   BENCH_ONLY             scenarios to run, e.g. "1,3,fpm" (all: 1,2,3,4,5,6,7,8,9,10,11,12,13,fpm,nginx)
//   BENCH_MESSAGES         messages of scenarios 1 and 5 (500000)
//   BENCH_ACKED            messages of scenario 2 (200000)
//   BENCH_SYNC             publishSync() calls of scenario 3 (20000, after 1000 to warm up)
//   BENCH_PROCESSES        processes per variant and run in scenario 4 (30)
//   BENCH_MEMORY_MESSAGES  messages of scenario 6 (1000000)
//   BENCH_ROUTE_MESSAGES   messages of scenario 7 (200000)
//   BENCH_IDLE_CALLS       publish() calls per round in scenario 8 (2000; 5 rounds, 100 µs pauses)
//   BENCH_BURST_MESSAGES   publish() calls of the bursts of scenario 9 (500000)
//   BENCH_JOBS             empty Laravel jobs per measurement of scenario 10 (5000)
//   BENCH_FANIN_MESSAGES, BENCH_FANIN_PUBLISHERS  scenario 11: messages in all (400000) and publisher processes (4)
//   BENCH_IDLE_CONNECTIONS idle connections of scenario 13 (2000)
//   BENCH_REQUESTS, BENCH_CONCURRENCY, BENCH_WORKERS  the PHP-FPM rows (see bench/fpm.php)
//   BENCH_WRK_SECONDS, BENCH_WRK_CONNECTIONS  the nginx rows: wrk's duration per run (5) and connections (4)

require __DIR__ . '/lib/bootstrap.php';

use MqttBroadcast\Bench\BenchBroker;
use MqttBroadcast\Bench\BrokerBench;
use MqttBroadcast\Bench\Command;
use MqttBroadcast\Bench\Env;
use MqttBroadcast\Bench\FpmBench;
use MqttBroadcast\Bench\LineFiles;
use MqttBroadcast\Bench\MosquittoSub;
use MqttBroadcast\Bench\ProcessCpu;
use MqttBroadcast\Bench\QueueBench;
use MqttBroadcast\Bench\Stats;
use MqttBroadcast\Bench\Table;
use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\PhpScript;

$began = microtime(true);
if (!is_file(PhpScript::extensionPath())) {
    fwrite(STDERR, 'extension ' . PhpScript::extensionPath() . " not found: build it (cargo build --release) or set MQTT_BROADCAST_EXT\n");
    exit(1);
}
$runs = Env::int('BENCH_RUNS', 3);
$only = array_filter(array_map('trim', explode(',', (string) getenv('BENCH_ONLY'))));
$enabled = static fn (string $scenario): bool => $only === [] || in_array($scenario, $only, true);
$n = [
    'messages' => Env::int('BENCH_MESSAGES', 500_000),
    'acked' => Env::int('BENCH_ACKED', 200_000),
    'sync' => Env::int('BENCH_SYNC', 20_000),
    'sync_warmup' => 1_000,
    'processes' => Env::int('BENCH_PROCESSES', 30),
    'memory' => Env::int('BENCH_MEMORY_MESSAGES', 1_000_000),
    'memory_warmup' => 10_000,
    'routed' => Env::int('BENCH_ROUTE_MESSAGES', 200_000),
    'idle' => Env::int('BENCH_IDLE_CALLS', 2_000),
    'idle_rounds' => 5,
    'idle_pause_us' => 100,
    'burst' => Env::int('BENCH_BURST_MESSAGES', 500_000),
    'jobs' => Env::int('BENCH_JOBS', 5_000),
    'fanin' => Env::int('BENCH_FANIN_MESSAGES', 400_000),
    'fanin_publishers' => Env::int('BENCH_FANIN_PUBLISHERS', 4),
    'idle_connections' => Env::int('BENCH_IDLE_CONNECTIONS', 2_000),
];
$scripts = __DIR__ . '/scripts';
$progress = static fn (string $line) => fwrite(STDERR, sprintf("[%5.0fs] %s\n", microtime(true) - $began, $line));

$broker = BenchBroker::start();
$lines = new LineFiles();
$topic = static fn (string $scenario): string => "bench/$scenario/" . bin2hex(random_bytes(4));
$at = ['host' => $broker->host(), 'port' => $broker->port(), 'broker_pid' => $broker->pid()];
$args = static function (array $values) use ($at): array {
    $list = [];
    foreach ($at + $values as $key => $value) {
        $list[] = "$key=" . rawurlencode((string) $value);
    }
    return $list;
};
$mosquittoPub = static fn (string $topic, array $options): array => array_merge(
    ['mosquitto_pub', '-h', $broker->host(), '-p', (string) $broker->port(), '-t', $topic],
    $options
);

/** @var array<string, list<float>> $m every measurement, by name, one value per run */
$m = [];
$arrived = [];

// ---- the scenarios: each measures once and adds to $m ----

$scenarios = [];

// 1. publish() QoS 0 from one PHP process: calls/s, and what an independent
//    subscriber receives; the reference is mosquitto_pub -l to mosquitto_sub.
$scenarios['1'] = static function () use (&$m, $broker, $lines, $topic, $args, $mosquittoPub, $scripts, $n, $progress): void {
    $count = $n['messages'];
    $t = $topic('1');
    $sub = MosquittoSub::start($broker, $t, $count);
    $r = Command::json(Command::mustRun(Command::php("$scripts/publish-burst.php", $args(['topic' => $t, 'count' => $count, 'qos' => 0, 'max_inflight' => 20]))));
    $end = $sub->waitForEnd(120.0) ?? throw new RuntimeException("scenario 1: not all $count messages arrived: " . $sub->describe());
    $m['1.calls'][] = $r['calls_per_second'];
    $m['1.written'][] = $r['flushed_per_second'];
    $m['1.peak_rss'][] = $r['peak_rss'];
    $m['1.delivered'][] = $count / ($end - $r['started_at']);
    $progress(sprintf('1   publish() QoS 0: %s calls/s, %s msg/s delivered', Table::rate($r['calls_per_second']), Table::rate(end($m['1.delivered']))));

    // The same without the pool-wide metrics (mqtt_broadcast.metrics=0): what the shared counters cost.
    $t = $topic('1-nometrics');
    $sub = MosquittoSub::start($broker, $t, $count);
    $command = Command::php("$scripts/publish-burst.php", $args(['topic' => $t, 'count' => $count, 'qos' => 0, 'max_inflight' => 20]));
    array_splice($command, 1, 0, ['-d', 'mqtt_broadcast.metrics=0']);
    $r = Command::json(Command::mustRun($command));
    $sub->waitForEnd(120.0) ?? throw new RuntimeException("scenario 1 without metrics: not all $count messages arrived: " . $sub->describe());
    $m['1.calls.nometrics'][] = $r['calls_per_second'];
    $progress(sprintf('1   publish() QoS 0 without metrics: %s calls/s', Table::rate($r['calls_per_second'])));

    $t = $topic('1-ref');
    $sub = MosquittoSub::start($broker, $t, $count);
    $start = microtime(true);
    $pub = Command::mustRun($mosquittoPub($t, ['-q', '0', '-l']), $lines->get($count));
    $end = $sub->waitForEnd(120.0) ?? throw new RuntimeException("scenario 1 reference: not all $count messages arrived: " . $sub->describe());
    $m['1.ref.sent'][] = $count / $pub['seconds'];
    $m['1.ref.delivered'][] = $count / ($end - $start);
    $progress(sprintf('1   mosquitto_pub -l QoS 0: %s msg/s sent, %s msg/s delivered', Table::rate(end($m['1.ref.sent'])), Table::rate(end($m['1.ref.delivered']))));
};

// 2. publish() QoS 1 pipelined, then flush(): acknowledged messages per second,
//    with max_inflight 1000 (the broker allows any number) and with the default 20,
//    and how busy the broker was meanwhile.
$scenarios['2'] = static function () use (&$m, $broker, $lines, $topic, $args, $mosquittoPub, $scripts, $n, $progress): void {
    $count = $n['acked'];
    foreach (['' => 1000, 'default' => 20] as $variant => $inflight) {
        $key = $variant === '' ? '2' : "2.$variant";
        $r = Command::json(Command::mustRun(Command::php("$scripts/publish-burst.php", $args(['topic' => $topic('2'), 'count' => $count, 'qos' => 1, 'max_inflight' => $inflight]))));
        $r['acknowledged'] === $count || throw new RuntimeException("scenario 2: {$r['acknowledged']} of $count acknowledged");
        $m[$key][] = $r['flushed_per_second'];
        $m["$key.broker"][] = $r['broker_busy'];
        $ref = acknowledgedByMosquittoPub($broker, $lines, $mosquittoPub($topic('2-ref'), ['-q', '1', '-M', (string) $inflight, '-l']), $count);
        $m["$key.ref"][] = $ref['per_second'];
        $m["$key.ref.broker"][] = $ref['broker_busy'];
        $progress(sprintf('2   QoS 1, max_inflight %d: %s acked/s (broker busy %.0f%%); mosquitto_pub -M %d: %s msg/s (broker busy %.0f%%)',
            $inflight, Table::rate($r['flushed_per_second']), 100 * $r['broker_busy'], $inflight, Table::rate($ref['per_second']), 100 * $ref['broker_busy']));
    }
};

/**
 * The reference of scenario 2: $count messages from `mosquitto_pub -l -q 1`, in
 * processes of at most 65,535 messages. mosquitto_pub (2.0) disconnects once the
 * broker acknowledges the message whose packet id is the last message's; ids wrap
 * after 65,535, so from a longer input it sends only the first few thousand. The
 * broker's own count of received messages checks that all of them arrived.
 *
 * @param list<string> $command
 * @return array{per_second: float, broker_busy: float}
 */
function acknowledgedByMosquittoPub(Broker $broker, LineFiles $lines, array $command, int $count): array
{
    $before = BenchBroker::settledPublishesReceived($broker);
    $processes = (int) ceil($count / 65_535);
    $each = intdiv($count, $processes);
    $seconds = $brokerSeconds = 0.0;
    for ($i = 0; $i < $processes; $i++) {
        $brokerCpu = ProcessCpu::seconds($broker->pid());
        $seconds += Command::mustRun($command, $lines->get($each))['seconds'];
        $brokerSeconds += ProcessCpu::seconds($broker->pid()) - $brokerCpu;
    }
    $sent = $processes * $each;
    $received = (BenchBroker::awaitPublishesReceived($broker, $before + $sent) ?? $before) - $before;
    $received >= $sent || throw new RuntimeException("scenario 2 reference: the broker received $received of $sent messages from mosquitto_pub");
    return ['per_second' => $sent / $seconds, 'broker_busy' => $brokerSeconds / $seconds];
}

// 3. publishSync() QoS 1 one at a time: latency; the reference is the floor
//    of a QoS 1 round trip from PHP (qos1-floor.php, without the extension).
$scenarios['3'] = static function () use (&$m, $topic, $args, $scripts, $n, $progress): void {
    $options = ['count' => $n['sync'], 'warmup' => $n['sync_warmup']];
    $r = Command::json(Command::mustRun(Command::php("$scripts/publish-sync.php", $args(['topic' => $topic('3')] + $options))));
    $floor = Command::json(Command::mustRun(Command::php("$scripts/qos1-floor.php", $args(['topic' => $topic('3-ref')] + $options), false)));
    foreach (['p50', 'p99'] as $p) {
        $m["3.$p"][] = $r["{$p}_us"];
        $m["3.$p.ref"][] = $floor["{$p}_us"];
    }
    $progress(sprintf('3   publishSync() p50 %.1f µs p99 %.1f µs; PHP floor p50 %.1f µs p99 %.1f µs', $r['p50_us'], $r['p99_us'], $floor['p50_us'], $floor['p99_us']));
};

// 4. A PHP process that loads the extension, publishes one message and exits,
//    again and again: wall time per process, and whether each message arrived.
$scenarios['4'] = static function () use (&$m, &$arrived, $broker, $topic, $args, $mosquittoPub, $scripts, $n, $progress): void {
    $t = $topic('4');
    $sub = MosquittoSub::start($broker, $t, null, '%p', 1);
    $variants = [
        'ext0' => static fn (string $payload) => Command::php("$scripts/one-shot.php", $args(['topic' => $t, 'payload' => $payload, 'qos' => 0])),
        'ext1' => static fn (string $payload) => Command::php("$scripts/one-shot.php", $args(['topic' => $t, 'payload' => $payload, 'qos' => 1])),
        'php' => static fn (string $payload) => Command::php("$scripts/one-shot.php", $args(['topic' => $t, 'payload' => $payload, 'qos' => 'none'])),
        'c0' => static fn (string $payload) => $mosquittoPub($t, ['-q', '0', '-m', $payload]),
        'c1' => static fn (string $payload) => $mosquittoPub($t, ['-q', '1', '-m', $payload]),
    ];
    $run = bin2hex(random_bytes(3));
    $times = [];
    for ($i = 0; $i < $n['processes']; $i++) {
        // Variants take turns, so that drift spreads over all of them.
        foreach ($variants as $name => $command) {
            $times[$name][] = Command::mustRun($command("$name-$run-$i"))['seconds'] * 1e3;
        }
    }
    foreach ($times as $name => $values) {
        $m["4.$name"][] = Stats::median($values);
    }
    // Barrier: mosquitto delivers in order, so everything published before has arrived with it.
    $broker->mosquittoPub($t, "end-$run", 1);
    $deadline = microtime(true) + 20.0;
    while (!in_array("end-$run", $sub->lines(), true) && microtime(true) < $deadline) {
        usleep(10_000);
    }
    $received = array_count_values(array_map(static fn (string $line) => explode('-', $line)[0], $sub->lines()));
    foreach (['ext0', 'ext1', 'c0', 'c1'] as $name) {
        $arrived["4.$name"] = ($arrived["4.$name"] ?? 0) + ($received[$name] ?? 0);
    }
    $sub->stop();
    $last = static fn (string $name): string => Table::millis(end($m["4.$name"]));
    $progress(sprintf('4   one publish per process: %s ms (QoS 0), %s ms (QoS 1), php alone %s ms, mosquitto_pub %s / %s ms', $last('ext0'), $last('ext1'), $last('php'), $last('c0'), $last('c1')));
};

// 5. Subscriber::loop() with a PHP callback: messages handled per second,
//    (live) while mosquitto_pub -l publishes, and (backlog) from messages that
//    waited while the subscriber was stopped (SIGSTOP); mosquitto_sub in the
//    same conditions is the reference.
$scenarios['5'] = static function () use (&$m, $broker, $lines, $topic, $args, $mosquittoPub, $scripts, $n, $progress): void {
    $count = $n['messages'];
    $publish = static fn (string $t) => static fn () => Command::mustRun($mosquittoPub($t, ['-q', '0', '-l']), $lines->get($count));
    $brokerBusy = static fn (array $start, float $end): float => (ProcessCpu::seconds($broker->pid()) - $start['broker_cpu']) / ($end - $start['at']);
    foreach (['live', 'backlog'] as $variant) {
        $t = $topic("5-$variant");
        $child = Command::background(Command::php("$scripts/subscriber-loop.php", $args(['topic' => $t, 'count' => $count])), $lines->dir());
        $child->waitForLine('ready');
        $start = publishWhile($broker, $variant, $child->pid(), $publish($t));
        $end = $child->result(120.0)['ended_at'];
        $m["5.$variant"][] = $count / ($end - $start['at']);
        $m["5.$variant.broker"][] = $brokerBusy($start, $end);

        $t = $topic("5-$variant-ref");
        $sub = MosquittoSub::start($broker, $t, $count);
        $start = publishWhile($broker, $variant, $sub->pid(), $publish($t));
        $end = $sub->waitForEnd(120.0) ?? throw new RuntimeException("scenario 5 reference: not all $count messages arrived: " . $sub->describe());
        $m["5.$variant.ref"][] = $count / ($end - $start['at']);
        $m["5.$variant.ref.broker"][] = $brokerBusy($start, $end);
        $progress(sprintf('5   loop() %s: %s msg/s (broker busy %.0f%%); mosquitto_sub: %s msg/s (broker busy %.0f%%)', $variant,
            Table::rate(end($m["5.$variant"])), 100 * end($m["5.$variant.broker"]), Table::rate(end($m["5.$variant.ref"])), 100 * end($m["5.$variant.ref.broker"])));
    }
};

/**
 * Live: publishes while the subscriber runs; returns when publishing started.
 * Backlog: stops the subscriber, publishes, lets it go on; returns when it went on.
 * With the time, the broker's CPU time at that moment.
 *
 * @return array{at: float, broker_cpu: float}
 */
function publishWhile(Broker $broker, string $variant, int $subscriberPid, Closure $publish): array
{
    if ($variant === 'live') {
        $start = ['at' => microtime(true), 'broker_cpu' => ProcessCpu::seconds($broker->pid())];
        $publish();
        return $start;
    }
    posix_kill($subscriberPid, SIGSTOP);
    try {
        $publish();
        usleep(300_000); // the broker has routed the last messages
    } finally {
        $start = ['at' => microtime(true), 'broker_cpu' => ProcessCpu::seconds($broker->pid())];
        posix_kill($subscriberPid, SIGCONT);
    }
    return $start;
}

// 7. Subscriber::route(): loop() from a backlog through 1, 100 and 1,000
//    routes (one of them matching, with a named level), against the same
//    backlog through a plain subscription, in the same run.
$scenarios['7'] = static function () use (&$m, $broker, $lines, $topic, $args, $mosquittoPub, $scripts, $n, $progress): void {
    $count = $n['routed'];
    foreach ([0, 1, 100, 1000] as $routes) {
        $t = $topic("7-$routes");
        $child = Command::background(Command::php("$scripts/subscriber-loop.php", $args(['topic' => $t, 'count' => $count, 'routes' => $routes])), $lines->dir());
        $child->waitForLine('ready', 60.0);
        $start = publishWhile($broker, 'backlog', $child->pid(), static fn () => Command::mustRun($mosquittoPub("$t/device-1", ['-q', '0', '-l']), $lines->get($count)));
        $m["7.$routes"][] = $count / ($child->result(120.0)['ended_at'] - $start['at']);
    }
    $progress(sprintf('7   loop() from a backlog: plain %s msg/s; 1 route %s, 100 routes %s, 1,000 routes %s msg/s',
        Table::rate(end($m['7.0'])), Table::rate(end($m['7.1'])), Table::rate(end($m['7.100'])), Table::rate(end($m['7.1000']))));
};

// 6. A million messages through publish() and through Subscriber::loop():
//    resident memory (VmRSS) of the PHP process before and after.
$scenarios['6'] = static function () use (&$m, $lines, $topic, $args, $mosquittoPub, $scripts, $n, $progress): void {
    $count = $n['memory'];
    $r = Command::json(Command::mustRun(Command::php("$scripts/memory-publish.php", $args([
        'topic' => $topic('6'), 'count' => $count, 'batch' => $n['memory_warmup'], 'warmup' => $n['memory_warmup'], 'qos' => 1, 'max_inflight' => 100,
    ]))));
    foreach (['before', 'after', 'peak'] as $field) {
        $m["6.publish.$field"][] = $r[$field];
    }
    $m['6.publish'][] = $r['after'] - $r['before'];

    $t = $topic('6-loop');
    $child = Command::background(Command::php("$scripts/memory-subscribe.php", $args(['topic' => $t, 'count' => $count, 'warmup' => $n['memory_warmup']])), $lines->dir());
    $child->waitForLine('ready');
    Command::mustRun($mosquittoPub($t, ['-q', '0', '-l']), $lines->get($count + $n['memory_warmup']));
    $s = $child->result(120.0);
    foreach (['before', 'after', 'peak'] as $field) {
        $m["6.loop.$field"][] = $s[$field];
    }
    $m['6.loop'][] = $s['after'] - $s['before'];
    $progress(sprintf('6   RSS growth over %s messages: publish() %s MB, loop() %s MB', number_format($count), Table::megabytes(end($m['6.publish'])), Table::megabytes(end($m['6.loop']))));
};

// 8. One publish() on an idle connection (a 100 µs pause before each, as
//    between web requests): CPU of the whole process per call, against the
//    physical floor, fwrite() of the same packet on a plain socket from a PHP
//    without the extension (at QoS 1 with a read of the PUBACKs that came since
//    the last call), in the same run.
$scenarios['8'] = static function () use (&$m, $topic, $args, $scripts, $n, $progress): void {
    $options = ['count' => $n['idle'], 'rounds' => $n['idle_rounds'], 'pause_us' => $n['idle_pause_us']];
    $variants = [
        'ext0' => ['mode' => 'ext', 'qos' => 0], 'ext1' => ['mode' => 'ext', 'qos' => 1],
        'raw' => ['mode' => 'raw', 'qos' => 0], 'raw1' => ['mode' => 'raw', 'qos' => 1],
    ];
    foreach ($variants as $name => $variant) {
        // Topics of one length, so that every variant writes packets of one size.
        $r = Command::json(Command::mustRun(Command::php("$scripts/idle-publish.php", $args(['topic' => $topic('8')] + $variant + $options), $variant['mode'] === 'ext')));
        foreach (['cpu_us', 'php_thread_us', 'switches', 'call_us'] as $field) {
            $m["8.$name.$field"][] = $r[$field];
        }
    }
    $last = static fn (string $name): string => sprintf('%.1f µs (PHP\'s thread %.1f, %.2f switches)', end($m["8.$name.cpu_us"]), end($m["8.$name.php_thread_us"]), end($m["8.$name.switches"]));
    $progress(sprintf('8   idle publish(), process CPU per call: QoS 0 %s, QoS 1 %s; fwrite() floor %s, at QoS 1 %s', $last('ext0'), $last('ext1'), $last('raw'), $last('raw1')));
};

// 9. A burst of publish() calls, nothing flushed until the last one: the peak
//    resident memory over the burst, against the payload bytes published.
$scenarios['9'] = static function () use (&$m, $topic, $args, $scripts, $n, $progress): void {
    foreach ([0, 1] as $qos) {
        $r = Command::json(Command::mustRun(Command::php("$scripts/memory-publish.php", $args([
            'topic' => $topic('9'), 'count' => $n['burst'], 'batch' => 0, 'warmup' => 10_000, 'qos' => $qos, 'max_inflight' => 20,
        ]))));
        $r['peak_reset'] || throw new RuntimeException('scenario 9: cannot reset VmHWM through /proc/self/clear_refs');
        foreach (['before', 'peak', 'php_peak_growth', 'payload_bytes', 'packet_bytes'] as $field) {
            $m["9.$qos.$field"][] = $r[$field];
        }
        $m["9.$qos"][] = $r['peak'] - $r['before'];
    }
    $progress(sprintf('9   burst of %s publish(): peak RSS growth %s MB (QoS 0), %s MB (QoS 1); payloads %.1f MB',
        number_format($n['burst']), Table::megabytes(end($m['9.0'])), Table::megabytes(end($m['9.1'])), end($m['9.0.payload_bytes']) / (1 << 20)));
};

// 10. Laravel's queue: empty jobs through `php artisan queue:work mqtt` (the
//     package's driver) with 1 and 3 workers, and through Laravel's database
//     driver on SQLite in the same run (bench/lib/QueueBench.php).
$scenarios['10'] = static function () use (&$m, $broker, $n, $progress): void {
    foreach (QueueBench::run($broker, $n['jobs'], 1, $progress) as $key => $values) {
        $m["10.$key"] = [...($m["10.$key"] ?? []), ...$values];
    }
};

// 11-13. The built-in broker (Mqtt\Broker, run() by a child PHP process,
//     without persistence) against this Mosquitto, with the same clients, one
//     after the other in each run (bench/lib/BrokerBench.php).
$builtin = null;
$brokers = static function () use (&$builtin, $broker): array {
    $builtin ??= BrokerBench::startBuiltin();
    return ['builtin' => $builtin, 'mosquitto' => $broker];
};
$scenarios['11'] = static function () use (&$m, $brokers, $lines, $topic, $n, $progress): void {
    foreach ($brokers() as $name => $at) {
        $m["11.$name"][] = BrokerBench::fanIn($at, $topic('11'), $n['fanin'], $n['fanin_publishers'], $lines->dir());
    }
    $progress(sprintf('11  QoS 0 fan-in, %d publishers: built-in %s msg/s, mosquitto %s msg/s', $n['fanin_publishers'], Table::rate(end($m['11.builtin'])), Table::rate(end($m['11.mosquitto']))));
};
$scenarios['12'] = static function () use (&$m, $brokers, $topic, $n, $progress): void {
    foreach ($brokers() as $name => $at) {
        $r = BrokerBench::acknowledged($at, $topic('12'), $n['acked']);
        $m["12.$name"][] = $r['per_second'];
        $m["12.$name.broker"][] = $r['broker_busy'];
    }
    $progress(sprintf('12  QoS 1 pipelined: built-in %s acked/s (busy %.0f%%), mosquitto %s acked/s (busy %.0f%%)',
        Table::rate(end($m['12.builtin'])), 100 * end($m['12.builtin.broker']), Table::rate(end($m['12.mosquitto'])), 100 * end($m['12.mosquitto.broker'])));
};
// A fresh broker of each kind for each measurement: memory freed after the
// other scenarios, or after the last run's connections, would be reused.
$scenarios['13'] = static function () use (&$m, $n, $progress): void {
    foreach (['builtin' => [BrokerBench::class, 'startBuiltin'], 'mosquitto' => [BenchBroker::class, 'start']] as $name => $start) {
        $fresh = $start();
        $m["13.$name"][] = BrokerBench::memoryPerThousandConnections($fresh, $n['idle_connections']);
        $fresh->stop();
    }
    $progress(sprintf('13  RSS per 1,000 idle connections: built-in %s MB, mosquitto %s MB', Table::megabytes(end($m['13.builtin'])), Table::megabytes(end($m['13.mosquitto']))));
};

// ---- run ----

$progress(sprintf('mosquitto on %s:%d; %d runs; scenarios %s', $broker->host(), $broker->port(), $runs, $only === [] ? 'all' : implode(',', $only)));
for ($run = 1; $run <= $runs; $run++) {
    foreach ($scenarios as $id => $scenario) {
        if ($enabled((string) $id)) {
            $scenario();
        }
    }
    $progress("run $run/$runs done");
}
$fpm = $nginx = null;
$workers = Env::int('BENCH_WORKERS', Env::cores());
if ($enabled('fpm')) {
    $fpm = FpmBench::run($broker, $workers, Env::int('BENCH_CONCURRENCY', 2 * $workers), Env::int('BENCH_REQUESTS', 10_000), $runs, $progress);
}
if ($enabled('nginx')) {
    $nginx = FpmBench::runBehindNginx($broker, $workers, Env::int('BENCH_WRK_CONNECTIONS', 4), Env::int('BENCH_WRK_SECONDS', 5), $runs, $progress);
}
$broker->stop();
$builtin?->stop();

// ---- the table ----

$median = static fn (string $key): float => Stats::median($m[$key] ?? []);
// The broker's CPU time over the measured interval, median of the runs: 100% is one core.
$busy = static fn (string $key): string => sprintf('%.0f%%', 100 * $median("$key.broker"));
$yes = static fn (bool $met, string $detail = ''): string => ($met ? 'yes' : '**no**') . ($detail === '' ? '' : " ($detail)");
// A figure over its reference, both medians of the runs.
$ratio = static fn (float $value, float $of): float => $value / $of;
$times = static fn (float $ratio): string => sprintf('%.2f ×', $ratio);
$table = new Table(['scenario', 'mqtt-broadcast (median)', 'min', 'max', 'reference (median, same run)', 'ratio', 'target', 'met?']);
$rate = Closure::fromCallable([Table::class, 'rate']);
$micros = Closure::fromCallable([Table::class, 'micros']);
$millis = Closure::fromCallable([Table::class, 'millis']);
$megabytes = Closure::fromCallable([Table::class, 'megabytes']);
$mb = static fn (string $key): string => sprintf('%.1f', $median($key) / (1 << 20));

// The targets: the issues' (7, 16), as ratios to the reference measured in the
// same run; absolute only where the reference is a physical floor (a syscall,
// PHP's own floor) or zero (memory growth).
$target = [
    '1.metrics' => 0.95,    // ≥ × the same calls without the shared counters
    '1.calls' => 6.0,       // ≥ × mosquitto_pub -l's send rate (was ≥ 1,000,000 calls/s)
    '1.delivered' => 0.9,   // ≥ × mosquitto_pub -l → mosquitto_sub
    '2' => 2.0,             // ≥ × mosquitto_pub -l -q 1 with the same max_inflight (was ≥ 200,000 msg/s)
    '3.p50' => 1.1,         // ≤ × the PHP floor of a QoS 1 round trip (was ≤ 1.3 ×)
    '5' => 0.9,             // ≥ × mosquitto_sub in the same conditions (was ≥ 300,000 msg/s)
    '6' => 5 * (1 << 20),   // bytes of RSS growth, <
    '7' => 3.0,             // µs per message beyond the plain subscription, ≤
    '8' => 8.0,             // µs of process CPU per idle publish(), ≤ (the floor: a write() syscall)
    '9' => 1.0,             // peak RSS growth ≤ × the bytes of the PUBLISH packets (one copy of each)
    'fpm' => 0.9,           // requests/s ≥ × the same script without publishing
];

if (isset($m['1.calls'])) {
    $r = $ratio($median('1.calls'), $median('1.ref.sent'));
    $table->measured('1. `publish()` QoS 0, one process: calls/s', $m['1.calls'], $rate,
        sprintf('mosquitto_pub -l sends %s msg/s', $rate($median('1.ref.sent'))), $times($r),
        sprintf('≥ %s × mosquitto_pub', $target['1.calls']), $yes($r >= $target['1.calls']));
    $r = $ratio($median('1.calls'), $median('1.calls.nometrics'));
    $table->measured('1. … with the pool-wide metrics, against without (`mqtt_broadcast.metrics=0`): calls/s', $m['1.calls'], $rate,
        sprintf('without: %s calls/s', $rate($median('1.calls.nometrics'))), $times($r),
        sprintf('≥ %s × without', $target['1.metrics']), $yes($r >= $target['1.metrics']));
    $r = $ratio($median('1.delivered'), $median('1.ref.delivered'));
    $table->measured('1. … delivered to an independent mosquitto_sub: msg/s', $m['1.delivered'], $rate,
        sprintf('mosquitto_pub -l → mosquitto_sub: %s msg/s', $rate($median('1.ref.delivered'))), $times($r),
        sprintf('≥ %s × the reference', $target['1.delivered']), $yes($r >= $target['1.delivered']));
}
if (isset($m['2'])) {
    foreach (['2' => 1000, '2.default' => 20] as $key => $inflight) {
        $key = (string) $key;
        $r = $ratio($median($key), $median("$key.ref"));
        $table->measured($key === '2'
                ? '2. `publish()` QoS 1 pipelined, then `flush()`, max_inflight 1000: acknowledged msg/s'
                : '2. … with the default max_inflight 20', $m[$key], $rate,
            sprintf('mosquitto_pub -l -q 1 -M %d: %s msg/s; broker busy %s (ours), %s (mosquitto_pub)', $inflight, $rate($median("$key.ref")), $busy($key), $busy("$key.ref")),
            $times($r), sprintf('≥ %s × mosquitto_pub', $target['2']), $yes($r >= $target['2']));
    }
}
if (isset($m['3.p50'])) {
    $r = $ratio($median('3.p50'), $median('3.p50.ref'));
    $table->measured('3. `publishSync()` QoS 1, one at a time: p50 latency, µs', $m['3.p50'], $micros,
        sprintf('PHP floor (plain socket, hand-made PUBLISH/PUBACK): %s µs', $micros($median('3.p50.ref'))), $times($r),
        sprintf('≤ %s × floor (%s µs)', $target['3.p50'], $micros($target['3.p50'] * $median('3.p50.ref'))), $yes($r <= $target['3.p50']));
    $table->measured('3. … p99 latency, µs', $m['3.p99'], $micros,
        sprintf('PHP floor: %s µs', $micros($median('3.p99.ref'))), $times($ratio($median('3.p99'), $median('3.p99.ref'))), '—', '—');
}
if (isset($m['4.ext0'])) {
    $processes = count($m['4.ext0']) * $n['processes'];
    foreach (['0' => 'QoS 0', '1' => 'QoS 1'] as $q => $label) {
        $table->measured("4. PHP process: load, one `publish()` $label, exit: ms per process", $m["4.ext$q"], $millis,
            sprintf('the same php without publishing: %s ms (%+.1f ms); mosquitto_pub -q %s -m: %s ms', $millis($median('4.php')), $median("4.ext$q") - $median('4.php'), $q, $millis($median("4.c$q"))),
            $times($ratio($median("4.ext$q"), $median('4.php'))),
            'every message arrives',
            $yes($arrived["4.ext$q"] === $processes, sprintf('%d/%d arrived; mosquitto_pub %d/%d', $arrived["4.ext$q"], $processes, $arrived["4.c$q"], $processes)));
    }
}
if (isset($m['5.live'])) {
    foreach (['live' => 'on the same stream', 'backlog' => 'from the same backlog'] as $variant => $stream) {
        $r = $ratio($median("5.$variant"), $median("5.$variant.ref"));
        $table->measured($variant === 'live'
                ? '5. `Subscriber::loop()` with a PHP callback, while mosquitto_pub -l publishes: msg/s'
                : '5. … from a backlog (messages waiting at the broker): msg/s', $m["5.$variant"], $rate,
            sprintf('mosquitto_sub %s: %s msg/s; broker busy %s (ours), %s (mosquitto_sub)', $stream, $rate($median("5.$variant.ref")), $busy("5.$variant"), $busy("5.$variant.ref")),
            $times($r), sprintf('≥ %s × mosquitto_sub', $target['5']), $yes($r >= $target['5']));
    }
}
if (isset($m['6.publish'])) {
    $count = number_format($n['memory']);
    $table->measured("6. RSS growth over $count `publish()` QoS 1 (flush() every 10,000): MB", $m['6.publish'], $megabytes,
        sprintf('VmRSS %s → %s MB, peak %s MB', $mb('6.publish.before'), $mb('6.publish.after'), $mb('6.publish.peak')), '—',
        sprintf('< %.0f MB', $target['6'] / (1 << 20)), $yes($median('6.publish') < $target['6']));
    $table->measured("6. RSS growth over $count messages through `loop()`: MB", $m['6.loop'], $megabytes,
        sprintf('VmRSS %s → %s MB, peak %s MB', $mb('6.loop.before'), $mb('6.loop.after'), $mb('6.loop.peak')), '—',
        sprintf('< %.0f MB', $target['6'] / (1 << 20)), $yes($median('6.loop') < $target['6']));
}
if (isset($m['7.0'])) {
    // What a route costs per message: the time per message beyond the plain subscription's.
    $cost = static fn (string $key): float => 1e6 / $median($key) - 1e6 / $median('7.0');
    foreach ([1, 100, 1000] as $routes) {
        $table->measured(sprintf('7. `loop()` from a backlog through %s route%s (one matches): msg/s', number_format($routes), $routes > 1 ? 's' : ''), $m["7.$routes"], $rate,
            sprintf('the same backlog through a plain subscription: %s msg/s', $rate($median('7.0'))), $times($ratio($median("7.$routes"), $median('7.0'))),
            sprintf('routing ≤ %s µs per message', $target['7']), $yes($cost("7.$routes") <= $target['7'], sprintf('%+.2f µs per message', $cost("7.$routes"))));
    }
}
if (isset($m['8.ext0.cpu_us'])) {
    $floors = [
        '0' => ['raw', 'fwrite() of the same QoS 0 PUBLISH on a plain socket (pure PHP)'],
        '1' => ['raw1', 'fread() of the PUBACKs since the last call, then fwrite() of the same QoS 1 PUBLISH, on a plain socket (pure PHP)'],
    ];
    foreach (['0' => 'QoS 0', '1' => 'QoS 1'] as $q => $label) {
        $cpu = $median("8.ext$q.cpu_us");
        [$raw, $what] = $floors[$q];
        $floor = $median("8.$raw.cpu_us");
        $table->measured("8. one `publish()` $label on an idle connection: process CPU per call (all threads), µs", $m["8.ext$q.cpu_us"], $micros,
            sprintf('%s: %s µs', $what, $micros($floor)),
            $times($ratio($cpu, $floor)), sprintf('≤ %s µs', $target['8']),
            $yes($cpu <= $target['8'], $floor > $target['8'] ? 'the floor itself is above it in this run' : ''));
    }
}
if (isset($m['9.0'])) {
    foreach (['0' => 'QoS 0', '1' => 'QoS 1'] as $q => $label) {
        $packets = $median("9.$q.packet_bytes");
        $table->measured(sprintf('9. burst of %s `publish()` %s, flushed at the end: peak RSS growth, MB', number_format($n['burst']), $label), $m["9.$q"], $megabytes,
            sprintf('payloads published: %s MB (as PUBLISH packets: %s MB); VmRSS before %s MB, peak %s MB', $mb("9.$q.payload_bytes"), $mb("9.$q.packet_bytes"), $mb("9.$q.before"), $mb("9.$q.peak")),
            $times($ratio($median("9.$q"), $median("9.$q.payload_bytes"))) . ' payloads',
            sprintf('≤ one copy of each packet (%s × payloads)', number_format($target['9'] * $packets / $median("9.$q.payload_bytes"), 2)),
            $yes($median("9.$q") <= $target['9'] * $packets));
    }
}
if (isset($m['10.mqtt.1'])) {
    foreach ([1, 3] as $workers) {
        $table->measured(sprintf('10. Laravel queue, empty jobs, `queue:work mqtt` × %d: jobs/s', $workers), $m["10.mqtt.$workers"], $rate,
            sprintf('database driver on SQLite, `queue:work database` × %d: %s jobs/s', $workers, $rate($median("10.database.$workers"))),
            $times($ratio($median("10.mqtt.$workers"), $median("10.database.$workers"))), '—', '—');
    }
    $table->measured('10. … `dispatch()` of those jobs from one process: jobs/s', $m['10.mqtt.dispatch'], $rate,
        sprintf('database driver on SQLite: %s jobs/s', $rate($median('10.database.dispatch'))),
        $times($ratio($median('10.mqtt.dispatch'), $median('10.database.dispatch'))), '—', '—');
}
if (isset($m['11.builtin'])) {
    $table->measured(sprintf('11. built-in broker: QoS 0 fan-in, %d publisher processes → one mosquitto_sub: delivered msg/s', $n['fanin_publishers']), $m['11.builtin'], $rate,
        sprintf('Mosquitto: %s msg/s', $rate($median('11.mosquitto'))), $times($ratio($median('11.builtin'), $median('11.mosquitto'))), '—', '—');
}
if (isset($m['12.builtin'])) {
    $table->measured('12. built-in broker: `publish()` QoS 1 pipelined, max_inflight 1000, then `flush()`: acknowledged msg/s', $m['12.builtin'], $rate,
        sprintf('Mosquitto: %s msg/s; broker busy %s (built-in), %s (Mosquitto)', $rate($median('12.mosquitto')), $busy('12.builtin'), $busy('12.mosquitto')),
        $times($ratio($median('12.builtin'), $median('12.mosquitto'))), '—', '—');
}
if (isset($m['13.builtin'])) {
    $table->measured('13. built-in broker: resident memory per 1,000 idle connections, MB', $m['13.builtin'], $megabytes,
        sprintf('Mosquitto: %s MB', $megabytes($median('13.mosquitto'))), $times($ratio($median('13.builtin'), $median('13.mosquitto'))), '—', '—');
}
foreach (['fpm' => [$fpm, 'PHP-FPM (FastCGI client)'], 'nginx' => [$nginx, 'nginx + PHP-FPM, wrk']] as [$web, $label]) {
    if ($web === null) {
        continue;
    }
    $baseline = Stats::median(reset($web['results']));
    // What a pure-PHP client reaches at each QoS in this run: a target above it is out of any client's reach here.
    $floor = [];
    foreach (FpmBench::FLOORS as $name => $query) {
        $floor[$query['qos']] = $ratio(Stats::median($web['results'][$name]), $baseline);
    }
    foreach ($web['results'] as $name => $values) {
        $first = $name === array_key_first($web['results']);
        $judged = !$first && !isset(FpmBench::FLOORS[$name]);
        $r = $ratio(Stats::median($values), $baseline);
        $below = $floor[FpmBench::SCENARIOS[$name]['qos']] < $target['fpm'] ? 'its pure-PHP floor is below it in this run' : '';
        $table->measured("$label, $name: requests/s", $values, $rate,
            $first ? '(the baseline)' : sprintf('the same script without publishing: %s', $rate($baseline)),
            $first ? '—' : $times($r), $judged ? sprintf('≥ %s × without publishing', $target['fpm']) : '—', $judged ? $yes($r >= $target['fpm'], $below) : '—');
    }
}

printf("mqtt-broadcast benchmarks: %d cores, PHP %s, %s, median of %d runs\n\n", Env::cores(), PHP_VERSION, Env::mosquittoVersion(), $runs);
echo $table->render(), "\n";
printf("- machine: %d cores (%s), %s; PHP %s (NTS: %s), %s, payloads of 64 bytes; median, min and max of %d runs\n",
    Env::cores(), Env::cpuModel(), php_uname('s') . ' ' . php_uname('r'), PHP_VERSION, PHP_ZTS ? 'no' : 'yes', Env::mosquittoVersion(), $runs);
echo "- broker: mosquitto on 127.0.0.1 with the tests' config plus bench/lib/BenchBroker.php: logging errors and warnings only, `max_inflight_messages 0` (no limit, for max_inflight 1000), `max_queued_messages 0`, no persistence\n";
echo "- every measurement runs in a fresh PHP process (bench/scripts/), after a warm-up; the C clients run in the same run, taking turns with it\n";
if (isset($m['1.calls'])) {
    printf("- 1: %s calls on one connection (options: max_queue above the burst, the rest default); publish() returns once queued, the extension wrote %s msg/s to the socket (flush() included), the burst peaked at %.0f MB RSS. Delivered: from the first publish() call (the reference: from starting mosquitto_pub) until `mosquitto_sub -C` received the last message and exited; it prints nothing (-N -F '', as it flushes stdout per message)\n",
        number_format($n['messages']), $rate($median('1.written')), $median('1.peak_rss') / (1 << 20));
}
if (isset($m['2'])) {
    printf("- 2: %s messages, from the first publish() until flush() returned (all acknowledged); client option max_inflight 1000 (default 20, which matches mosquitto's default max_inflight_messages) and max_queue above the burst; the broker allows any number in flight. mosquitto_pub's time includes its start and connect; it runs in processes of at most 65,535 messages (from a longer input, mosquitto_pub 2.0 -l stops once a packet id repeats the last one's), and the broker's \$SYS count checks that all arrived. Broker busy: mosquitto's CPU time (/proc) over the measured interval; mosquitto handles one packet per wakeup, so near 100%% it is the limit\n", number_format($n['acked']));
}
if (isset($m['3.p50'])) {
    printf("- 3: %s publishSync() calls after %s to warm up, each timed with hrtime(); the floor: bench/scripts/qos1-floor.php, the same number of hand-made PUBLISH packets on a blocking TCP_NODELAY socket (ext/sockets), each waiting for its PUBACK, in a PHP without the extension\n", number_format($n['sync']), number_format($n['sync_warmup']));
}
if (isset($m['4.ext0'])) {
    printf("- 4: %d processes per variant and run, the variants taking turns; a run's value is the median wall time of its processes (php -d extension=..., with the ini files of the php running the bench), exit code 0 and nothing on stderr required; arrival checked by a mosquitto_sub (QoS 1) on the topic\n", $n['processes']);
}
if (isset($m['5.live'])) {
    printf("- 5: %s messages of 64 bytes from mosquitto_pub -l (QoS 0), subscription QoS 0, default max_inbox (1000); live: from starting mosquitto_pub until the last message was handled (mosquitto_sub -C: exited); publisher, broker and subscriber share the cores; broker busy as in 2. Backlog: the subscriber (PHP or mosquitto_sub) is stopped with SIGSTOP while mosquitto_pub publishes, then continued (SIGCONT), counted from there\n", number_format($n['messages']));
}
if (isset($m['6.publish'])) {
    printf("- 6: VmRSS read from /proc/self/status inside the PHP process, before = after a warm-up of %s messages; publish(): QoS 1, max_inflight 100, flush() every %s; loop(): QoS 0 from mosquitto_pub -l\n", number_format($n['memory_warmup']), number_format($n['memory_warmup']));
}
if (isset($m['8.ext0.cpu_us'])) {
    $split = static fn (string $name): string => sprintf('%s µs on PHP\'s thread, %s µs on the others, %.2f context switches, the call itself %s µs of wall time',
        $micros($median("8.$name.php_thread_us")), $micros($median("8.$name.cpu_us") - $median("8.$name.php_thread_us")), $median("8.$name.switches"), $micros($median("8.$name.call_us")));
    printf("- 8: %d rounds of %s calls, each after usleep(%d); a round's CPU per call is getrusage(RUSAGE_SELF) (every thread of the process) over its publishing block, minus a block of the same pauses alone, over the calls; median round. Per call, QoS 0: %s; QoS 1: %s; the floors (bench/scripts/idle-publish.php mode=raw, a PHP without the extension, the same packet on a TCP_NODELAY socket to the same broker), QoS 0: %s; QoS 1: %s. PHP's thread: /proc/self/task/<pid>/schedstat\n",
        $n['idle_rounds'], number_format($n['idle']), $n['idle_pause_us'], $split('ext0'), $split('ext1'), $split('raw'), $split('raw1'));
}
if (isset($m['9.0'])) {
    printf("- 9: %s publish() calls at full speed after a warm-up of 10,000 (flushed), max_queue above the burst, max_inflight 20, then one flush(); growth = VmHWM at the end (reset through /proc/self/clear_refs when the burst began) minus VmRSS before it: the extension's queues live outside PHP's allocator, whose own peak grew by %s MB (QoS 0) and %s MB (QoS 1), memory_get_peak_usage()\n",
        number_format($n['burst']), $mb('9.0.php_peak_growth'), $mb('9.1.php_peak_growth'));
}
if (isset($m['10.mqtt.1'])) {
    printf("- 10: %s empty jobs (Tests\\App\\EmptyJob) per measurement, dispatched from one process of the package's test application (Laravel %s) while its `php artisan queue:work` workers (--sleep=0.05) were stopped (SIGSTOP), then timed from SIGCONT until their output reported every job processed. mqtt: the bench broker (no persistence), workers online first so that the shared subscription splits the jobs; database: Laravel's jobs table on SQLite in WAL mode, the file on /dev/shm as the broker keeps nothing on disk either (jobs SQLite's locking failed count as finished). Both drivers share the machine's cores with their workers; the broker runs beside them\n",
        number_format($n['jobs']), preg_match("/VERSION = '([^']+)'/", (string) @file_get_contents((string) stream_resolve_include_path('Illuminate/Foundation/Application.php')), $v) ? $v[1] : '?');
}
if (isset($m['11.builtin']) || isset($m['12.builtin']) || isset($m['13.builtin'])) {
    printf("- 11 to 13: the built-in broker is Mqtt\\Broker run() by a child PHP process (tests/support/BuiltinBroker.php), no persistence, its `log` on; the same clients against it and against the bench's Mosquitto, one after the other in each run. 11: %s messages of 64 bytes in all from %d bench/scripts/publish-burst.php processes started at once (QoS 0, each on its own topic below the filter mosquitto_sub holds), from the first measured publish() until mosquitto_sub had them all. 12: as 2 with max_inflight 1000 (%s messages). 13: a freshly started broker of each kind per measurement, %s connections from one PHP process, each a hand-made MQTT 3.1.1 CONNECT (keep-alive 0, nothing subscribed) answered by its CONNACK; the broker's VmRSS (/proc) before and 0.5 s after, per 1,000\n",
        number_format($n['fanin']), $n['fanin_publishers'], number_format($n['acked']), number_format($n['idle_connections']));
}
if ($fpm !== null) {
    printf("- PHP-FPM: pm = static with %d workers, OPcache on; %d requests per run, %d in flight, each on a new FastCGI connection (bench/lib/FastCgiLoad.php); the broker counted %s PUBLISH packets for %d publish() calls\n",
        $fpm['workers'], $fpm['requests'], $fpm['concurrency'], $fpm['arrived'] ?? 'no', $fpm['published']);
}
if ($nginx !== null) {
    printf("- nginx + PHP-FPM: nginx %s (Debian nginx-light, bench/lib/Nginx.php: one worker, its own config in a temp dir, fastcgi_pass to 127.0.0.1, a new FastCGI connection per request) in front of the same kind of pool; wrk -t1 -c%d, %d s per run; the broker counted %s PUBLISH packets for %d publish() calls (wrk counts the requests that completed)\n",
        Env::nginxVersion(), $nginx['connections'], $nginx['seconds'], $nginx['arrived'] ?? 'no', $nginx['published']);
}
printf("- the whole benchmark took %.0f s\n", microtime(true) - $began);

$ok = ($fpm === null || ($fpm['arrived'] ?? 0) >= $fpm['published'])
    && ($nginx === null || ($nginx['arrived'] ?? 0) >= $nginx['published'])
    && (!isset($m['4.ext0']) || ($arrived['4.ext0'] === $processes && $arrived['4.ext1'] === $processes));
exit($ok ? 0 : 1);
