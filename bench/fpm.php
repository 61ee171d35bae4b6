<?php

declare(strict_types=1);

// PHP-FPM throughput with and without one publish() per request, on its own
// (bench/run.php, which ./build.sh bench runs, includes these rows).
//
//   MQTT_BROADCAST_EXT=target/release/libmqtt_broadcast.so php bench/fpm.php
//
// Starts its own mosquitto (bench/lib/BenchBroker) and PHP-FPM pool, then sends
// the same script (bench/fpm-app.php) with publishing off and on, first straight
// over FastCGI, then through nginx loaded by wrk, and prints a markdown table.
// Knobs (environment): BENCH_REQUESTS per run (10000), BENCH_CONCURRENCY
// requests in flight (2 x workers), BENCH_WORKERS FPM workers (the core count),
// BENCH_RUNS (3), BENCH_WRK_SECONDS per run (5), BENCH_WRK_CONNECTIONS (4).

require __DIR__ . '/lib/bootstrap.php';

use MqttBroadcast\Bench\BenchBroker;
use MqttBroadcast\Bench\Env;
use MqttBroadcast\Bench\FpmBench;
use MqttBroadcast\Bench\Stats;
use MqttBroadcast\Tests\Support\PhpScript;

$extension = PhpScript::extensionPath();
if (!is_file($extension)) {
    fwrite(STDERR, "extension $extension not found: build it (cargo build --release) or set MQTT_BROADCAST_EXT\n");
    exit(1);
}
$cores = Env::cores();
$workers = Env::int('BENCH_WORKERS', $cores);
$runs = Env::int('BENCH_RUNS', 3);

$broker = BenchBroker::start();
$progress = static fn (string $line) => fwrite(STDERR, "$line\n");
$fpm = FpmBench::run($broker, $workers, Env::int('BENCH_CONCURRENCY', 2 * $workers), Env::int('BENCH_REQUESTS', 10000), $runs, $progress);
$nginx = FpmBench::runBehindNginx($broker, $workers, Env::int('BENCH_WRK_CONNECTIONS', 4), Env::int('BENCH_WRK_SECONDS', 5), $runs, $progress);
$broker->stop();

printf("| scenario | requests/s (median of %d runs) | min | max |\n", $runs);
echo "|---|---:|---:|---:|\n";
foreach (['FastCGI client' => $fpm, 'nginx, wrk' => $nginx] as $front => $result) {
    $baseline = Stats::median(reset($result['results']));
    foreach ($result['results'] as $name => $values) {
        $median = Stats::median($values);
        $relative = $name === array_key_first($result['results']) ? '' : sprintf(' (%.2f ×)', $median / $baseline);
        printf("| %s, %s | %.0f%s | %.0f | %.0f |\n", $front, $name, $median, $relative, min($values), max($values));
    }
}
echo "\n";
printf("- machine: %d cores; PHP %s; php-fpm pm = static with %d workers, OPcache on\n", $cores, PHP_VERSION, $workers);
printf("- FastCGI client: %d requests per run, %d in flight, each on a new FastCGI connection, sent by the small FastCGI client in bench/lib/FastCgiLoad.php (not cgi-fcgi: a process per request would dominate)\n", $fpm['requests'], $fpm['concurrency']);
printf("- nginx %s (bench/lib/Nginx.php, fastcgi_pass, a new FastCGI connection per request), wrk -t1 -c%d for %d s per run\n", Env::nginxVersion(), $nginx['connections'], $nginx['seconds']);
printf("- %s on 127.0.0.1, logging errors and warnings only (bench/lib/BenchBroker.php), no subscriber\n", Env::mosquittoVersion());
$published = $fpm['published'] + $nginx['published'];
$arrived = ($fpm['arrived'] ?? 0) + ($nginx['arrived'] ?? 0);
printf("- the broker counted %d PUBLISH packets for %d publish() calls; the pools stopped gracefully (SIGQUIT) in %.2f s and %.2f s\n", $arrived, $published, $fpm['quit_seconds'], $nginx['quit_seconds']);
exit($fpm['arrived'] !== null && $nginx['arrived'] !== null && $arrived >= $published ? 0 : 1);
