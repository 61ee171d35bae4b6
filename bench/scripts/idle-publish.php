<?php

declare(strict_types=1);

// Scenario 8: the CPU one publish() costs the whole process (PHP's thread and
// the extension's threads: getrusage(RUSAGE_SELF) covers every thread on Linux)
// when the connection is idle before it, as between web requests: a pause of
// `pause_us` (usleep) before each call.
//
// Blocks of pauses with a publish() after each take turns with blocks of the
// same pauses alone; a round's cost per call is the CPU of its publishing block
// minus its pause-only block, over the calls; the result is the median round.
// mode=ext: publish() through the extension at QoS `qos`; mode=raw, the physical
// floor, run without the extension: fwrite() of a hand-made PUBLISH at QoS `qos`
// of the same size to a plain TCP_NODELAY socket connected to the same broker;
// at QoS 1, after a read of the PUBACKs that came since the last call, which is
// where the extension reads them too.
// Args: host, port, topic, count (calls per round), rounds, pause_us, mode, qos.

require __DIR__ . '/common.php';

use MqttBroadcast\Bench\Stats;

/** @return resource a plain socket with a hand-made MQTT 3.1.1 session on it */
function raw_connect(string $host, int $port)
{
    $context = stream_context_create(['socket' => ['tcp_nodelay' => true]]);
    $socket = stream_socket_client("tcp://$host:$port", $errno, $errstr, 5.0, STREAM_CLIENT_CONNECT, $context) ?: bench_fail("cannot connect: $errstr");
    // No keep-alive: this client sends no PINGREQ, however long the rounds take.
    fwrite($socket, bench_connect_packet('idle-floor-' . getmypid(), 0));
    fread($socket, 4) === "\x20\x02\x00\x00" || bench_fail('CONNACK refused');
    return $socket;
}

/** CPU time of the whole process so far (all threads), and of PHP's own thread, in µs; context switches of all its threads. */
function cpu_now(): array
{
    $usage = getrusage();
    // sum_exec_runtime of this thread, in ns (the first field of schedstat).
    $schedstat = (string) @file_get_contents('/proc/self/task/' . getmypid() . '/schedstat');
    return [
        'process' => $usage['ru_utime.tv_sec'] * 1e6 + $usage['ru_utime.tv_usec'] + $usage['ru_stime.tv_sec'] * 1e6 + $usage['ru_stime.tv_usec'],
        'php_thread' => $schedstat === '' ? NAN : (int) $schedstat / 1e3,
        'switches' => $usage['ru_nvcsw'] + $usage['ru_nivcsw'],
    ];
}

function cpu_since(array $start): array
{
    $now = cpu_now();
    foreach ($now as $key => $value) {
        $now[$key] = $value - $start[$key];
    }
    return $now;
}

$o = bench_options($argv);
$count = (int) $o['count'];
$rounds = (int) $o['rounds'];
$pause = (int) $o['pause_us'];
$topic = $o['topic'];
$payload = bench_payload();

if ($o['mode'] === 'raw' && (int) $o['qos'] === 0) {
    $socket = raw_connect($o['host'], (int) $o['port']);
    $packet = bench_publish_packet($topic, $payload);
    $publish = static function () use ($socket, $packet): void {
        fwrite($socket, $packet) === strlen($packet) || bench_fail('short write');
    };
} elseif ($o['mode'] === 'raw') {
    $socket = raw_connect($o['host'], (int) $o['port']);
    stream_set_blocking($socket, false);
    $packetId = 0;
    $publish = static function () use ($socket, $topic, $payload, &$packetId): void {
        // What came since the last call, to an empty read: PUBACKs, 4 bytes each.
        while (($acknowledgements = fread($socket, 8192)) !== '' && $acknowledgements !== false) {
        }
        $packetId = $packetId % 65535 + 1;
        $packet = bench_publish_packet($topic, $payload, $packetId);
        fwrite($socket, $packet) === strlen($packet) || bench_fail('short write');
    };
} else {
    $qos = (int) $o['qos'];
    $client = new Mqtt\Client(['host' => $o['host'], 'port' => (int) $o['port']], 'bench');
    bench_connected($client);
    $publish = static function () use ($client, $topic, $payload, $qos): void {
        $client->publish($topic, $payload, $qos);
    };
}

// Warm-up: the connection, PHP's engine and the CPU's caches in their steady state.
for ($i = 0; $i < 1_000; $i++) {
    usleep($pause);
    $publish();
}

$perCall = $phpThread = $switches = $wall = $pauses = [];
for ($round = 0; $round < $rounds; $round++) {
    $start = cpu_now();
    for ($i = 0; $i < $count; $i++) {
        usleep($pause);
    }
    $pausing = cpu_since($start);

    $start = cpu_now();
    $calls = 0;
    for ($i = 0; $i < $count; $i++) {
        usleep($pause);
        $t = hrtime(true);
        $publish();
        $calls += hrtime(true) - $t;
    }
    $publishing = cpu_since($start);

    $perCall[] = ($publishing['process'] - $pausing['process']) / $count;
    $phpThread[] = ($publishing['php_thread'] - $pausing['php_thread']) / $count;
    $switches[] = ($publishing['switches'] - $pausing['switches']) / $count;
    $wall[] = $calls / $count / 1e3;
    $pauses[] = $pausing['process'] / $count;
}
if ($o['mode'] !== 'raw') {
    $client->flush(10.0) || bench_fail('not flushed: ' . json_encode($client->status()));
}

bench_result([
    // Process CPU per call, µs, beyond the pause's own (median of the rounds).
    'cpu_us' => Stats::median($perCall),
    // Of which on PHP's thread; the rest ran on the extension's threads (and the kernel's work done for them).
    'php_thread_us' => Stats::median($phpThread),
    // Context switches per call (voluntary and not), beyond the pause's own.
    'switches' => Stats::median($switches),
    // Wall time of the call itself, µs (mean over a round, median of the rounds).
    'call_us' => Stats::median($wall),
    'rounds' => $perCall,
    // What a pause alone cost the process, µs (subtracted above): the rounds' median.
    'pause_cpu_us' => Stats::median($pauses),
]);
