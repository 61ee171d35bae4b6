<?php

declare(strict_types=1);

namespace MqttBroadcast\Bench;

use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\FpmPool;

/**
 * PHP-FPM throughput with and without one publish() per request: a pool of
 * its own (tests/support FpmPool, OPcache on) serving bench/fpm-app.php, loaded
 * either directly by the small FastCGI client FastCgiLoad (each request on a
 * new connection), or through a real web server: nginx (fastcgi_pass) loaded by wrk.
 */
final class FpmBench
{
    /** The references beside the extension's rows: what any PHP client pays at least, at each QoS. */
    public const FLOORS = [
        'the same QoS 0 PUBLISH by fwrite() on a persistent socket (pure PHP, the floor)' => ['publish' => 'php', 'qos' => 0],
        'the PUBACKs since the last request by fread(), then the same QoS 1 PUBLISH by fwrite(), on a persistent socket (pure PHP, the QoS 1 floor)' => ['publish' => 'php', 'qos' => 1],
    ];

    public const SCENARIOS = [
        'no publish (same script)' => ['publish' => '0', 'qos' => 0],
        'one publish() per request, QoS 0' => ['publish' => '1', 'qos' => 0],
        'one publish() per request, QoS 1' => ['publish' => '1', 'qos' => 1],
    ] + self::FLOORS;

    /**
     * FastCGI straight to the pool: $requests per scenario and run, $concurrency in flight.
     *
     * @param \Closure(string): void $progress
     * @return array{results: array<string, list<float>>, workers: int, concurrency: int, requests: int,
     *               published: int, arrived: ?int, quit_seconds: float}
     */
    public static function run(Broker $broker, int $workers, int $concurrency, int $requests, int $runs, \Closure $progress): array
    {
        $script = self::script();
        $params = static fn (array $query): \Closure => static fn (int $n): array => [
            'GATEWAY_INTERFACE' => 'CGI/1.1',
            'SERVER_PROTOCOL' => 'HTTP/1.1',
            'SERVER_NAME' => 'localhost',
            'REMOTE_ADDR' => '127.0.0.1',
            'REQUEST_METHOD' => 'GET',
            'SCRIPT_FILENAME' => $script,
            'SCRIPT_NAME' => '/fpm-app.php',
            'QUERY_STRING' => http_build_query($query + ['n' => $n]),
        ];
        $result = self::measure($broker, $workers, $runs, $progress, 'fpm', static function (FpmPool $pool, array $query, bool $warmUp) use ($params, $workers, $concurrency, $requests): array {
            $client = new FastCgiLoad('tcp://127.0.0.1:' . $pool->port());
            // Enough requests that every worker has opened its connection and OPcache is warm.
            $count = $warmUp ? 50 * $workers : $requests;
            return ['requests' => $count, 'per_second' => $client->run($count, $concurrency, $params($query), 'ok')];
        });
        return $result + ['concurrency' => $concurrency, 'requests' => $requests];
    }

    /**
     * Through nginx (fastcgi_pass, bench/lib/Nginx) loaded by wrk with $connections
     * keep-alive connections on one thread, $seconds per scenario and run.
     *
     * @param \Closure(string): void $progress
     * @return array{results: array<string, list<float>>, workers: int, connections: int, seconds: int,
     *               published: int, arrived: ?int, quit_seconds: float}
     */
    public static function runBehindNginx(Broker $broker, int $workers, int $connections, int $seconds, int $runs, \Closure $progress): array
    {
        $nginx = null;
        try {
            $result = self::measure($broker, $workers, $runs, $progress, 'nginx', static function (FpmPool $pool, array $query, bool $warmUp) use (&$nginx, $connections, $seconds): array {
                $nginx ??= Nginx::start($pool->port(), '/fpm-app.php', self::script());
                $load = Wrk::run($nginx->url('/fpm-app.php?' . http_build_query($query + ['n' => 1])), 1, $connections, $warmUp ? 1 : $seconds);
                // PHP's warnings and errors reach nginx as FastCGI stderr; a failed request is a 5xx, which Wrk refuses.
                if (preg_match('/^.*(\[(error|crit|alert|emerg)\]|FastCGI sent in stderr).*$/m', $nginx->errorLog(), $error)) {
                    throw new \RuntimeException("nginx logged: {$error[0]}");
                }
                return $load;
            });
            $nginx?->stop();
        } finally {
            $nginx = null;
        }
        return $result + ['connections' => $connections, 'seconds' => $seconds];
    }

    /**
     * Starts the pool, warms every scenario up, then runs every scenario $runs
     * times, taking turns, so that drift on the machine spreads over all of them;
     * checks on the broker's side that every message published reached it.
     *
     * @param \Closure(FpmPool, array, bool): array{requests: int, per_second: float} $load one load of the pool (warm-up or measured)
     */
    private static function measure(Broker $broker, int $workers, int $runs, \Closure $progress, string $label, \Closure $load): array
    {
        $receivedBefore = BenchBroker::settledPublishesReceived($broker);
        $pool = FpmPool::start([
            'children' => $workers,
            'opcache' => true,
            'log_level' => 'notice',
            'request_timeout' => 30.0,
        ]);
        $common = ['host' => $broker->host(), 'port' => $broker->port(), 'topic' => 'bench/fpm/' . bin2hex(random_bytes(4))];

        $published = 0;
        $progress(sprintf('%s: warming up %d workers', $label, $workers));
        foreach (self::SCENARIOS as $query) {
            $published += self::publishes($query) * $load($pool, $query + $common, true)['requests'];
        }
        $results = array_fill_keys(array_keys(self::SCENARIOS), []);
        for ($run = 1; $run <= $runs; $run++) {
            foreach (self::SCENARIOS as $name => $query) {
                $measured = $load($pool, $query + $common, false);
                $results[$name][] = $measured['per_second'];
                $published += self::publishes($query) * $measured['requests'];
                $progress(sprintf('%s run %d/%d  %-34s %8.0f requests/s', $label, $run, $runs, $name, $measured['per_second']));
            }
        }

        $received = BenchBroker::awaitPublishesReceived($broker, $receivedBefore + $published);
        $quit = $pool->quit(30.0);
        return [
            'results' => $results,
            'workers' => $workers,
            'published' => $published,
            'arrived' => $received === null ? null : $received - $receivedBefore,
            'quit_seconds' => $quit,
        ];
    }

    /** PUBLISH packets one request of $query sends. */
    private static function publishes(array $query): int
    {
        return $query['publish'] === '0' ? 0 : 1;
    }

    private static function script(): string
    {
        return dirname(__DIR__) . '/fpm-app.php';
    }
}
