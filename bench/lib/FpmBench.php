<?php

declare(strict_types=1);

namespace MqttBroadcast\Bench;

use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\FpmPool;

/**
 * PHP-FPM throughput with and without one publish() per request: a pool of
 * its own (tests/support FpmPool, OPcache on) serving bench/fpm-app.php, loaded
 * by the small FastCGI client FastCgiLoad, each request on a new connection.
 */
final class FpmBench
{
    public const SCENARIOS = [
        'no publish (same script)' => ['publish' => 0, 'qos' => 0],
        'one publish() per request, QoS 0' => ['publish' => 1, 'qos' => 0],
        'one publish() per request, QoS 1' => ['publish' => 1, 'qos' => 1],
    ];

    /**
     * Runs every scenario $runs times, taking turns, so that drift on the
     * machine spreads over all of them.
     *
     * @param \Closure(string): void $progress
     * @return array{results: array<string, list<float>>, workers: int, concurrency: int, requests: int,
     *               published: int, arrived: ?int, quit_seconds: float}
     */
    public static function run(Broker $broker, int $workers, int $concurrency, int $requests, int $runs, \Closure $progress): array
    {
        $receivedBefore = BenchBroker::settledPublishesReceived($broker);

        $pool = FpmPool::start([
            'children' => $workers,
            'opcache' => true,
            'log_level' => 'notice',
            'request_timeout' => 30.0,
        ]);
        $script = dirname(__DIR__) . '/fpm-app.php';
        $topic = 'bench/fpm/' . bin2hex(random_bytes(4));
        $paramsOf = static fn (array $query): \Closure => static fn (int $n): array => [
            'GATEWAY_INTERFACE' => 'CGI/1.1',
            'SERVER_PROTOCOL' => 'HTTP/1.1',
            'SERVER_NAME' => 'localhost',
            'REMOTE_ADDR' => '127.0.0.1',
            'REQUEST_METHOD' => 'GET',
            'SCRIPT_FILENAME' => $script,
            'SCRIPT_NAME' => '/fpm-app.php',
            'QUERY_STRING' => http_build_query($query + ['n' => $n]),
        ];
        $common = ['host' => $broker->host(), 'port' => $broker->port(), 'topic' => $topic];

        $client = new FastCgiLoad('tcp://127.0.0.1:' . $pool->port());
        $published = 0;
        $progress(sprintf('fpm: warming up %d workers', $workers));
        foreach (self::SCENARIOS as $query) {
            // Enough requests that every worker has opened its connection and OPcache is warm.
            $client->run(50 * $workers, $concurrency, $paramsOf($query + $common), 'ok');
            $published += $query['publish'] ? 50 * $workers : 0;
        }

        $results = array_fill_keys(array_keys(self::SCENARIOS), []);
        for ($run = 1; $run <= $runs; $run++) {
            foreach (self::SCENARIOS as $name => $query) {
                $results[$name][] = $client->run($requests, $concurrency, $paramsOf($query + $common), 'ok');
                $published += $query['publish'] ? $requests : 0;
                $progress(sprintf('fpm run %d/%d  %-34s %8.0f requests/s', $run, $runs, $name, end($results[$name])));
            }
        }

        // Cross-check on the broker's side: every message published reached it.
        $received = BenchBroker::awaitPublishesReceived($broker, $receivedBefore + $published);
        $quit = $pool->quit(30.0);
        return [
            'results' => $results,
            'workers' => $workers,
            'concurrency' => $concurrency,
            'requests' => $requests,
            'published' => $published,
            'arrived' => $received === null ? null : $received - $receivedBefore,
            'quit_seconds' => $quit,
        ];
    }
}
